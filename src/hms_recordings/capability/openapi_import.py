"""OpenAPI 3.0/3.1 to a capability file (``naftiko: 1.0.0-alpha2``): ``hms-recordings import openapi``.

:func:`import_openapi` is pure: a parsed document in, the capability's data and the warnings out; :func:`read_openapi`
parses the text (JSON or YAML) within :data:`MAX_SPEC_BYTES`. The capability has

- one consumed API: ``namespace`` from the caller or ``info.title``; ``baseUri`` from ``servers[0]`` with the server
  variables' defaults filled in (a relative or missing server URL gets the placeholder host :data:`PLACEHOLDER_HOST`,
  said in the API's ``description`` and in a warning: ``--upstream NS=URL`` or an edit points it somewhere real);
- one resource per path and one operation per method (GET, POST, PUT, PATCH, DELETE: alpha2 has no others);
- one MCP tool per operation (name from ``operationId``, kebab-cased and made unique), whose ``inputParameters``
  carry each argument's type and, in ``x-schema``, the rest of its JSON Schema (enums, formats, nested properties);
- a REST expose whose routes serve those tools (``x-tool``) at the document's own paths, so that ``export openapi``
  gives back the same operations.

Path, query and header parameters are the tool's arguments. A JSON request body whose schema is an object with
properties becomes one ``in: body`` parameter per property, which the runtime collects into the JSON object it sends
(only those given); any other JSON body is one ``body`` argument sent whole. A body is not a ``body:`` template:
a template sends an omitted optional property as a placeholder value instead of leaving it out.

Local ``$ref`` (``#/...``) are inlined with :data:`MAX_REF_DEPTH` hops per chain; a cycle becomes ``type: object``;
remote references are refused. OpenAPI 3.0 schema keywords (``nullable``, boolean ``exclusiveMinimum``) become their
JSON Schema 2020-12 spelling, the dialect the runtime validates arguments with. Everything bounded is a module
constant, documented in the README.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from hms_recordings.capability.yamlsource import dump_yaml
from hms_recordings.errors import CapabilityError

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_OPERATIONS",
    "MAX_REF_DEPTH",
    "MAX_SCHEMA_DEPTH",
    "MAX_SPEC_BYTES",
    "PLACEHOLDER_HOST",
    "ImportResult",
    "import_openapi",
    "read_openapi",
]

#: The largest document read (bytes of text): public API descriptions run to a few megabytes at most.
MAX_SPEC_BYTES = 5_000_000
#: The most operations imported from one document; more is refused (split the document, or raise this constant).
MAX_OPERATIONS = 1_000
#: ``$ref`` hops followed in one chain (a ref to a ref to ...); deeper is refused as a malformed document.
MAX_REF_DEPTH = 32
#: Schema nesting kept in an argument's ``x-schema``; anything deeper is accepted as it comes (``{}``).
MAX_SCHEMA_DEPTH = 12
#: Characters of a tool's description kept (summary first): a tool list is read by a model on every turn.
MAX_DESCRIPTION = 1_000
#: The host of the ``baseUri`` written when the document names no absolute server URL.
PLACEHOLDER_HOST = "https://api.example.invalid"

_METHODS = ("get", "post", "put", "patch", "delete")
_OTHER_METHODS = ("head", "options", "trace")
_JSON_TYPES = ("string", "number", "integer", "boolean", "array", "object")
_EXTENDED = re.compile(r"^[a-zA-Z0-9_-]+$")  # alpha2's IdentifierExtended without the wildcard
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_BASE_URI = re.compile(r"^https?://[^/]+(/[^{]*)?$")  # alpha2's baseUri pattern
#: Headers the OpenAPI specification says are ignored as parameters (the request's own headers say them).
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
#: JSON Schema keywords kept in ``x-schema``; OpenAPI-only keywords (``xml``, ``discriminator``, ...) are dropped.
_KEPT = frozenset(
    {
        *("type", "enum", "const", "format", "pattern", "minLength", "maxLength", "minimum", "maximum"),
        *("exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems"),
        *("minProperties", "maxProperties", "required", "default", "title", "description", "examples"),
        *("deprecated", "readOnly", "writeOnly"),
    }
)
_HINTS = {
    "GET": {"readOnly": True, "destructive": False, "idempotent": True},
    "POST": {"readOnly": False, "destructive": False, "idempotent": False},
    "PATCH": {"readOnly": False, "destructive": False, "idempotent": False},
    "PUT": {"readOnly": False, "destructive": False, "idempotent": True},
    "DELETE": {"readOnly": False, "destructive": True, "idempotent": True},
}


@dataclass(frozen=True)
class ImportResult:
    """The capability's data (alpha2 shape) and what was left out or guessed, one sentence each."""

    data: dict[str, Any]
    warnings: tuple[str, ...]
    namespace: str

    @property
    def text(self) -> str:
        return dump_yaml(self.data)


