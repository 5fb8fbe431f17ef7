"""The OpenAPI 3.1 document of the REST face, generated from the compiled entries' schemas (never written by hand).

Each route's tool input schema is split by where the REST face reads each argument: path and query (and declared
header/cookie) arguments become ``parameters``, body arguments one ``requestBody`` object schema that keeps the
tool's ``required`` list and ``additionalProperties: false``. The tool's output schema is the ``200`` response; every
error is the ``Problem`` schema (RFC 9457) with the taxonomy's ``kind``. OpenAPI 3.1 uses JSON Schema 2020-12, the
dialect of the tool schemas, so they are embedded as they are. Only the routes the REST face serves are documented.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hms_recordings import __version__
from hms_recordings.faces.rest_routes import RestRoute
from hms_recordings.runtime.service import Service
from hms_recordings.taxonomy import KINDS, PROBLEM_BASE

__all__ = ["PROBLEM_SCHEMA", "build_openapi"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document; `detail` is the same text the MCP tool error carries.",
    "properties": {
        "type": {
            "type": "string",
            "format": "uri-reference",
            "description": f"{PROBLEM_BASE}<kind>, a page this server serves: what the kind means and what to do",
        },
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and what to do next, then `(request <id>)`."},
        "kind": {"type": "string", "enum": sorted(KINDS)},
        "fields": {"type": "array", "items": {"type": "string"}, "description": "The arguments at fault."},
        "request_id": {"type": "string", "description": "Also in the X-Request-Id header and the server log."},
        "upstream_status": {"type": "integer", "description": "The upstream's own status, when it answered."},
        "retry_after": {"type": "number", "description": "Seconds to wait before trying again."},
        "data": {"description": "Structured context (e.g. the active recording in a conflict)."},
    },
    "required": ["type", "title", "status", "detail", "kind"],
}

_REQUEST_ID = {
    "description": "The request id, also quoted in problem details and the server log.",
    "schema": {"type": "string"},
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": _REQUEST_ID},
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _parameter(name: str, where: str, prop: dict[str, Any], required: bool) -> dict[str, Any]:
    schema = copy.deepcopy(prop)
    description = schema.pop("description", "")
    param: dict[str, Any] = {"name": name, "in": where, "required": required or where == "path"}
    if description:
        param["description"] = description
    if schema.get("type") == "object":
        param["content"] = {"application/json": {"schema": schema}}  # an object in one query value, as JSON text
    else:
        param["schema"] = schema
    return param


def _operation(route: RestRoute) -> dict[str, Any]:
    tool = route.tool
    schema = tool.input_schema
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    summary = tool.tool.label or route.operation.name or tool.name
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": summary,
        "description": tool.tool.description or route.resource.description,
        "tags": [route.resource.name or route.namespace],
    }
    if route.operation.x_tool:
        op["x-tool"] = route.operation.x_tool
    op["x-read-only"] = tool.read_only
    parameters = [
        _parameter(name, where, properties[name], name in required)
        for name, where in route.locations.items()
        if where in ("path", "query", "header", "cookie")
    ]
    if parameters:
        op["parameters"] = parameters
    body = route.args_in("body")
    if body:
        body_schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: properties[name] for name in body},
            "additionalProperties": False,
        }
        body_required = [name for name in body if name in required]
        if body_required:
            body_schema["required"] = body_required
        op["requestBody"] = {
            "required": bool(body_required),
            "content": {"application/json": {"schema": body_schema}},
        }
    op["responses"] = {
        "200": {
            "description": "The result.",
            "headers": {"X-Request-Id": _REQUEST_ID},
            "content": {"application/json": {"schema": tool.output_schema or {}}},
        },
        "400": _problem("Invalid arguments: nothing was sent upstream."),
        "default": _problem("Any other error, with the shared error taxonomy's `kind`."),
    }
    return op


def build_openapi(service: Service, routes: Sequence[RestRoute], *, bearer: bool = False) -> dict[str, Any]:
    """The document of ``routes`` (as :func:`~hms_recordings.faces.rest_routes.plan_routes` planned them).

    ``bearer``: the server requires ``Authorization: Bearer <token>`` on every route."""
    info = service.info
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    tags = []
    seen: set[str] = set()
    for route in routes:
        name = route.resource.name or route.namespace
        if name not in seen:
            seen.add(name)
            tags.append(
                {"name": name, "description": route.resource.description}
                if route.resource.description
                else {"name": name}
            )
    description = info.description or ""
    description += (
        "\n\nErrors are `application/problem+json` documents (RFC 9457) whose `kind` is the error taxonomy shared"
        " with the MCP tools and the CLI; `detail` is the same text and ends with the request id."
    )
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": info.title or "hms-recordings", "version": __version__, "description": description},
        "tags": tags,
        "paths": paths,
        "components": {"schemas": {"Problem": PROBLEM_SCHEMA}},
    }
    if bearer:
        doc["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The inbound token this server was started with.",
            }
        }
        doc["security"] = [{"bearer": []}]
        for item in paths.values():
            for op in item.values():
                op["responses"]["401"] = _problem("The bearer token is missing or wrong.")
    return doc
