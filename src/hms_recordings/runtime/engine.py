"""The one invocation path: tool name + arguments -> validated arguments -> upstream request -> mapped result.

An :class:`Engine` compiles a capability once (schemas, validators, templates, JSONPath, URL parts, credentials) and
then serves calls from every face. Faces never talk to the upstream themselves, so the MCP tool, the REST route and the
CLI ``call`` give the same result and the same error for the same input.

Tool filtering, in this order (documented in the README): unknown names in ``tools`` fail at start-up; the
explicit ``tools`` list selects; ``read_only`` then removes every tool that is not read-only, whatever the list says.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import httpx2

from hms_recordings.capability.model import Capability, ExposedMcp, Hints, OutputSpec, Tool
from hms_recordings.capability.templates import Scope, Template
from hms_recordings.errors import (
    CapabilityError,
    ConfigError,
    CredentialError,
    DomainError,
    ToolInputError,
    UnknownToolError,
    UpstreamStatusError,
)
from hms_recordings.runtime.aggregates import resolve_ref
from hms_recordings.runtime.bindings import Bindings, resolve_bindings
from hms_recordings.runtime.credentials import credential_source
from hms_recordings.runtime.orchestrate import mock_result, run_steps, steps_schema
from hms_recordings.runtime.outcome import Outcome, failure_from_exception
from hms_recordings.runtime.outputs import OutputMapper, output_schema_for
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.request import RequestPlan, WithPlan
from hms_recordings.runtime.schemas import ArgumentValidator, derive_schema, schema_from_params
from hms_recordings.runtime.upstream import RetryPolicy, Timeouts, UpstreamClient, UpstreamResponse

__all__ = ["CompiledTool", "Engine", "Handler", "Invocation", "ProgressFn", "RuntimeSettings", "handlers"]

logger = logging.getLogger("hms_recordings.runtime")

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


@dataclass(frozen=True)
class RuntimeSettings:
    upstreams: Mapping[str, str] = field(default_factory=dict)  # consumed namespace -> base URL override
    transports: Mapping[str, httpx2.AsyncBaseTransport] = field(default_factory=dict)  # namespace -> transport
    env: Mapping[str, str] | None = None  # None: the process environment
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 32
    max_result_chars: int = 50_000  # larger results are cut, with a note saying so
    read_only: bool = False
    tools: tuple[str, ...] | None = None
    retry_seed: int | None = None


@dataclass
class CompiledTool:
    tool: Tool
    expose_namespace: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    validator: ArgumentValidator
    with_plan: WithPlan
    request: RequestPlan | None
    mapper: OutputMapper
    hints: Hints
    safe_to_retry: bool
    handler: Handler | None = None
    page_items: Any = None  # compiled x-pagination JSONPaths (items, cursor)
    page_cursor: Any = None

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def read_only(self) -> bool:
        return bool(self.hints.read_only)


class Invocation:
    """What a handler (``x-handler``) gets: the call's arguments and ways to reach the upstream."""

    def __init__(self, engine: Engine, tool: CompiledTool, args: dict[str, Any], progress: ProgressFn | None) -> None:
        self.engine = engine
        self.tool = tool
        self.args = args
        self._progress = progress
        self.notes: list[str] = []

    async def default(self, args: dict[str, Any] | None = None) -> Any:
        """Run the tool as the capability file declares it (with ``args`` instead of the caller's if given)."""
        return await self.engine._run_declared(self.tool, self.args if args is None else args)

    async def operation(self, key: str, params: dict[str, Any], *, safe_to_retry: bool | None = None) -> Any:
        """Call any consumed operation by ``namespace.name``; path values are checked as for a tool."""
        response = await self.engine.send_operation(key, params, safe_to_retry=safe_to_retry)
        return response.data

    async def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        if self._progress is not None:
            await self._progress(done, total, message)


Handler = Callable[[Invocation], Awaitable[Any]]


@cache
def handlers() -> dict[str, Handler]:
    """Handlers registered under the entry-point group ``hms_recordings.handlers`` (each: a name -> handler map)."""
    found: dict[str, Handler] = {}
    for entry in entry_points(group="hms_recordings.handlers"):
        found.update(entry.load())
    return found


