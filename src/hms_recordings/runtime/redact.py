"""Keep secrets out of everything we print or return.

A :class:`Redactor` knows the secret values in play and scrubs them from any text; it also masks anything shaped like
a bearer token, a JWT or a signed URL's query (AWS SigV4, Google Cloud Storage, Azure SAS, CloudFront, and a plain
``token=``), so that a secret we were never told about (say, one echoed back by an upstream, or a presigned URL of
another storage provider in a third-party library's debug line) does not slip through either.

Its cost is bounded however long the server runs (issue 13, item 1):

* *fixed* secrets (bound variables, the app secret, a given token) are few and known at start-up: one compiled
  alternation, rebuilt only when a new one is added;
* *minted* tokens arrive for as long as the server runs: the most recent :data:`DEFAULT_REMEMBERED` are kept (an
  older one has expired or been replaced long ago, and the JWT shape pattern masks any token anyway) and scrubbed
  with plain substring replacement, so learning one costs no compilation at all.

Text is always redacted *before* it is shortened (:meth:`Redactor.shorten`): a cut could split a secret so that
neither its value nor its shape matches any more, and most of its characters would show.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

__all__ = ["DEFAULT_REMEMBERED", "REDACTED", "RedactingFilter", "Redactor", "safe_arguments"]

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values would scrub ordinary words; nothing that short is a real credential
#: How many minted tokens are remembered by value (the most recent ones); see the module docstring.
DEFAULT_REMEMBERED = 64
#: Query parameters that carry a signature, a credential or a policy in a signed URL, by scheme:
#: AWS SigV4 (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token), GCS V4 (X-Goog-Signature, X-Goog-Credential)
#: and V2 (Signature, GoogleAccessId), Azure SAS (sig and its companions se, sv, sp, spr, st, skoid ...), CloudFront
#: (Signature, Key-Pair-Id, Policy), and the generic token/signature.
_SIGNED_PARAMS = (
    "x-amz-signature|x-amz-credential|x-amz-security-token|"
    "x-goog-signature|x-goog-credential|googleaccessid|"
    "sig|se|sv|sp|spr|st|srt|ss|skoid|sktid|skt|ske|sks|skv|"
    "signature|key-pair-id|policy|"
    "token|access_token"
)
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),  # a JWT
    # After ?, & or ; (also JSON-escaped as \u0026), the parameter name, then = (or %3D): the value up to the next
    # separator. A value is masked whatever its length: an Azure se= is short, and still says when access ends.
    re.compile(rf"(?i)((?:[?&;]|\\u0026)(?:{_SIGNED_PARAMS})(?:=|%3D))[^&;\s\"'<>\\]+"),
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = (), *, remembered: int = DEFAULT_REMEMBERED) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._minted: OrderedDict[str, None] = OrderedDict()
        self._remembered = max(1, remembered)
        self._linked: list[Redactor] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Remember more fixed secrets (bound variables, the app secret): few, known at start-up."""
        fresh = {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET}
        if not fresh - self._secrets:
            return
        with self._lock:
            self._secrets |= fresh
            ordered = sorted(self._secrets, key=len, reverse=True)  # longest first: a secret may contain another
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def remember(self, token: str) -> None:
        """Remember a minted token: no compilation, and only the most recent ``remembered`` are kept."""
        if not isinstance(token, str) or len(token) < _MIN_SECRET or token in self._secrets:
            return
        with self._lock:
            self._minted[token] = None
            self._minted.move_to_end(token)
            while len(self._minted) > self._remembered:
                self._minted.popitem(last=False)

    @property
    def size(self) -> int:
        """How many secrets are known by value (bounded: the fixed ones plus at most ``remembered`` tokens)."""
        return len(self._secrets) + len(self._minted)

    def merge(self, other: Redactor) -> None:
        """Also scrub every secret ``other`` knows, now and later (one log filter for several capabilities)."""
        if other is not self and other not in self._linked:
            self._linked.append(other)

    def _scrub_values(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        if self._minted:
            with self._lock:
                minted = list(self._minted)
            for token in reversed(minted):  # the newest first: the one most likely in play
                if token in text:
                    text = text.replace(token, REDACTED)
        for other in self._linked:
            text = other._scrub_values(text)
        return text

    def __call__(self, text: str) -> str:
        text = self._scrub_values(text)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text

    def shorten(self, text: str, limit: int, marker: str = "…") -> str:
        """Redact, then cut to ``limit`` characters (``marker`` included): never the other way round."""
        clean = self(text)
        if len(clean) <= limit:
            return clean
        return clean[: max(0, limit - len(marker))] + marker


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs every record (message, arguments and traceback) before any handler sees it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            formatter = logging.Formatter()
            message = f"{message}\n{formatter.formatException(record.exc_info)}"
            record.exc_info = None
            record.exc_text = None
        if record.stack_info:
            message = f"{message}\n{record.stack_info}"
            record.stack_info = None
        record.msg = self.redactor(message)
        record.args = None
        return True


#: Argument names whose values are never kept, whatever they hold.
_SECRET_NAME = re.compile(r"(?i)token|secret|passw|api.?key|auth|credential|signature|cookie")
_URL_QUERY = re.compile(r"^(https?://[^?#\s]*)[?#].*$", re.DOTALL)
_MAX_KEPT_TEXT = 512
_MAX_KEPT_DEPTH = 4


def safe_arguments(args: Any, redactor: Redactor, _depth: int = 0) -> Any:
    """Arguments as they may be written down (an audit trail): secret-named fields dropped to ``[redacted]``, a URL's
    query and fragment removed (a meeting URL may carry a token there), known secrets scrubbed, text and nesting
    bounded."""
    if _depth > _MAX_KEPT_DEPTH:
        return "[nested]"
    if isinstance(args, dict):
        return {
            str(k)[:64]: REDACTED if _SECRET_NAME.search(str(k)) else safe_arguments(v, redactor, _depth + 1)
            for k, v in list(args.items())[:50]
        }
    if isinstance(args, list | tuple):
        return [safe_arguments(v, redactor, _depth + 1) for v in list(args)[:50]]
    if isinstance(args, str):
        text = _URL_QUERY.sub(lambda m: m.group(1) + "?" + REDACTED, args)
        return redactor.shorten(text, _MAX_KEPT_TEXT + 1)  # redact, then cut (the marker counts in the limit)
    if args is None or isinstance(args, bool | int | float):
        return args
    return type(args).__name__
