"""Strict alpha2 validation: the seed's three deviations, every construct's typical mistake, and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from hms_recordings.capability.strict import RULES, RuleFinding, group_findings, validate_strict
from hms_recordings.capability.validation import validate_file
from hms_recordings.capability.yamlsource import YamlDoc, parse_yaml
from hms_recordings.errors import Finding
from tests.paths import SEED

FILES = Path(__file__).parent / "files" / "strict"
CONFORMANT = (FILES / "conformant.yaml").read_text(encoding="utf-8")


def line_of(text: str, marker: str) -> int:
    """The 1-based line of the only line containing ``marker``; ``marker|-1`` means the line above it."""
    marker, _, offset = marker.partition("|")
    hits = [n for n, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(hits) == 1, f"{marker!r} is on lines {hits}"
    return hits[0] + int(offset or 0)


def errors(findings: list[RuleFinding]) -> list[RuleFinding]:
    return [f for f in findings if f.severity == "error"]


# --- the seed --------------------------------------------------------------------------------------------------


def test_the_seed_shows_exactly_its_three_known_alpha2_deviations_with_paths_and_lines() -> None:
    text = SEED.read_text(encoding="utf-8")
    report = validate_file(str(SEED), strict=True)
    groups = group_findings(report.deviations)

    assert [rule for rule, _ in groups] == ["consumed-param-fields", "bearer-token", "object-output-properties"]
    located = {rule: [(f.path, f.line) for f in found] for (rule, _), found in groups.items()}
    assert located["bearer-token"] == [("capability.consumes[0].authentication", 100)]
    assert line_of(text, "value: '{{env.HMS_MANAGEMENT_TOKEN}}'") == 100
    params = [n for n, line in enumerate(text.splitlines(), 1) if "required: true }" in line]
    assert [line for _, line in located["consumed-param-fields"]] == params == [38, 48, 49, 59, 69, 79, 97]
    assert located["consumed-param-fields"][0][0] == (
        "capability.consumes[0].resources[1].operations[0].inputParameters[0]"
    )
    outputs = [n for n, line in enumerate(text.splitlines(), 1) if "outputParameters: [{ type: object" in line]
    assert located["object-output-properties"] == [
        (f"capability.exposes[0].tools[{i}].outputParameters[0]", line) for i, line in enumerate(outputs)
    ]
    assert [line for _, line in located["object-output-properties"]] == [114, 120, 125, 131]


def test_the_seed_deviations_carry_human_messages_and_one_line_fixes() -> None:
    groups = group_findings(validate_file(str(SEED), strict=True).deviations)
    messages = {rule: (message, found[0].fix) for (rule, message), found in groups.items()}

    assert messages["bearer-token"] == (
        "bearer authentication uses `value` and `placement`; alpha2 expects `token`",
        "rename `value` to `token` and drop `placement`",
    )
    assert messages["consumed-param-fields"] == (
        "consumed input parameters may only have name, in, value; `type`, `required` are not alpha2",
        "remove `type` and `required` (describe them on the tool's inputParameters instead)",
    )
    assert messages["object-output-properties"] == (
        "an object output needs `properties`; `{type: object, mapping: $.}` is not alpha2",
        "list the fields under `properties`, or map a scalar",
    )


def test_the_seed_report_ends_with_the_deviation_count_and_exits_1_under_strict() -> None:
    report = validate_file(str(SEED), strict=True)
    rendered = report.render()

    assert "3 deviations from alpha2 (12 locations); 0 errors that stop serving" in rendered
    assert f"{SEED}:100: capability.consumes[0].authentication: bearer authentication uses" in rendered
    assert "[consumed-param-fields] 7 locations:" in rendered
    assert report.exit_code() == 1


def test_the_seed_passes_the_lenient_check_when_the_loader_finds_nothing_blocking() -> None:
    report = validate_file(str(SEED), strict=False, lenient_check=lambda doc: [])

    assert report.ok
    assert report.exit_code() == 0
    assert "0 errors that stop serving" in report.render()


# --- a conformant file -----------------------------------------------------------------------------------------


def test_a_file_using_every_alpha2_construct_conformantly_has_no_findings() -> None:
    assert validate_strict(parse_yaml(CONFORMANT, "conformant.yaml")) == []
    report = validate_file(str(FILES / "conformant.yaml"), strict=True)
    assert report.exit_code() == 0
    assert "0 deviations from alpha2 (0 locations)" in report.render()


# --- each construct's typical mistake --------------------------------------------------------------------------

BEARER = "      token: '{{ACME_TOKEN}}'\n    resources:\n    - name: widgets"
MCP_CALL = "      call: acme.list-widgets\n      with: { limit: acme-mcp.limit"
# (id, text to replace, replacement, rule, YAML path, a marker on the expected line of the mutated file)
MISTAKES = [
    ("root-version", "naftiko: 1.0.0-alpha2", "naftiko: '0.5'", "bad-value", "naftiko", "naftiko: '0.5'"),
    ("info-label", "  label: Acme everything\n", "", "missing-key", "info", "info:"),
    ("info-date", "created: '2026-01-02'", "created: 2nd Jan", "bad-pattern", "info.created", "2nd Jan"),
    ("bind-namespace", "- namespace: env\n", "- namespace: env_vars\n", "bad-pattern", "binds[0].namespace", "env_"),
    ("bind-key", "    ACME_TOKEN: ACME_TOKEN", "    acme_token: X", "bad-pattern", "binds[0].keys", "acme_token"),
    (
        "baseuri-brace",
        "api.acme.test/v2\n",
        "api.acme.test/{v}\n",
        "bad-pattern",
        "capability.consumes[0].baseUri",
        "{v}",
    ),
    (
        "baseuri-slash",
        "api.acme.test/v2\n",
        "api.acme.test/v2/\n",
        "baseuri-trailing-slash",
        "capability.consumes[0].baseUri",
        "v2/",
    ),
    (
        "consumed-query",
        "path: /widgets\n      inputParameters:",
        "path: /widgets?all=1\n      inputParameters:",
        "path-query-string",
        "capability.consumes[0].resources[0].path",
        "?all",
    ),
    (
        "op-method",
        "method: PUT",
        "method: FETCH",
        "bad-value",
        "capability.consumes[0].resources[0].operations[2].method",
        "FETCH",
    ),
    (
        "param-in",
        "in: query, value: '10'",
        "in: form, value: '10'",
        "bad-value",
        "capability.consumes[0].resources[0].inputParameters[0].in",
        "in: form",
    ),
    (
        "param-type",
        "{ name: widget_id, in: path }",
        "{ name: widget_id, in: path, type: string }",
        "consumed-param-fields",
        "capability.consumes[0].resources[1].operations[0].inputParameters[0]",
        "widget_id, in: path",
    ),
    (
        "op-unknown-key",
        "        label: List widgets\n",
        "        label: List widgets\n        summary: List.\n",
        "unknown-key",
        "capability.consumes[0].resources[0].operations[0]",
        "summary: List.",
    ),
    (
        "auth-bearer",
        BEARER,
        "      value: '{{ACME_TOKEN}}'\n      placement: header\n    resources:\n    - name: widgets",
        "bearer-token",
        "capability.consumes[0].authentication",
        "      value: '{{ACME_TOKEN}}'",
    ),
    (
        "auth-oauth2",
        "      resource: https://mcp.acme.test\n",
        "",
        "missing-key",
        "capability.exposes[0].authentication",
        "type: oauth2|-1",
    ),
    (
        "auth-unknown-type",
        "type: digest,",
        "type: ntlm,",
        "bad-value",
        "capability.consumes[3].authentication.type",
        "ntlm",
    ),
    (
        "body-text",
        "data: 'note {{text}}'",
        "data: [1]",
        "bad-type",
        "capability.consumes[0].resources[0].operations[2].body.data",
        "data: [1]",
    ),
    (
        "mcp-stdio-port",
        "    transport: stdio\n",
        "    transport: stdio\n    port: 9091\n",
        "mcp-transport-port",
        "capability.exposes[1]",
        "namespace: acme-stdio|-1",
    ),
    (
        "mcp-unknown-type",
        "  - type: mcp\n    namespace: acme-mcp",
        "  - type: mpc\n    namespace: acme-mcp",
        "bad-value",
        "capability.exposes[0].type",
        "type: mpc",
    ),
    (
        "tool-call-form",
        MCP_CALL,
        MCP_CALL.replace("acme.list", "list"),
        "bad-pattern",
        "capability.exposes[0].tools[0].call",
        "call: list-widgets",
    ),
    (
        "tool-call-target",
        MCP_CALL,
        MCP_CALL.replace("widgets", "gadgets"),
        "call-target",
        "capability.exposes[0].tools[0].call",
        "gadgets",
    ),
    (
        "tool-ref-target",
        "ref: widgets-domain.count-widgets\n    - name: widget-mock",
        "ref: widgets-domain.count-gadgets\n    - name: widget-mock",
        "ref-target",
        "capability.exposes[0].tools[2].ref",
        "gadgets",
    ),
    (
        "tool-unique-name",
        "    - name: widget-mock",
        "    - name: widget-report",
        "unique-tool-name",
        "capability.exposes[0].tools[3].name",
        "A canned answer.|-1",
    ),
    (
        "unique-namespace",
        "namespace: acme-stdio",
        "namespace: acme",
        "unique-namespace",
        "capability.exposes[1].namespace",
        "transport: stdio|-1",
    ),
    (
        "tool-hints",
        "readOnly: true, destructive",
        "readOnly: yes-please, destructive",
        "bad-type",
        "capability.exposes[0].tools[0].hints.readOnly",
        "yes-please",
    ),
    (
        "tool-input",
        "type: integer, description: How many., required: false",
        "type: integer, required: false",
        "missing-key",
        "capability.exposes[0].tools[0].inputParameters[0]",
        "required: false",
    ),
    (
        "output-scalar",
        "value: 'true' }",
        "value: 'true', mapping: $.live }",
        "output-mapping-or-value",
        "capability.exposes[0].tools[0].outputParameters[0].items.properties.live",
        "$.live",
    ),
    (
        "output-array",
        "size: { type: number, mapping: $.size }",
        "size: { type: array, mapping: $.size }",
        "missing-key",
        "capability.exposes[0].tools[0].outputParameters[0].items.properties.size",
        "type: array, mapping: $.size",
    ),
    (
        "output-object",
        "mapping: $.data\n        items:",
        "mapping: $.data\n        items: { type: object, mapping: $. }\n        x-old:",
        "object-output-properties",
        "capability.exposes[0].tools[0].outputParameters[0].items",
        "mapping: $. }",
    ),
    (
        "step-lookup",
        "index: fetch, match: id,",
        "index: fetch,",
        "missing-key",
        "capability.exposes[0].tools[1].steps[1]",
        "type: lookup",
    ),
    (
        "step-mapping",
        "targetName: report.size,",
        "targetName: 'report size',",
        "bad-pattern",
        "capability.exposes[0].tools[1].mappings[0].targetName",
        "report size",
    ),
    (
        "mock-output",
        "type: string, value: forty-two",
        "type: object, value: forty-two",
        "bad-value",
        "capability.exposes[0].tools[3].outputParameters[0].type",
        "forty-two",
    ),
    (
        "resource-both",
        "      location: file:///./docs\n",
        "      location: file:///./docs\n      call: acme.list-widgets\n",
        "resource-source",
        "capability.exposes[0].resources[1]",
        "name: manual",
    ),
    (
        "prompt-neither",
        "      template: [{ role: user, content: 'Summarize widget {{id}}' }]\n",
        "",
        "prompt-source",
        "capability.exposes[0].prompts[0]",
        "name: summarize",
    ),
    (
        "rest-description",
        "    namespace: acme-rest\n",
        "    namespace: acme-rest\n    description: REST face.\n",
        "unknown-key",
        "capability.exposes[2]",
        "REST face.",
    ),
    (
        "rest-query",
        "    - path: /widgets\n",
        "    - path: /widgets?x=1\n",
        "path-query-string",
        "capability.exposes[2].resources[0].path",
        "?x=1",
    ),
    (
        "rest-forward",
        "forward: { targetNamespace: acme,",
        "forward: {",
        "missing-key",
        "capability.exposes[2].resources[1].forward",
        "trustedHeaders",
    ),
    (
        "skill-tool",
        "action: list-widgets } }",
        "action: list-widgets }, instruction: Hi. }",
        "skill-tool-source",
        "capability.exposes[3].skills[0].tools[0]",
        "instruction: Hi.",
    ),
    (
        "control-port",
        "{ type: control, port: 9999,",
        "{ type: control,",
        "missing-key",
        "capability.exposes[4]",
        "type: control",
    ),
    (
        "aggregate-semantics",
        "semantics: { safe: true,",
        "semantics: { safe: 'yes',",
        "bad-type",
        "capability.aggregates[0].functions[0].semantics.safe",
        "safe: 'yes'",
    ),
    (
        "aggregate-function",
        "      description: Count widgets.\n",
        "",
        "missing-key",
        "capability.aggregates[0].functions[0]",
        "name: count-widgets",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "rule", "path", "marker"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_each_constructs_typical_mistake_is_found_at_its_line_with_a_fix(
    old: str, new: str, rule: str, path: str, marker: str
) -> None:
    assert CONFORMANT.count(old) == 1
    text = CONFORMANT.replace(old, new)

    found = errors(validate_strict(parse_yaml(text, "c.yaml")))

    assert [(f.rule, f.path) for f in found] == [(rule, path)]
    assert found[0].line == line_of(text, marker)
    assert found[0].fix
    assert found[0].rule in RULES


#: Files the project's former hand-written schema rejected but the official alpha2 schema accepts: strict validation
#: follows the official schema, so these are no deviation (docs/validation.md, "What changed with the official schema").
OFFICIALLY_ACCEPTED = [
    ("basic-without-password", "password: '{{ACME_PASS}}' }\n    resources", "}\n    resources"),
]


@pytest.mark.parametrize(("old", "new"), [m[1:] for m in OFFICIALLY_ACCEPTED], ids=[m[0] for m in OFFICIALLY_ACCEPTED])
def test_what_the_official_schema_accepts_is_no_deviation(old: str, new: str) -> None:
    assert CONFORMANT.count(old) == 1

    assert errors(validate_strict(parse_yaml(CONFORMANT.replace(old, new), "c.yaml"))) == []


# --- extensions, unreadable files, the report ------------------------------------------------------------------


def test_x_keys_are_info_findings_and_never_make_the_file_invalid(tmp_path: Path) -> None:
    text = CONFORMANT.replace("  exposes:\n", "  x-schema: v1\n  exposes:\n").replace(
        "    description: Widgets over REST.\n", "    description: Widgets over REST.\n      x-owner: { team: a }\n"
    )
    file = tmp_path / "ext.yaml"
    file.write_text(text, encoding="utf-8")

    report = validate_file(str(file), strict=True)

    assert [(f.severity, f.path, f.line) for f in report.findings] == [
        ("info", "capability.x-schema", line_of(text, "x-schema")),
        ("info", "capability.exposes[2].resources[0].x-owner", line_of(text, "x-owner")),
    ]
    assert all(isinstance(f, RuleFinding) and f.rule == "extension" for f in report.findings)
    assert "extension key `x-schema` is not part of alpha2" in report.render()
    assert report.exit_code() == 0


def test_x_keys_inside_free_maps_are_data_not_extensions() -> None:
    text = CONFORMANT.replace("with: { limit: 100 }", "with: { limit: 100, x-trace: on }")
    assert validate_strict(parse_yaml(text, "c.yaml")) == []


def test_a_yaml_syntax_error_is_unreadable_with_exit_2(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text("naftiko: 1.0.0-alpha2\ninfo: [unclosed\n", encoding="utf-8")

    report = validate_file(str(file), strict=True)

    assert report.unreadable
    assert report.exit_code() == 2
    assert "YAML syntax error" in report.render()


@pytest.mark.parametrize("content", [None, b"naftiko: \xff\xfe\n"], ids=["missing", "not-utf8"])
def test_a_missing_or_non_utf8_file_is_unreadable_with_exit_2(tmp_path: Path, content: bytes | None) -> None:
    file = tmp_path / "cap.yaml"
    if content is not None:
        file.write_bytes(content)

    report = validate_file(str(file), strict=False)

    assert (report.unreadable, report.exit_code()) == (True, 2)
    assert "cannot read capability file" in report.render()


def test_a_file_that_is_not_a_mapping_is_one_root_shape_deviation() -> None:
    found = validate_strict(parse_yaml("- just\n- a list\n", "c.yaml"))
    assert [(f.rule, f.line) for f in found] == [("root-shape", 1)]


def test_lenient_check_errors_stop_serving_in_both_modes_and_are_counted() -> None:
    def blocking(doc: YamlDoc) -> list[Finding]:
        return [doc.finding(("capability", "exposes"), "no tools to serve", "add a tool")]

    lenient = validate_file(str(SEED), strict=False, lenient_check=blocking)
    strict = validate_file(str(SEED), strict=True, lenient_check=blocking)

    assert (lenient.exit_code(), strict.exit_code()) == (1, 1)
    assert "1 error that stop serving" not in strict.render()
    assert "3 deviations from alpha2 (12 locations); 1 error that stops serving" in strict.render()
    assert "errors that stop serving (1):" in lenient.render()


def test_every_rule_id_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "validation.md").read_text(encoding="utf-8")
    assert [rule for rule in RULES if f"`{rule}`" not in doc] == []
