"""One normalisation for every version: an ikanos file reads as the same model as its alpha2 twin, findings point
at the file's own lines, unread versions are refused with a way out, and ``convert`` says what it cannot carry."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx2
import pytest

from hms_recordings.capability.convert import convert
from hms_recordings.capability.ignored import ignored_constructs
from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.strict import validate_strict
from hms_recordings.capability.versions import normalise
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.cli import main
from hms_recordings.errors import CapabilityError
from tests.corpus.corpus import CORPUS, canonical
from tests.rig import open_service

ALPHA2_FILE = """\
naftiko: 1.0.0-alpha2
info: {label: Acme, description: Widgets.}
capability:
  consumes:
  - type: http
    namespace: acme
    baseUri: https://api.acme.test
    resources:
    - name: widgets
      label: Widgets
      path: /widgets/{{id}}
      operations:
      - name: get-widget
        method: GET
        inputParameters:
        - {name: id, in: path}
        outputParameters:
        - {name: title, type: string, value: $.title}
  exposes:
  - type: mcp
    namespace: acme-mcp
    port: 9090
    tools:
    - name: widget
      label: One widget
      description: Get a widget.
      inputParameters:
      - {name: id, type: string, description: Widget id.}
      call: acme.get-widget
      with: {id: acme-mcp.id}
    - name: titled
      description: Title of a widget.
      inputParameters:
      - {name: id, type: string, description: Widget id.}
      steps:
      - {type: call, name: fetch, call: acme.get-widget, with: {id: '{{id}}'}}
      mappings:
      - {targetName: title, value: $.fetch.title}
  aggregates:
  - label: Widgets
    namespace: widgets
    functions:
    - name: count
      description: Count widgets.
      call: acme.get-widget
"""

BETA5_FILE = """\
ikanos: 1.0.0-beta5
info: {display: Acme, description: Widgets.}
capability:
  consumes:
  - type: http
    namespace: acme
    baseUri: https://api.acme.test
    resources:
      widgets:
        display: Widgets
        path: /widgets/{{id}}
        operations:
          get-widget:
            method: GET
            inputParameters:
              id: {in: path}
            outputParameters:
              title: {type: string, value: $.title}
exposes:
- type: mcp
  namespace: acme-mcp
  port: 9090
  tools:
    widget:
      display: One widget
      description: Get a widget.
      inputParameters:
        id: {type: string, description: Widget id.}
      call: acme.get-widget
      with: {id: acme-mcp.id}
    titled:
      description: Title of a widget.
      inputParameters:
        id: {type: string, description: Widget id.}
      steps:
        fetch: {type: call, call: acme.get-widget, with: {id: '{{id}}'}}
      mappings:
      - {target: title, value: $.fetch.title}
aggregates:
- display: Widgets
  namespace: widgets
  flows:
    count:
      description: Count widgets.
      call: acme.get-widget
