"""Read YAML into plain Python data while remembering where every node came from.

ruamel.yaml's round-trip loader keeps the line and column of each mapping key and sequence item; we walk it once,
convert to plain ``dict``/``list``/scalars (what the rest of the code works with) and keep a table
``YAML path -> line`` so that any finding can say where to look.

    >>> doc = parse_yaml("a:\\n  b: [1, 2]\\n", file="x.yaml")
    >>> doc.data, doc.line_of(("a", "b", 1))
    ({'a': {'b': [1, 2]}}, 2)

Before anything is built, the parser's event stream is measured (:func:`measure_events`): the nesting depth, and the
number of values the document holds *once its aliases are expanded*. ruamel shares an aliased node, but the plain
copy (and every check after it) expands it, so ten nested aliases of ten items each ("billion laughs") fit in a few
hundred bytes and would expand to 10^10 values. A document over :data:`YAML_LIMITS` is refused with a finding at
the line that crossed the limit, in time and memory proportional to the text, never to the expansion.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hms_recordings.errors import CapabilityError, Finding

__all__ = [
    "YAML_LIMITS",
    "YamlDoc",
    "YamlLimits",
    "dump_parsed",
    "dump_yaml",
    "format_path",
    "measure_events",
    "parse_yaml",
    "parsed_companion",
    "read_yaml",
]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlLimits:
    """What a capability file may hold. The built-in capability needs depth 17 and about 2,100 values; these leave
    room for files many times its size while keeping the plain copy under a few tens of megabytes."""

    max_depth: int = 64  # nested mappings and sequences, aliases expanded
    max_nodes: int = 200_000  # keys, values and items in all, aliases expanded


YAML_LIMITS = YamlLimits()


def format_path(path: PathKey) -> str:
    """``("capability", "consumes", 0, "baseUri")`` -> ``capability.consumes[0].baseUri``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


