"""The narrow service every face depends on: list, call, read (and prompts, REST entries, readiness).

Faces (MCP, REST, CLI, skill) never see the inventory's internals, the upstream clients or the secrets: they ask the
service. A :class:`Service` is one capability's selected inventory plus its invoker; :class:`CombinedService` serves
several capabilities as one (``serve --single-port``), refusing a name served twice.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hms_recordings import __version__
from hms_recordings.capability.model import Prompt
from hms_recordings.capability.templates import Scope, Template
from hms_recordings.errors import CapabilityError, ConfigError, UnknownToolError
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.inventory import ForwardEntry, Inventory, RestEntry
from hms_recordings.runtime.invoker import CallContext, Invoker, InvokerSettings
from hms_recordings.runtime.outcome import ErrorInfo, Outcome, failure_from_exception
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.upstreams import RelayRequest, Upstreams, UpstreamSettings

__all__ = [
    "CapabilityService",
    "CombinedService",
    "FileResource",
    "RenderedPrompt",
    "Service",
    "ServiceInfo",
    "UnknownPromptError",
    "UnknownResourceError",
    "build_service",
]

_URI_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EXTRA_TYPES = {".md": "text/markdown", ".yaml": "application/yaml", ".yml": "application/yaml"}


class UnknownResourceError(LookupError):
    """No resource of the service has this URI (a protocol error on MCP, not a tool error)."""


class UnknownPromptError(LookupError):
    """No prompt of the service has this name."""


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    title: str | None
    instructions: str | None
    version: str = __version__
    description: str | None = None  # the capability's own description (the OpenAPI document's, the skill's)


@dataclass(frozen=True)
class FileResource:
    uri: str
    name: str
    path: Path
    mime_type: str
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class RenderedPrompt:
    description: str | None
    messages: tuple[tuple[str, str], ...]  # (role, text)


@dataclass(frozen=True)
class Relayed:
    """What a REST ``forward`` answers: the upstream's status, content type and body, or the error that stopped it."""

    status: int = 0
    content_type: str | None = None
    content: bytes = b""
    error: ErrorInfo | None = None


class Service(Protocol):
    """What a face may ask."""

    @property
    def info(self) -> ServiceInfo: ...

    def tools(self) -> Sequence[CompiledTool]: ...

    def tool(self, name: str) -> CompiledTool | None: ...

    async def call(self, name: str, arguments: Any, context: CallContext | None = None) -> Outcome: ...

    async def call_entry(self, entry: CompiledTool, arguments: Any, context: CallContext | None = None) -> Outcome: ...

    def files(self) -> Sequence[FileResource]: ...

    def dynamic_resources(self) -> Sequence[CompiledTool]: ...

    async def read(self, uri: str, context: CallContext | None = None) -> tuple[Outcome, str]: ...

    def prompts(self) -> Sequence[Prompt]: ...

    def render_prompt(self, name: str, arguments: dict[str, Any] | None) -> RenderedPrompt: ...

    def rest_entries(self) -> Sequence[RestEntry]: ...

    def forwards(self) -> Sequence[ForwardEntry]: ...

    async def relay(self, entry: ForwardEntry, request: RelayRequest) -> Relayed: ...

    @property
    def redactor(self) -> Redactor: ...


def _uri_pattern(uri: str, *, loose: bool = False) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A URI template as a regex: a parameter matches one segment's worth of text, or with ``loose`` anything.

    The loose form is tried when no template matches strictly, so that ``hms://recordings/../x`` reaches the invoker
    and is refused in the tool's own words instead of reading as an unknown resource."""
    names = tuple(_URI_PARAM.findall(uri))
    parts = _URI_PARAM.split(uri)
    # split() alternates literal text and parameter names.
    value = ".+" if loose else "[^/]*"
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>{value})" for i, part in enumerate(parts))
    return re.compile(regex + r"\Z"), names


def _local_path(location: str, base: Path) -> Path:
    """``file:///./x`` is relative to the capability file (as binds' locations), ``file:///x`` absolute."""
    raw = location.removeprefix("file://")
    if raw.startswith("/./"):
        return (base / raw.removeprefix("/./")).resolve()
    return Path(raw).resolve() if raw.startswith("/") else (base / raw).resolve()


def _mime(path: Path, declared: Any) -> str:
    if isinstance(declared, str) and declared:
        return declared
    return _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _files(inventory: Inventory) -> list[FileResource]:
    """Static resources resolved on the file system (at start-up: this is I/O, kept out of compiling)."""
    base = Path(inventory.capability.file).resolve().parent if inventory.capability.file else Path.cwd()
    out: list[FileResource] = []
    for static in inventory.static_resources:
        raw = static.raw
        root = _local_path(str(raw["location"]), base)
        uri, name = str(raw["uri"]).rstrip("/"), str(raw["name"])
        common = {"title": raw.get("label") or None, "description": raw.get("description") or None}
        if root.is_file():
            out.append(FileResource(uri, name, root, _mime(root, raw.get("mimeType")), **common))
            continue
        if not root.is_dir():
            raise CapabilityError(f"resource {name}: location {raw['location']} is neither a file nor a directory")
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            target = path.resolve()
            if not target.is_relative_to(root):
                continue  # a symlink leading out of the location is not served
            relative = path.relative_to(root).as_posix()
            out.append(
                FileResource(
                    f"{uri}/{relative}", f"{name}/{relative}", target, _mime(path, raw.get("mimeType")), **common
                )
            )
    return out