"""


def test_a_beta5_file_reads_as_the_same_model_as_its_alpha2_twin() -> None:
    alpha2 = load_capability(parse_yaml(ALPHA2_FILE, "a.yaml"))
    beta5 = load_capability(parse_yaml(BETA5_FILE, "b.yaml"))

    assert canonical(beta5) == canonical(alpha2)
    assert beta5.mcp[0].tools[0].label == "One widget"
    assert beta5.mcp[0].tools[1].mappings[0].target == "title"


def test_both_twins_pass_strict_validation_against_their_own_official_schema() -> None:
    for text in (ALPHA2_FILE, BETA5_FILE):
        assert [f.render() for f in validate_strict(parse_yaml(text, "x.yaml")) if f.severity == "error"] == []


def test_a_finding_in_an_ikanos_file_points_at_the_line_the_user_wrote() -> None:
    text = BETA5_FILE.replace("      call: acme.get-widget\n      with: {id: acme-mcp.id}", "      call: acme.nope")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "acme.nope" in row)

    with pytest.raises(CapabilityError) as caught:
        load_capability(parse_yaml(text, "b.yaml"))

    assert [(f.line, f.message) for f in caught.value.findings] == [(line, "`acme.nope` names no consumed operation")]


def test_an_ikanos_file_written_with_alpha2_lists_is_served_but_strict_says_where_it_deviates() -> None:
    text = ALPHA2_FILE.replace("naftiko: 1.0.0-alpha2", "ikanos: 1.0.0-alpha3").replace("label: Acme", "display: Acme")

    load_capability(parse_yaml(text, "x.yaml"))
    rules = {f.rule for f in validate_strict(parse_yaml(text, "x.yaml")) if f.severity == "error"}

    assert "bad-type" in rules  # resources, tools... are maps in ikanos 1.0.0-alpha3


def test_naftiko_alpha3_is_read_as_alpha2_and_checked_against_its_own_schema() -> None:
    text = ALPHA2_FILE.replace("naftiko: 1.0.0-alpha2", "naftiko: 1.0.0-alpha3")

    assert canonical(load_capability(parse_yaml(text, "a.yaml"))) == canonical(
        load_capability(parse_yaml(ALPHA2_FILE, "a.yaml"))
    )
    assert [f for f in validate_strict(parse_yaml(text, "a.yaml")) if f.severity == "error"] == []


def test_naftiko_0_5_is_refused_with_a_finding_that_says_how_to_convert_it() -> None:
    text = "naftiko: '0.5'\ninfo: {label: Old, description: d}\nexternalRefs: []\n"

    with pytest.raises(CapabilityError) as caught:
        load_capability(parse_yaml(text, "old.yaml"))
    strict = validate_strict(parse_yaml(text, "old.yaml"))

    [finding] = caught.value.findings
    assert finding.line == 1 and "pre-1.0" in finding.message
    assert "`externalRefs` to `binds`" in finding.fix and "naftiko: 1.0.0-alpha2" in finding.fix
    assert [(f.rule, f.line) for f in strict] == [("bad-value", 1)]


def test_an_unknown_version_is_refused_naming_the_versions_that_are_read() -> None:
    with pytest.raises(CapabilityError) as caught:
        load_capability(parse_yaml("ikanos: 2.0.0\n", "new.yaml"))

    assert "ikanos-1.0.0-beta5" in caught.value.findings[0].fix


def test_an_import_of_an_exposes_file_is_reported_as_not_followed() -> None:
    text = BETA5_FILE + "binds:\n- {from: ./shared.binds.yml, import: secrets}\n"

    normalised = normalise(parse_yaml(text, "b.yaml"))

    assert [f.severity for f in normalised.findings] == ["warning"]
    assert "not followed" in normalised.findings[0].message


def test_convert_to_beta5_writes_what_the_beta5_schema_accepts_and_reads_back_the_same() -> None:
    source = parse_yaml(ALPHA2_FILE, "a.yaml")

    conversion = convert(source, "ikanos-1.0.0-beta5")
    written = parse_yaml(conversion.text, "b.yaml")

    assert conversion.findings == []
    assert [f.render() for f in validate_strict(written) if f.severity == "error"] == []
    assert canonical(load_capability(written)) == canonical(load_capability(source))
    assert "target: title" in conversion.text and "flows:" in conversion.text


def test_convert_keeps_a_list_it_cannot_key_by_name_and_says_so() -> None:
    text = ALPHA2_FILE.replace("    - name: titled\n", "    - description: unnamed\n      x-note: none\n", 1)
    text = text.replace("      description: Title of a widget.\n", "", 1)

    conversion = convert(parse_yaml(text, "a.yaml"), "ikanos-1.0.0-beta5", check=False)

    assert any("has no `name`" in f.message for f in conversion.lossy)
    assert isinstance(conversion.data["capability"]["exposes"][0]["tools"], list)


def test_the_convert_command_writes_the_file_and_names_what_alpha2_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (
        CORPUS
        / "files/ikanos-v1.0.0-beta1/ikanos-spec/src/main/resources/schemas/examples/capability-binary-content.yml"
    )
    out = tmp_path / "alpha2.yaml"

    code = main(["convert", str(source), "--to", "naftiko-1.0.0-alpha2", "-o", str(out)])

    assert code == 0
    assert "`maxBinarySize` has no place in naftiko-1.0.0-alpha2" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8").startswith("naftiko: 1.0.0-alpha2\n")
    load_capability(parse_yaml(out.read_text(encoding="utf-8"), str(out)))


def test_the_convert_command_refuses_a_0_5_file_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("naftiko: '0.5'\n", encoding="utf-8")

    assert main(["convert", str(old), "--to", "ikanos-1.0.0-beta5"]) == 1
    assert "pre-1.0" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing.yaml"), "--to", "ikanos-1.0.0-beta5"]) == 2


PUBLISHED_SHAPES = """\
naftiko: 1.0.0-alpha2
info: {label: D, description: d}
binds:
- {namespace: env, keys: {API_KEY: API_KEY}}
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.test
    authentication: {type: basic, username: '{{env.API_KEY}}', password: '{{env.API_PASS}}'}
    resources:
    - name: items
      path: /items/{{kind}}
      inputParameters:
      - {name: kind, in: path, value: fixed}
      operations:
      - name: add
        method: POST
        body: {type: json, data: {title: '{{title}}', owner: '{{nobody}}'}}
      - name: form
        method: POST
        path: /sub/{part}
        body: {type: formUrlEncoded, data: {a: b, who: '{{who}}'}}
  - type: http
    namespace: keyed
    baseUri: https://keyed.test
    authentication: {type: apikey, name: X-Key, in: header, value: '{{env.API_KEY}}'}
    resources:
    - {name: one, path: '/one?view=full', operations: [{name: get, method: GET}]}
  exposes:
  - type: mcp
    namespace: m
    port: 9090
    tools:
    - {name: add, description: Add., call: api.add, with: {title: m.title}}
    - {name: form, description: Form., call: api.form}
    - {name: one, description: One., call: keyed.get}
  - type: rest
    namespace: r
    port: 8080
    resources:
    - path: /things
      operations:
      - {method: GET, call: api.add}
      - {method: GET, call: api.form}
