"""Read YAML into plain Python data while remembering where every node came from.

ruamel.yaml's round-trip loader keeps the line and column of each mapping key and sequence item; we walk it once,
convert to plain ``dict``/``list``/scalars (what the rest of the code works with) and keep a table
``YAML path -> line`` so that any finding can say where to look.

    >>> doc = parse_yaml("a:\\n  b: [1, 2]\\n", file="x.yaml")
    >>> doc.data, doc.line_of(("a", "b", 1))
    ({'a': {'b': [1, 2]}}, 2)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hms_recordings.errors import CapabilityError, Finding

__all__ = ["YamlDoc", "dump_parsed", "format_path", "parse_yaml", "parsed_companion", "read_yaml"]

PathKey = tuple[str | int, ...]


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


def parse_yaml(text: str, file: str = "") -> YamlDoc:
    """Parse ``text``; a syntax error becomes a :class:`CapabilityError` with the line where the parser stopped."""
    # Imported here: a file with a pre-parsed companion (the built-in capability) never needs the parser.
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    try:
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
