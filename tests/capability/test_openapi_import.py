"""``import openapi`` and ``export openapi`` on real documents: each import validates strictly, is served by the real
runtime, and every tool, called with arguments drawn from its own input schema, sends a fake upstream the request
the OpenAPI operation declares. The export is OpenAPI 3.1-shaped and imports back to the same operations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from hms_recordings import cli
from hms_recordings.capability.loader import lenient_findings, load_capability
from hms_recordings.capability.model import Capability
from hms_recordings.capability.openapi_import import (
    MAX_DESCRIPTION,
    MAX_SPEC_BYTES,
    PLACEHOLDER_HOST,
    ImportResult,
    import_openapi,
    read_openapi,
)
from hms_recordings.capability.strict import validate_strict
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.emulator.openapi import openapi_document
from hms_recordings.errors import CapabilityError
from hms_recordings.faces.openapi_export import export_openapi
from tests.rig import open_service

DATA = Path(__file__).parents[1] / "fixtures" / "openapi"
PUBLIC = sorted(p.name for p in DATA.glob("*.yaml"))
UPSTREAM = "http://upstream.test"
MAX_TOOLS_CALLED = 40
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def document_text(name: str) -> str:
    """A committed document's text, or the emulator's own document as JSON text (``emulator``)."""
    if name == "emulator":
        return json.dumps(openapi_document())
    return (DATA / name).read_text(encoding="utf-8")


DOCUMENTS = ["emulator", *PUBLIC]


def imported(name: str) -> tuple[dict[str, Any], ImportResult, Capability]:
    document = read_openapi(document_text(name), name)
    result = import_openapi(document)
    return document, result, load_capability(parse_yaml(result.text, f"{name}.capability.yaml"))


# --- a fake upstream ---------------------------------------------------------------------------------------------


class FakeUpstream:
    """An ASGI app that answers every request with ``{"ok": true}`` and remembers what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = httpx2.QueryParams(scope["query_string"].decode("latin-1"))
        self.seen.append(
            {
                "method": scope["method"],
                "path": scope["raw_path"].decode("latin-1").split("?")[0],
                "query": sorted(query.multi_items()),
                "headers": {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
                "json": json.loads(body) if body else None,
            }
        )
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"ok": true}'})


# --- arguments drawn from a schema -------------------------------------------------------------------------------

