"""The run-time half of the runtime: bound values, secrets, credentials and one upstream client per consumed API.

Built when a server, a ``call`` or a test starts, from the capability and :class:`UpstreamSettings`; compiling
(:mod:`hms_recordings.runtime.inventory`) never needs it, so listing tools or exporting a skill reads no secret.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from hms_recordings.capability.model import EMPTY_BASE_URI, Capability
from hms_recordings.capability.templates import Scope, Template
from hms_recordings.errors import CapabilityError, ConfigError
from hms_recordings.runtime.bindings import Bindings, resolve_bindings
from hms_recordings.runtime.bodies import EncodedBody
from hms_recordings.runtime.credentials import credential_source
from hms_recordings.runtime.observe import UpstreamObserver
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.request import PreparedRequest, RequestPlan
from hms_recordings.runtime.upstream import (
    DEFAULT_MAX_RESPONSE_BYTES,
    RetryPolicy,
    Timeouts,
    UpstreamClient,
    UpstreamResponse,
)

__all__ = ["RelayRequest", "UpstreamSettings", "Upstreams"]


@dataclass(frozen=True)
class UpstreamSettings:
    upstreams: Mapping[str, str] = field(default_factory=dict)  # consumed namespace -> base URL override
    transports: Mapping[str, httpx2.AsyncBaseTransport] = field(default_factory=dict)  # namespace -> transport
    env: Mapping[str, str] | None = None  # None: the process environment
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 32
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # an upstream answer larger than this is refused
    retry_seed: int | None = None
    observers: Sequence[UpstreamObserver] = ()
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep


@dataclass(frozen=True)
class RelayRequest:
    """A request a REST ``forward`` relays: the path below the API's base (checked, encoded), the query, the
    trusted inbound headers and the body as they came."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: EncodedBody | None = None


class Upstreams:
    """Clients and credentials of every consumed API of one capability."""

    def __init__(
        self, capability: Capability, plans: Mapping[str, RequestPlan], settings: UpstreamSettings | None = None
    ) -> None:
        self.settings = settings = settings or UpstreamSettings()
        self.capability = capability
        self.plans = plans
        self.redactor = Redactor()
        self.bindings: Bindings = resolve_bindings(capability, settings.env)
        self.redactor.add(*self.bindings.secrets())
        self.scope = Scope(bindings=self.bindings.values, namespaces=self.bindings.namespaces)
        unknown = set(settings.upstreams) - set(capability.consumes)
        if unknown:
            raise ConfigError(
                f"--upstream names {', '.join(sorted(unknown))}, which the capability does not "
                f"consume (known: {', '.join(sorted(capability.consumes))})"
            )
        self._fixed: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}  # see _fixed_params
        self.clients: dict[str, UpstreamClient] = {}
        for namespace, api in capability.consumes.items():
            self.clients[namespace] = UpstreamClient(
                namespace,
                settings.upstreams.get(namespace, api.base_uri),
                credentials=credential_source(api.authentication, self.bindings, self.redactor),
                timeouts=settings.timeouts,
                retry=settings.retry,
                max_concurrency=settings.max_concurrency,
                max_response_bytes=settings.max_response_bytes,
                transport=settings.transports.get(namespace),
                redactor=self.redactor,
                seed=settings.retry_seed,
                observers=settings.observers,
                clock=settings.clock,
                sleep=settings.sleep,
            )

    @property
    def clock(self) -> Callable[[], float]:
        return self.settings.clock

    async def sleep(self, seconds: float) -> None:
        await self.settings.sleep(seconds)

    def credential_problems(self) -> list[str]:
        """For start-up: every consumed API that cannot send a credential, and why."""
        return [
            f"{ns}: {problem}"
            for ns, client in self.clients.items()
            if client.credentials is not None and (problem := client.credentials.problem())
        ]

    def _client(self, namespace: str) -> UpstreamClient:
        client = self.clients[namespace]
        if client.base_url == EMPTY_BASE_URI and namespace not in self.settings.transports:
            raise ConfigError(
                f"the capability leaves the address of `{namespace}` empty (`baseUri: ''`), so nothing was sent; "
                f"serve or call with `--upstream {namespace}=https://host/prefix`"
            )
        return client

    async def send(
        self, plan: RequestPlan, params: dict[str, Any], scope: Scope, *, safe_to_retry: bool
    ) -> UpstreamResponse:
        request = plan.build(params, scope)
        return await self._client(plan.operation.namespace).send(
            request,
            operation=plan.operation.key,
            safe_to_retry=safe_to_retry,
            expect_json=plan.operation.output_format == "json",
        )

    async def relay(self, namespace: str, relayed: RelayRequest) -> UpstreamResponse:
        """Relay one request to a consumed API (a REST ``forward``): its path already checked and encoded, the
        API's own fixed parameters (``inputParameters`` with a ``value``) and credential added."""
        client = self._client(namespace)
        headers, query = self._fixed_params(namespace)
        request = PreparedRequest(
            relayed.method,
            relayed.path,
            (*relayed.query, *query),
            (*relayed.headers, *headers),
            None,
            relayed.body is not None,
            relayed.body,
        )
        return await client.relay(request, operation=f"{namespace} forward")

    def _fixed_params(self, namespace: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The consumed API's own header and query parameters with a ``value``, rendered from the bindings (which
        do not change while serving) once, on the first relay."""
        if namespace not in self._fixed:
            headers: list[tuple[str, str]] = []
            query: list[tuple[str, str]] = []
            for param in self.capability.consumes[namespace].params:
                template = Template.compile(param.value) if param.value is not None else None
                if template is None or template.missing(self.scope):
                    continue  # as for a tool: a fixed value that still needs a variable is not sent
                target = headers if param.location == "header" else query if param.location == "query" else None
                if target is not None:
                    target.append((param.name, template.render(self.scope)))
            self._fixed[namespace] = (headers, query)
        return self._fixed[namespace]

    async def send_operation(
        self, key: str, params: dict[str, Any], *, safe_to_retry: bool | None = None
    ) -> UpstreamResponse:
        """Send any consumed operation by ``namespace.name``; path values are checked as for a tool."""
        plan = self.plans.get(key)
        if plan is None:
            raise CapabilityError(f"no consumed operation {key!r}")
        scope = Scope(args=params, bindings=self.bindings.values, namespaces=self.bindings.namespaces)
        op = plan.operation
        safe = (op.method == "GET" or bool(op.idempotent)) if safe_to_retry is None else safe_to_retry
        return await self.send(plan, params, scope, safe_to_retry=safe)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
