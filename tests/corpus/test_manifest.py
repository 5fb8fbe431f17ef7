"""The corpus is what its manifest says: public files, each with its source repository, path, commit and version."""

from __future__ import annotations

import json
import re

import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.versions import VERSIONS, declared_version
from hms_recordings.errors import CapabilityError
from tests.corpus.corpus import CORPUS, capability_files, doc, manifest, officially_valid

PROVIDERS = "api-evangelist/"


def test_the_corpus_holds_at_least_200_capability_files_from_many_sources() -> None:
    files = capability_files()
    repositories = {e["repository"] for e in manifest() if "declared" in e}

    assert len(files) >= 200
    assert len(repositories) >= 10
    assert {"naftiko/framework", "naftiko/ikanos"} <= repositories
    assert sum(1 for e in manifest() if e["repository"].startswith(PROVIDERS)) >= 100


def test_every_manifest_entry_names_its_source_and_exists() -> None:
    for entry in manifest():
        assert (CORPUS / entry["file"]).is_file(), entry["file"]
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), entry
        assert entry["repository"].count("/") == 1
        assert entry["file"].endswith(entry["path"])


def test_every_file_under_files_is_in_the_manifest() -> None:
    listed = {e["file"] for e in manifest()}
    on_disk = {str(p.relative_to(CORPUS)) for p in (CORPUS / "files").rglob("*") if p.is_file()}

    assert on_disk == listed


def test_the_declared_version_in_the_manifest_is_the_one_the_file_declares() -> None:
    for file in capability_files():
        entry = next(e for e in manifest() if e["file"] == file)
        data = doc(file).data
        key, version = entry["declared"]["key"], entry["declared"]["version"]

        assert str(data[key]) == version, file


def test_every_version_the_runtime_reads_has_corpus_files_and_so_does_the_refused_0_5() -> None:
    seen = {declared_version(doc(f).data)[0] for f in capability_files()}
    declared = {next(e for e in manifest() if e["file"] == f)["declared"]["version"] for f in capability_files()}

    assert set(VERSIONS) <= seen
    assert "0.5" in declared


def test_each_file_said_not_to_be_served_is_accepted_by_its_schema_refused_and_has_its_evidence() -> None:
    # The classification lowers no bar by itself: a listed file the runtime served, or one its schema rejects (then
    # it counts among the rejected anyway), fails here, so the list can only name what its authors meant.
    listed = json.loads((CORPUS / "not_meant_to_serve.json").read_text(encoding="utf-8"))["files"]
    for entry in listed:
        file = entry["file"]
        assert file in capability_files(), file
        assert officially_valid(file) is True, file
        with pytest.raises(CapabilityError):
            load_capability(doc(file))
        assert entry["reason"] and entry["evidence"], file
