"""The corpus of public capability files (``files/``, listed in ``manifest.json``) and what its tests share.

Each file is parsed once per test process (the round-trip YAML parse is most of the cost), and a model is compared
without the places it came from (file names, YAML paths), which differ between a file and its conversion.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from hms_recordings.capability.convert import comparable
from hms_recordings.capability.strict import strip_extensions
from hms_recordings.capability.versions import declared_version, official_schema
from hms_recordings.capability.yamlsource import YamlDoc, read_yaml

CORPUS = Path(__file__).resolve().parent
MANIFEST = CORPUS / "manifest.json"


@functools.cache
def manifest() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(MANIFEST.read_text(encoding="utf-8"))["files"]
    return entries


def capability_files() -> list[str]:
    """The corpus files that declare a version (the rest are the bind and prompt files they point at)."""
    return [e["file"] for e in manifest() if "declared" in e]


@functools.cache
def doc(file: str) -> YamlDoc:
    return read_yaml(CORPUS / file)


@functools.cache
def officially_valid(file: str) -> bool | None:
    """Whether the official schema of the file's declared version accepts it (``x-`` keys aside); ``None`` when
    it declares a version this runtime does not read."""
    document = doc(file)
    version = declared_version(document.data)[0]
    if version is None:
        return None
    return Draft202012Validator(official_schema(version)).is_valid(strip_extensions(document.data))


def canonical(model: Any) -> Any:
    """``model`` as plain data without ``file`` and ``yaml_path``: equal for a file and its conversion."""
    return comparable(model)
