"""Logging set-up: everything on stderr (stdout belongs to JSON-RPC on stdio), every record scrubbed of secrets.

``--json-logs`` (or ``HMS_RECORDINGS_JSON_LOGS=1``) writes one JSON object per line, with the writing process's
id (``pid``: with ``--workers`` several processes share one stderr, and the id says which worker served a call).
Every record written while an HTTP request is handled carries that request's id (``request_id``), read from
:func:`hms_recordings.faces.problems.current_request_id`, so an error a user reports can be found in the log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from hms_recordings.faces.problems import current_request_id
from hms_recordings.runtime.redact import RedactingFilter, Redactor

__all__ = ["CallLog", "JsonFormatter", "configure_logging", "install_request_ids"]

call_log = logging.getLogger("hms_recordings.calls")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key in ("request_id", "tool", "outcome", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        return json.dumps(entry, ensure_ascii=False)


class CallLog:
    """A :class:`~hms_recordings.runtime.observe.CallObserver` that writes one DEBUG line per finished invocation.

    Name, face, outcome and duration only: arguments and results are never logged (they may carry presigned URLs),
    and the line passes the redacting filter like every other."""

    def on_call(self, entry: str, face: str, outcome: str, seconds: float) -> None:
        if call_log.isEnabledFor(logging.DEBUG):
            ms = round(seconds * 1000, 1)
            extra = {"tool": entry, "outcome": outcome, "duration_ms": ms}
            call_log.debug("%s via %s: %s in %.1f ms", entry, face, outcome, ms, extra=extra)


def install_request_ids() -> None:
    """Give every log record the current request id (``record.request_id``), once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "hms_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        rid = current_request_id()
        if rid is not None:
            record.request_id = rid
        return record

    factory.hms_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str, redactor: Redactor, *, json_lines: bool = False) -> None:
    """Install one stderr handler on the root logger, with the redacting filter, replacing any earlier set-up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    install_request_ids()
    # uvicorn installs its own handlers; route them through ours so they are scrubbed too
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        log = logging.getLogger(name)
        log.handlers = []
        log.propagate = True
    # Any other library that installed a handler of its own (and may write at DEBUG what it sends and receives:
    # httpx2/httpcore2, mcp, sse-starlette) gets the same filter there too, so no handler writes an unscrubbed record.
    # Regression test: tests/reliability/test_upstream_secrets.py::test_at_debug_no_third_party_logger_*
    scrub = RedactingFilter(redactor)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        for other in getattr(logger, "handlers", ()):
            for old_filter in [f for f in other.filters if isinstance(f, RedactingFilter)]:
                other.removeFilter(old_filter)  # an earlier configure_logging's redactor may know fewer secrets
            other.addFilter(scrub)
