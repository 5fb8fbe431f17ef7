"""Keep secrets out of everything we print or return.

A :class:`Redactor` knows the secret values in play (bound variables, minted tokens, the app secret) and scrubs them
from any text; it also masks anything shaped like a bearer token, a JWT or a signed URL query, so that a secret we
were never told about (say, one echoed back by an upstream) does not slip through either.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "RedactingFilter", "Redactor", "safe_arguments"]

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values would scrub ordinary words; nothing that short is a real credential
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),  # a JWT
    re.compile(r"(?i)([?&](?:signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|token)=)[^&\s\"']+"),
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Remember more secrets (e.g. each newly minted token)."""
        fresh = {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET}
        if not fresh - self._secrets:
            return
        with self._lock:
            self._secrets |= fresh
            ordered = sorted(self._secrets, key=len, reverse=True)  # longest first: a secret may contain another
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def merge(self, other: Redactor) -> None:
        """Also scrub every secret ``other`` knows (one log filter for several capabilities)."""
        self.add(*other._secrets)

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text


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
        text = redactor(text)
        return text if len(text) <= _MAX_KEPT_TEXT else text[:_MAX_KEPT_TEXT] + "…"
    if args is None or isinstance(args, bool | int | float):
        return args
    return type(args).__name__
