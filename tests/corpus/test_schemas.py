"""The vendored official schemas: one per version served, each the version it claims, and the facts the
normalisation relies on (``schemas/SOURCES.md``) hold in them."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from jsonschema import Draft202012Validator

from hms_recordings.capability.versions import SCHEMAS, VERSIONS, FormatVersion, official_schema


def _by(name: str) -> FormatVersion:
    return next(v for v in VERSIONS if v.name == name)


def _without_version(version: FormatVersion) -> Any:
    schema = copy.deepcopy(official_schema(version))
    schema["properties"][version.key].pop("const")

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("description", "$id")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(schema)


def test_each_served_version_has_its_official_schema_declaring_that_version() -> None:
    sources = (SCHEMAS / "SOURCES.md").read_text(encoding="utf-8")
    for version in VERSIONS:
        schema = official_schema(version)
        Draft202012Validator.check_schema(schema)

        assert schema["properties"][version.key]["const"] == version.version
        assert f"`{version.name}.json`" in sources
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(v.name for v in VERSIONS)


def test_naftiko_alpha3_is_alpha2_with_a_new_version_string() -> None:
    assert _without_version(_by("naftiko-1.0.0-alpha3")) == _without_version(_by("naftiko-1.0.0-alpha2"))


def test_the_ikanos_line_changes_shape_only_at_alpha3_beta1_and_beta4() -> None:
    names = [v.name for v in VERSIONS if v.ikanos_shape]
    changed = [b for a, b in itertools.pairwise(names) if _without_version(_by(a)) != _without_version(_by(b))]

    assert changed == ["ikanos-1.0.0-beta1", "ikanos-1.0.0-beta4"]


def test_ikanos_alpha3_keys_named_collections_by_name_and_renames_label_to_display() -> None:
    defs = official_schema(_by("ikanos-1.0.0-alpha3"))["$defs"]

    for definition, key in [
        ("ConsumesHttp", "resources"),
        ("ConsumedHttpResource", "operations"),
        ("ExposesMcp", "tools"),
        ("McpTool", "steps"),
        ("McpTool", "inputParameters"),
        ("Aggregate", "flows"),
        ("ExposesSkill", "skills"),
    ]:
        assert defs[definition]["properties"][key]["type"] == "object", (definition, key)
    assert "display" in defs["Info"]["properties"] and "label" not in defs["Info"]["properties"]
    assert defs["ImportEntry"]["required"] == ["from", "import"]
    assert "target" in defs["StepOutputMapping"]["properties"]


def test_beta4_adds_the_mcp_cache_hints_and_beta1_binary_content() -> None:
    mcp = official_schema(_by("ikanos-1.0.0-beta4"))["$defs"]["ExposesMcp"]["properties"]
    op = official_schema(_by("ikanos-1.0.0-beta1"))["$defs"]["ConsumedHttpOperation"]["properties"]

    assert {"ttlMs", "cacheScope"} <= set(mcp)
    assert "binary" in op["outputRawFormat"]["enum"] and "maxBinarySize" in op