class CapabilityService:
    """One capability, selected and served."""

    def __init__(self, inventory: Inventory, invoker: Invoker) -> None:
        self.inventory = inventory
        self.invoker = invoker
        expose = inventory.exposes[0] if inventory.exposes else None
        capability = inventory.capability
        self._info = ServiceInfo(
            name=expose.namespace if expose else "hms-recordings",
            title=capability.label or None,
            instructions=(expose.description if expose and expose.description else capability.description) or None,
            description=capability.description or None,
        )
        self._files = _files(inventory)
        self._by_uri = {f.uri: f for f in self._files}
        self._templates = [(_uri_pattern(r.uri or ""), r) for r in inventory.resources]
        self._templates += [
            (_uri_pattern(r.uri or "", loose=True), r) for r in inventory.resources if "{" in (r.uri or "")
        ]
        self._prompts = {p.name: p for p in inventory.prompts}

    @property
    def info(self) -> ServiceInfo:
        return self._info

    @property
    def redactor(self) -> Redactor:
        return self.invoker.redactor

    def tools(self) -> Sequence[CompiledTool]:
        return list(self.inventory.tools.values())

    def tool(self, name: str) -> CompiledTool | None:
        return self.inventory.tools.get(name)

    async def call(self, name: str, arguments: Any, context: CallContext | None = None) -> Outcome:
        entry = self.inventory.tools.get(name)
        if entry is None:
            exc = UnknownToolError(f"unknown tool {name!r}; available: {', '.join(self.inventory.tools)}", [], name)
            outcome = Outcome(name, None, failure_from_exception(exc, self.redactor, tool=name))
            self.invoker.record(outcome, (context or CallContext()).face, self.invoker.upstreams.clock())
            return outcome
        return await self.invoker.call(entry, arguments, context)

    async def call_entry(self, entry: CompiledTool, arguments: Any, context: CallContext | None = None) -> Outcome:
        return await self.invoker.call(entry, arguments, context)

    def files(self) -> Sequence[FileResource]:
        return list(self._files)

    def dynamic_resources(self) -> Sequence[CompiledTool]:
        return list(self.inventory.resources)

    async def read(self, uri: str, context: CallContext | None = None) -> tuple[Outcome, str]:
        """Read a resource: a file's text, or a dynamic resource run through the invoker like a tool.

        Returns the outcome and the MIME type; :class:`UnknownResourceError` when no resource has that URI."""
        static = self._by_uri.get(uri)
        if static is not None:
            try:
                text = static.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                error = ErrorInfo(
                    "internal_error", f"resource {static.name} cannot be read: {exc.__class__.__name__}", 500
                )
                return Outcome(static.name, None, error), static.mime_type
            return Outcome(static.name, text, None, (), text), static.mime_type
        for (pattern, names), entry in self._templates:
            match = pattern.match(uri)
            if match is None:
                continue
            base = context or CallContext(face="resource")
            text_context = CallContext(
                face=base.face, progress=base.progress, text_fields=frozenset(names), caller=base.caller
            )
            mime = _resource_mime(entry)
            return await self.invoker.call(entry, dict(match.groupdict()), text_context), mime
        raise UnknownResourceError(uri)

    def prompts(self) -> Sequence[Prompt]:
        return list(self._prompts.values())

    def render_prompt(self, name: str, arguments: dict[str, Any] | None) -> RenderedPrompt:
        prompt = self._prompts.get(name)
        if prompt is None:
            raise UnknownPromptError(name)
        given = {k: v for k, v in (arguments or {}).items() if v is not None}
        missing = [a.name for a in prompt.arguments if a.required and a.name not in given]
        if missing:
            raise ValueError(f"prompt {name} needs {', '.join(missing)}")
        # No bindings in this scope: whatever a template names, a prompt never reveals a bound secret.
        scope = Scope(args=given)
        messages = tuple(
            ("assistant" if role == "assistant" else "user", Template.compile(text).render(scope))
            for role, text in prompt.template
        )
        return RenderedPrompt(prompt.description or None, messages)

    def rest_entries(self) -> Sequence[RestEntry]:
        return list(self.inventory.rest)

    def forwards(self) -> Sequence[ForwardEntry]:
        return list(self.inventory.forwards)

    async def relay(self, entry: ForwardEntry, request: RelayRequest) -> Relayed:
        """Relay one request to the forward's consumed API; every failure is an :class:`ErrorInfo`, as for a tool."""
        try:
            answer = await self.invoker.upstreams.relay(entry.forward.target, request)
        except Exception as exc:
            return Relayed(error=failure_from_exception(exc, self.redactor, tool=f"forward {entry.resource.path}"))
        return Relayed(answer.status, answer.headers.get("content-type"), answer.data)

    def credential_problems(self) -> list[str]:
        return self.invoker.upstreams.credential_problems()

    async def aclose(self) -> None:
        await self.invoker.upstreams.aclose()

    async def __aenter__(self) -> CapabilityService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _resource_mime(entry: CompiledTool) -> str:
    return entry.mime_type or "application/json"