_FORMATS = {
    "date-time": "2026-06-01T00:00:00Z",
    "date": "2026-06-01",
    "email": "a@example.com",
    "uri": "https://example.com/x",
    "url": "https://example.com/x",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_STRINGS = ("abc", "6a0f1c2d3e4f5a6b7c8d9e0f", "abc-123", "ABC", "1")


def sample(schema: dict[str, Any], depth: int = 0) -> Any:
    """A value ``schema`` accepts (every property of an object, two levels deep)."""
    if "const" in schema:
        return schema["const"]
    enum = [v for v in schema.get("enum") or [] if v is not None]
    if enum:
        return enum[0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return sample({**{k: v for k, v in schema.items() if k != key}, **schema[key][0]}, depth)
    if schema.get("allOf"):
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(part.get("properties") or {})
        merged["properties"].update(schema.get("properties") or {})
        return sample(merged, depth)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        pattern = schema.get("pattern")
        candidates = [c for c in _STRINGS if not pattern or re.search(pattern, c)]
        return (candidates or ["abc"])[0].ljust(int(schema.get("minLength", 0)), "x")
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = max(int(low) + 1, 1)
        return min(value, int(schema.get("maximum", value)))
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample(schema.get("items") or {}, depth + 1)] * max(1, int(schema.get("minItems", 1)))
    properties = schema.get("properties") or {}
    if depth > 2:
        return {name: sample(properties[name], depth + 1) for name in schema.get("required") or []}
    return {name: sample(prop, depth + 1) for name, prop in properties.items()}


# --- what the OpenAPI operation declares ------------------------------------------------------------------------


def resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def declared(document: dict[str, Any], path: str, method: str) -> tuple[dict[str, str], bool]:
    """The operation's parameters (name -> where) and whether it declares a JSON body."""
    item = document["paths"][path]
    params = {}
    for raw in [*(item.get("parameters") or []), *(item[method].get("parameters") or [])]:
        param = resolve(document, raw)
        params[param["name"]] = param["in"]
    body = resolve(document, item[method].get("requestBody")) or {}
    has_json = any(t.endswith("json") for t in (body.get("content") or {}))
    return params, has_json


def shape(path: str) -> str:
    return _PLACEHOLDER.sub("{}", path)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for path, item in document["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                yield method.upper(), shape(path)


# --- import: strict, served, called ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_imported_capability_passes_strict_validation_and_loads(name: str) -> None:
    document, result, capability = imported(name)
    doc = parse_yaml(result.text, name)

    strict_errors = [f.render() for f in validate_strict(doc) if f.severity == "error"]
    assert strict_errors == []
    assert [f.render() for f in lenient_findings(doc) if f.severity == "error"] == []
    assert len(capability.mcp[0].tools) == sum(1 for _ in operations(document))


@pytest.mark.anyio
@pytest.mark.parametrize("name", DOCUMENTS)
async def test_every_imported_tool_sends_the_upstream_the_request_its_operation_declares(name: str) -> None:
    document, _result, capability = imported(name)
    fake = FakeUpstream()
    service = open_service(capability, transport=httpx2.ASGITransport(app=fake), upstream=UPSTREAM)
    by_shape = {(m.upper(), shape(p)): (p, m) for p, item in document["paths"].items() for m in item}
    called = 0
    try:
        for tool in list(service.tools())[:MAX_TOOLS_CALLED]:
            op = capability.operation(tool.tool.call or "")
            assert op is not None
            path, method = by_shape[(op.method, shape(op.path))]
            params, has_json = declared(document, path, method)
            args = sample(tool.input_schema)
            outcome = await service.call(tool.name, args)
            assert outcome.error is None, f"{tool.name} {args}: {outcome.error}"
            assert outcome.data == {"ok": True}
            seen = fake.seen[-1]

            expected_path = _PLACEHOLDER.sub(lambda m, given=args: str(given[m.group(1)]), path)
            query = sorted(
                (key, str(v).lower() if isinstance(v, bool) else str(v))
                for key, where in params.items()
                if where == "query" and key in args
                for v in (args[key] if isinstance(args[key], list) else [args[key]])
            )
            body_args = {k: v for k, v in args.items() if k not in params}
            assert (seen["method"], seen["path"], seen["query"]) == (op.method, expected_path, query)
            for key, where in params.items():
                if where == "header" and key in args:
                    assert seen["headers"][key.lower()] == str(args[key])
            if has_json:
                assert seen["json"] == body_args.get("body", body_args)  # a `body` argument is the whole body
            else:
                assert seen["json"] is None
            called += 1
    finally:
        await service.aclose()
    assert called == min(len(service.tools()), MAX_TOOLS_CALLED) > 0


def test_tools_are_named_from_operation_ids_and_hinted_from_their_methods() -> None:
    _document, result, _capability = imported("oai-petstore-expanded.yaml")
    tools = {t["name"]: t for t in result.data["capability"]["exposes"][0]["tools"]}

    assert list(tools) == ["find-pets", "add-pet", "find-pet-by-id", "delete-pet"]
    assert tools["find-pets"]["hints"]["readOnly"] is True
    assert tools["delete-pet"]["hints"] == {"readOnly": False, "destructive": True, "idempotent": True}
    assert tools["add-pet"]["hints"]["readOnly"] is False
    body = {p["name"]: p for p in tools["add-pet"]["inputParameters"]}
    assert body["name"]["required"] is True and body["tag"]["required"] is False


def test_a_long_operation_description_is_cut_to_the_documented_bound() -> None:
    _document, result, _capability = imported("oai-petstore-expanded.yaml")
    described = result.data["capability"]["exposes"][0]["tools"][0]["description"]

    assert len(described) == MAX_DESCRIPTION
    assert described.startswith("Returns all pets") and described.endswith("…")


def test_operations_without_ids_get_unique_names_from_method_and_path() -> None:
    _document, result, _capability = imported("ik-no-operation-ids.yaml")
    names = [t["name"] for t in result.data["capability"]["exposes"][0]["tools"]]

    assert len(names) == len(set(names)) == 3
    assert all(re.fullmatch(r"[a-z0-9-]+", n) for n in names)


def test_server_variables_take_their_defaults_in_the_base_uri() -> None:
    _document, result, _capability = imported("oai-uspto.yaml")

    assert result.data["capability"]["consumes"][0]["baseUri"] == "https://developer.uspto.gov/ds-api"
    assert any("x-www-form-urlencoded" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("name", "base"), [("emulator", PLACEHOLDER_HOST + "/v2"), ("ik-no-servers.yaml", PLACEHOLDER_HOST)]
)
def test_a_relative_or_missing_server_url_becomes_a_placeholder_that_is_said(name: str, base: str) -> None:
    _document, result, _capability = imported(name)
    api = result.data["capability"]["consumes"][0]

    assert api["baseUri"] == base
    assert "placeholder" in api["description"]
    assert any("placeholder" in w for w in result.warnings)


def test_openapi_3_0_nullable_becomes_a_json_schema_type_list() -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "N"},
        "servers": [{"url": "https://n.example"}],
        "paths": {
            "/n": {
                "get": {
                    "operationId": "getN",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "schema": {"type": "integer", "nullable": True, "minimum": 0, "exclusiveMinimum": True},
                        }
                    ],
                }
            }
        },
    }
    param = import_openapi(document).data["capability"]["exposes"][0]["tools"][0]["inputParameters"][0]

    assert param["type"] == "integer"
    assert param["x-schema"] == {"type": ["integer", "null"], "exclusiveMinimum": 0}


