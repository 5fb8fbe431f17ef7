"""``hms-recordings convert FILE --to VERSION``: rewrite a capability file in another format version.

Both directions go through the one normalisation of :mod:`.versions`: the file is first brought to the alpha2 shape
(what the runtime reads), then written in the target's shape.

* ``--to ikanos-1.0.0-beta5``: named lists become maps keyed by name (an item without a name, or two items with the
  same name, keep the list and say so), ``label`` becomes ``display``, aggregate ``functions`` become ``flows``,
  mapping ``targetName`` becomes ``target``, an import's ``location`` becomes ``from``.
* ``--to naftiko-1.0.0-alpha2``: the normalised shape itself, without the ikanos-only constructs (binary content,
  MCP cache hints, ``tags``, ``tunnel``, ``info.version``, REST ``responses``), each dropped one named as a finding.

What the source already got wrong for its own version is carried over unchanged: the result is checked against the
target's official schema, and a finding says how many deviations it has (``validate --strict`` lists them). The
property the tests hold on the whole corpus: loading the converted file gives the same model as loading the source.

    >>> from hms_recordings.capability.yamlsource import parse_yaml
    >>> doc = parse_yaml("naftiko: 1.0.0-alpha2\\ninfo: {label: X, description: d}\\nconsumes: []\\n")
    >>> print(convert(doc, "ikanos-1.0.0-beta5").text.splitlines()[:3])
    ['ikanos: 1.0.0-beta5', 'info:', '  display: X']
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from hms_recordings.capability.strict import strip_extensions
from hms_recordings.capability.versions import ALPHA2, VERSIONS, FormatVersion, normalise, official_schema
from hms_recordings.capability.yamlsource import PathKey, YamlDoc, dump_yaml
from hms_recordings.errors import Finding

__all__ = ["TARGETS", "Conversion", "comparable", "convert", "run_convert"]

BETA5 = VERSIONS[-1]
#: What ``--to`` accepts.
TARGETS: dict[str, FormatVersion] = {BETA5.name: BETA5, ALPHA2.name: ALPHA2}

#: Keys of the ikanos line that alpha2 has no place for (``docs/compatibility.md``), by the object that holds them.
IKANOS_ONLY = frozenset(
    {"tags", "ttlMs", "cacheScope", "maxBinarySize", "outputMediaType", "tunnel", "responses", "responseBinary"}
)
#: alpha2 lists that the ikanos line keys by name (``functions`` is also renamed ``flows``).
KEYED = frozenset({"resources", "operations", "inputParameters", "tools", "prompts", "arguments", "skills", "steps"})
TO_IKANOS = {"label": "display", "functions": "flows"}


@dataclass
class Conversion:
    """The converted file (``data`` is ``None`` when the source cannot be converted) and what could not be carried.

    ``lossy`` findings name a construct the target cannot hold (left out, or a list that stays a list)."""

    target: FormatVersion
    data: Any = None
    findings: list[Finding] = field(default_factory=list)
    lossy: list[Finding] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.data is None

    @property
    def text(self) -> str:
        """The converted file as YAML (written on demand: the emitter is the slow part)."""
        return "" if self.data is None else dump_yaml(self.data)


def convert(doc: YamlDoc, target: str, *, check: bool = True) -> Conversion:
    """Convert ``doc`` to ``target`` (a key of :data:`TARGETS`); never raises for a bad file. With ``check``, the
    result is validated against the target's official schema and a finding counts its deviations."""
    version = TARGETS[target]
    normalised = normalise(doc)
    out = Conversion(version, findings=list(normalised.findings))
    if any(f.severity == "error" for f in out.findings) or not isinstance(normalised.doc.data, dict):
        return out
    out.lossy = [f for f in out.findings if f.severity == "warning"]  # imports the normalisation could not follow
    writer = _Writer(normalised.doc, out.lossy)
    if version == ALPHA2:
        data = writer.alpha2(normalised.doc.data, ())
        data = {"naftiko": ALPHA2.version, **{k: v for k, v in data.items() if k != "naftiko"}}
    else:
        body = writer.ikanos(normalised.doc.data, (), None)
        data = {"ikanos": BETA5.version, **{k: v for k, v in body.items() if k != "naftiko"}}
    out.data = data
    out.findings += [f for f in out.lossy if f not in out.findings]
    if not check:
        return out
    deviations = list(Draft202012Validator(official_schema(version)).iter_errors(strip_extensions(data)))
    if deviations:
        source_version = normalised.version or ALPHA2
        source_ok = Draft202012Validator(official_schema(source_version)).is_valid(strip_extensions(doc.data))
        first = best_match(deviations)
        where = ".".join(str(p) for p in first.absolute_path) or "(root)"
        if source_ok:
            finding = doc.finding(
                (),
                f"the converted file deviates from the {version.name} schema in {len(deviations)} place(s): the"
                f" source says something {version.name} cannot (first at {where}: {first.message[:160]})",
                "keep the file in its own version, or change what the target cannot express",
                severity="warning",
            )
            out.lossy.append(finding)
        else:
            finding = doc.finding(
                (),
                f"the converted file still deviates from the {version.name} schema in {len(deviations)} place(s),"
                " as the source deviated from its own",
                "run `hms-recordings validate --strict` on the converted file; the runtime serves it as the source",
                severity="warning",
            )
        out.findings.append(finding)
    return out


