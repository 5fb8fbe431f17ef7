"""Observer interfaces: what metrics (or anything else) can subscribe to without the runtime knowing about them."""

from __future__ import annotations

from typing import Protocol

__all__ = ["CallObserver", "UpstreamObserver"]


class UpstreamObserver(Protocol):
    """Told about every upstream attempt of every consumed API."""

    def on_request(self, namespace: str, operation: str, method: str) -> None:
        """An attempt is about to be sent."""

    def on_response(self, namespace: str, operation: str, status: int, seconds: float) -> None:
        """An attempt was answered with ``status`` after ``seconds``."""

    def on_retry(self, namespace: str, operation: str, reason: str) -> None:
        """An attempt failed with a retryable ``reason`` (a status or an exception name) and will be repeated."""


class CallObserver(Protocol):
    """Told about every finished invocation (tool call, resource read, REST operation) on every face."""

    def on_call(self, entry: str, face: str, outcome: str, seconds: float) -> None:
        """``entry`` (a tool, resource or operation name) ended with ``outcome`` (``ok`` or an error kind)."""
