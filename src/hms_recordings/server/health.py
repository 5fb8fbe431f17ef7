"""``GET /health/live`` and ``GET /health/ready``, and the operations routes they belong to.

Live is 200 while the process serves and calls nothing. Ready is 200 only when each consumed API of each served file
answers one cheap read (the first ``GET`` operation that needs no caller input) with our credential accepted; else a
503 problem naming the reason. The probe is not retried and is bounded by :data:`READY_TIMEOUT`, so a load balancer's
check never hangs. A draining server (``SIGTERM`` received, :class:`Drain`) is not ready, without probing anything:
that is how a balancer learns to send it nothing new before its listeners close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hms_recordings.faces.problems import problem_response
from hms_recordings.runtime.outcome import ErrorInfo, failure_from_exception
from hms_recordings.runtime.service import CapabilityService
from hms_recordings.server.metrics import Metrics

__all__ = ["READY_TIMEOUT", "Drain", "operations_routes", "probe_operations", "readiness"]

READY_TIMEOUT = 5.0  # seconds for the readiness probe's one upstream read per consumed API


@dataclass
class Drain:
    """Whether this server is draining: set once, on ``SIGTERM``, and read by every readiness check."""

    draining: bool = False
    closes_in: float = 0.0  # seconds from the signal to the listeners' closing, for the 503's message

    def begin(self, grace: float) -> None:
        self.draining, self.closes_in = True, grace


def probe_operations(service: CapabilityService) -> list[str]:
    """Per consumed API, the first GET operation that needs no caller input: the probe's one cheap read."""
    probes = []
    for api in service.inventory.capability.consumes.values():
        for op in api.operations.values():
            needs_input = any(p.required or p.location == "path" for p in op.params if p.value is None)
            if op.method == "GET" and not needs_input:
                probes.append(op.key)
                break
    return probes


async def readiness(services: Sequence[CapabilityService]) -> tuple[list[str], ErrorInfo | None]:
    """Probe each consumed API once; the operations checked, and the first failure if any."""
    checked: list[str] = []
    for service in services:
        problems = service.credential_problems()
        if problems:
            return checked, ErrorInfo("credentials", "no upstream credentials: " + "; ".join(problems), 503)
        for key in probe_operations(service):
            checked.append(key)
            try:
                with anyio.fail_after(READY_TIMEOUT):
                    await service.invoker.upstreams.send_operation(key, {}, safe_to_retry=False)
            except TimeoutError:
                return checked, ErrorInfo("upstream_timeout", f"{key} did not answer within {READY_TIMEOUT:g}s", 503)
            except Exception as exc:  # every failure is the answer, translated as for a tool
                info = failure_from_exception(exc, service.redactor, tool=key)
                if info.upstream_status in (401, 403):
                    info = ErrorInfo("credentials", f"the upstream refused our credential ({info.message})", 503)
                return checked, info
    return checked, None


def operations_routes(
    services: Sequence[CapabilityService], metrics: Metrics, drain: Drain | None = None
) -> list[Route]:
    """``/health/live``, ``/health/ready`` and ``/metrics`` of one server (ready is false while ``drain`` is set)."""

    async def live(request: Request) -> Response:
        return JSONResponse({"status": "live"})

    async def ready(request: Request) -> Response:
        if drain is not None and drain.draining:
            message = f"not ready: draining (stopping; listeners close {drain.closes_in:g}s after the signal)"
            return problem_response("draining", 503, message, extra={"checked": []})
        checked, failure = await readiness(services)
        if failure is None:
            return JSONResponse({"status": "ready", "checked": checked})
        return problem_response(failure.kind, 503, f"not ready: {failure.message}", extra={"checked": checked})

    return [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        metrics.route(),
    ]
