"""The one invocation path: every tool call, REST operation and resource read, on every face, runs through here.

``Invoker.call(entry, raw_args, context) -> Outcome``, in this order:

1. **prepare**: hostile-input checks (depth, size, non-finite numbers, invalid text) and the one schema-driven
   coercion of values that arrived as text (:mod:`~hms_recordings.runtime.arguments`);
2. **validate** against the schema the entry publishes (unknown fields refused, defaults filled);
3. **run**: the ``x-handler``, else the steps, else the declared request, else the mock outputs;
4. **explain** upstream errors by the entry's ``x-errors`` (or say which credential to check);
5. **shape**: pagination in words, and shortening with a cursor that names the last item kept
   (:mod:`~hms_recordings.runtime.shaping`);
6. **record**: every :class:`~hms_recordings.runtime.observe.CallObserver` hears of the outcome.

It never raises for anything a caller or an upstream did: the result is an :class:`Outcome`, whose error comes from
:func:`~hms_recordings.runtime.outcome.failure_from_exception`, so the same cause reads the same on every face.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from hms_recordings.capability.templates import Scope, Template
from hms_recordings.errors import (
    CredentialError,
    DomainError,
    ToolInputError,
    UpstreamStatusError,
)
from hms_recordings.runtime.arguments import ArgumentLimits, prepare_arguments
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.inventory import Inventory
from hms_recordings.runtime.local import EventLog, Wakeups, Watch
from hms_recordings.runtime.observe import ActionObserver, ActionRecord, CallObserver
from hms_recordings.runtime.orchestrate import mock_result, run_steps
from hms_recordings.runtime.outcome import Outcome, failure_from_exception
from hms_recordings.runtime.redact import Redactor, safe_arguments
from hms_recordings.runtime.shaping import fit, paginate
from hms_recordings.runtime.upstreams import Upstreams

__all__ = ["CallContext", "Handler", "Invocation", "Invoker", "InvokerSettings", "ProgressFn"]

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


@dataclass(frozen=True)
class CallContext:
    """Who is calling and how: the face (for metrics and logs), progress, and which arguments arrived as text."""

    face: str = "api"
    progress: ProgressFn | None = None
    text_fields: frozenset[str] = frozenset()
    caller: str | None = None  # the authenticated subject, when the face knows one
    client: str | None = None  # the OAuth client the caller's token was issued to


@dataclass(frozen=True)
class InvokerSettings:
    max_result_chars: int = 50_000  # larger results are cut, with a note saying so
    limits: ArgumentLimits = field(default_factory=ArgumentLimits)
    observers: Sequence[CallObserver] = ()
    #: Told about every finished call of an entry that is not read-only (the audit trail).
    actions: Sequence[ActionObserver] = ()
    #: Objects the server lends to handlers by name (:meth:`Invocation.extension`), e.g. the audit store.
    extensions: Mapping[str, Any] = field(default_factory=dict)
    #: Lent by the server, never looked inside here: what ends a handler's pause early, and the log of received
    #: events. Without them a pause is a plain sleep and the log is absent (see runtime/local.py).
    wakeups: Wakeups | None = None
    event_log: EventLog | None = None


class Invocation:
    """What a handler (``x-handler``) gets: the call's arguments and ways to reach the upstream."""

    def __init__(self, invoker: Invoker, tool: CompiledTool, args: dict[str, Any], context: CallContext) -> None:
        self.invoker = invoker
        self.tool = tool
        self.args = args
        self.context = context
        self.notes: list[str] = []
        self.request_ids: list[str] = []  # the upstream's request ids, for the audit trail

    async def default(self, args: dict[str, Any] | None = None) -> Any:
        """Run the entry as the capability file declares it (with ``args`` instead of the caller's if given)."""
        return await self.invoker.run_declared(self.tool, self.args if args is None else args, self.request_ids)

    async def operation(self, key: str, params: dict[str, Any], *, safe_to_retry: bool | None = None) -> Any:
        """Call any consumed operation by ``namespace.name``; path values are checked as for a tool."""
        response = await self.invoker.upstreams.send_operation(key, params, safe_to_retry=safe_to_retry)
        _note_request_id(response.headers, self.request_ids)
        return response.data

    def extension(self, name: str) -> Any | None:
        """An object the server lent to handlers under ``name`` (``None`` when this server has none)."""
        return self.invoker.settings.extensions.get(name)

    async def fetch_link(self, namespace: str, url: str, *, max_bytes: int) -> bytes:
        """The bytes behind a link an upstream of ``namespace`` handed out (sent without the credential)."""
        client = self.invoker.upstreams.clients[namespace]
        return await client.fetch_link(url, max_bytes=max_bytes, operation=f"{namespace}.link")

    async def progress(self, done: float, total: float | None = None, message: str | None = None) -> None:
        if self.context.progress is not None:
            await self.context.progress(done, total, message)

    def clock(self) -> float:
        """Monotonic seconds, from the same clock the upstream client uses (a seam for tests)."""
        return self.invoker.upstreams.clock()

    async def sleep(self, seconds: float) -> None:
        await self.invoker.upstreams.sleep(seconds)

    @asynccontextmanager
    async def watch(self, topic: str) -> AsyncIterator[Watch]:
        """Arm a wake-up on ``topic`` for the block: ``await watch.wait(s)`` pauses at most ``s`` seconds and returns
        ``True`` when something was signalled on the topic since the watch was armed or last woke. Armed before the
        handler looks, so a signal between its look and its pause is not missed. Without wake-ups it sleeps."""
        wakeups = self.invoker.settings.wakeups
        if wakeups is None:
            yield _Sleeper(self)
            return
        async with wakeups.watch(topic) as watch:
            yield watch

    @property
    def event_log(self) -> EventLog | None:
        return self.invoker.settings.event_log