def read_openapi(text: str, source: str = "", *, max_bytes: int = MAX_SPEC_BYTES) -> dict[str, Any]:
    """The document in ``text`` (JSON, else YAML); too large, unparsable or not a mapping: :class:`CapabilityError`."""
    name = source or "the OpenAPI document"
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise CapabilityError(f"{name} is {size:,} bytes, over the limit of {max_bytes:,}; nothing was imported")
    try:
        data: Any = json.loads(text)
    except ValueError:
        from hms_recordings.capability.yamlsource import parse_yaml

        try:
            data = parse_yaml(text, source).data
        except CapabilityError as exc:
            raise CapabilityError(f"{name} is neither JSON nor YAML: {exc}") from None
    except RecursionError:
        raise CapabilityError(f"{name} is nested too deeply to read") from None
    if not isinstance(data, dict):
        raise CapabilityError(f"{name} is not an OpenAPI document: its top level is not a mapping")
    return data


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one: documents in the wild put anything anywhere."""
    return value if isinstance(value, dict) else {}


def _kebab(text: str) -> str:
    """``listPets`` -> ``list-pets``; ``Pet Store API`` -> ``pet-store-api`` (alpha2's IdentifierKebab)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text)
    return re.sub(r"[^a-z0-9]+", "-", spaced.lower()).strip("-")


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def _argument(text: str) -> str:
    """A name valid as an argument and a consumed parameter: what alpha2's IdentifierExtended accepts."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text).strip("_") or "value"


class _Refs:
    """Local ``$ref`` resolution with a hop limit; a reference back into its own chain is a cycle."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def target(self, ref: Any) -> Any:
        if not isinstance(ref, str):
            raise CapabilityError(f"a $ref must be a string, not {type(ref).__name__}")
        if not ref.startswith("#"):
            raise CapabilityError(
                f"remote $ref {ref!r} is refused: only references into the same document (#/...) are imported; "
                "bundle the document first (e.g. `redocly bundle`)"
            )
        node: Any = self.document
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise CapabilityError(f"$ref {ref!r} points at nothing in the document")
        return node

    def resolve(self, node: Any, chain: tuple[str, ...] = ()) -> tuple[Any, tuple[str, ...]]:
        """``node`` with its ``$ref`` followed (siblings of the ref win), and the chain of refs it took;
        ``None`` for the node when the chain comes back on itself."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in chain:
                return None, chain
            if len(chain) >= MAX_REF_DEPTH:
                raise CapabilityError(f"$ref chain longer than {MAX_REF_DEPTH} hops at {ref!r}")
            chain = (*chain, ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            target = self.target(ref)
            node = {**target, **siblings} if isinstance(target, dict) and siblings else target
        return node, chain


class _Converter:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.refs = _Refs(document)
        self.warnings: list[str] = []

    # ---------------------------------------------------------------------------------------------------- schemas

    def schema(self, node: Any, chain: tuple[str, ...] = (), depth: int = 0) -> dict[str, Any]:
        """A JSON Schema 2020-12 copy of an OpenAPI schema, refs inlined, cycles ``{type: object}``."""
        resolved, chain = self.refs.resolve(node, chain)
        if resolved is None:
            return {"type": "object"}
        if not isinstance(resolved, dict) or depth > MAX_SCHEMA_DEPTH:
            return {}
        out: dict[str, Any] = {k: copy.deepcopy(v) for k, v in resolved.items() if k in _KEPT}
        if isinstance(out.get("examples"), dict):  # OpenAPI's examples *object*, not JSON Schema's list
            del out["examples"]
        if isinstance(out.get("required"), list):
            out["required"] = [r for r in out["required"] if isinstance(r, str)]
        elif "required" in out:
            del out["required"]
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if isinstance(out.get(key), bool):  # 3.0: a flag on minimum/maximum; 2020-12: the bound itself
                if out[key] and bound in out:
                    out[key] = out.pop(bound)
                else:
                    del out[key]
        if resolved.get("nullable") is True:
            kind = out.get("type")
            if isinstance(kind, str):
                out["type"] = [kind, "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        if isinstance(resolved.get("properties"), dict):
            out["properties"] = {str(k): self.schema(v, chain, depth + 1) for k, v in resolved["properties"].items()}
        for key in ("items", "not", "additionalProperties"):
            value = resolved.get(key)
            if isinstance(value, dict):
                out[key] = self.schema(value, chain, depth + 1)
            elif isinstance(value, bool) and key == "additionalProperties":
                out[key] = value
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            if isinstance(resolved.get(key), list):
                out[key] = [self.schema(v, chain, depth + 1) for v in resolved[key]]
        return out

    def merged_object(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """An object schema with its ``allOf`` folded in (properties and required), or ``None`` if not an object."""
        properties: dict[str, Any] = dict(schema.get("properties") or {})
        required: list[str] = list(schema.get("required") or [])
        for part in schema.get("allOf") or []:
            inner = self.merged_object(part)
            if inner is None:
                return None
            properties.update(inner.get("properties") or {})
            required += [r for r in inner.get("required") or [] if r not in required]
        kind = schema.get("type")
        if kind not in (None, "object") or schema.get("oneOf") or schema.get("anyOf"):
            return None
        return {"properties": properties, "required": required}

    # ------------------------------------------------------------------------------------------------ arguments

    @staticmethod
    def tool_param(name: str, schema: dict[str, Any], description: str, required: bool) -> dict[str, Any]:
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k in _JSON_TYPES), "string")
        if kind not in _JSON_TYPES:
            kind = "object" if "properties" in schema else "string"
        extra = {k: v for k, v in schema.items() if k != "description"}
        if extra.get("type") == kind:
            del extra["type"]
        param: dict[str, Any] = {
            "name": name,
            "type": kind,
            "description": description or schema.get("description") or f"The `{name}` argument.",
            "required": required,
        }
        if extra:
            param["x-schema"] = extra
        return param

    def parameters(self, item: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
        """The operation's parameters over the path item's (same name and place: the operation's wins)."""
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
            param, chain = self.refs.resolve(raw)
            if param is None:  # a parameter has no plain stand-in, unlike a schema
                raise CapabilityError(f"$ref cycle through {' -> '.join(chain)}: a parameter cannot refer to itself")
            if isinstance(param, dict) and isinstance(param.get("name"), str) and isinstance(param.get("in"), str):
                merged[(param["name"], param["in"])] = param
        return list(merged.values())

    def param_schema(self, param: dict[str, Any]) -> dict[str, Any]:
        if "schema" in param:
            return self.schema(param["schema"])
        content = param.get("content")
        if isinstance(content, dict) and content:
            media = next(iter(content.values()))
            if isinstance(media, dict) and "schema" in media:
                return self.schema(media["schema"])
        return {"type": "string"}

    def body(self, op: dict[str, Any], where: str) -> tuple[dict[str, Any] | None, bool]:
        """The JSON body's schema and whether the body is required, or ``None`` when there is none to send."""
        body, _chain = self.refs.resolve(op.get("requestBody"))
        if not isinstance(body, dict):
            return None, False
        content = _mapping(body.get("content"))
        media = next(
            (m for t, m in content.items() if t.split(";")[0].strip().lower().endswith(("/json", "+json"))), None
        )
        if media is None:
            if content:
                types = ", ".join(sorted(content))
                self.warnings.append(f"{where}: request body of type {types} not imported (only JSON bodies are)")
            return None, False
        schema = self.schema(media.get("schema")) if isinstance(media, dict) and "schema" in media else {}
        return schema, bool(body.get("required"))

    # ---------------------------------------------------------------------------------------------------- servers

    def base_uri(self) -> tuple[str, str]:
        """``baseUri`` and, when it is a placeholder, the sentence saying so."""
        servers = self.document.get("servers")
        server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], dict) else {}
        url = str(server.get("url") or "")
        variables = _mapping(server.get("variables"))
        for name, spec in variables.items():
            if isinstance(spec, dict) and spec.get("default") is not None:
                url = url.replace("{" + str(name) + "}", str(spec["default"]))
        url = url.rstrip("/")
        if _BASE_URI.match(url):
            return url, ""
        if url.startswith("/") and "{" not in url:
            placeholder = PLACEHOLDER_HOST + url
            said = f"the document's server URL {url!r} is relative"
        else:
            placeholder = PLACEHOLDER_HOST
            said = (
                f"the document's server URL {url!r} is not an absolute http(s) URL"
                if url
                else ("the document names no server")
            )
        note = f"{said}: baseUri is the placeholder {placeholder}; point it at the API (or run with --upstream)"
        self.warnings.append(note)
        return placeholder, note

    # ------------------------------------------------------------------------------------------------- operations

    def operation(
        self, path: str, method: str, item: dict[str, Any], op: dict[str, Any], names: set[str]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
        """The consumed operation, the MCP tool, the REST operation and the consumed path for one method."""
        upper = method.upper()
        where = f"{upper} {path}"
        base = _kebab(str(op.get("operationId") or "")) or _kebab(f"{method} {path}") or method
        name = _unique(base, names)
        taken: set[str] = set()
        consumed_params: list[dict[str, Any]] = []
        tool_params: list[dict[str, Any]] = []
        rest_params: list[dict[str, Any]] = []
        consumed_path = path
        for param in self.parameters(item, op):
            wire, where_in = param["name"], param["in"]
            schema = self.param_schema(param)
            description = str(param.get("description") or "")
            required = bool(param.get("required")) or where_in == "path"
            if where_in == "cookie":
                self.warnings.append(f"{where}: cookie parameter {wire!r} not imported (cookies are not sent)")
                continue
            if where_in == "header" and wire.lower() in _IGNORED_HEADERS:
                continue
            if where_in == "path":
                if "{" + wire + "}" not in consumed_path:
                    self.warnings.append(f"{where}: path parameter {wire!r} is not in the path; left out")
                    continue
                arg = _argument(wire)
                while arg in taken:
                    arg = f"path_{arg}"
                consumed_path = consumed_path.replace("{" + wire + "}", "{" + arg + "}")
                consumed_params.append({"name": arg, "in": "path"})
            elif where_in in ("query", "header"):
                if not _EXTENDED.match(wire):
                    self.warnings.append(
                        f"{where}: {where_in} parameter {wire!r} not imported (alpha2 parameter names are letters, "
                        "digits, `-` and `_`)"
                    )
                    continue
                arg = wire if wire not in taken else _argument(f"{where_in}_{wire}")
                entry: dict[str, Any] = {"name": wire, "in": where_in}
                if arg != wire:
                    entry["value"] = "{{" + arg + "}}"
                consumed_params.append(entry)
            else:
                self.warnings.append(f"{where}: parameter {wire!r} in {where_in!r} not imported")
                continue
            taken.add(arg)
            tool_params.append(self.tool_param(arg, schema, description, required))
            rest_params.append(
                {
                    "name": arg,
                    "in": where_in,
                    "type": tool_params[-1]["type"],
                    "description": tool_params[-1]["description"],
                }
            )
        body_schema, body_required = self.body(op, where)
        if body_schema is not None:
            self.body_params(body_schema, body_required, taken, consumed_params, tool_params, where)
        summary = str(op.get("summary") or "").strip()
        detail = str(op.get("description") or "").strip()
        description = ". ".join(t.rstrip(".") for t in (summary, detail) if t) or f"{upper} {path}"
        if summary or detail:
            description += "."
        if len(description) > MAX_DESCRIPTION:
            description = description[: MAX_DESCRIPTION - 1].rstrip() + "…"
        consumed: dict[str, Any] = {"name": name, "method": upper}
        if summary or detail:
            consumed["description"] = summary or detail
        if consumed_params:
            consumed["inputParameters"] = consumed_params
        tool: dict[str, Any] = {"name": name, "description": description}
        if summary:
            tool["label"] = summary
        tool["hints"] = dict(_HINTS[upper])
        tool["call"] = f"{{ns}}.{name}"
        tool["inputParameters"] = tool_params
        rest: dict[str, Any] = {"method": upper, "name": name, "x-tool": name}
        if rest_params:
            rest["inputParameters"] = rest_params
        return consumed, tool, rest, consumed_path

    def body_params(
        self,
        schema: dict[str, Any],
        required: bool,
        taken: set[str],
        consumed_params: list[dict[str, Any]],
        tool_params: list[dict[str, Any]],
        where: str,
    ) -> None:
        obj = self.merged_object(schema)
        props = {k: v for k, v in (obj or {}).get("properties", {}).items() if not v.get("readOnly")}
        if obj is not None and props and all(_EXTENDED.match(k) and k not in taken for k in props):
            needed = set(obj["required"]) if required else set()
            for prop, prop_schema in props.items():
                consumed_params.append({"name": prop, "in": "body"})
                tool_params.append(self.tool_param(prop, prop_schema, "", prop in needed))
                taken.add(prop)
            return
        if "body" in taken:
            self.warnings.append(f"{where}: request body not imported (an argument is already named `body`)")
            return
        consumed_params.append({"name": "body", "in": "body"})
        tool_params.append(self.tool_param("body", schema, "The JSON request body.", required))
        taken.add("body")


def _version(document: dict[str, Any]) -> str:
    if "swagger" in document:
        raise CapabilityError(
            f"this is a Swagger {document.get('swagger')} document; only OpenAPI 3.0 and 3.1 are imported "
            "(convert it first, e.g. with swagger2openapi or editor.swagger.io)"
        )
    version = document.get("openapi")
    if not isinstance(version, str) or not re.match(r"^3\.[012]\.", version):
        raise CapabilityError(
            f"`openapi: {version}` is not an OpenAPI 3.0 or 3.1 document (expected e.g. `openapi: 3.1.0`)"
        )
    return version


def import_openapi(
    document: Any, *, namespace: str | None = None, max_operations: int = MAX_OPERATIONS
) -> ImportResult:
    """The capability of an OpenAPI 3.0/3.1 ``document`` (see the module docstring). A document that cannot be
    imported (Swagger 2.0, a remote or dangling ``$ref``, too many operations) is a :class:`CapabilityError`."""
    if not isinstance(document, dict):
        raise CapabilityError("an OpenAPI document is a mapping at its top level")
    _version(document)
    converter = _Converter(document)
    info = _mapping(document.get("info"))
    title = str(info.get("title") or "").strip()
    ns = _kebab(namespace) if namespace is not None else _kebab(title)
    if not ns:
        if namespace is not None:
            raise CapabilityError(f"--namespace {namespace!r} has no letters or digits")
        ns = "api"
        converter.warnings.append("the document has no info.title: the namespace is `api` (set one with --namespace)")
    base_uri, base_note = converter.base_uri()
    paths = _mapping(document.get("paths"))
    count = sum(
        len([m for m in _METHODS if isinstance(item.get(m), dict)]) for item in paths.values() if isinstance(item, dict)
    )
    if count > max_operations:
        raise CapabilityError(f"the document has {count:,} operations, over the limit of {max_operations:,}")
    resource_names: set[str] = set()
    op_names: set[str] = set()
    resources: list[dict[str, Any]] = []
    rest_resources: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    for path, raw_item in paths.items():
        item, _chain = converter.refs.resolve(raw_item)
        if not isinstance(item, dict) or not isinstance(path, str):
            continue
        if "?" in path:
            converter.warnings.append(f"path {path!r} not imported (a query string belongs in parameters)")
            continue
        for method in _OTHER_METHODS:
            if isinstance(item.get(method), dict):
                converter.warnings.append(f"{method.upper()} {path} not imported (alpha2 has no {method.upper()})")
        operations: list[dict[str, Any]] = []
        rest_operations: list[dict[str, Any]] = []
        consumed_path = path
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            consumed, tool, rest, op_path = converter.operation(path, method, item, op, op_names)
            if operations and op_path != consumed_path:  # argument names differ between methods: its own resource
                resources.append(_resource(consumed_path, operations, resource_names, item))
                rest_resources.append(_rest_resource(resources[-1], rest_operations))
                operations, rest_operations = [], []
            consumed_path = op_path
            tool["call"] = f"{ns}.{consumed['name']}"
            operations.append(consumed)
            rest_operations.append(rest)
            tools.append(tool)
        if operations:
            resources.append(_resource(consumed_path, operations, resource_names, item))
            rest_resources.append(_rest_resource(resources[-1], rest_operations))
    if not tools:
        raise CapabilityError("the document has no operation to import (no GET, POST, PUT, PATCH or DELETE)")
    description = str(info.get("description") or info.get("summary") or title or "Imported from OpenAPI.").strip()
    api: dict[str, Any] = {"type": "http", "namespace": ns}
    api_description = " ".join(t for t in (title + "." if title else "", base_note) if t)
    if api_description:
        api["description"] = api_description
    api["baseUri"] = base_uri
    api["resources"] = resources
    security = _mapping(_mapping(document.get("components")).get("securitySchemes"))
    if security:
        converter.warnings.append(
            f"security schemes ({', '.join(sorted(security))}) not imported: add `authentication` and `binds` by hand"
        )
    data: dict[str, Any] = {
        "naftiko": "1.0.0-alpha2",
        "info": {
            "label": title or ns,
            "description": description,
            "tags": ["openapi", ns],
        },
        "capability": {
            "consumes": [api],
            "exposes": [
                {
                    "type": "mcp",
                    "namespace": f"{ns}-mcp",
                    "port": 9090,
                    "transport": "http",
                    "description": f"MCP tools for {title or ns}, one per operation of its OpenAPI document.",
                    "tools": tools,
                },
                {"type": "rest", "namespace": f"{ns}-rest", "port": 9091, "resources": rest_resources},
            ],
        },
    }
    return ImportResult(data, tuple(converter.warnings), ns)


def _resource(path: str, operations: list[dict[str, Any]], names: set[str], item: dict[str, Any]) -> dict[str, Any]:
    base = _kebab(_PLACEHOLDER.sub(lambda m: m.group(1), path)) or "root"
    resource: dict[str, Any] = {"name": _unique(base, names), "path": path}
    summary = str(item.get("summary") or item.get("description") or "").strip()
    if summary:
        resource["description"] = summary
    resource["operations"] = operations
    return resource


def _rest_resource(resource: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"path": resource["path"], "name": resource["name"]}
    if "description" in resource:
        out["description"] = resource["description"]
    out["operations"] = operations
    return out
