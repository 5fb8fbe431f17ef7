"""Observer interfaces: what metrics (or anything else) can subscribe to without the runtime knowing about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ActionObserver", "ActionRecord", "CallObserver", "UpstreamObserver"]


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


@dataclass(frozen=True)
class ActionRecord:
    """One finished call of an entry that is not read-only (it may have changed state upstream).

    ``arguments`` are already cleaned of secrets; ``request_ids`` are the upstream's own request ids, in the order
    the upstream answered, when it sends any."""

    entry: str
    face: str
    caller: str | None
    client: str | None
    arguments: dict[str, Any]
    outcome: str  # ``ok`` or an error kind
    request_ids: tuple[str, ...]
    seconds: float
    #: The result's own top-level ids (``id``, ``room_id``, ``recording_id``) when they are text: a start names the
    #: recording it made only in its result.
    result_ids: dict[str, str] | None = None


class ActionObserver(Protocol):
    """Told about every finished call of a state-changing entry (an audit trail subscribes here)."""

    def on_action(self, record: ActionRecord) -> None: ...
