"""Format versions: which one a file declares, its official schema, and one normalisation into the alpha2 shape.

The lenient reader (:mod:`.loader`) and the semantic checks of :mod:`.strict` are written for the Naftiko
``1.0.0-alpha2`` shape. Every other version is brought to that shape here, once, before anything reads it:

* ``naftiko: 1.0.0-alpha1`` is a subset of alpha2 and ``naftiko: 1.0.0-alpha3`` is alpha2 with a new version string
  (``schemas/SOURCES.md``): their data is used as written.
* ``ikanos: 1.0.0-alpha3`` .. ``1.0.0-beta5`` (all the breaking changes are in ikanos alpha3): named maps become
  lists whose items carry ``name``; ``display`` becomes ``label``; aggregate ``flows`` become ``functions``;
  mapping ``target`` becomes ``targetName``; an import's ``from`` becomes ``location``; root-level ``exposes`` and
  ``aggregates`` join the ``capability``. Lists written the alpha2 way are accepted as they are (the ikanos
  repository's own test files mix both).
* ``naftiko: 0.5`` (and any other version) is refused with a finding that says how to convert the file.

The normalised :class:`~.yamlsource.YamlDoc` keeps the original file's lines: every path of the new shape maps to
the line of the node it came from, so findings still point into the file the user wrote.

    >>> from hms_recordings.capability.yamlsource import parse_yaml
    >>> doc = parse_yaml("ikanos: 1.0.0-beta5\\ninfo:\\n  display: X\\n  description: d\\n")
    >>> result = normalise(doc)
    >>> result.version.name, result.doc.data["info"]["label"], result.doc.line_of(("info", "label"))
    ('ikanos-1.0.0-beta5', 'X', 3)
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hms_recordings.capability.yamlsource import PathKey, YamlDoc
from hms_recordings.errors import Finding

__all__ = [
    "ALPHA2",
    "VERSIONS",
    "FormatVersion",
    "Normalised",
    "declared_version",
    "normalise",
    "official_schema",
]

SCHEMAS = Path(__file__).with_name("schemas")


@dataclass(frozen=True)
class FormatVersion:
    key: str  # the root key that declares it: ``naftiko`` or ``ikanos``
    version: str

    @property
    def name(self) -> str:
        """``naftiko-1.0.0-alpha2``: the name of its schema file and of ``convert --to``."""
        return f"{self.key}-{self.version}"

    @property
    def ikanos_shape(self) -> bool:
        """True for the ikanos line (maps keyed by name, ``display``, ``flows``...)."""
        return self.key == "ikanos"

    @property
    def schema_file(self) -> Path:
        return SCHEMAS / f"{self.name}.json"


#: Every version this runtime reads, oldest first; each has its official schema under ``schemas/``.
VERSIONS: tuple[FormatVersion, ...] = (
    *(FormatVersion("naftiko", f"1.0.0-{v}") for v in ("alpha1", "alpha2", "alpha3")),
    *(FormatVersion("ikanos", f"1.0.0-{v}") for v in ("alpha3", "alpha4", "beta1", "beta2", "beta3", "beta4", "beta5")),
)
ALPHA2 = VERSIONS[1]
_BY_NAME = {v.name: v for v in VERSIONS}

#: Named collections that the ikanos line writes as maps keyed by name (alpha2: lists of items with ``name``).
NAMED_MAPS = frozenset(
    {"resources", "operations", "inputParameters", "outputParameters", "tools", "prompts", "arguments", "skills"}
    | {"steps", "flows"}
)
#: Free-form maps: their keys are data (parameter names, fields, bound variables), never format keywords.
VERBATIM = frozenset({"with", "keys", "data", "metadata", "semantics", "hints", "template"})
#: Key renames of the ikanos line, wherever the key appears outside free-form maps.
RENAMES = {"display": "label", "flows": "functions"}


@functools.cache
def official_schema(version: FormatVersion) -> dict[str, Any]:
    """The vendored official JSON Schema of ``version`` (parsed once per process)."""
    schema: dict[str, Any] = json.loads(version.schema_file.read_text(encoding="utf-8"))
    return schema


def declared_version(data: Any) -> tuple[FormatVersion | None, str]:
    """The version ``data`` declares, or ``None`` and the declared text (``""`` when nothing is declared)."""
    if not isinstance(data, dict):
        return None, ""
    for key in ("ikanos", "naftiko"):
        if key in data:
            text = str(data[key])
            return _BY_NAME.get(f"{key}-{text}"), f"{key}: {text}"
    return None, ""


@dataclass
class Normalised:
    """The alpha2-shaped document, the version it was written in, and what normalising it had to say."""

    doc: YamlDoc
    version: FormatVersion | None
    #: Errors (the version cannot be read) and warnings (a construct of the source version this runtime drops).
    findings: list[Finding] = field(default_factory=list)


def normalise(doc: YamlDoc) -> Normalised:
    """Bring ``doc`` to the alpha2 shape. A file that declares no version is read as alpha2 (lenient, as before)."""
    version, declared = declared_version(doc.data)
    if version is None and declared:
        return Normalised(doc, None, [_refusal(doc, declared)])
    if version is None or not version.ikanos_shape:
        return Normalised(doc, version or ALPHA2)
    walker = _ToAlpha2(doc)
    data = walker.root(doc.data)
    out = YamlDoc(data, doc.file, walker.lines, schemas_checked=doc.schemas_checked)
    return Normalised(out, version, walker.findings)


def _refusal(doc: YamlDoc, declared: str) -> Finding:
    key, _, text = declared.partition(": ")
    known = ", ".join(v.name for v in VERSIONS)
    if key == "naftiko" and text.startswith("0."):
        message = (
            f"`{declared}` is the pre-1.0 Naftiko format (`externalRefs`, `resolution`), which hms-recordings does not"
            " read"
        )
        fix = (
            "convert it to 1.0.0-alpha2: rename `externalRefs` to `binds` (`name` -> `namespace`, `resolution: file` +"
            " `uri` -> `location`, drop `type: environment`), set `naftiko: 1.0.0-alpha2`, then run"
            " `hms-recordings validate --strict` on it"
        )
    else:
        message = f"`{declared}` is not a format version hms-recordings reads"
        fix = f"declare one of: {known}"
    return doc.finding((key,), message, fix)


class _ToAlpha2:
    """One walk over ikanos-shaped data, building the alpha2 shape and the line of every new path."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.lines: dict[PathKey, int] = {(): 1}
        self.findings: list[Finding] = []

    def locate(self, new: PathKey, old: PathKey) -> None:
        self.lines[new] = self.doc.line_of(old)

    def root(self, data: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"naftiko": ALPHA2.version}
        self.locate(("naftiko",), ("ikanos",))
        for key, value in data.items():
            if key in ("ikanos", "exposes", "aggregates"):
                continue
            out[key] = self.node(value, (key,), (key,), key)
        # Root-level exposes and aggregates are file-wide; in the one model they belong to the capability.
        for key in ("exposes", "aggregates"):
            if key not in data:
                continue
            cap = out.setdefault("capability", {})
            if not isinstance(cap, dict) or not isinstance(data[key], list):
                out[key] = self.node(data[key], (key,), (key,), key)
                continue
            self.locate(("capability",), ("capability",) if "capability" in data else (key,))
            existing = cap.setdefault(key, [])
            if not isinstance(existing, list):
                continue
            self.locate(("capability", key), ("capability", key) if key in cap else (key,))
            offset = len(existing)
            for i, item in enumerate(data[key]):
                existing.append(self.node(item, (key, i), ("capability", key, offset + i), key))
        return out

    def node(self, value: Any, old: PathKey, new: PathKey, key: str | int | None) -> Any:
        self.locate(new, old)
        if isinstance(value, list):
            items: list[Any] = []
            for i, item in enumerate(value):
                if key in ("exposes", "aggregates", "binds") and isinstance(item, dict) and "from" in item:
                    # An imported exposes, aggregates or binds entry: not followed, so it is left out (and said).
                    self.findings.append(
                        self.doc.finding(
                            (*old, i),
                            f"an imported `{key}` entry (`from: {item.get('from')}`) is not followed; it is left out",
                            f"copy the imported {key} entry into this file",
                            severity="warning",
                        )
                    )
                    continue
                items.append(self.node(item, (*old, i), (*new, len(items)), key))
            return items
        if not isinstance(value, dict):
            return value
        if key in VERBATIM:
            return self.verbatim(value, old, new)
        out: dict[str, Any] = {}
        for k, v in value.items():
            name: str = RENAMES.get(k) or k
            if k == "target" and key == "mappings":
                name = "targetName"
            elif k == "from" and key == "consumes" and "import" in value:
                name = "location"
            if self._named_map(k, v):
                out[name] = self.named_list(v, (*old, k), (*new, name), k)
            elif k == "properties" and isinstance(v, dict):  # field names are data; each value is an output
                self.locate((*new, name), (*old, k))
                out[name] = {f: self.node(o, (*old, k, f), (*new, name, f), k) for f, o in v.items()}
            else:
                out[name] = self.node(v, (*old, k), (*new, name), k)
        return out

    @staticmethod
    def _named_map(key: str, value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        if key == "items":  # an orchestrated array's items (a map of named outputs), not a mapped output's one item
            return not isinstance(value.get("type"), str)
        return key in NAMED_MAPS

    def named_list(self, value: dict[str, Any], old: PathKey, new: PathKey, key: str) -> list[Any]:
        self.locate(new, old)
        items = []
        for i, (name, item) in enumerate(value.items()):
            entry = self.node(item, (*old, name), (*new, i), key)
            if isinstance(entry, dict):
                entry = {"name": name, **entry}
                self.locate((*new, i, "name"), (*old, name))
            items.append(entry)
        return items

    def verbatim(self, value: Any, old: PathKey, new: PathKey) -> Any:
        self.locate(new, old)
        if isinstance(value, dict):
            return {k: self.verbatim(v, (*old, k), (*new, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.verbatim(v, (*old, i), (*new, i)) for i, v in enumerate(value)]
        return value