def comparable(model: Any) -> Any:
    """A loaded model as plain data without where it came from (``file``, ``yaml_path``): what "loading the
    converted file gives the same model" compares."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("file", "yaml_path")}
        if isinstance(value, list | tuple):
            return [strip(v) for v in value]
        if isinstance(value, frozenset | set):
            return sorted(value)
        return value

    return strip(dataclasses.asdict(model))


class _Writer:
    def __init__(self, doc: YamlDoc, findings: list[Finding]) -> None:
        self.doc = doc
        self.findings = findings

    def note(self, path: PathKey, message: str, fix: str = "") -> None:
        self.findings.append(self.doc.finding(path, message, fix, severity="warning"))

    # --- to alpha2: drop what alpha2 cannot say --------------------------------------------------------------------

    def alpha2(self, node: Any, path: PathKey) -> Any:
        if isinstance(node, list):
            return [self.alpha2(v, (*path, i)) for i, v in enumerate(node)]
        if not isinstance(node, dict) or (path and path[-1] in _FREE):
            return node
        out = {}
        for key, value in node.items():
            dropped = key in IKANOS_ONLY and not (key == "tags" and path == ("info",))
            dropped = dropped or (key == "version" and path == ("info",)) or (key == "binary" and "uri" in node)
            if key == "outputRawFormat" and value == "binary":
                dropped = True
            if dropped:
                self.note((*path, key), f"`{key}` has no place in naftiko-1.0.0-alpha2; it is left out")
                continue
            out[key] = self.alpha2(value, (*path, key))
        return out

    # --- to ikanos: key the named lists ----------------------------------------------------------------------------

    def ikanos(self, node: Any, path: PathKey, parent: dict[str, Any] | None) -> Any:
        if isinstance(node, list):
            return [self.ikanos(v, (*path, i), parent) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if path and path[-1] in _FREE:
            return node
        out: dict[str, Any] = {}
        in_mappings = len(path) >= 2 and path[-2] == "mappings"
        in_import = len(path) >= 2 and path[-2] == "consumes" and "import" in node
        for key, value in node.items():
            name: str = TO_IKANOS.get(key) or key
            if in_mappings and key == "targetName":
                name = "target"
            elif in_import and key == "location":
                name = "from"
            child = (*path, key)
            if isinstance(value, list) and self._keyed(key, value, node):
                out[name] = self.keyed(value, child, node)
            elif key == "properties" and isinstance(value, dict):
                out[name] = {f: self.ikanos(v, (*child, f), node) for f, v in value.items()}
            else:
                out[name] = self.ikanos(value, child, node)
        return out

    def _derived_names(self, items: list[Any], names: list[Any], path: PathKey) -> list[Any]:
        """alpha2 lets exposed resources and operations go unnamed; ikanos keys them by name, so an unnamed one is
        named after its path (a resource) or its method (an operation), and the finding says so."""
        out = list(names)
        kind = str(path[-1]).rstrip("s")  # resource | operation
        taken = {n for n in names if isinstance(n, str) and n}
        for i, (item, name) in enumerate(zip(items, names, strict=True)):
            if (isinstance(name, str) and name) or not isinstance(item, dict):
                continue
            basis = item.get("path") if path[-1] == "resources" else item.get("method")
            stem = _kebab(str(basis or "")) or kind
            candidate, n = stem, 2
            while candidate in taken:
                candidate, n = f"{stem}-{n}", n + 1
            taken.add(candidate)
            out[i] = candidate
            self.note((*path, i), f"the unnamed {kind} is named `{candidate}` (ikanos keys them by name)")
        return out

    def _keyed(self, key: str, value: list[Any], holder: dict[str, Any]) -> bool:
        if key in KEYED or key == "functions":
            return True
        if key == "outputParameters":
            # A call's outputs are mapped (an unnamed list in every version); consumed, orchestrated and mock
            # outputs are named, and the ikanos line keys them.
            return "call" not in holder and all(isinstance(v, dict) for v in value)
        if key == "items":  # an orchestrated array's named items
            return "steps" in holder or all(isinstance(v, dict) and "name" in v for v in value)
        return False

    def keyed(self, items: list[Any], path: PathKey, holder: dict[str, Any]) -> Any:
        names = [item.get("name") if isinstance(item, dict) else None for item in items]
        if path[-1] in ("resources", "operations") and "exposes" in path:
            names = self._derived_names(items, names, path)
            items = [
                {"name": n, **{k: v for k, v in item.items() if k != "name"}} if isinstance(item, dict) else item
                for item, n in zip(items, names, strict=True)
            ]
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name:
                self.note((*path, i), f"`{path[-1]}` item {i} has no `name`, so the list cannot be keyed by name")
                return [self.ikanos(v, (*path, j), holder) for j, v in enumerate(items)]
            if names.index(name) != i:
                self.note((*path, i, "name"), f"`{name}` is used twice in `{path[-1]}`, so the list stays a list")
                return [self.ikanos(v, (*path, j), holder) for j, v in enumerate(items)]
        return {
            item["name"]: self.ikanos({k: v for k, v in item.items() if k != "name"}, (*path, i), holder)
            for i, item in enumerate(items)
        }


def _kebab(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


#: Free-form maps whose keys are data (also in :mod:`.versions`): never renamed or keyed.
_FREE = frozenset({"with", "keys", "data", "metadata", "semantics", "hints", "template"})


def run_convert(path: str, target: str, output: str | None) -> int:
    """The ``convert`` command: the file to ``output`` (or stdout), findings to stderr. Exit 0 converted, 1 refused,
    2 unreadable (as ``validate``)."""
    import sys
    from pathlib import Path

    from hms_recordings.capability.yamlsource import read_yaml
    from hms_recordings.errors import CapabilityError

    try:
        doc = read_yaml(path)
    except CapabilityError as exc:
        for finding in exc.findings or [Finding("(root)", 0, exc.message, "check the path", file=path)]:
            print(finding.render(), file=sys.stderr)
        return 2
    result = convert(doc, target)
    for finding in result.findings:
        print(finding.render(), file=sys.stderr)
    if result.refused:
        print(f"{path}: not converted to {target}", file=sys.stderr)
        return 1
    if output:
        Path(output).write_text(result.text, encoding="utf-8")
    else:
        sys.stdout.write(result.text)
    return 0
