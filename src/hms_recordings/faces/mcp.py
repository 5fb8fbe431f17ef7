"""The MCP face: a service's tools, resources and prompts on the SDK's low-level ``Server``.

The low-level server takes one handler per method, so the face is a thin translation between MCP messages and the
narrow :class:`~hms_recordings.runtime.service.Service`; nothing here validates, runs or explains a call (the invoker
does, the same way for every face). What the MCP answer looks like:

* ``tools/call``: a failure is a result with ``isError: true``, text ``"<kind>: <message>"`` and
  ``structuredContent: {"error": {...}}``; asking for a tool that is not served is a JSON-RPC ``-32602`` protocol
  error listing the available names in ``data``, as the specification's examples show.
* ``resources/read``: a read runs through the invoker like a tool call. A URI that no resource has, and a read whose
  outcome is ``invalid_arguments`` or ``not_found`` (an id that cannot exist, or does not), are all "resource not
  found" (``-32602``, SEP-2164), the last two with exactly the text the tool gives; any other failure is ``-32603``
  with the redacted text.
* ``prompts/get``: an unknown prompt or a missing required argument is ``-32602``.
* ``subscriptions/listen`` (2026-07-28) is served by the SDK's ``ListenHandler`` on a bus (in memory unless one is
  given), and ``resources/subscribe`` / ``resources/unsubscribe`` (2025 era) by
  :class:`~hms_recordings.faces.subscriptions.LegacySubscriptions` on the same bus: whoever publishes a
  ``ResourceUpdated`` on it (the server's event hub) reaches subscribers of both eras. The lists never change while a
  server runs, so nothing publishes a list change.

Every list is built once, when the server is built: the service's inventory is fixed for the server's life.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import mcp.types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_TIMEOUT
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, SubscriptionBus
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette

from hms_recordings.faces.stdio_replies import AnsweringReadStream
from hms_recordings.faces.subscriptions import LegacySubscriptions
from hms_recordings.runtime.access import ScopePolicy, principal_of
from hms_recordings.runtime.compiled import CompiledTool, ResourceListing
from hms_recordings.runtime.invoker import CallContext, ProgressFn
from hms_recordings.runtime.outcome import ErrorInfo, Outcome
from hms_recordings.runtime.service import Service, UnknownPromptError, UnknownResourceError
from hms_recordings.runtime.shaping import result_text

__all__ = [
    "DEFAULT_MAX_BUFFERED_EVENTS",
    "DEFAULT_MAX_LISTEN_STREAMS",
    "build_mcp_server",
    "describe_tools",
    "mcp_http_app",
    "outcome_to_result",
    "result_wire",
    "run_stdio",
    "tool_annotations",
]

#: Concurrent ``subscriptions/listen`` streams one server holds open; further listens are refused (``-32603``).
DEFAULT_MAX_LISTEN_STREAMS = 1024
#: Events queued for one listen stream whose client stopped reading, before that stream is ended.
DEFAULT_MAX_BUFFERED_EVENTS = 1024

_URI_PARAM = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
#: Outcome kinds a resource read reports as "no such resource": an id that does not exist, and one that cannot.
_NOT_FOUND_KINDS = frozenset({"not_found", "invalid_arguments"})

ServerContext = ServerRequestContext[Any, Any]


# ------------------------------------------------------------------------------------------------ tools


def tool_annotations(tool: CompiledTool) -> types.ToolAnnotations | None:
    """The tool's hints as MCP annotations; ``None`` when the file says nothing a client could use.

    Only what differs from the specification's defaults is written (``readOnlyHint`` false, ``idempotentHint``
    false, ``openWorldHint`` true; ``destructiveHint`` means nothing for a read-only tool), and the title is the
    tool's own ``title`` field (shown by clients since 2025-06-18), not repeated here: the tool list is read by a model
    on every turn, and a repeated or implied word costs without telling it anything."""
    hints = tool.hints
    if all(v is None for v in (hints.read_only, hints.destructive, hints.idempotent, hints.open_world)):
        return None
    return types.ToolAnnotations(
        read_only_hint=True if hints.read_only else None,
        destructive_hint=None if hints.read_only or hints.destructive in (None, True) else False,
        idempotent_hint=True if hints.idempotent else None,
        open_world_hint=False if hints.open_world is False else None,
    )


def _mcp_tool(tool: CompiledTool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        title=tool.tool.label,
        description=tool.tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        annotations=tool_annotations(tool),
    )


def describe_tools(tools: Sequence[CompiledTool]) -> list[dict[str, Any]]:
    """The tool surface exactly as ``tools/list`` sends it (``tools --json`` and the snapshot use it).

    Dumped from the same objects the server lists, so the snapshot cannot drift from the wire."""
    return [_mcp_tool(t).model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def result_wire(outcome: Outcome) -> dict[str, Any]:
    """An outcome as the ``tools/call`` result on the wire: the JSON text (and any notes) for the model, the data as
    structured content, and ``isError`` for failures.

    Handlers return this mapping rather than a ``CallToolResult``: the SDK checks every result against the protocol
    version's schema anyway, and skipping the model's own construction and dump saves about two thirds of the cost
    of shaping a result (57 -> 17 us for a ten-item page, measured with timeit)."""
    if outcome.error is not None:
        return {
            "content": [{"type": "text", "text": f"{outcome.error.kind}: {outcome.error.message}"}],
            "structuredContent": {"error": outcome.error.as_dict()},
            "isError": True,
            "resultType": "complete",
        }
    data = outcome.data
    # structuredContent must be an object; the published output schema wraps anything else the same way.
    structured = data if isinstance(data, dict) else {"result": data}
    text = outcome.text if outcome.text is not None else result_text(data)
    if outcome.notes:
        text += "\n\n" + "\n".join(outcome.notes)
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": False,
        "resultType": "complete",
    }


def outcome_to_result(outcome: Outcome) -> types.CallToolResult:
    """The same result as a model, for callers that compare faces (the server itself sends :func:`result_wire`)."""
    return types.CallToolResult.model_validate(result_wire(outcome))


def _progress(ctx: ServerContext) -> ProgressFn:
    """Progress for this request; only increases go on the wire.

    MCP requires the progress value to increase with every notification, and handlers may report the same stage
    several times while polling (a wait for a status does). Without a progress token the SDK sends nothing."""
    last: float | None = None

    async def report(done: float, total: float | None, message: str | None) -> None:
        nonlocal last
        if last is not None and done <= last:
            return
        last = done
        await ctx.session.report_progress(done, total, message)

    return report


# ------------------------------------------------------------------------------------------------ resources


def _listing(entry: CompiledTool) -> ResourceListing:
    return entry.listing or ResourceListing(entry.name, entry.tool.label, entry.tool.description or None)


def _resource_lists(service: Service) -> tuple[list[types.Resource], list[types.ResourceTemplate]]:
    """Files and parameterless dynamic resources are resources; dynamic ones with ``{params}`` are templates."""
    resources = [
        types.Resource(uri=f.uri, name=f.name, title=f.title, description=f.description, mime_type=f.mime_type)
        for f in service.files()
    ]
    templates: list[types.ResourceTemplate] = []
    for entry in service.dynamic_resources():
        uri, listing = entry.uri or "", _listing(entry)
        common: dict[str, Any] = {
            "name": listing.name,
            "title": listing.title,
            "description": listing.description,
            "mime_type": entry.mime_type or "application/json",
        }
        if _URI_PARAM.search(uri):
            templates.append(types.ResourceTemplate(uri_template=uri, **common))
        else:
            resources.append(types.Resource(uri=uri, **common))
    return resources, templates


def _read_failure(uri: str, outcome: Outcome) -> MCPError:
    error = outcome.error
    assert error is not None
    # The same words as the tool result's text, so that a 404 reads the same on every face.
    text = f"{error.kind}: {error.message}"
    code = types.INVALID_PARAMS if error.kind in _NOT_FOUND_KINDS else types.INTERNAL_ERROR
    return MCPError(code=code, message=text, data={"uri": uri, "error": error.as_dict()})


# ------------------------------------------------------------------------------------------------ prompts


def _mcp_prompts(service: Service) -> list[types.Prompt]:
    return [
        types.Prompt(
            name=p.name,
            title=p.label or None,
            description=p.description or None,
            arguments=[
                types.PromptArgument(name=a.name, description=a.description or None, required=a.required)
                for a in p.arguments
            ],
        )
        for p in service.prompts()
    ]


# ------------------------------------------------------------------------------------------------ the server


def build_mcp_server(
    service: Service,
    *,
    subscriptions: SubscriptionBus | None = None,
    max_listen_streams: int = DEFAULT_MAX_LISTEN_STREAMS,
    max_buffered_events: int = DEFAULT_MAX_BUFFERED_EVENTS,
    scopes: ScopePolicy | None = None,
    state_keys: Sequence[str] | None = None,
) -> Server[Any]:
    """An MCP server for ``service``, for any transport (stdio, Streamable HTTP) and both protocol eras.

    ``subscriptions``: the bus ``subscriptions/listen`` streams hear events from (default: one in this process; a
    shared bus fans events out across replicas). ``max_listen_streams`` and ``max_buffered_events`` bound the open
    listen streams and each one's backlog (see :data:`DEFAULT_MAX_LISTEN_STREAMS`).

    ``scopes``: when the hosting layer authenticates callers (OAuth), ``tools/list`` shows a caller only the tools
    its token's scopes allow, and a call beyond them is an ``insufficient_scope`` tool error (over HTTP the hosting
    layer has normally answered such a call with a 403 before it gets here). A request without a principal (stdio,
    the static token) sees every tool.

    ``state_keys`` is the ring that seals and unseals ``requestState`` (the first key seals, all unseal): replicas
    given the same ring accept each other's state, so any of them answers the next round of a 2026-07-28 request;
    without it a key generated now and held only by this process is used."""
    info = service.info
    tools = list(service.tools())
    # Lists are sent as ready wire mappings, built once: the inventory does not change while the server runs.
    listed_tools = types.ListToolsResult(tools=[_mcp_tool(t) for t in tools]).model_dump(
        by_alias=True, mode="json", exclude_none=True
    )
    schemas = {t.name: t.input_schema for t in tools}
    available = [t.name for t in tools]
    resources, templates = _resource_lists(service)
    listed_resources = types.ListResourcesResult(resources=resources)
    listed_templates = types.ListResourceTemplatesResult(resource_templates=templates)
    prompts = _mcp_prompts(service)
    listed_prompts = types.ListPromptsResult(prompts=prompts)
    prompt_names = [p.name for p in prompts]
    # One filtered list per set of scopes seen (tokens of one issuer carry few distinct sets); bounded all the same.
    by_scopes: dict[frozenset[str], tuple[dict[str, Any], list[str]]] = {}

    def visible(ctx: ServerContext) -> tuple[dict[str, Any], list[str]]:
        principal = principal_of(getattr(ctx.request, "scope", None))
        if scopes is None or principal is None:
            return listed_tools, available
        found = by_scopes.get(principal.scopes)
        if found is None:
            allowed = [t for t in tools if scopes.allows(principal, t)]
            found = (
                types.ListToolsResult(tools=[_mcp_tool(t) for t in allowed]).model_dump(
                    by_alias=True, mode="json", exclude_none=True
                ),
                [t.name for t in allowed],
            )
            if len(by_scopes) < 256:
                by_scopes[principal.scopes] = found
        return found

    async def list_tools(ctx: ServerContext, params: types.PaginatedRequestParams) -> dict[str, Any]:
        return visible(ctx)[0]

    async def call_tool(ctx: ServerContext, params: types.CallToolRequestParams) -> dict[str, Any]:
        principal = principal_of(getattr(ctx.request, "scope", None))
        entry = service.tool(params.name)
        if scopes is not None and entry is not None and not scopes.allows(principal, entry):
            needed = " ".join(sorted(scopes.required(entry)))
            error = ErrorInfo("insufficient_scope", f"{params.name} needs the scope {needed}", 403)
            return result_wire(Outcome(params.name, None, error))
        context = CallContext(
            face="mcp",
            progress=_progress(ctx),
            caller=principal.subject if principal else None,
            client=principal.client_id if principal else None,
        )
        outcome = await service.call(params.name, params.arguments or {}, context)
        if outcome.error is not None and outcome.error.kind == "unknown_tool":
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}", data={"available": visible(ctx)[1]}
            )
        return result_wire(outcome)

    async def list_resources(
        ctx: ServerContext, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return listed_resources

    async def list_templates(
        ctx: ServerContext, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return listed_templates

    async def read_resource(ctx: ServerContext, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        principal = principal_of(getattr(ctx.request, "scope", None))
        if scopes is not None and principal is not None and scopes.read not in principal.scopes:
            # Resources are reads: they need the read scope, whichever entry serves them.
            raise MCPError(code=types.INVALID_REQUEST, message=f"reading resources needs the scope {scopes.read}")
        try:
            outcome, mime = await service.read(uri, CallContext(face="resource", progress=_progress(ctx)))
        except UnknownResourceError:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown resource: {uri}", data={"uri": uri}) from None
        if outcome.error is not None:
            raise _read_failure(uri, outcome)
        # Notes are left out: they would make a JSON document unparseable; a shortened result says so in itself.
        data = outcome.data
        text = data if isinstance(data, str) else outcome.text if outcome.text is not None else result_text(data)
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, text=text, mime_type=mime)])

    async def list_prompts(ctx: ServerContext, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return listed_prompts

    async def get_prompt(ctx: ServerContext, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        try:
            rendered = service.render_prompt(params.name, params.arguments)
        except UnknownPromptError:
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"Unknown prompt: {params.name}", data={"available": prompt_names}
            ) from None
        except ValueError as exc:  # a required argument is missing
            raise MCPError(code=types.INVALID_PARAMS, message=str(exc)) from None
        messages = [
            types.PromptMessage(
                role="assistant" if role == "assistant" else "user", content=types.TextContent(type="text", text=text)
            )
            for role, text in rendered.messages
        ]
        return types.GetPromptResult(description=rendered.description, messages=messages)

    bus: SubscriptionBus = subscriptions if subscriptions is not None else InMemorySubscriptionBus()
    legacy = LegacySubscriptions(bus)

    @asynccontextmanager
    async def lifespan(_server: Server[Any]) -> AsyncIterator[dict[str, Any]]:
        # Entered once per server (the HTTP session manager's run, or stdio's run): the subscribers' pump.
        async with legacy.running():
            yield {}

    server: Server[Any] = Server(
        info.name,
        version=info.version,
        title=info.title,
        instructions=info.instructions,
        # The 2026-07-28 HTTP path checks Mcp-Param-* headers against the schema it finds here, without listing.
        get_tool_input_schema=schemas.get,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=legacy.subscribe,
        on_unsubscribe_resource=legacy.unsubscribe,
        lifespan=lifespan,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_subscriptions_listen=ListenHandler(
            bus, max_subscriptions=max_listen_streams, max_buffered_events=max_buffered_events
        ),
    )
    # Registered by method because they return wire mappings, which the constructor's typed parameters do not allow.
    server.add_request_handler("tools/list", types.PaginatedRequestParams, list_tools)
    server.add_request_handler("tools/call", types.CallToolRequestParams, call_tool)
    # As MCPServer does: a requestState is verified at the boundary (-32602 when it was not sealed under our ring)
    # before any handler sees it. Inside the SDK's OpenTelemetry middleware, which stays first.
    security = RequestStateSecurity(keys=list(state_keys)) if state_keys else RequestStateSecurity.ephemeral()
    server.middleware.append(RequestStateBoundary(security, default_audience=info.name))
    return server


def mcp_http_app(
    server: Server[Any],
    *,
    stateless: bool,
    json_response: bool,
    transport_security: TransportSecuritySettings | None,
    max_request_body_size: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
    session_idle_timeout: float = DEFAULT_SESSION_IDLE_TIMEOUT,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    path: str = "/mcp",
) -> Starlette:
    """The Streamable HTTP endpoint at ``path`` (both protocol eras on one endpoint), and nothing else.

    ``transport_security=None`` keeps the SDK's local default: Host and Origin must name 127.0.0.1, localhost or
    [::1] (DNS-rebinding protection); a server listening elsewhere must pass its own settings (or settings with
    ``enable_dns_rebinding_protection=False`` to check nothing). ``max_request_body_size`` (bytes; 413 above),
    ``session_idle_timeout`` (seconds before an idle stateful session is closed) and ``max_sessions`` (open stateful
    sessions) bound what one client can hold; the defaults are the SDK's (4 MiB, 1800 s, 10,000).

    The app's lifespan runs the session manager. Mounted inside another app, whose lifespan Starlette does not run
    for mounts, enter ``server.session_manager.run()`` in the parent's lifespan instead."""
    return server.streamable_http_app(
        streamable_http_path=path,
        json_response=json_response,
        stateless_http=stateless,
        max_request_body_size=max_request_body_size,
        session_idle_timeout=session_idle_timeout,
        max_sessions=max_sessions,
        transport_security=transport_security,
        host="127.0.0.1",  # only consulted when transport_security is None: the loopback default above
    )


async def run_stdio(server: Server[Any]) -> None:
    """Serve one client on stdin/stdout until it closes them (either era: the first message decides)."""
    async with stdio_server() as (read_stream, write_stream):
        # A line the SDK cannot parse is answered (-32700), not only logged: faces/stdio_replies.py says why.
        answering = AnsweringReadStream(read_stream, write_stream)
        await server.run(answering, write_stream, server.create_initialization_options())
