"""Operations on the HTTP faces: request ids, access logs, Host/Origin checks, health and Prometheus metrics.

* Every HTTP request gets an id: the caller's ``X-Request-Id`` when it is a short safe token, else a fresh one. It is
  echoed in the ``X-Request-Id`` response header, carried by every log record written while the request is handled
  (``request_id`` in ``--json-logs`` lines) and quoted in REST problem details, so an error a user reports can be found
  in the log.
* ``GET /health/live`` is 200 while the process serves; ``GET /health/ready`` is 200 only when each consumed API
  answers one cheap read with our credential accepted, else a 503 problem naming the reason.
* ``GET /metrics`` is the Prometheus text format, written here by hand (no client library needed).

These routes are mounted on every HTTP face, or only on the control port when the capability declares a
``type: control`` expose (see ``docs/operations.md``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
import weakref
from collections import Counter
from contextvars import ContextVar
from typing import Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms_recordings import __version__
from hms_recordings.capability.model import Capability
from hms_recordings.runtime.engine import Engine
from hms_recordings.runtime.outcome import ErrorInfo, failure_from_exception
from hms_recordings.taxonomy import problem_type, title

__all__ = [
    "HostOriginCheck",
    "Metrics",
    "RequestContextMiddleware",
    "control_expose",
    "current_request_id",
    "metrics_for",
    "ops_routes",
    "problem_response",
    "readiness",
]

access_log = logging.getLogger("hms_recordings.access")

PROBLEM_JSON = "application/problem+json"
READY_TIMEOUT = 5.0  # seconds for the readiness probe's one upstream read
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_request_id: ContextVar[str | None] = ContextVar("hms_recordings_request_id", default=None)


# ------------------------------------------------------------------------------------------------------- request ids


def current_request_id() -> str | None:
    """The id of the HTTP request being handled in this task, if any."""
    return _request_id.get()


def _install_log_context() -> None:
    """Give every log record the current request id (``record.request_id``), once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "hms_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        rid = _request_id.get()
        if rid is not None:
            record.request_id = rid
        return record

    factory.hms_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def problem_response(
    kind: str,
    status: int,
    detail: str,
    *,
    request_id: str | None = None,
    fields: tuple[str, ...] | list[str] = (),
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 ``application/problem+json`` answer; the request id is quoted in ``detail`` and as a member."""
    rid = request_id or current_request_id()
    body: dict[str, Any] = {
        "type": problem_type(kind),
        "title": title(kind),
        "status": status,
        "detail": f"{detail} (request {rid})" if rid else detail,
        "kind": kind,
    }
    if fields:
        body["fields"] = list(fields)
    body.update(extra or {})
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class RequestContextMiddleware:
    """Outermost layer of an HTTP face: assigns the request id, writes one access-log line, counts rejections.

    The line says method, route (the path template when the face knows it, never the query string), status and
    duration; bodies and headers are never logged."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        _install_log_context()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        token = _request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            if self.metrics is not None and status == 401:
                self.metrics.reject("unauthorized")  # BearerAuthMiddleware answered
            if self.metrics is not None and status == 421:
                self.metrics.reject("host_not_allowed")  # the SDK's own Host check on /mcp
            route = scope["state"].get("route") or scope.get("path", "")
            access_log.info(
                "%s %s %d %.1f ms",
                scope.get("method", ""),
                route,
                status,
                elapsed,
                extra={"duration_ms": round(elapsed, 1)},
            )
            _request_id.reset(token)


class HostOriginCheck:
    """DNS-rebinding protection with the same allowed hosts and origins as the MCP transport (421 / 403 problems)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: TransportSecuritySettings,
        *,
        exempt: tuple[str, ...] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.exempt = exempt  # path prefixes checked by someone else (the SDK checks /mcp itself)
        self.metrics = metrics

    @staticmethod
    def _allowed(value: str, allowed: list[str]) -> bool:
        return value in allowed or any(a.endswith(":*") and value.startswith(a[:-1]) for a in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.settings.enable_dns_rebinding_protection
            or any(scope.get("path", "").startswith(p) for p in self.exempt)
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host, origin = headers.get("host", ""), headers.get("origin")
        problem = None
        if not host or not self._allowed(host, self.settings.allowed_hosts):
            problem = problem_response("host_not_allowed", 421, f"Host {host!r} is not served here")
        elif origin and not self._allowed(origin, self.settings.allowed_origins):
            problem = problem_response("host_not_allowed", 403, f"Origin {origin!r} is not allowed")
        if problem is None:
            await self.app(scope, receive, send)
            return
        if self.metrics is not None and problem.status_code == 403:
            self.metrics.reject("host_not_allowed")  # a 421 is counted by RequestContextMiddleware
        await problem(scope, receive, send)


# ------------------------------------------------------------------------------------------------------------ metrics


def _labels(**labels: str) -> str:
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


class Metrics:
    """Counters and the upstream latency histogram of one engine, rendered in the Prometheus text format."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rejections: Counter[str] = Counter()
        self._buckets: dict[str, list[int]] = {}
        self._sum: dict[str, float] = {}
        self._responses: Counter[tuple[str, str]] = Counter()
        for client in engine.clients.values():
            if getattr(client, "on_response", None) is None:
                client.on_response = self.observe

    def observe(self, namespace: str, operation: str, status: int, seconds: float) -> None:
        counts = self._buckets.setdefault(operation, [0] * (len(BUCKETS) + 1))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        counts[-1] += 1
        self._sum[operation] = self._sum.get(operation, 0.0) + seconds
        self._responses[(operation, f"{status // 100}xx")] += 1

    def reject(self, reason: str) -> None:
        self.rejections[reason] += 1

    def render(self) -> str:
        lines = [
            "# HELP hms_build_info The running hms-recordings version.",
            "# TYPE hms_build_info gauge",
            f"hms_build_info{_labels(version=__version__)} 1",
            "# HELP hms_tool_calls_total Tool calls by tool and outcome (ok, or the error kind), on every face.",
            "# TYPE hms_tool_calls_total counter",
        ]
        stats = sorted(self.engine.stats.items())
        lines += [f"hms_tool_calls_total{_labels(tool=tool, outcome=outcome)} {n}" for (tool, outcome), n in stats]
        lines += [
            "# HELP hms_upstream_request_duration_seconds Time from sending one upstream attempt to its answer.",
            "# TYPE hms_upstream_request_duration_seconds histogram",
        ]
        for operation in sorted(self._buckets):
            counts = self._buckets[operation]
            for bound, n in zip((*(f"{b:g}" for b in BUCKETS), "+Inf"), counts, strict=True):
                lines.append(
                    f"hms_upstream_request_duration_seconds_bucket{_labels(operation=operation, le=bound)} {n}"
                )
            lines.append(
                f"hms_upstream_request_duration_seconds_sum{_labels(operation=operation)} {self._sum[operation]:.6f}"
            )
            lines.append(f"hms_upstream_request_duration_seconds_count{_labels(operation=operation)} {counts[-1]}")
        lines += [
            "# HELP hms_upstream_responses_total Upstream answers by operation and status class.",
            "# TYPE hms_upstream_responses_total counter",
        ]
        for (operation, status), n in sorted(self._responses.items()):
            lines.append(f"hms_upstream_responses_total{_labels(operation=operation, status=status)} {n}")
        lines += [
            "# HELP hms_upstream_retries_total Upstream attempts repeated after a retryable failure.",
            "# TYPE hms_upstream_retries_total counter",
        ]
        for namespace, client in sorted(self.engine.clients.items()):
            lines.append(f"hms_upstream_retries_total{_labels(namespace=namespace)} {client.retries}")
        rejections = Counter(self.rejections)
        for (_tool, outcome), n in self.engine.stats.items():
            if outcome in ("invalid_arguments", "unknown_tool"):
                rejections["invalid_arguments"] += n
        lines += [
            "# HELP hms_rejections_total Requests refused before reaching the upstream, by reason.",
            "# TYPE hms_rejections_total counter",
        ]
        lines += [f"hms_rejections_total{_labels(reason=r)} {n}" for r, n in sorted(rejections.items())]
        return "\n".join(lines) + "\n"


_METRICS: weakref.WeakKeyDictionary[Engine, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(engine: Engine) -> Metrics:
    """The one :class:`Metrics` of an engine, shared by all the faces serving it."""
    metrics = _METRICS.get(engine)
    if metrics is None:
        metrics = _METRICS[engine] = Metrics(engine)
    return metrics


# ------------------------------------------------------------------------------------------------------------- health


def probe_operations(engine: Engine) -> list[str]:
    """Per consumed API, the first GET operation that needs no caller input: the readiness probe's one cheap read."""
    probes = []
    for api in engine.capability.consumes.values():
        for op in api.operations.values():
            needs_input = any(p.required or p.location == "path" for p in op.params if p.value is None)
            if op.method == "GET" and not needs_input:
                probes.append(op.key)
                break
    return probes


async def readiness(engine: Engine) -> tuple[list[str], ErrorInfo | None]:
    """Probe each consumed API once (no retries, bounded); the operations checked, and the first failure if any."""
    problems = engine.credential_problems()
    if problems:
        return [], ErrorInfo("credentials", "no upstream credentials: " + "; ".join(problems), 503)
    checked = probe_operations(engine)
    for key in checked:
        try:
            with anyio.fail_after(READY_TIMEOUT):
                await engine.send_operation(key, {}, safe_to_retry=False)
        except TimeoutError:
            return checked, ErrorInfo("upstream_timeout", f"{key} did not answer within {READY_TIMEOUT:g}s", 503)
        except Exception as exc:  # every failure is the answer, translated as for a tool
            info = failure_from_exception(exc, engine.redactor, tool=key)
            if info.upstream_status in (401, 403):
                info = ErrorInfo("credentials", f"the upstream refused our credential ({info.message})", 503)
            return checked, info
    return checked, None


def ops_routes(engine: Engine, metrics: Metrics | None = None) -> list[Route]:
    metrics = metrics or metrics_for(engine)

    async def live(request: Request) -> Response:
        return JSONResponse({"status": "live"})

    async def ready(request: Request) -> Response:
        checked, failure = await readiness(engine)
        if failure is None:
            return JSONResponse({"status": "ready", "checked": checked})
        return problem_response(failure.kind, 503, f"not ready: {failure.message}", extra={"checked": checked})

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ]


def control_expose(capability: Capability) -> tuple[str, int] | None:
    """``(address, port)`` of the capability's ``type: control`` expose, if it declares one."""
    return capability.control


def json_dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, default=str).encode()
