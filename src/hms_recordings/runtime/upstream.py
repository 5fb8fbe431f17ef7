"""The upstream HTTP client: one pooled ``httpx2.AsyncClient`` per consumed API, and the only place where httpx2's
exceptions are translated into ours (:func:`translate_errors`).

Policy (``docs/reliability.md``):

* every call has connect, read, write and pool timeouts, and a total deadline across retries;
* a call is retried only when repeating it is harmless (``safe_to_retry``: GET, or declared idempotent), on a transport
  error, 429, 502, 503 or 504, with exponential backoff and full jitter, honouring ``Retry-After`` within the deadline;
* a 401/403 makes the credential source renew once (when it can) and the request is sent again: the upstream refused
  it, so nothing was done;
* at most ``max_concurrency`` requests are in flight per API;
* inbound headers are never forwarded: requests carry only what the capability declares.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import anyio
import httpx2

from hms_recordings.errors import (
    RateLimited,
    RetryBudgetExhausted,
    UpstreamConnectError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamTransportError,
)
from hms_recordings.runtime.observe import UpstreamObserver
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.request import PreparedRequest

__all__ = [
    "CredentialSource",
    "RetryPolicy",
    "Timeouts",
    "UpstreamClient",
    "UpstreamResponse",
    "translate_errors",
]

Sleep = Callable[[float], Awaitable[None]]
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_ERROR_TEXT = 300


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0

    def to_httpx(self) -> httpx2.Timeout:
        return httpx2.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class RetryPolicy:
    # Total attempts, the first included. Six, not four: with 30% of reads failing, four attempts lose 0.8% of
    # calls (0.3**4), six 0.07%. Regression test: tests/reliability/test_faults.py::test_every_read_tool_*
    attempts: int = 6
    backoff_base: float = 0.1
    backoff_max: float = 2.0
    deadline: float = 30.0  # seconds for all attempts together
    max_retry_after: float = 10.0  # a longer Retry-After is reported to the caller instead of waited for

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1))))


class CredentialSource(Protocol):
    """Adds credentials to a request; ``renew`` returns True when a fresh credential is worth one more try."""

    async def apply(self, headers: dict[str, str], query: list[tuple[str, str]]) -> None: ...

    async def renew(self) -> bool: ...

    def problem(self) -> str | None:
        """Why no credential can be sent (checked at start-up), or None when one can."""
        ...


@dataclass
class UpstreamResponse:
    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)
    attempts: int = 1
    elapsed: float = 0.0


@contextmanager
def translate_errors(operation: str, method: str, url: str) -> Iterator[None]:
    """Map httpx2's exceptions to ours. ``url`` must already be free of secrets (no query string)."""
    ctx = {"operation": operation, "method": method, "url": url}
    try:
        yield
    except httpx2.TimeoutException as exc:
        phase = {
            httpx2.ConnectTimeout: "connecting to",
            httpx2.ReadTimeout: "waiting for an answer from",
            httpx2.WriteTimeout: "sending the request to",
            httpx2.PoolTimeout: "waiting for a free connection to",
        }.get(type(exc), "calling")
        raise UpstreamTimeout(f"timed out {phase} the upstream ({method} {url})", **ctx) from None
    except httpx2.ConnectError as exc:
        reason = (
            "TLS handshake failed"
            if "SSL" in str(exc) or "certificate" in str(exc)
            else "connection refused or host unreachable"
        )
        raise UpstreamConnectError(f"cannot reach the upstream ({method} {url}): {reason}", **ctx) from None
    except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError, httpx2.CloseError) as exc:
        raise UpstreamConnectError(
            f"the upstream closed the connection without answering ({method} {url}): {exc.__class__.__name__}", **ctx
        ) from None
    except httpx2.TransportError as exc:
        raise UpstreamTransportError(
            f"transport error calling the upstream ({method} {url}): {exc.__class__.__name__}", **ctx
        ) from None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _decode(response: httpx2.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text


class UpstreamClient:
    def __init__(
        self,
        namespace: str,
        base_url: str,
        *,
        credentials: CredentialSource | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 32,
        transport: httpx2.AsyncBaseTransport | None = None,
        redactor: Redactor | None = None,
        seed: int | None = None,
        observers: Sequence[UpstreamObserver] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.namespace = namespace
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self.redact = redactor or Redactor()
        self._rng = random.Random(seed)
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._client = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=(timeouts or Timeouts()).to_httpx(),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "hms-recordings"},
            follow_redirects=False,
            trust_env=False,  # proxies or netrc from the environment must not see our credential
        )
        self.retries = 0
        # Seams: observers see every attempt (metrics subscribe here); the clock and the sleep make waits testable.
        self.observers = tuple(observers)
        self._clock = clock
        self._sleep_fn = sleep

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, request: PreparedRequest, *, operation: str, safe_to_retry: bool) -> UpstreamResponse:
        started = self._clock()
        deadline = started + self.retry.deadline
        attempts = 0
        renewed = False
        url = f"{self.base_url}{request.path}"
        while True:
            attempts += 1
            sent = self._clock()
            for observer in self.observers:
                observer.on_request(self.namespace, operation, request.method)
            try:
                response = await self._once(request, operation, url, deadline)
            except UpstreamTransportError as exc:
                if not safe_to_retry:
                    raise
                wait = self._next_wait(attempts, None, deadline)
                if wait is None:
                    raise self._exhausted(exc, attempts) from None
                await self._sleep(wait, operation, exc.__class__.__name__)
                continue
            status = response.status_code
            for observer in self.observers:
                observer.on_response(self.namespace, operation, status, self._clock() - sent)
            if status in (401, 403) and not renewed and self.credentials is not None:
                renewed = True
                if await self.credentials.renew():
                    attempts -= 1  # a refused credential is not a failed attempt
                    continue
            if status < 400:
                return UpstreamResponse(
                    status, _decode(response), dict(response.headers), attempts, self._clock() - started
                )
            error = self._status_error(response, operation, request.method, url)
            if safe_to_retry and status in RETRY_STATUSES:
                retry_after = (
                    error.retry_after
                    if isinstance(error, RateLimited)
                    else _retry_after(response.headers.get("retry-after"))
                )
                wait = self._next_wait(attempts, retry_after, deadline)
                if wait is not None:
                    await self._sleep(wait, operation, str(status))
                    continue
                if attempts > 1:
                    raise self._exhausted(error, attempts) from None
            raise error

    async def _once(self, request: PreparedRequest, operation: str, url: str, deadline: float) -> httpx2.Response:
        headers = dict(request.headers)
        query = list(request.query)
        if self.credentials is not None:
            await self.credentials.apply(headers, query)
        kwargs: dict[str, Any] = {"params": query or None, "headers": headers}
        if request.has_body:
            kwargs["json"] = request.json_body
        # The total deadline also bounds the attempt in flight (waiting for a concurrency slot included), not only
        # the pauses between attempts: a slow or dripping upstream cannot hold a caller past it.
        # Regression test: tests/reliability/test_retries.py::test_the_total_deadline_also_cuts_an_attempt_in_flight
        with anyio.move_on_after(max(0.0, deadline - self._clock())):
            async with self._limiter:
                with translate_errors(operation, request.method, url):
                    return await self._client.request(request.method, request.path, **kwargs)
        raise UpstreamTimeout(
            f"timed out: no answer from the upstream within the {self.retry.deadline:g}s deadline "
            f"({request.method} {url})",
            operation=operation,
            method=request.method,
            url=url,
        )

    def _next_wait(self, attempts: int, retry_after: float | None, deadline: float) -> float | None:
        if attempts >= self.retry.attempts:
            return None
        wait = self.retry.backoff(attempts, self._rng)
        if retry_after is not None:
            if retry_after > self.retry.max_retry_after:
                return None
            wait = max(wait, retry_after)
        if self._clock() + wait >= deadline:
            return None
        return wait

    async def _sleep(self, seconds: float, operation: str, reason: str) -> None:
        self.retries += 1
        for observer in self.observers:
            observer.on_retry(self.namespace, operation, reason)
        await self._sleep_fn(seconds)

    def _exhausted(self, last: UpstreamError, attempts: int) -> RetryBudgetExhausted:
        return RetryBudgetExhausted(
            f"{last.message}; gave up after {attempts} attempt{'s' if attempts != 1 else ''} within the "
            f"{self.retry.deadline:g}s retry budget",
            last=last,
            attempts=attempts,
            operation=last.operation,
            method=last.method,
            url=last.url,
        )

    def _status_error(self, response: httpx2.Response, operation: str, method: str, url: str) -> UpstreamStatusError:
        body = _decode(response)
        upstream_message = ""
        if isinstance(body, dict):
            upstream_message = str(body.get("message") or body.get("error") or "")
            details = body.get("details")
            if isinstance(details, list) and details:
                upstream_message += f" ({'; '.join(str(d) for d in details[:3])})"
        elif isinstance(body, str):
            upstream_message = body.strip()
        upstream_message = self.redact(upstream_message[:MAX_ERROR_TEXT])
        status = response.status_code
        text = f"upstream answered {status}" + (f": {upstream_message}" if upstream_message else "")
        ctx: dict[str, Any] = {
            "status": status,
            "upstream_message": upstream_message,
            "body": body,
            "operation": operation,
            "method": method,
            "url": url,
        }
        if status == 429:
            after = _retry_after(response.headers.get("retry-after"))
            hint = f"; retry after {after:g}s" if after is not None else "; retry later"
            if "retry after" in upstream_message.lower():
                hint = ""  # the upstream already said when
            return RateLimited(text + hint, retry_after=after, **ctx)
        return UpstreamStatusError(text, **ctx)
