"""MCP resources and prompts of a capability's MCP exposes, registered on the SDK's ``MCPServer``.

Resources (as the Java engine's ``ResourceHandler``):

* static, ``location: file:///…``: a directory gives one resource per file (``<uri>/<relative path>``, read on
  each ``resources/read``); a file gives one resource at ``uri``. Paths are resolved once at start-up and must stay
  inside the location (a symlink pointing out of it is skipped);
* dynamic, ``call`` + ``with`` (or ``steps``): the operation runs through the engine on every read, exactly as a
  tool would, and the result is returned as JSON text (``mimeType`` defaults to ``application/json``). A ``uri`` with
  ``{parameters}`` (``hms://recordings/{recording_id}``) becomes a resource template whose parameters are passed as
  arguments (so ``with: {recording_id: '{{recording_id}}'}`` or ``mcp-namespace.recording_id`` both work).

A failing read is an MCP error, never a crash: ``not_found`` and ``invalid_arguments`` (an id that cannot exist) become
the SDK's ``ResourceNotFoundError`` (-32602), anything else a ``ResourceError`` (-32603); the text always goes through
the engine's redactor.

Prompts: each ``template`` message's ``{{argument}}`` is replaced by the argument's text in one pass (a value that
itself contains ``{{…}}`` is not expanded again); a missing optional argument renders as empty text. Prompts never
see bound variables, so a template cannot reveal a secret. Roles other than ``assistant`` are sent as ``user``.
"""

from __future__ import annotations

import inspect
import mimetypes
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.prompts.base import Message, PromptArgument
from mcp.server.mcpserver.prompts.base import Prompt as SdkPrompt
from mcp.server.mcpserver.resources.types import FileResource

from hms_recordings.capability.loader import _Reader  # the loader's own reading of call/with/steps/outputs
from hms_recordings.capability.model import Prompt
from hms_recordings.capability.templates import Scope, Template
from hms_recordings.capability.yamlsource import YamlDoc
from hms_recordings.errors import CapabilityError, HmsRecordingsError
from hms_recordings.runtime.engine import Engine, Invocation, result_text
from hms_recordings.runtime.outcome import failure_from_exception

__all__ = ["register_resources_and_prompts"]

_URI_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EXTRA_TYPES = {".md": "text/markdown", ".yaml": "application/yaml", ".yml": "application/yaml"}


def register_resources_and_prompts(server: MCPServer[Any], engine: Engine) -> None:
    """Add every resource and prompt of the engine's MCP exposes to ``server``."""
    base = Path(engine.capability.file).resolve().parent if engine.capability.file else Path.cwd()
    for expose in engine.exposes:
        for raw in expose.resources:
            if "location" in raw:
                _add_static(server, raw, base)
            else:
                _add_dynamic(server, engine, raw, expose.namespace)
        for prompt in expose.prompts:
            server.add_prompt(_sdk_prompt(prompt))


# ------------------------------------------------------------------------------------------------------ static


def _local_path(location: str, base: Path) -> Path:
    """``file:///./x`` is relative to the capability file (as binds' locations), ``file:///x`` absolute."""
    raw = location.removeprefix("file://")
    if raw.startswith("/./"):
        return (base / raw.removeprefix("/./")).resolve()
    return Path(raw).resolve() if raw.startswith("/") else (base / raw).resolve()  # as the loader reads it


def _mime(path: Path, declared: Any) -> str:
    if isinstance(declared, str) and declared:
        return declared
    return _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _add_static(server: MCPServer[Any], raw: dict[str, Any], base: Path) -> None:
    root = _local_path(str(raw["location"]), base)
    uri, name = str(raw["uri"]).rstrip("/"), str(raw["name"])
    common = {"title": raw.get("label") or None, "description": raw.get("description") or None}
    if root.is_file():
        server.add_resource(
            FileResource(uri=uri, name=name, path=root, mime_type=_mime(root, raw.get("mimeType")), **common)
        )
        return
    if not root.is_dir():
        raise CapabilityError(f"resource {name}: location {raw['location']} is neither a file nor a directory")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        target = path.resolve()
        if not target.is_relative_to(root):
            continue  # a symlink leading out of the location is not served
        relative = path.relative_to(root).as_posix()
        server.add_resource(
            FileResource(
                uri=f"{uri}/{relative}",
                name=f"{name}/{relative}",
                path=target,
                mime_type=_mime(path, raw.get("mimeType")),
                **common,
            )
        )


# ------------------------------------------------------------------------------------------------------ dynamic


def _add_dynamic(server: MCPServer[Any], engine: Engine, raw: dict[str, Any], namespace: str) -> None:
    name = str(raw["name"])
    reader = _Reader(YamlDoc(raw, engine.capability.file))
    tool = engine.compile_tool(reader.tool({**raw, "name": name}, (), name_required=False), namespace)
    uri = str(raw["uri"])
    params = _URI_PARAM.findall(uri)

    async def read(**arguments: str) -> str:
        try:
            data = await Invocation(engine, tool, dict(arguments), None).default()
        except HmsRecordingsError as exc:
            info = failure_from_exception(exc, engine.redactor, tool=name)
            text = f"resource {name}: {info.kind}: {info.message}"
            # An id that does not exist and an id that cannot be one are both "no such resource" (-32602).
            missing = info.kind in ("not_found", "invalid_arguments")
            raise (ResourceNotFoundError(text) if missing else ResourceError(text)) from None
        return data if isinstance(data, str) else result_text(data)

    server.resource(
        uri,
        name=name,
        title=raw.get("label") or None,
        description=raw.get("description") or None,
        mime_type=str(raw.get("mimeType") or "application/json"),
    )(_with_parameters(read, name, params))


def _with_parameters(fn: Callable[..., Awaitable[str]], name: str, params: list[str]) -> Callable[..., Awaitable[str]]:
    """``fn(**kwargs)`` presented with one keyword parameter per URI template variable, as the SDK requires."""

    async def read(**arguments: str) -> str:
        return await fn(**arguments)

    read.__name__ = re.sub(r"\W", "_", name)
    read.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=str) for p in params],
        return_annotation=str,
    )
    read.__annotations__ = {**{p: str for p in params}, "return": str}
    return read


# ------------------------------------------------------------------------------------------------------ prompts


def _sdk_prompt(prompt: Prompt) -> SdkPrompt:
    messages = [
        ("assistant" if role == "assistant" else "user", Template.compile(text)) for role, text in prompt.template
    ]

    async def render(**arguments: Any) -> list[Message]:
        # No bindings in this scope: whatever a template names, a prompt never reveals a bound secret.
        scope = Scope(args={k: v for k, v in arguments.items() if v is not None})
        return [Message(template.render(scope), role=role) for role, template in messages]

    return SdkPrompt(
        name=prompt.name,
        title=prompt.label or None,
        description=prompt.description or None,
        arguments=[
            PromptArgument(name=a.name, description=a.description or None, required=a.required)
            for a in prompt.arguments
        ],
        fn=render,
        context_kwarg=None,  # the default, spelled out for mypy: rendering takes no Context
    )
