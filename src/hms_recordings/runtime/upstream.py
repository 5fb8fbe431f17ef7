"""The upstream HTTP client: one pooled ``httpx2.AsyncClient`` per consumed API, and the only place where httpx2's
exceptions are translated into ours (:func:`translate_errors`).

Policy (``docs/reliability.md``):

* every call has connect, read, write and pool timeouts, and a total deadline across retries;
* a call is retried only when repeating it is harmless (``safe_to_retry``: GET, or declared idempotent), on a transport
  error, 429, 502, 503 or 504, with exponential backoff and full jitter, honouring ``Retry-After`` within the deadline;
* a 401 makes the credential source renew once (when it can) and the request is sent again: the upstream refused
  it, so nothing was done. A 403 never renews: the credential was understood and the action is forbidden, so a
  fresh credential cannot change the answer (and minting one per refusal would grow without bound);
* an answer is read as a stream and abandoned at ``max_response_bytes``; a redirect is an error naming the status
  and where it pointed (host only), never followed; a 2xx body that is not the JSON the operation declares is an
  error naming the content type and size;
* at most ``max_concurrency`` requests are in flight per API;
* inbound headers are never forwarded: requests carry only what the capability declares.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import httpx2

from hms_recordings.errors import (
    RateLimited,
    RetryBudgetExhausted,
    UpstreamAnswerError,
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
    "parse_retry_after",
    "translate_errors",
]

Sleep = Callable[[float], Awaitable[None]]
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_ERROR_TEXT = 300
#: The largest upstream answer read (``--max-response-bytes``). A 100ms page of 100 recordings with their assets is
#: well under 1 MiB; 8 MiB leaves room for any legitimate answer while bounding what one call can make us hold.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
#: The longest Retry-After we represent (one day): RFC 9110 allows any number of digits, and a float of 400 digits is
#: ``inf``, which no face can print as JSON or as a header.
MAX_RETRY_AFTER_SECONDS = 86_400.0
_DELAY_SECONDS = re.compile(r"([0-9]+)(\.[0-9]{1,9})?")


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
    # Total attempts, the first included. Twelve: at 30% 503 plus 10% 429, 40% of attempts fail, and a read is lost
    # only when all of them do (0.4**12 = 1.7e-5, so 1,000 reads lose none with 98% odds where six attempts lost
    # 4 in 1,000). The back-off cap of 1 s keeps a dead upstream's answer within ~5 s on average (docs/reliability.md).
    # Regression test: tests/reliability/test_upstream_answers.py::test_at_30_percent_503_*
    attempts: int = 12
    backoff_base: float = 0.1
    backoff_max: float = 1.0
    deadline: float = 30.0  # seconds for all attempts together
    max_retry_after: float = 10.0  # a longer Retry-After is reported to the caller instead of waited for

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1))))


class CredentialSource(Protocol):
    """Adds credentials to a request; ``renew`` returns True when a fresh credential is worth one more try."""

    async def apply(self, headers: dict[str, str], query: list[tuple[str, str]]) -> None: ...

    async def renew(self, refused: Mapping[str, str]) -> bool:
        """After a 401; ``refused`` are the headers the refused request carried (to renew at most once per token)."""
        ...

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


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as RFC 9110 §10.2.3 defines it: ``delay-seconds`` (digits only) or an HTTP-date.

    A decimal fraction (``0.75``) is tolerated, as the emulator sends for fast tests. Anything else (``inf``, ``1e999``,
    ``-5``, ``nan``, garbage) is no advice at all: None. A date in the past is 0; a value beyond a day is a day (the
    caller's deadline clamps further: a wait that would end past it is never started)."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 4096:
        return None
    match = _DELAY_SECONDS.fullmatch(text)
    if match:
        # Clamp the digits before converting: float("9" * 400) is inf.
        whole = int(match.group(1)) if len(match.group(1)) <= 12 else int(MAX_RETRY_AFTER_SECONDS)
        return min(float(f"{whole}{match.group(2) or ''}"), MAX_RETRY_AFTER_SECONDS)
    if len(text) > 64:
        return None  # no HTTP-date is that long
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None  # RFC 9110 dates are GMT; a date without a zone is not one
    delta = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(delta):
        return None
    return min(max(0.0, delta), MAX_RETRY_AFTER_SECONDS)


def _content_type(headers: Mapping[str, str]) -> str:
    return (headers.get("content-type") or "no content type").split(";")[0].strip() or "no content type"


def _decode(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return content.decode("utf-8", "replace")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _is_json(content: bytes) -> tuple[bool, Any]:
    """Strict JSON (RFC 8259): ``NaN`` and ``Infinity`` are refused, as no face could pass them on as JSON."""
    if not content.strip():
        return True, None
    try:
        return True, json.loads(content, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return False, None


@dataclass
class _Answer:
    """One upstream answer, read (and capped) before the connection is given back."""

    status_code: int
    headers: httpx2.Headers
    content: bytes


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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
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
        self.max_response_bytes = max_response_bytes
        self.redact = redactor or Redactor()
        self._rng = random.Random(seed)
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._client = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=(timeouts or Timeouts()).to_httpx(),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "hms-recordings"},
            follow_redirects=False,  # a redirect is reported, never followed (it would carry the credential along)
            trust_env=False,  # proxies or netrc from the environment must not see our credential
        )
        self.retries = 0
        # Seams: observers see every attempt (metrics subscribe here); the clock and the sleep make waits testable.
        self.observers = tuple(observers)
        self._clock = clock
        self._sleep_fn = sleep

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, request: PreparedRequest, *, operation: str, safe_to_retry: bool, expect_json: bool = True
    ) -> UpstreamResponse:
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
                response, used = await self._once(request, operation, url, deadline)
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
            # Only a 401 says the credential itself was not accepted; a 403 is a refusal a new token cannot change.
            # Regression test: tests/reliability/test_upstream_credentials.py::test_600_refused_starts_*
            if status == 401 and not renewed and self.credentials is not None:
                renewed = True
                if await self.credentials.renew(used):
                    attempts -= 1  # a refused credential is not a failed attempt
                    continue
            if 300 <= status < 400:
                raise self._redirect_error(response, operation, request.method, url)
            if status < 300:
                return UpstreamResponse(
                    status,
                    self._result(response, operation, request.method, url, expect_json),
                    dict(response.headers),
                    attempts,
                    self._clock() - started,
                )
            error = self._status_error(response, operation, request.method, url)
            if safe_to_retry and status in RETRY_STATUSES:
                retry_after = (
                    error.retry_after
                    if isinstance(error, RateLimited)
                    else parse_retry_after(response.headers.get("retry-after"))
                )
                wait = self._next_wait(attempts, retry_after, deadline)
                if wait is not None:
                    await self._sleep(wait, operation, str(status))
                    continue
                if attempts > 1:
                    raise self._exhausted(error, attempts) from None
            raise error

    async def fetch_link(self, url: str, *, max_bytes: int, operation: str) -> bytes:
        """GET a link the upstream handed out (a presigned download URL): no credential is sent with it (it may be
        another host), at most ``max_bytes`` are read, and errors name the link without its query (the signature)."""
        shown = url.split("?", 1)[0]
        if not url.startswith(("https://", "http://")):
            raise UpstreamTransportError("the upstream handed out a link that is not http(s)", operation=operation)
        deadline = self._clock() + self.retry.deadline
        with anyio.move_on_after(max(0.0, deadline - self._clock())):
            async with self._limiter:
                with translate_errors(operation, "GET", shown):
                    async with self._client.stream("GET", url, headers={"Accept": "*/*"}) as response:
                        if response.status_code >= 400:
                            raise UpstreamStatusError(
                                f"the download link answered {response.status_code} (GET {shown})",
                                status=response.status_code,
                                operation=operation,
                                method="GET",
                                url=shown,
                            )
                        chunks: list[bytes] = []
                        total = 0
                        async for chunk in response.aiter_bytes():
                            total += len(chunk)
                            if total > max_bytes:
                                raise UpstreamStatusError(
                                    f"the file behind the link is larger than {max_bytes} bytes (GET {shown})",
                                    status=413,
                                    operation=operation,
                                    method="GET",
                                    url=shown,
                                )
                            chunks.append(chunk)
                        return b"".join(chunks)
        raise UpstreamTimeout(
            f"timed out: the download link did not answer within {self.retry.deadline:g}s (GET {shown})",
            operation=operation,
            method="GET",
            url=shown,
        )

    async def relay(self, request: PreparedRequest, *, operation: str) -> UpstreamResponse:
        """One attempt, the answer as it came (any status; ``data`` is the body's bytes): a REST ``forward``.

        Credentials, timeouts, the concurrency limit, the size cap and the error translation are :meth:`send`'s;
        nothing is retried (a relayed request may not be safe to repeat) and a redirect is not followed."""
        started = self._clock()
        url = f"{self.base_url}{request.path}"
        for observer in self.observers:
            observer.on_request(self.namespace, operation, request.method)
        response, _used = await self._once(request, operation, url, started + self.retry.deadline)
        for observer in self.observers:
            observer.on_response(self.namespace, operation, response.status_code, self._clock() - started)
        kept = {k: v for k, v in response.headers.items() if k.lower() == "content-type"}
        return UpstreamResponse(response.status_code, response.content, kept, 1, self._clock() - started)

    async def _once(
        self, request: PreparedRequest, operation: str, url: str, deadline: float
    ) -> tuple[_Answer, dict[str, str]]:
        headers = dict(request.headers)
        query = list(request.query)
        if self.credentials is not None:
            await self.credentials.apply(headers, query)
        kwargs: dict[str, Any] = {"params": query or None, "headers": headers}
        if request.body is not None:
            kwargs["content"] = request.body.content
            if not any(name.lower() == "content-type" for name in headers):  # a declared header parameter wins
                headers["Content-Type"] = request.body.content_type
        elif request.has_body:
            kwargs["json"] = request.json_body
        # The total deadline also bounds the attempt in flight (waiting for a concurrency slot included), not only
        # the pauses between attempts: a slow or dripping upstream cannot hold a caller past it.
        # Regression test: tests/reliability/test_retries.py::test_the_total_deadline_also_cuts_an_attempt_in_flight
        with anyio.move_on_after(max(0.0, deadline - self._clock())):
            async with self._limiter:
                with translate_errors(operation, request.method, url):
                    outgoing = self._client.build_request(request.method, request.path, **kwargs)
                    response = await self._client.send(outgoing, stream=True)
                    try:
                        content = await self._read_capped(response, operation, request.method, url)
                    finally:
                        await response.aclose()
                    return _Answer(response.status_code, response.headers, content), headers
        raise UpstreamTimeout(
            f"timed out: no answer from the upstream within the {self.retry.deadline:g}s deadline "
            f"({request.method} {url})",
            operation=operation,
            method=request.method,
            url=url,
        )

    async def _read_capped(self, response: httpx2.Response, operation: str, method: str, url: str) -> bytes:
        """Read the body as it arrives and stop at the cap: a huge answer costs at most the cap in memory."""
        cap = self.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self._too_large(f"declares {int(declared)} bytes", operation, method, url)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise self._too_large("kept coming", operation, method, url)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, what: str, operation: str, method: str, url: str) -> UpstreamAnswerError:
        return UpstreamAnswerError(
            f"the upstream answer {what}: more than the {self.max_response_bytes} byte limit "
            f"(--max-response-bytes), so nothing past it was read ({method} {url})",
            operation=operation,
            method=method,
            url=url,
        )

    def _result(self, response: _Answer, operation: str, method: str, url: str, expect_json: bool) -> Any:
        if not expect_json:
            return _decode(response.content)
        ok, data = _is_json(response.content)
        if not ok:
            # A login page, a proxy's error page or a truncated document is not a result: without this, every mapped
            # field would read null and the call would look successful.
            raise UpstreamAnswerError(
                f"the upstream answered {response.status_code} with {len(response.content)} bytes of "
                f"{_content_type(response.headers)} that is not JSON, where the operation declares JSON "
                f"({method} {url})",
                operation=operation,
                method=method,
                url=url,
            )
        return data

    def _redirect_error(self, response: _Answer, operation: str, method: str, url: str) -> UpstreamStatusError:
        # The host only: a Location may carry a signed query or a token in its path, and neither is ours to print.
        location = response.headers.get("location", "")
        host = urlsplit(location).hostname if location else None
        where = f" to host {host}" if host else (" to a relative location" if location else " with no Location")
        status = response.status_code
        return UpstreamStatusError(
            f"upstream answered {status} (a redirect{where}); redirects are not followed, so the request was not "
            f"sent again and no credential went anywhere else ({method} {url})",
            status=status,
            operation=operation,
            method=method,
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

    def _status_error(self, response: _Answer, operation: str, method: str, url: str) -> UpstreamStatusError:
        body = _decode(response.content)
        upstream_message = ""
        if isinstance(body, dict):
            upstream_message = str(body.get("message") or body.get("error") or "")
            details = body.get("details")
            if isinstance(details, list) and details:
                upstream_message += f" ({'; '.join(str(d) for d in details[:3])})"
        elif isinstance(body, str):
            upstream_message = body.strip()
        # Redact, then cut: cutting first could split a secret so that its pattern no longer matches the remainder.
        # Regression test: tests/reliability/test_upstream_secrets.py::test_a_token_echoed_across_the_cut_*
        upstream_message = self.redact.shorten(upstream_message, MAX_ERROR_TEXT)
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
            after = parse_retry_after(response.headers.get("retry-after"))
            hint = f"; retry after {after:g}s" if after is not None else "; retry later"
            if "retry after" in upstream_message.lower():
                hint = ""  # the upstream already said when
            return RateLimited(text + hint, retry_after=after, **ctx)
        return UpstreamStatusError(text, **ctx)