"""


@pytest.mark.anyio
async def test_what_published_files_write_is_sent_as_they_mean_it() -> None:
    # Constructs real files use (issue 17): a fixed path value, body variables, a form body, an operation-level
    # path, `{{env.X}}` in a credential with no bind for X, apikey `name`/`in`, a literal query in the path.
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={})

    capability = load_capability(parse_yaml(PUBLISHED_SHAPES, "shapes.yaml"))
    env = {"API_KEY": "k-1", "API_PASS": "p-2"}
    async with open_service(capability, transport=httpx2.MockTransport(record), env=env, upstream=None) as service:
        schemas = {t.name: t.input_schema for t in service.tools()}
        assert schemas["add"]["required"] == ["title", "nobody"]  # the body's variables; `kind` is fixed
        assert schemas["form"]["required"] == ["part", "who"]
        missing = await service.call("add", {"title": "t"})
        assert missing.error is not None and missing.error.kind == "invalid_arguments"
        assert "`nobody` is required" in missing.error.message and not seen

        assert (await service.call("add", {"title": "t", "nobody": "o"})).ok
        assert (await service.call("form", {"part": "p", "who": "w & co"})).ok
        assert (await service.call("one", {})).ok
    add, form, one = seen
    assert (add.method, str(add.url)) == ("POST", "https://api.test/items/fixed")
    assert add.headers["authorization"] == "Basic " + base64.b64encode(b"k-1:p-2").decode()
    assert (add.headers["content-type"], json.loads(add.content)) == ("application/json", {"title": "t", "owner": "o"})
    assert str(form.url) == "https://api.test/items/fixed/sub/p"  # the operation's path continues the resource's
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form.content == b"a=b&who=w+%26+co"
    assert (str(one.url), one.headers["x-key"]) == ("https://keyed.test/one?view=full", "k-1")


def test_validate_calls_none_of_those_constructs_not_carried_out() -> None:
    assert ignored_constructs(parse_yaml(PUBLISHED_SHAPES, "d.yaml")) == []


SKILLS = """\
naftiko: 1.0.0-alpha2
info: {label: S, description: d}
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.test
    resources: [{name: r, path: /r, operations: [{name: op, method: GET}]}]
  exposes:
  - type: skill
    namespace: skills
    port: 9092
    skills:
    - {name: first, description: One., tools: [{name: t, description: T., instruction: Do it.}]}
    - {name: second, description: Two., tools: [{name: t, description: T., instruction: Do it.}]}
  - {type: skill, namespace: flat, name: flat-skill, description: Flat., tools: []}
"""


def test_a_skill_expose_gives_one_skill_per_item_of_skills_and_a_flat_one_gives_itself() -> None:
    capability = load_capability(parse_yaml(SKILLS, "s.yaml"))

    assert [(s.name, s.description) for s in capability.skills] == [
        ("first", "One."),
        ("second", "Two."),
        ("flat-skill", "Flat."),
    ]
    assert capability.skills[0].data["tools"][0]["instruction"] == "Do it."


def test_validate_names_what_serve_would_leave_out_in_the_words_serve_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "shapes.yaml"
    path.write_text(PUBLISHED_SHAPES, encoding="utf-8")

    assert main(["validate", str(path)]) == 0  # the rest is served: not an error
    out = capsys.readouterr().out
    assert "left out when served, the rest is served (1, not errors):" in out
    assert "REST operation GET /things (GET /things) has the method and path of GET /things, declared first" in out