class _Sleeper:
    """The watch of a service without wake-ups: every pause is slept out (through the sleep seam)."""

    def __init__(self, invocation: Invocation) -> None:
        self._invocation = invocation

    async def wait(self, seconds: float) -> bool:
        await self._invocation.sleep(seconds)
        return False


Handler = Callable[[Invocation], Awaitable[Any]]

#: Response headers an upstream's own request id is read from, first found wins. 100ms documents none; these are
#: the common spellings, so that an id is kept the day one is sent (and tests send one).
REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "request-id", "x-correlation-id")


def _result_ids(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        return {}
    return {k: v[:128] for k in ("id", "room_id", "recording_id") if isinstance(v := data.get(k), str)}


def _note_request_id(headers: Mapping[str, str], sink: list[str] | None) -> None:
    if sink is None or len(sink) >= 16:  # bounded: a handler that polls does not grow the record without end
        return
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in REQUEST_ID_HEADERS:
        value = lowered.get(name)
        if value:
            sink.append(value[:128])
            return


class Invoker:
    def __init__(self, inventory: Inventory, upstreams: Upstreams, settings: InvokerSettings | None = None) -> None:
        self.inventory = inventory
        self.upstreams = upstreams
        self.settings = settings or InvokerSettings()

    # StepRunner (orchestrate): bound values and operations by key.
    @property
    def bindings(self) -> Mapping[str, str]:
        return self.upstreams.bindings.values

    @property
    def namespaces(self) -> frozenset[str]:
        return self.upstreams.bindings.namespaces

    @property
    def redactor(self) -> Redactor:
        return self.upstreams.redactor

    async def send_operation(self, key: str, params: dict[str, Any]) -> Any:
        return (await self.upstreams.send_operation(key, params)).data

    # ------------------------------------------------------------------------------------------------ the path

    async def call(self, entry: CompiledTool, raw_args: Any, context: CallContext | None = None) -> Outcome:
        context = context or CallContext()
        started = self.upstreams.clock()
        name = entry.name
        args: dict[str, Any] = {}
        invocation: Invocation | None = None
        try:
            prepared = prepare_arguments(
                raw_args, entry.input_schema, text_fields=context.text_fields, limits=self.settings.limits
            )
            args = entry.validator.validate(prepared)
            invocation = Invocation(self, entry, args, context)
            try:
                if entry.handler is not None:
                    data = await entry.handler(invocation)
                else:
                    data = await self.run_declared(entry, args, invocation.request_ids)
            except UpstreamStatusError as exc:
                raise self._explain(entry, args, exc) from None
            data, text = fit(entry, args, data, self.settings.max_result_chars, invocation.notes)
            outcome = Outcome(name, data, None, tuple(invocation.notes), text)
        except ToolInputError as exc:
            if not exc.tool:  # raised before or while building the request: say which entry the arguments were for
                exc = ToolInputError(f"invalid arguments for {name}: {exc.message}", exc.fields, name)
            outcome = Outcome(name, None, failure_from_exception(exc, self.redactor, tool=name))
        except Exception as exc:
            outcome = Outcome(name, None, failure_from_exception(exc, self.redactor, tool=name))
        self.record(outcome, context.face, started)
        if self.settings.actions and not entry.read_only:
            self._record_action(entry, args if args else raw_args, context, outcome, invocation, started)
        return outcome

    def _record_action(
        self,
        entry: CompiledTool,
        args: Any,
        context: CallContext,
        outcome: Outcome,
        invocation: Invocation | None,
        started: float,
    ) -> None:
        record = ActionRecord(
            entry=entry.name,
            face=context.face,
            caller=context.caller,
            client=context.client,
            arguments=safe_arguments(args, self.redactor),
            outcome="ok" if outcome.error is None else outcome.error.kind,
            request_ids=tuple(invocation.request_ids) if invocation is not None else (),
            seconds=self.upstreams.clock() - started,
            result_ids=_result_ids(outcome.data),
        )
        for observer in self.settings.actions:
            observer.on_action(record)

    def record(self, outcome: Outcome, face: str, started: float) -> None:
        kind = "ok" if outcome.error is None else outcome.error.kind
        seconds = self.upstreams.clock() - started
        for observer in self.settings.observers:
            observer.on_call(outcome.tool, face, kind, seconds)

    async def run_declared(self, tool: CompiledTool, args: dict[str, Any], request_ids: list[str] | None = None) -> Any:
        if tool.steps is not None:
            return await run_steps(self, tool.steps, tool.mapper, args)
        if tool.request is None:
            if tool.tool.outputs:
                return mock_result(tool.tool)  # a mock tool: static output values
            raise ToolInputError(f"{tool.name} has nothing to call", [], tool.name)
        scope = Scope(args=args, bindings=self.bindings, namespaces=self.namespaces)
        params = tool.with_plan.apply(args, scope)
        response = await self.upstreams.send(tool.request, params, scope, safe_to_retry=tool.safe_to_retry)
        _note_request_id(response.headers, request_ids)
        data = tool.mapper(response.data)
        if tool.tool.pagination is not None and isinstance(data, dict):
            paginate(tool, args, response.data, data)
        return data

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
            names = sorted({key for bind in self.inventory.capability.binds for key in bind.keys.values()})
            hint = f"check {', '.join(names)}" if names else "check the credential in the capability's binds"
            return CredentialError(f"{exc.message}: the upstream refused our credential; {hint}")
        return exc