def _hints(tool: Tool, method: str | None) -> Hints:
    hints = tool.hints
    read_only = hints.read_only
    if read_only is None and method is not None and not tool.handler:
        read_only = method == "GET"  # derived from the method when the file does not say
    destructive = hints.destructive
    if destructive is None and read_only:
        destructive = False
    return Hints(read_only, destructive, hints.idempotent, hints.open_world)


class Engine:
    def __init__(self, capability: Capability, settings: RuntimeSettings | None = None) -> None:
        self.capability = capability
        self.settings = settings or RuntimeSettings()
        self.redactor = Redactor()
        self.bindings: Bindings = resolve_bindings(capability, self.settings.env)
        self.redactor.add(*self.bindings.secrets())
        self._scope = Scope(bindings=self.bindings.values, namespaces=self.bindings.namespaces)
        self.clients: dict[str, UpstreamClient] = {}
        self.plans: dict[str, RequestPlan] = {}
        unknown = set(self.settings.upstreams) - set(capability.consumes)
        if unknown:
            raise ConfigError(
                f"--upstream names {', '.join(sorted(unknown))}, which the capability does not "
                f"consume (known: {', '.join(sorted(capability.consumes))})"
            )
        for namespace, api in capability.consumes.items():
            self.clients[namespace] = UpstreamClient(
                namespace,
                self.settings.upstreams.get(namespace, api.base_uri),
                credentials=credential_source(api.authentication, self.bindings, self.redactor),
                timeouts=self.settings.timeouts,
                retry=self.settings.retry,
                max_concurrency=self.settings.max_concurrency,
                transport=self.settings.transports.get(namespace),
                redactor=self.redactor,
                seed=self.settings.retry_seed,
            )
            static = tuple(p for p in api.params if p.value is not None)
            for op in api.operations.values():
                self.plans[op.key] = RequestPlan.compile(op, static)
        self.exposes: tuple[ExposedMcp, ...] = capability.mcp
        self.all_tools: dict[str, CompiledTool] = {}
        for expose in capability.mcp:
            for tool in expose.tools:
                self.all_tools[tool.name] = self.compile_tool(tool, expose.namespace)
        self.tools = self._select(self.all_tools)
        self.stats: dict[tuple[str, str], int] = {}

    # ---------------------------------------------------------------------------------------------------- compiling

    def compile_tool(self, tool: Tool, expose_namespace: str) -> CompiledTool:
        tool = resolve_ref(tool, self.capability)  # `ref`: what the tool leaves out comes from the aggregate function
        with_plan = WithPlan.compile(tool.with_, expose_namespace)
        plan = self.plans.get(tool.call) if tool.call else None
        if tool.call and plan is None:
            raise CapabilityError(f"tool {tool.name}: `call: {tool.call}` names no consumed operation")
        if tool.steps:
            schema = steps_schema(self, tool, expose_namespace)
        elif tool.params is not None:
            schema = schema_from_params(tool.params)
        elif plan is not None:
            schema = derive_schema(plan.operation, with_plan.references())
        else:
            schema = {"type": "object", "properties": {}, "additionalProperties": False}
        handler = None
        if tool.handler:
            handler = handlers().get(tool.handler)
            if handler is None:
                raise CapabilityError(
                    f"tool {tool.name}: unknown x-handler {tool.handler!r} "
                    f"(registered: {', '.join(sorted(handlers())) or 'none'})"
                )
        method = plan.operation.method if plan else None
        hints = _hints(tool, method)
        idempotent_op = plan.operation.idempotent if plan else None
        # Repeating is harmless for a GET, or when the file says so (x-idempotent on the operation, or the
        # tool's idempotent hint); a start, which has neither, is never sent twice.
        safe = method == "GET" or bool(idempotent_op) or (idempotent_op is None and bool(hints.idempotent))
        try:
            validator = ArgumentValidator(tool.name, schema, check=not self.capability.schemas_checked)
        except Exception as exc:  # jsonschema's SchemaError: the x-schema in the file is wrong
            raise CapabilityError(f"tool {tool.name}: its input schema is not valid JSON Schema: {exc}") from None
        pagination = tool.pagination
        return CompiledTool(
            page_items=OutputMapper((OutputSpec(type="array", mapping=pagination.items),)) if pagination else None,
            page_cursor=OutputMapper((OutputSpec(type="string", mapping=pagination.cursor),)) if pagination else None,
            tool=tool,
            expose_namespace=expose_namespace,
            input_schema=schema,
            output_schema=tool.output_schema or output_schema_for(tool.outputs),
            validator=validator,
            with_plan=with_plan,
            request=plan,
            mapper=OutputMapper(tool.outputs),
            hints=hints,
            safe_to_retry=safe,
            handler=handler,
        )

    def _select(self, tools: dict[str, CompiledTool]) -> dict[str, CompiledTool]:
        selected = dict(tools)
        if self.settings.tools is not None:
            unknown = [n for n in self.settings.tools if n not in tools]
            if unknown:
                raise ConfigError(
                    f"--tools names unknown tool{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                    f"(known: {', '.join(tools)})"
                )
            selected = {n: t for n, t in tools.items() if n in self.settings.tools}
        if self.settings.read_only:
            selected = {n: t for n, t in selected.items() if t.read_only}
        return selected

    # ---------------------------------------------------------------------------------------------------- calling

    async def call(self, name: str, arguments: Any, *, progress: ProgressFn | None = None) -> Outcome:
        """Run a tool; never raises for anything the caller or the upstream did (see :class:`Outcome`)."""
        tool = self.tools.get(name)
        if tool is None:
            exc = UnknownToolError(f"unknown tool {name!r}; available: {', '.join(self.tools)}", [], name)
            return self._record(
                Outcome(name, None, failure_from_exception(exc, self.redactor, tool=name)), time.monotonic()
            )
        return await self.call_compiled(tool, arguments, progress=progress)

    async def call_compiled(self, tool: CompiledTool, arguments: Any, *, progress: ProgressFn | None = None) -> Outcome:
        """Run an already compiled tool, served or not (e.g. a REST operation without ``x-tool``), like :meth:`call`."""
        started = time.monotonic()
        name = tool.name
        try:
            args = tool.validator.validate({} if arguments is None else arguments)
            invocation = Invocation(self, tool, args, progress)
            try:
                if tool.handler is not None:
                    data = await tool.handler(invocation)
                else:
                    data = await self._run_declared(tool, args)
            except UpstreamStatusError as exc:
                raise self._explain(tool, args, exc) from None
            data, text = self._fit(tool, data, invocation.notes)
            outcome = Outcome(name, data, None, tuple(invocation.notes), text)
        except ToolInputError as exc:
            if not exc.tool:  # raised while building the request: say which tool the arguments were for
                exc = ToolInputError(f"invalid arguments for {name}: {exc.message}", exc.fields, name)
            outcome = Outcome(name, None, failure_from_exception(exc, self.redactor, tool=name))
        except Exception as exc:
            outcome = Outcome(name, None, failure_from_exception(exc, self.redactor, tool=name))
        return self._record(outcome, started)

    def _record(self, outcome: Outcome, started: float) -> Outcome:
        key = (outcome.tool, "ok" if outcome.ok else (outcome.error.kind if outcome.error else "error"))
        self.stats[key] = self.stats.get(key, 0) + 1
        logger.debug("tool %s -> %s in %.1f ms", outcome.tool, key[1], (time.monotonic() - started) * 1000)
        return outcome

    async def _run_declared(self, tool: CompiledTool, args: dict[str, Any]) -> Any:
        if tool.tool.steps:
            return await run_steps(self, tool, args)
        if tool.request is None:
            if tool.tool.outputs:
                return mock_result(tool.tool)  # a mock tool: static output values
            raise ToolInputError(f"tool {tool.name} has nothing to call", [], tool.name)
        scope = Scope(args=args, bindings=self.bindings.values, namespaces=self.bindings.namespaces)
        params = tool.with_plan.apply(args, scope)
        response = await self._send(tool.request, params, scope, safe_to_retry=tool.safe_to_retry)
        data = tool.mapper(response.data)
        if tool.tool.pagination is not None and isinstance(data, dict):
            self._paginate(tool, args, response.data, data)
        return data

    def _paginate(self, tool: CompiledTool, args: dict[str, Any], raw: Any, data: dict[str, Any]) -> None:
        """x-pagination: say in words how to get the next page, when there may be one."""
        page = tool.tool.pagination
        assert page is not None
        items = tool.page_items(raw) if tool.page_items else None
        cursor = tool.page_cursor(raw) if tool.page_cursor else None
        limit = args.get(page.limit_argument, page.default_limit)
        if isinstance(items, list) and isinstance(cursor, str) and cursor and len(items) >= int(limit):
            filters = [k for k in args if k not in (page.cursor_argument, page.limit_argument)]
            same = f" and the same {', '.join(filters)}" if filters else ""
            data["next_start"] = cursor
            data["next_page"] = (
                f"more results may exist: call {tool.name} again with {page.cursor_argument}={cursor}{same}"
            )
        else:
            data["next_start"] = None
            data["next_page"] = "this is the last page"

    def _explain(self, tool: CompiledTool, args: dict[str, Any], exc: UpstreamStatusError) -> Exception:
        """x-errors: the first rule matching the status (and text) turns the upstream error into an actionable one."""
        said = exc.upstream_message.lower()
        for rule in tool.tool.errors:
            if rule.status == exc.status and rule.contains.lower() in said:
                scope = Scope(
                    args={**args, "upstream_message": exc.upstream_message, "status": exc.status},
                    bindings={},
                    namespaces=frozenset(),
                )
                message = Template.compile(rule.message).render(scope)
                kind = rule.kind or failure_from_exception(exc, self.redactor).kind
                return DomainError(message, kind=kind, status=exc.status)
        if exc.status in (401, 403):
            names = sorted({key for bind in self.capability.binds for key in bind.keys.values()})
            hint = f"check {', '.join(names)}" if names else "check the credential in the capability's binds"
            return CredentialError(f"{exc.message}: the upstream refused our credential; {hint}")
        return exc

    def _fit(self, tool: CompiledTool, data: Any, notes: list[str]) -> tuple[Any, str]:
        """Cut the longest list of an oversized result so that it fits, and say so in the result itself.

        Returns the result and its JSON text: serialising once here serves both the size check and every face."""
        limit = self.settings.max_result_chars
        text = result_text(data)
        if len(text) <= limit or not isinstance(data, dict):
            return data, text
        lists = [k for k, v in data.items() if isinstance(v, list) and v]
        if not lists:
            return data, text
        key = max(lists, key=lambda k: len(json.dumps(data[k], default=str)))
        items = list(data[key])
        total = len(items)
        shortened = dict(data)
        while items and len(json.dumps({**shortened, key: items}, default=str)) > limit - 200:
            items.pop()
        shortened[key] = items
        note = (
            f"result shortened: showing {len(items)} of {total} {key} to stay under {limit} characters; "
            "narrow the filters or lower `limit`"
        )
        shortened["truncated"] = note
        notes.append(note)
        return shortened, result_text(shortened)

    async def send_operation(
        self, key: str, params: dict[str, Any], *, safe_to_retry: bool | None = None
    ) -> UpstreamResponse:
        plan = self.plans.get(key)
        if plan is None:
            raise CapabilityError(f"no consumed operation {key!r}")
        scope = Scope(args=params, bindings=self.bindings.values, namespaces=self.bindings.namespaces)
        safe = (
            plan.operation.method == "GET" or bool(plan.operation.idempotent)
            if safe_to_retry is None
            else safe_to_retry
        )
        return await self._send(plan, params, scope, safe_to_retry=safe)

    async def _send(
        self, plan: RequestPlan, params: dict[str, Any], scope: Scope, *, safe_to_retry: bool
    ) -> UpstreamResponse:
        request = plan.build(params, scope)
        client = self.clients[plan.operation.namespace]
        return await client.send(request, operation=plan.operation.key, safe_to_retry=safe_to_retry)

    def credential_problems(self) -> list[str]:
        """For start-up: every consumed API that cannot send a credential, and why."""
        return [
            f"{ns}: {problem}"
            for ns, client in self.clients.items()
            if client.credentials is not None and (problem := client.credentials.problem())
        ]

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def result_text(data: Any) -> str:
    """The JSON text every face shows next to structured results: compact, which is what a model reads best, and
    which the C encoder writes (an indented dump runs in pure Python and was the largest cost of a call)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
