"""Logging set-up: everything on stderr (stdout belongs to JSON-RPC on stdio), every record scrubbed of secrets.

``--json-logs`` (or ``HMS_RECORDINGS_JSON_LOGS=1``) writes one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from hms_recordings.runtime.redact import RedactingFilter, Redactor

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "tool", "outcome", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        return json.dumps(entry, ensure_ascii=False)


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
    # uvicorn installs its own handlers; route them through ours so they are scrubbed too
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        log = logging.getLogger(name)
        log.handlers = []
        log.propagate = True