@dataclass
class YamlDoc:
    data: Any
    file: str = ""
    lines: dict[PathKey, int] = field(default_factory=dict)
    #: True when read from a pre-parsed companion whose generator also checked every tool schema against the JSON
    #: Schema meta-schema (the built-in capability): the runtime then skips that check, the largest start-up cost.
    schemas_checked: bool = False

    def line_of(self, path: PathKey) -> int:
        """The 1-based line of ``path``, or of its nearest located ancestor; 0 when nothing is known."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 0)

    def finding(self, path: PathKey, message: str, fix: str = "", severity: str = "error") -> Finding:
        return Finding(format_path(path), self.line_of(path), message, fix, severity, self.file)


def _plain(node: Any, path: PathKey, lines: dict[PathKey, int]) -> Any:
    if isinstance(node, dict):  # ruamel's CommentedMap; its `.lc` knows where each key is
        out: dict[str, Any] = {}
        for key, value in node.items():
            child = (*path, str(key))
            try:
                line, _col = node.lc.key(key)  # type: ignore[attr-defined]
                lines[child] = line + 1
            except (KeyError, TypeError):  # keys from merges have no position
                lines[child] = lines.get(path, 0)
            out[str(key)] = _plain(value, child, lines)
        return out
    if isinstance(node, list):  # CommentedSeq
        items: list[Any] = []
        for index, value in enumerate(node):
            child = (*path, index)
            try:
                line, _col = node.lc.item(index)  # type: ignore[attr-defined]
                lines[child] = line + 1
            except (KeyError, TypeError):
                lines[child] = lines.get(path, 0)
            items.append(_plain(value, child, lines))
        return items
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar string subclasses
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)  # dates and other tagged scalars stay as their text


@dataclass
class _Open:
    """A mapping or sequence whose end event has not come yet."""

    anchor: str | None
    nodes: int = 1
    height: int = 1


def measure_events(events: Iterable[Any], limits: YamlLimits) -> tuple[str, int] | None:
    """The first limit ``events`` (ruamel's parser output) break, as ``(problem, line)``; ``None`` when within.

    Iterative and one pass: an anchored node's size (values, height) is recorded when it ends, and an alias adds
    that size where it appears, so the expansion is counted without being made."""
    from ruamel.yaml import events as ev

    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, height) of the node it names
    stack: list[_Open] = []
    total = 0
    for event in events:
        if isinstance(event, ev.CollectionEndEvent):
            done = stack.pop()
            if done.anchor is not None:
                sizes[done.anchor] = (done.nodes, done.height)
            if stack:
                stack[-1].nodes += done.nodes
                stack[-1].height = max(stack[-1].height, done.height + 1)
            continue
        if isinstance(event, ev.CollectionStartEvent):
            stack.append(_Open(event.anchor))
            added, depth = 1, len(stack)
        elif isinstance(event, ev.ScalarEvent | ev.AliasEvent):
            # An unknown anchor counts as one value: the composer reports it in its own words.
            added, height = sizes.get(event.anchor, (1, 0)) if isinstance(event, ev.AliasEvent) else (1, 0)
            if isinstance(event, ev.ScalarEvent) and event.anchor is not None:
                sizes[event.anchor] = (1, 0)
            if stack:
                stack[-1].nodes += added
                stack[-1].height = max(stack[-1].height, height + 1)
            depth = len(stack) + height
        else:
            continue
        total += added
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if depth > limits.max_depth:
            return f"the document is nested deeper than {limits.max_depth} levels (aliases expanded)", line
        if total > limits.max_nodes:
            return f"the document holds more than {limits.max_nodes:,} values once its aliases are expanded", line
    return None


def parse_yaml(text: str, file: str = "", *, limits: YamlLimits = YAML_LIMITS) -> YamlDoc:
    """Parse ``text``; a syntax error, or a document over ``limits``, becomes a :class:`CapabilityError` with the
    line where the parser stopped."""
    # Imported here: a file with a pre-parsed companion (the built-in capability) never needs the parser.
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    try:
        over = measure_events(yaml.parse(text), limits)
        if over is not None:
            problem, line = over
            finding = Finding(
                "(root)",
                line,
                problem,
                "write the values out instead of nesting aliases of aliases, and keep nesting shallow",
                file=file,
            )
            raise CapabilityError(f"{file or 'capability'}: {finding.render()}", [finding], file)
        root = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if len(problem) > 200:  # ruamel quotes whole values (a duplicate key's entire section): keep the gist
            problem = problem[:200] + "…"
        finding = Finding("(root)", line, f"YAML syntax error: {problem}", "fix the YAML syntax", file=file)
        raise CapabilityError(f"{file or 'capability'}: {finding.render()}", [finding], file) from None
    lines: dict[PathKey, int] = {(): 1}
    return YamlDoc(_plain(root, (), lines), file, lines)


def parsed_companion(path: Path) -> Path:
    """Where a pre-parsed copy of ``path`` may sit (``recordings.yaml`` -> ``recordings.yaml.parsed.json``)."""
    return path.with_name(path.name + ".parsed.json")


def dump_parsed(doc: YamlDoc, text: str, *, schemas_checked: bool = False) -> str:
    """The companion's content: the parse of ``text``, keyed by its hash so that a stale copy is never used."""
    lines = [[list(key), line] for key, line in doc.lines.items()]
    payload = {
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "schemas_checked": schemas_checked,
        "data": doc.data,
        "lines": lines,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n"


def _load_companion(path: Path, text: str) -> YamlDoc | None:
    try:
        payload = json.loads(parsed_companion(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("sha256") != hashlib.sha256(text.encode()).hexdigest():
        return None
    lines = {tuple(key): int(line) for key, line in payload["lines"]}
    return YamlDoc(payload["data"], str(path), lines, schemas_checked=payload.get("schemas_checked") is True)


def read_yaml(path: str | Path) -> YamlDoc:
    """Read and parse a file; an unreadable file is a :class:`CapabilityError` (``validate`` exits 2 on it).

    A file shipped with a matching ``.parsed.json`` companion (the built-in capability) is not parsed again: the
    round-trip YAML parse is the largest part of start-up, and the companion's hash proves it is the same text.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CapabilityError(
            f"cannot read capability file {path}: {exc.__class__.__name__}: {exc}", file=str(path)
        ) from None
    return _load_companion(Path(path), text) or parse_yaml(text, str(path))


def dump_yaml(data: Any) -> str:
    """YAML text of plain ``data``, keys in the order built, block style, long lines kept (``convert`` and
    ``import openapi`` write capability files with it)."""
    import io

    from ruamel.yaml import YAML  # imported here: the commands that only read never need the emitter

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 4096
    yaml.allow_unicode = True
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()
