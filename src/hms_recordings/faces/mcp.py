"""The MCP face: the engine's tools served by the official SDK's ``MCPServer``, over stdio or Streamable HTTP.

Each capability tool becomes an SDK ``Tool`` whose ``run`` goes straight to :meth:`Engine.call`; the SDK's own
signature-based validation is bypassed because the engine validates against the very schema it publishes.
Failures are results with ``isError: true`` carrying the taxonomy's text; an unknown tool is a JSON-RPC protocol error
(``-32602``), as the specification's examples show.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool as SdkTool
from mcp.server.mcpserver.utilities.func_metadata import func_metadata
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from hms_recordings import __version__
from hms_recordings.faces.mcp_extras import register_resources_and_prompts
from hms_recordings.runtime.engine import CompiledTool, Engine, result_text
from hms_recordings.runtime.outcome import Outcome

__all__ = ["CapabilityMCPServer", "build_mcp_server", "outcome_to_result", "tool_annotations"]


def _placeholder() -> None:
    """Stands in for the function the SDK's Tool model expects; capability tools never call it."""


_PLACEHOLDER_METADATA = func_metadata(_placeholder, structured_output=False)


def tool_annotations(tool: CompiledTool) -> ToolAnnotations | None:
    hints = tool.hints
    title = tool.tool.label
    if title is None and all(
        v is None for v in (hints.read_only, hints.destructive, hints.idempotent, hints.open_world)
    ):
        return None
    return ToolAnnotations(
        title=title,
        read_only_hint=hints.read_only,
        destructive_hint=hints.destructive,
        idempotent_hint=hints.idempotent,
        open_world_hint=hints.open_world,
    )


def outcome_to_result(outcome: Outcome) -> CallToolResult:
    if outcome.error is not None:
        text = f"{outcome.error.kind}: {outcome.error.message}"
        structured = {"error": outcome.error.as_dict()}
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=structured, is_error=True
        )
    data = outcome.data
    structured = data if isinstance(data, dict) else {"result": data}
    text = outcome.text if outcome.text is not None else result_text(data)
    if outcome.notes:
        text += "\n\n" + "\n".join(outcome.notes)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


class CapabilityTool(SdkTool):
    """An SDK tool whose body is the engine's invocation path."""

    compiled: Any = Field(default=None, exclude=True)
    engine: Any = Field(default=None, exclude=True)
    published_output_schema: dict[str, Any] | None = Field(default=None, exclude=True)

    @property
    def output_schema(self) -> dict[str, Any] | None:  # type: ignore[override]
        return self.published_output_schema

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        last: float | None = None

        async def progress(done: float, total: float | None, message: str | None) -> None:
            # MCP requires the progress value to increase with every notification; handlers may report the same
            # stage several times while polling (hms-wait-for-recording does), so only increases go on the wire.
            nonlocal last
            if last is not None and done <= last:
                return
            last = done
            await context.report_progress(done, total, message)

        engine: Engine = self.engine
        return outcome_to_result(await engine.call(self.name, arguments, progress=progress))

    @classmethod
    def from_compiled(cls, engine: Engine, tool: CompiledTool) -> CapabilityTool:
        return cls(
            fn=_placeholder,
            name=tool.name,
            title=tool.tool.label,
            description=tool.tool.description,
            parameters=tool.input_schema,
            fn_metadata=_PLACEHOLDER_METADATA,
            is_async=True,
            context_kwarg=None,  # the default, spelled out for mypy: the engine takes no Context argument
            annotations=tool_annotations(tool),
            compiled=tool,
            engine=engine,
            published_output_schema=tool.output_schema,
        )


class CapabilityMCPServer(MCPServer[Any]):
    """``MCPServer`` where asking for a tool or prompt that is not served is a ``-32602`` protocol error."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> Any:
        if self._tool_manager.get_tool(name) is None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Unknown tool: {name}",
                data={"available": [t.name for t in self._tool_manager.list_tools()]},
            )
        return await super().call_tool(name, arguments, context)

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> Any:
        # The SDK raises ValueError for an unknown prompt, which reaches the client as error code 0 on the
        # 2025 wire and as -32603 "Internal server error" (with a logged traceback) on 2026-07-28; the
        # specification's answer is -32602. Found by the conformance suite's prompts-get-* scenarios.
        if self._prompt_manager.get_prompt(name) is None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Unknown prompt: {name}",
                data={"available": [p.name for p in self._prompt_manager.list_prompts()]},
            )
        return await super().get_prompt(name, arguments, context)


def build_mcp_server(engine: Engine, *, log_level: str = "WARNING") -> CapabilityMCPServer:
    expose = engine.exposes[0] if engine.exposes else None
    name = expose.namespace if expose else "hms-recordings"
    instructions = expose.description if expose and expose.description else engine.capability.description
    tools: list[SdkTool] = [CapabilityTool.from_compiled(engine, t) for t in engine.tools.values()]
    server = CapabilityMCPServer(
        name=name,
        title=engine.capability.label or None,
        instructions=instructions or None,
        version=__version__,
        tools=tools,
        log_level=log_level,  # type: ignore[arg-type]
    )
    register_resources_and_prompts(server, engine)
    return server


def describe_tools(engine: Engine) -> list[dict[str, Any]]:
    """The tool surface as MCP ``tools/list`` shows it (used by ``tools --json`` and the snapshot)."""
    out = []
    for tool in engine.tools.values():
        annotations = tool_annotations(tool)
        entry: dict[str, Any] = {"name": tool.name}
        if tool.tool.label:
            entry["title"] = tool.tool.label
        entry["description"] = tool.tool.description
        entry["inputSchema"] = tool.input_schema
        entry["outputSchema"] = tool.output_schema
        if annotations is not None:
            entry["annotations"] = json.loads(annotations.model_dump_json(by_alias=True, exclude_none=True))
        out.append(entry)
    return out
