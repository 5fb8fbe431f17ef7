"""The reader's plumbing: walking plain YAML data while collecting findings with their YAML path and line.

The lenient reader of :mod:`hms_recordings.capability.loader` is assembled from three layers, each a module:
this base, :mod:`.read_tools` (tools, outputs, steps, extensions on tools) and :mod:`.read_consumes` (binds and
consumed APIs).
"""

from __future__ import annotations

from typing import Any

from hms_recordings.capability.model import (
    Tool,
)
from hms_recordings.capability.yamlsource import PathKey, YamlDoc
from hms_recordings.errors import Finding

__all__ = ["ReaderBase"]


class ReaderBase:
    """Walks the plain data once, collecting findings instead of stopping at the first one."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.findings: list[Finding] = []
        self.resource_tools: list[Tool] = []  # dynamic MCP resources, read as tools so their calls get checked
        self.forward_targets: list[tuple[str, PathKey]] = []  # REST forwards, checked once consumes are known

    def fail(self, path: PathKey, message: str, fix: str = "") -> None:
        self.findings.append(self.doc.finding(path, message, fix))

    def mapping(self, value: Any, path: PathKey, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, got {type(value).__name__}", "write it as `key: value` lines")
            return {}
        return value

    def seq(self, value: Any, path: PathKey, what: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"{what} must be a list, got {type(value).__name__}", "write it as `- item` lines")
            return []
        return value

    def text(self, node: dict[str, Any], key: str, path: PathKey, *, required: bool = False, default: str = "") -> str:
        value = node.get(key)
        if value is None:
            if required:
                self.fail((*path, key), f"`{key}` is required", f"add `{key}:`")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail((*path, key), f"`{key}` must be a string", f"write `{key}` as text (quote it)")
            return default
        return str(value)

    # ----------------------------------------------------------------------------------------------------------------
