"""The typed model of a capability file, as this runtime understands it after lenient reading.

Everything here is immutable and built once by :mod:`hms_recordings.capability.loader`; the runtime compiles it further
(templates, schemas, JSONPath) so that nothing is parsed per call. Field names follow the format where they can;
``x_*`` fields hold this project's documented ``x-`` extensions (see ``docs/capability-format.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BODY_KINDS",
    "EMPTY_BASE_URI",
    "Aggregate",
    "AggregateFunction",
    "Authentication",
    "Binding",
    "Capability",
    "ConsumedApi",
    "ConsumedParam",
    "ErrorRule",
    "ExposedMcp",
    "ExposedRest",
    "ExposedSkill",
    "Forward",
    "Hints",
    "Operation",
    "OutputSpec",
    "Pagination",
    "Prompt",
    "RestOperation",
    "RestParam",
    "RestResource",
    "Step",
    "StepMapping",
    "Tool",
    "ToolParam",
]

JsonSchema = dict[str, Any]


#: A request body's ``type`` (lowercased) -> how the runtime encodes it (runtime/bodies.py); ``validate`` lists any
#: other type, which is sent as JSON (capability/ignored.py). The format's names and the spellings published files use.
BODY_KINDS: dict[str, str] = {
    "json": "json",
    "text": "text",
    "xml": "text",
    "sparql": "text",
    "formurlencoded": "form",
    "form": "form",
    "urlencoded": "form",
    "form-urlencoded": "form",
    "multipartform": "multipart",
    "multipart": "multipart",
    "multipart-form": "multipart",
}


#: Where a consumed API with ``baseUri: ''`` points until ``--upstream`` gives its address (``.invalid`` never
#: resolves, RFC 6761); the runtime refuses to send there and says how to give the address.
EMPTY_BASE_URI = "http://empty-baseuri.invalid"


@dataclass(frozen=True)
class Binding:
    namespace: str
    keys: dict[str, str]  # variable name -> provider key (an environment variable, or a key in ``location``)
    location: str | None = None
    optional: frozenset[str] = frozenset()  # x-optional: variables that may be absent without stopping start-up


@dataclass(frozen=True)
class ConsumedParam:
    name: str
    location: str  # path | query | header | cookie | body | environment
    value: str | None = None  # a template; when set, the parameter is not taken from the arguments
    type: str | None = None  # lenient: not alpha2, but the 100ms files say it and we honour it
    required: bool = False
    description: str = ""
    schema: JsonSchema = field(default_factory=dict)  # x-schema


@dataclass(frozen=True)
class Authentication:
    type: str  # bearer | basic | apikey | digest | none
    token: str | None = None  # bearer (``value`` read as ``token``)
    username: str | None = None
    password: str | None = None
    key: str | None = None  # apikey header or query name
    value: str | None = None  # apikey value
    placement: str = "header"  # apikey: header | query
    provider: str | None = None  # x-provider: a named credential provider (e.g. ``hms-management``)


@dataclass(frozen=True)
class OutputSpec:
    """One output parameter: a JSONPath ``mapping`` (or static ``value``/``const``) with nested properties/items."""

    type: str = "object"
    name: str | None = None
    mapping: str | None = None
    value: Any = None
    const: Any = None
    has_const: bool = False
    properties: dict[str, OutputSpec] | None = None
    items: OutputSpec | None = None
    description: str = ""


@dataclass(frozen=True)
class Operation:
    namespace: str
    name: str
    method: str
    path: str
    description: str = ""
    params: tuple[ConsumedParam, ...] = ()
    body: Any = None  # the ``body:`` template (typed RequestBody or raw), if any
    output_format: str = "json"
    outputs: tuple[OutputSpec, ...] = ()  # consumed outputParameters (used by orchestration steps)
    idempotent: bool | None = None  # x-idempotent: safe to repeat although not a GET

    @property
    def key(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True)
class ConsumedApi:
    namespace: str
    base_uri: str
    operations: dict[str, Operation]
    authentication: Authentication | None = None
    params: tuple[ConsumedParam, ...] = ()  # consumes-level parameters (static headers on every request)
    description: str = ""


@dataclass(frozen=True)
class Hints:
    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


@dataclass(frozen=True)
class ToolParam:
    name: str
    type: str = "string"
    description: str = ""
    required: bool = True
    schema: JsonSchema = field(default_factory=dict)  # x-schema: extra JSON Schema keywords merged into the property


@dataclass(frozen=True)
class StepMapping:
    target: str
    value: str


@dataclass(frozen=True)
class Step:
    kind: str  # call | lookup | script
    name: str
    call: str | None = None
    with_: dict[str, Any] = field(default_factory=dict)
    index: str | None = None
    match: str | None = None
    lookup_value: str | None = None
    fields: tuple[str, ...] = ()
    for_each: str | None = None  # x-forEach: a call step runs once per element of this earlier output (`{{item.x}}`)
    where: dict[str, str] = field(default_factory=dict)  # x-forEach `where`: only elements whose fields equal these


@dataclass(frozen=True)
class ErrorRule:
    """x-errors: turn an upstream error into a message a model can act on (templates see the tool's arguments)."""

    status: int
    message: str  # template
    contains: str = ""  # matched case-insensitively against the upstream's own message
    kind: str | None = None


@dataclass(frozen=True)
class Pagination:
    """x-pagination: where the page's items and the next cursor are, and which argument takes the cursor."""

    items: str = "$.data"
    cursor: str = "$.last"
    cursor_argument: str = "start"
    limit_argument: str = "limit"
    default_limit: int = 10
    item_cursor: str = "id"  # the field of an item that is its cursor (100ms: the object id)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    label: str | None = None
    call: str | None = None
    with_: dict[str, Any] = field(default_factory=dict)
    params: tuple[ToolParam, ...] | None = None  # None: derive from ``with`` and the operation
    hints: Hints = Hints()
    outputs: tuple[OutputSpec, ...] = ()
    steps: tuple[Step, ...] = ()
    mappings: tuple[StepMapping, ...] = ()
    ref: str | None = None
    handler: str | None = None  # x-handler: a registered handler that wraps the call
    output_schema: JsonSchema | None = None  # x-output-schema
    toolset: str | None = None  # x-toolset
    options: dict[str, Any] = field(default_factory=dict)  # x-options: handler settings (plain data)
    errors: tuple[ErrorRule, ...] = ()  # x-errors
    pagination: Pagination | None = None  # x-pagination
    yaml_path: tuple[str | int, ...] = ()
    scopes: tuple[str, ...] | None = None  # x-scopes: OAuth scopes a caller needs (None: derived from the hints)


@dataclass(frozen=True)
class Prompt:
    name: str
    label: str
    description: str
    arguments: tuple[ToolParam, ...] = ()
    template: tuple[tuple[str, str], ...] = ()  # (role, content)


@dataclass(frozen=True)
class ExposedMcp:
    namespace: str
    transport: str = "http"
    address: str = "127.0.0.1"
    port: int = 9090
    description: str = ""
    tools: tuple[Tool, ...] = ()
    prompts: tuple[Prompt, ...] = ()
    resources: tuple[dict[str, Any], ...] = ()  # kept as data; the MCP face reads what it serves


@dataclass(frozen=True)
class RestParam:
    """An ``ExposedInputParameter`` of a REST resource or operation: where the route reads one argument from."""

    name: str
    location: str  # path | query | header | cookie | body
    type: str = "string"
    description: str = ""
    pattern: str | None = None
    value: Any = None  # a constant: passed as the argument, not read from the request


@dataclass(frozen=True)
class RestOperation:
    method: str
    tool: Tool  # a REST operation is served through the same invocation path as an MCP tool
    name: str = ""
    x_tool: str | None = None  # x-tool: serve this MCP tool (by name) on the route instead of ``call``/``with``
    params: tuple[RestParam, ...] = ()  # the resource's and the operation's inputParameters


@dataclass(frozen=True)
class Forward:
    """A REST resource's ``forward``: requests under its path are relayed to a consumed API as they came."""

    target: str  # the consumed API's namespace
    trusted_headers: tuple[str, ...] = ()  # the only inbound headers relayed


@dataclass(frozen=True)
class RestResource:
    path: str
    name: str
    description: str
    operations: tuple[RestOperation, ...]
    forward: Forward | None = None


@dataclass(frozen=True)
class ExposedRest:
    namespace: str
    port: int
    address: str = "127.0.0.1"
    resources: tuple[RestResource, ...] = ()


@dataclass(frozen=True)
class ExposedSkill:
    name: str
    description: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AggregateFunction:
    name: str
    description: str
    tool: Tool  # the function's call/with/steps/outputs, shaped as a tool so it runs through the same path
    safe: bool | None = None
    idempotent: bool | None = None


@dataclass(frozen=True)
class Aggregate:
    namespace: str
    label: str
    functions: dict[str, AggregateFunction]


@dataclass(frozen=True)
class Capability:
    file: str
    label: str
    description: str
    binds: tuple[Binding, ...]
    consumes: dict[str, ConsumedApi]
    mcp: tuple[ExposedMcp, ...] = ()
    rest: tuple[ExposedRest, ...] = ()
    skills: tuple[ExposedSkill, ...] = ()
    aggregates: dict[str, Aggregate] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    control: tuple[str, int] | None = None  # (address, port) of a `type: control` expose
    schemas_checked: bool = False  # see YamlDoc.schemas_checked

    def operation(self, key: str) -> Operation | None:
        # `ns.op`; a namespace may itself hold a dot (`... API 2.0 — Sandbox.get-x`, as published), an operation name
        # rarely does: the first dot, then the last.
        for namespace, _, name in (key.partition("."), key.rpartition(".")):
            api = self.consumes.get(namespace)
            if api is not None and name in api.operations:
                return api.operations[name]
        return None