def test_a_ref_cycle_becomes_a_plain_object() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Tree"},
        "servers": [{"url": "https://tree.example"}],
        "components": {
            "schemas": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}}}
        },
        "paths": {
            "/nodes": {
                "post": {
                    "operationId": "addNode",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}},
                }
            }
        },
    }
    result = import_openapi(document)
    child = result.data["capability"]["exposes"][0]["tools"][0]["inputParameters"][0]

    assert child["name"] == "child"
    assert child["type"] == "object"
    assert "x-schema" not in child  # Node -> child -> Node: the second Node is `{type: object}`, nothing more
    assert [f for f in validate_strict(parse_yaml(result.text)) if f.severity == "error"] == []


# --- export ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_export_is_openapi_3_1_and_imports_back_to_the_same_operations(name: str) -> None:
    document, _result, capability = imported(name)
    exported = export_openapi(capability)
    doc = exported.document

    assert exported.problems == []
    assert doc["openapi"].startswith("3.1.")
    assert isinstance(doc["info"]["title"], str) and isinstance(doc["info"]["version"], str)
    assert doc["servers"][0]["url"].startswith("http://")
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        for op in item.values():
            assert set(op["responses"]) >= {"200"}
            for param in op.get("parameters", []):
                assert param["in"] in ("path", "query", "header", "cookie")
                assert ("schema" in param) != ("content" in param)
    again = import_openapi(json.loads(json.dumps(doc)))
    first_tools = [t["name"] for t in capability_tools(import_openapi(document).data)]

    assert sorted(operations(doc)) == sorted(operations(document))
    assert [t["name"] for t in capability_tools(again.data)] == first_tools


def capability_tools(data: dict[str, Any]) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = data["capability"]["exposes"][0]["tools"]
    return tools


def test_exporting_a_capability_without_a_rest_expose_is_refused_with_the_fix() -> None:
    _document, result, _capability = imported("oai-petstore.yaml")
    data = result.data
    data["capability"]["exposes"] = data["capability"]["exposes"][:1]
    capability = load_capability(parse_yaml(json.dumps(data)))

    with pytest.raises(CapabilityError, match="no `type: rest` expose"):
        export_openapi(capability)


# --- the command line ---------------------------------------------------------------------------------------------


def test_the_cli_imports_to_a_file_that_validate_strict_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "petstore.yaml"

    code = cli.main(["import", "openapi", str(DATA / "oai-petstore.yaml"), "-o", str(out), "--namespace", "Pets"])
    assert code == 0
    assert "namespace: pets\n" in out.read_text(encoding="utf-8")
    assert cli.main(["validate", "--strict", str(out)]) == 0

    exported = tmp_path / "openapi.json"
    assert cli.main(["export", "openapi", str(out), "-o", str(exported)]) == 0
    assert json.loads(exported.read_text(encoding="utf-8"))["openapi"] == "3.1.0"
    capsys.readouterr()


def test_the_cli_warns_on_stderr_and_writes_the_capability_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "openapi", str(DATA / "ik-no-servers.yaml")]) == 0
    captured = capsys.readouterr()

    assert captured.out.startswith("naftiko: 1.0.0-alpha2\n")
    assert "warning: the document names no server" in captured.err


_HOSTILE: dict[str, tuple[str, str]] = {
    "swagger-2": ('{"swagger": "2.0", "info": {"title": "Old"}, "paths": {}}', "Swagger 2.0"),
    "not-a-mapping": ("- just\n- a list\n", "not a mapping"),
    "remote-ref": (
        json.dumps(
            {
                "openapi": "3.1.0",
                "info": {"title": "R"},
                "paths": {"/r": {"get": {"parameters": [{"$ref": "https://evil.example/p.json"}]}}},
            }
        ),
        "remote \\$ref",
    ),
    "ref-chain": (
        json.dumps(
            {
                "openapi": "3.1.0",
                "info": {"title": "C"},
                "components": {
                    "parameters": {
                        "a": {"$ref": "#/components/parameters/b"},
                        "b": {"$ref": "#/components/parameters/a"},
                    }
                },
                "paths": {"/c": {"get": {"parameters": [{"$ref": "#/components/parameters/a"}]}}},
            }
        ),
        "cycle",
    ),
    "no-operations": ('{"openapi": "3.0.3", "info": {"title": "E"}, "paths": {}}', "no operation"),
}


@pytest.mark.parametrize("case", sorted(_HOSTILE))
def test_a_document_that_cannot_be_imported_exits_2_and_writes_nothing(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message = _HOSTILE[case]
    spec = tmp_path / "spec.json"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out.yaml"

    code = cli.main(["import", "openapi", str(spec), "-o", str(out)])
    err = capsys.readouterr().err

    assert code == 2
    assert re.search(message, err), err
    assert not out.exists()


def test_a_document_over_the_size_limit_exits_2_before_it_is_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text("openapi: 3.1.0\n" + "#" * MAX_SPEC_BYTES, encoding="utf-8")
    out = tmp_path / "out.yaml"

    assert cli.main(["import", "openapi", str(spec), "-o", str(out)]) == 2
    assert "over the limit" in capsys.readouterr().err
    assert not out.exists()


def test_read_openapi_refuses_text_over_its_limit() -> None:
    with pytest.raises(CapabilityError, match="over the limit of 10"):
        read_openapi('{"openapi": "3.1.0"}', max_bytes=10)
