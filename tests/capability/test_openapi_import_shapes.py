"""``import openapi`` on the awkward shapes real documents have, and the documents it must refuse: what is imported,
what is left out with a warning, and that the result still passes strict validation and loads."""

from __future__ import annotations

from typing import Any

import pytest

from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.openapi_import import import_openapi, read_openapi
from hms_recordings.capability.strict import validate_strict
from hms_recordings.capability.yamlsource import parse_yaml
from hms_recordings.errors import CapabilityError
from hms_recordings.runtime.inventory import compile_inventory

AWKWARD: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "", "version": "1"},
    "servers": [{"url": "https://api.test/v1"}],
    "paths": {
        "/things/{id}": {
            "summary": "One thing.",
            "parameters": [{"$ref": "#/components/parameters/Id"}],
            "get": {
                "operationId": "getThing",
                "parameters": [
                    {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                    {"name": "Accept", "in": "header", "schema": {"type": "string"}},
                    {"name": "ghost", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "filter.name", "in": "query", "schema": {"type": "string"}},
                    {"name": "id", "in": "query", "schema": {"type": "string"}},
                    {"name": "where", "in": "query", "content": {"application/json": {"schema": {"type": "object"}}}},
                    {"name": "n", "in": "query", "schema": {"type": "integer", "minimum": 1, "exclusiveMinimum": True}},
                    {"name": "m", "in": "query", "schema": {"type": "integer", "exclusiveMaximum": False}},
                    {"name": "maybe", "in": "query", "schema": {"type": "string", "nullable": True, "enum": ["a"]}},
                    {"name": "free", "in": "query"},
                ],
            },
            "trace": {"operationId": "traceThing"},
            "put": {
                "operationId": "getThing",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Named"},
                                    {"type": "object", "properties": {"size": {"type": "integer"}}},
                                ],
                                "examples": {"one": {"value": {}}},
                            }
                        }
                    },
                },
            },
            "patch": {
                "operationId": "patch thing",
                "requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}},
            },
            "post": {
                "operationId": "choose",
                "requestBody": {
                    "content": {"application/json": {"schema": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}
                },
            },
        },
        "/search?q=1": {"get": {"operationId": "search"}},
        "/tree": {
            "get": {
                "operationId": "tree",
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}
                },
                "parameters": [{"name": "node", "in": "query", "schema": {"$ref": "#/components/schemas/Node"}}],
            }
        },
    },
    "components": {
        "parameters": {"Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}},
        "schemas": {
            "Named": {"type": "object", "required": ["name", 3], "properties": {"name": {"type": "string"}}},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}},
        },
    },
}


def test_awkward_shapes_import_to_a_strict_valid_capability_and_say_what_they_left_out() -> None:
    result = import_openapi(AWKWARD)
    warnings = "\n".join(result.warnings)
    assert result.namespace == "api" and "no info.title" in warnings
    assert "cookie parameter 'session' not imported" in warnings
    assert "path parameter 'ghost' is not in the path" in warnings
    assert "query parameter 'filter.name' not imported" in warnings
    assert "TRACE /things/{id} not imported" in warnings
    assert "path '/search?q=1' not imported" in warnings
    doc = parse_yaml(result.text, "awkward.capability.yaml")
    assert [f.render() for f in validate_strict(doc) if f.severity == "error"] == []
    inventory = compile_inventory(load_capability(doc))
    assert list(inventory.tools) == ["get-thing", "choose", "get-thing-2", "patch-thing", "tree"]  # ids made unique
    get = inventory.tools["get-thing"].input_schema["properties"]
    assert get["n"]["exclusiveMinimum"] == 1 and "minimum" not in get["n"]  # 3.0's flag became 2020-12's bound
    assert "exclusiveMaximum" not in get["m"]
    assert get["maybe"]["type"] == ["string", "null"] and get["maybe"]["enum"] == ["a", None]  # 3.0's nullable
    assert get["where"]["type"] == "object" and get["free"]["type"] == "string"
    assert "Accept" not in get and "session" not in get and "ghost" not in get
    put = inventory.tools["get-thing-2"].input_schema
    assert list(put["properties"]) == ["id", "name", "size"] and put["required"][:2] == ["id", "name"]  # allOf folded


@pytest.mark.parametrize(
    ("document", "said"),
    [
        ({"swagger": "2.0", "paths": {}}, "Swagger 2.0"),
        ({"openapi": "2.5.0", "paths": {}}, "not an OpenAPI 3.0 or 3.1 document"),
        ({"openapi": "3.1.0", "paths": {"/a": {"$ref": 7}}}, "a $ref must be a string"),
        ({"openapi": "3.1.0", "paths": {"/a": {"$ref": "#/nowhere/x"}}}, "points at nothing"),
        (
            {
                "openapi": "3.1.0",
                "paths": {"/a": {"$ref": "#/components/x/a0"}},
                "components": {"x": {f"a{i}": {"$ref": f"#/components/x/a{i + 1}"} for i in range(40)}},
            },
            "$ref chain longer than",
        ),
    ],
)
def test_documents_it_cannot_import_are_refused_with_the_reason(document: dict[str, Any], said: str) -> None:
    with pytest.raises(CapabilityError) as raised:
        import_openapi(document)
    assert said in raised.value.message


def test_too_many_operations_an_empty_namespace_and_unreadable_text_are_refused() -> None:
    many = {"openapi": "3.1.0", "paths": {f"/p{i}": {"get": {}} for i in range(5)}}
    with pytest.raises(CapabilityError, match="5 operations, over the limit of 4"):
        import_openapi(many, max_operations=4)
    with pytest.raises(CapabilityError, match="has no letters or digits"):
        import_openapi(many, namespace="--")
    with pytest.raises(CapabilityError, match="neither JSON nor YAML"):
        read_openapi("{: [", "bad.yaml")
    with pytest.raises(CapabilityError, match="nested too deeply"):
        read_openapi("[" * 100_000 + "]" * 100_000, "deep.json")
