"""The tool surface, its committed snapshot and the README table never disagree."""

from __future__ import annotations

import json
import os
from pathlib import Path

from jsonschema import Draft202012Validator

from hms_recordings.capability.loader import BUILTIN_CAPABILITY, load_capability, load_file
from hms_recordings.capability.yamlsource import dump_parsed, parse_yaml, parsed_companion, read_yaml
from hms_recordings.cli import synopsis
from hms_recordings.runtime.inventory import compile_inventory
from tests.surface import (
    README_END,
    README_START,
    SYNOPSIS_END,
    SYNOPSIS_START,
    readme_table,
    replace_between,
    replace_readme_table,
    tool_surface,
)

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "snapshots" / "tools.json"
README = ROOT / "README.md"


def current_surface() -> list[dict[str, object]]:
    return tool_surface(compile_inventory(load_file(), strict=True))


def test_the_tool_surface_matches_the_committed_snapshot() -> None:
    surface = current_surface()
    text = json.dumps(surface, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.read_text(encoding="utf-8") == text, "tool surface changed: review and run UPDATE_SNAPSHOTS=1"


def test_the_readme_tool_table_is_generated_from_the_snapshot() -> None:
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    readme = README.read_text(encoding="utf-8")
    expected = replace_readme_table(readme, readme_table(snapshot))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        README.write_text(expected, encoding="utf-8")
        readme = expected
    assert README_START in readme and README_END in readme
    assert readme == expected, "README tool table is stale: run UPDATE_SNAPSHOTS=1 pytest tests/builtin"


def test_the_readme_command_synopsis_is_generated_from_the_argument_parser() -> None:
    readme = README.read_text(encoding="utf-8")
    expected = replace_between(readme, SYNOPSIS_START, SYNOPSIS_END, "```\n" + synopsis() + "```")
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        README.write_text(expected, encoding="utf-8")
        readme = expected
    assert readme == expected, "README command synopsis is stale: run UPDATE_SNAPSHOTS=1 pytest tests/builtin"


def test_every_tool_declares_a_toolset_hints_and_a_title() -> None:
    compiled = compile_inventory(load_file(), strict=True).tools
    for tool in current_surface():
        assert tool.get("toolset"), tool["name"]
        assert tool.get("title"), tool["name"]
        assert isinstance(tool.get("annotations"), dict), tool["name"]
        # The file states all four hints; the wire carries those that differ from the specification's defaults.
        hints = compiled[tool["name"]].hints
        assert None not in (hints.read_only, hints.destructive, hints.idempotent, hints.open_world), tool["name"]


def test_no_input_schema_has_a_top_level_combinator_and_all_reject_unknown_arguments() -> None:
    for tool in current_surface():
        schema = tool["inputSchema"]
        assert isinstance(schema, dict)
        assert not {"anyOf", "oneOf", "allOf"} & set(schema), tool["name"]
        assert schema["additionalProperties"] is False, tool["name"]
        assert schema["type"] == "object"


def test_the_built_in_capability_ships_an_up_to_date_parsed_copy() -> None:
    """The pre-parsed companion saves the YAML parse at start-up; it must be exactly the parse of the YAML."""
    text = BUILTIN_CAPABILITY.read_text(encoding="utf-8")
    parsed = parse_yaml(text, str(BUILTIN_CAPABILITY))
    # The companion vouches for every tool schema, so the runtime can skip the meta-schema check: check them here.
    for compiled in compile_inventory(load_capability(parsed), strict=True).tools.values():
        Draft202012Validator.check_schema(compiled.input_schema)
    expected = dump_parsed(parsed, text, schemas_checked=True)
    companion = parsed_companion(BUILTIN_CAPABILITY)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        companion.write_text(expected, encoding="utf-8")
    assert companion.read_text(encoding="utf-8") == expected, "stale: run UPDATE_SNAPSHOTS=1 pytest tests/builtin"
    assert read_yaml(BUILTIN_CAPABILITY).data == parse_yaml(text).data


def test_a_stale_parsed_copy_is_ignored(tmp_path: Path) -> None:
    source = tmp_path / "cap.yaml"
    source.write_text("a: 1\n", encoding="utf-8")
    parsed_companion(source).write_text(dump_parsed(parse_yaml("a: 2\n"), "a: 2\n"), encoding="utf-8")
    assert read_yaml(source).data == {"a": 1}