class CombinedService:
    """Several services as one (one MCP server for several files); every tool, resource and prompt name once."""

    def __init__(self, services: Sequence[tuple[str, CapabilityService]]) -> None:
        self.services = [s for _file, s in services]
        self._tools: dict[str, CapabilityService] = {}
        self._prompts: dict[str, CapabilityService] = {}
        owners: dict[str, str] = {}
        for file, service in services:
            for tool in service.tools():
                if tool.name in owners:
                    raise ConfigError(f"tool {tool.name} is served by both {owners[tool.name]} and {file}")
                owners[tool.name] = file
                self._tools[tool.name] = service
            for prompt in service.prompts():
                if prompt.name in self._prompts:
                    raise ConfigError(f"prompt {prompt.name} is served by two files (the second: {file})")
                self._prompts[prompt.name] = service
        first = self.services[0].info if self.services else ServiceInfo("hms-recordings", None, None)
        self._info = ServiceInfo("hms-recordings", first.title if len(self.services) == 1 else None, None)

    @property
    def info(self) -> ServiceInfo:
        return self._info

    @property
    def redactor(self) -> Redactor:
        combined = Redactor()
        for service in self.services:
            combined.merge(service.redactor)
        return combined

    def tools(self) -> Sequence[CompiledTool]:
        return [t for s in self.services for t in s.tools()]

    def tool(self, name: str) -> CompiledTool | None:
        owner = self._tools.get(name)
        return owner.tool(name) if owner else None

    async def call(self, name: str, arguments: Any, context: CallContext | None = None) -> Outcome:
        owner = self._tools.get(name) or (self.services[0] if self.services else None)
        assert owner is not None
        return await owner.call(name, arguments, context)

    async def call_entry(self, entry: CompiledTool, arguments: Any, context: CallContext | None = None) -> Outcome:
        return await self._owner_of(entry).call_entry(entry, arguments, context)

    def _owner_of(self, entry: CompiledTool) -> CapabilityService:
        """The service that compiled ``entry`` (by identity): a REST-only operation or a resource has no MCP name to
        look up, and run on another file's invoker it would find neither its upstream nor its credentials."""
        for service in self.services:
            inventory = service.inventory
            if (
                inventory.tools.get(entry.name) is entry
                or any(e.tool is entry for e in inventory.rest)
                or any(r is entry for r in inventory.resources)
            ):
                return service
        return self._tools.get(entry.name) or self.services[0]

    def files(self) -> Sequence[FileResource]:
        return [f for s in self.services for f in s.files()]

    def dynamic_resources(self) -> Sequence[CompiledTool]:
        return [r for s in self.services for r in s.dynamic_resources()]

    async def read(self, uri: str, context: CallContext | None = None) -> tuple[Outcome, str]:
        for service in self.services:
            try:
                return await service.read(uri, context)
            except UnknownResourceError:
                continue
        raise UnknownResourceError(uri)

    def prompts(self) -> Sequence[Prompt]:
        return [p for s in self.services for p in s.prompts()]

    def render_prompt(self, name: str, arguments: dict[str, Any] | None) -> RenderedPrompt:
        owner = self._prompts.get(name)
        if owner is None:
            raise UnknownPromptError(name)
        return owner.render_prompt(name, arguments)

    def rest_entries(self) -> Sequence[RestEntry]:
        return [e for s in self.services for e in s.rest_entries()]

    def forwards(self) -> Sequence[ForwardEntry]:
        return [e for s in self.services for e in s.forwards()]

    async def relay(self, entry: ForwardEntry, request: RelayRequest) -> Relayed:
        owner = next(s for s in self.services if entry in s.forwards())
        return await owner.relay(entry, request)


def build_service(
    inventory: Inventory,
    upstream_settings: UpstreamSettings | None = None,
    invoker_settings: InvokerSettings | None = None,
) -> CapabilityService:
    """A service over an (already selected) inventory: upstream clients and credentials are built here, at run time.

    ``upstream_settings``: :class:`~hms_recordings.runtime.upstreams.UpstreamSettings`; ``invoker_settings``:
    :class:`~hms_recordings.runtime.invoker.InvokerSettings`. Close it with ``await service.aclose()``."""
    upstreams = Upstreams(inventory.capability, inventory.plans, upstream_settings)
    return CapabilityService(inventory, Invoker(inventory, upstreams, invoker_settings))
