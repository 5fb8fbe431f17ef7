"""Prometheus metrics of one server, with ``prometheus_client`` and one :class:`CollectorRegistry` per server.

A :class:`Metrics` is both an :class:`~hms_recordings.runtime.observe.UpstreamObserver` and a
:class:`~hms_recordings.runtime.observe.CallObserver`: it is handed to the runtime in ``UpstreamSettings.observers``
and ``InvokerSettings.observers``, so nothing is patched onto clients and no module-level table maps engines to
counters. Several servers in one process (``serve A.yaml B.yaml``, tests) each keep their own registry.

| metric | labels | what |
|---|---|---|
| ``hms_build_info`` | version | 1, the running version |
| ``hms_tool_calls_total`` | tool, outcome, face | finished invocations (tools, resource reads, REST operations) |
| ``hms_upstream_request_duration_seconds`` | operation | histogram: one upstream attempt, sent to answered |
| ``hms_upstream_responses_total`` | operation, status | answers by status class (``2xx``...) |
| ``hms_upstream_retries_total`` | namespace | attempts repeated after a retryable failure |
| ``hms_rejections_total`` | reason | requests refused before reaching the upstream |
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hms_recordings import __version__

__all__ = ["BUCKETS", "CONTENT_TYPE", "Metrics"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The classic text format: every Prometheus server and scraper reads it.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: Outcomes that mean the caller's request was refused before anything went upstream.
_REFUSED = frozenset({"invalid_arguments", "unknown_tool"})


class Metrics:
    """The counters and histogram of one server (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        build = Gauge("hms_build_info", "The running hms-recordings version.", ["version"], registry=self.registry)
        build.labels(version=__version__).set(1)
        self.calls = Counter(
            "hms_tool_calls",
            "Tool calls by tool, outcome (ok, or the error kind) and face.",
            ["tool", "outcome", "face"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hms_upstream_request_duration_seconds",
            "Time from sending one upstream attempt to its answer.",
            ["operation"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.responses = Counter(
            "hms_upstream_responses",
            "Upstream answers by operation and status class.",
            ["operation", "status"],
            registry=self.registry,
        )
        self.retries = Counter(
            "hms_upstream_retries",
            "Upstream attempts repeated after a retryable failure.",
            ["namespace"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "hms_rejections",
            "Requests refused before reaching the upstream, by reason.",
            ["reason"],
            registry=self.registry,
        )

    def prepare(self, namespaces: Iterable[str]) -> None:
        """Show a zero for every consumed API's retries from the start (a scrape then sees the series exist)."""
        for namespace in namespaces:
            self.retries.labels(namespace=namespace)

    # UpstreamObserver
    def on_request(self, namespace: str, operation: str, method: str) -> None:
        """Nothing to count per attempt sent: the answer (or the retry) is what is counted."""

    def on_response(self, namespace: str, operation: str, status: int, seconds: float) -> None:
        self.latency.labels(operation=operation).observe(seconds)
        self.responses.labels(operation=operation, status=f"{status // 100}xx").inc()

    def on_retry(self, namespace: str, operation: str, reason: str) -> None:
        self.retries.labels(namespace=namespace).inc()

    # CallObserver
    def on_call(self, entry: str, face: str, outcome: str, seconds: float) -> None:
        self.calls.labels(tool=entry, outcome=outcome, face=face).inc()
        if outcome in _REFUSED:
            self.rejections.labels(reason="invalid_arguments").inc()

    # the HTTP middleware
    def reject(self, reason: str) -> None:
        self.rejections.labels(reason=reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def route(self) -> Route:
        """``GET /metrics``."""

        async def metrics_text(request: Request) -> Response:
            return Response(self.render(), media_type=CONTENT_TYPE)

        return Route("/metrics", metrics_text, methods=["GET"])
