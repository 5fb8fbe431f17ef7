"""``hms-recordings serve A.yaml B.yaml …``: several capability files served by one process.

Every file keeps its own engine: its namespace, bindings, upstreams and tools. Two layouts:

* **one MCP server per file** (the default), each on the port its configuration gives (``--port`` > environment >
  the file's ``exposes[mcp].port``). The APIs.io 100ms files all claim 9090, so the ports are checked *before*
  anything starts, and a clash is a :class:`ConfigError` naming the files and the way out;
* **one server for all** (``--single-port``, and the only choice over stdio): every file's tools, resources and
  prompts on one MCP server, on ``--port`` or the first file's port. A tool, prompt or resource name served by two
  files is an error naming both: names are never silently changed.

``--upstream NS=URL`` and ``--tools a,b`` apply to the files that consume ``NS`` or define the tool; a namespace or
tool that no file has is an error. ``--emulator`` starts one emulator shared by every file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Literal, cast

import anyio
from mcp.server.mcpserver.tools import Tool as SdkTool
from starlette.types import ASGIApp

from hms_recordings import __version__
from hms_recordings.capability.loader import load_file
from hms_recordings.capability.model import Capability
from hms_recordings.config import ENV_PREFIX, ServeConfig, parse_upstreams
from hms_recordings.errors import ConfigError
from hms_recordings.faces.mcp import CapabilityMCPServer, CapabilityTool
from hms_recordings.faces.mcp_extras import register_resources_and_prompts
from hms_recordings.faces.ops import control_expose
from hms_recordings.logs import configure_logging
from hms_recordings.runtime.engine import Engine
from hms_recordings.runtime.redact import Redactor
from hms_recordings.serve import (
    MAX_REQUEST_BYTES,
    guard_http_face,
    http_faces,
    http_server,
    serve_all,
    transport_security,
)
from hms_recordings.targets import emulated_upstreams, emulator_env, open_engine

__all__ = ["Served", "combined_server", "plan_serving", "serve_many"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@dataclass(frozen=True)
class Served:
    """One capability file and the configuration it is served with."""

    file: str
    capability: Capability
    config: ServeConfig


def _tool_names(capability: Capability) -> set[str]:
    return {tool.name for expose in capability.mcp for tool in expose.tools}


def plan_serving(args: argparse.Namespace, env: dict[str, str] | None = None) -> list[Served]:
    """Load every file and decide its configuration; raise :class:`ConfigError` before anything starts."""
    env = dict(os.environ if env is None else env)
    flags = dict(vars(args))
    files: list[str] = list(args.files)
    capabilities = [load_file(path) for path in files]
    upstreams = parse_upstreams(flags.pop("upstream", None))
    unknown = sorted(ns for ns in upstreams if not any(ns in cap.consumes for cap in capabilities))
    if unknown:
        raise ConfigError(f"--upstream names {', '.join(unknown)}, which none of the files consumes")
    tools_raw = flags.pop("tools", None) or env.get(ENV_PREFIX + "TOOLS")
    wanted = [t.strip() for t in str(tools_raw).split(",") if t.strip()] if tools_raw else None
    if wanted is not None:
        missing = [t for t in wanted if not any(t in _tool_names(cap) for cap in capabilities)]
        if missing:
            raise ConfigError(f"--tools names {', '.join(missing)}, which none of the files defines")
    served = []
    for path, capability in zip(files, capabilities, strict=True):
        config = ServeConfig.build(capability, flags=flags, env=env)
        config = replace(
            config,
            upstreams={ns: url for ns, url in upstreams.items() if ns in capability.consumes},
            tools=None if wanted is None else tuple(t for t in wanted if t in _tool_names(capability)),
        )
        config.check()
        served.append(Served(path, capability, config))
    if not args.single_port:
        _check_ports(served)
    return served


def _claims(item: Served) -> list[tuple[str, int]]:
    """The ports a file's faces listen on when served on its own (as :func:`hms_recordings.serve.run_server`)."""
    claims = [("MCP", item.config.port)]
    if item.config.rest_port is not None:
        claims.append(("REST", item.config.rest_port))
    control = control_expose(item.capability)
    if control is not None:
        claims.append(("operations", control[1]))
    return claims


def _check_ports(served: Sequence[Served]) -> None:
    """Each file on its own ports: refuse stdio (one stdin) and any port claimed twice, naming files and the fix."""
    if any(s.config.transport == "stdio" for s in served):
        raise ConfigError(
            "stdio carries a single MCP server: pass --single-port to serve the tools of all "
            f"{len(served)} files over it, or serve each file on its own"
        )
    claims: dict[int, list[str]] = {}
    for item in served:
        for face, port in _claims(item):
            if port != 0:  # port 0 asks the system for a free port: it never clashes
                claims.setdefault(port, []).append(f"{item.file} ({face})")
    clashes = {port: who for port, who in claims.items() if len(who) > 1}
    if clashes:
        lines = "; ".join(f"port {port} is claimed by {', '.join(who)}" for port, who in sorted(clashes.items()))
        raise ConfigError(
            f"{lines}. Nothing was started. Pass --single-port to serve every file's tools on one MCP port "
            "(--port, or the first file's), or serve the files from separate commands, each with its own --port "
            "and --rest-port"
        )


def combined_server(engines: Sequence[tuple[str, Engine]], *, log_level: str = "WARNING") -> CapabilityMCPServer:
    """One MCP server with every engine's tools, resources and prompts; a name served twice is a ConfigError."""
    owners: dict[tuple[str, str], str] = {}

    def claim(kind: str, name: str, file: str) -> None:
        other = owners.setdefault((kind, name), file)
        if other != file:
            leave_out = ", or leave one out with --tools" if kind == "tool" else ""
            raise ConfigError(
                f"{kind} `{name}` is served by both {other} and {file}; with --single-port every {kind} name must "
                f"be unique: serve the files on separate ports{leave_out}"
            )

    tools: list[SdkTool] = []
    instructions: list[str] = []
    for file, engine in engines:
        for tool in engine.tools.values():
            claim("tool", tool.name, file)
            tools.append(CapabilityTool.from_compiled(engine, tool))
        for expose in engine.exposes:
            for prompt in expose.prompts:
                claim("prompt", prompt.name, file)
            for resource in expose.resources:
                claim("resource", str(resource.get("uri")), file)
            if expose.description:
                instructions.append(f"{expose.namespace}: {expose.description}")
    level = cast(LogLevel, log_level.upper())
    server = CapabilityMCPServer(
        name="hms-recordings",
        instructions="\n\n".join(instructions) or None,
        version=__version__,
        tools=tools,
        log_level=level,
    )
    for _file, engine in engines:
        register_resources_and_prompts(server, engine)
    return server


@asynccontextmanager
async def _engines(served: Sequence[Served]) -> AsyncIterator[list[tuple[Served, Engine]]]:
    """An engine per file; with ``--emulator`` one shared emulator stands in for every 100ms upstream."""
    async with AsyncExitStack() as stack:
        env: dict[str, str] = dict(os.environ)
        base_url = None
        if any(item.config.emulator for item in served):
            from hms_recordings.emulator import EmulatorConfig, serve_in_background
            from hms_recordings.hms.tokens import AppCredentials

            creds = AppCredentials.from_env(env, allow_development=True)
            assert creds is not None
            running = await stack.enter_async_context(serve_in_background(EmulatorConfig(credentials=creds)))
            base_url, env = running.base_url, emulator_env(env, creds)
        out = []
        for item in served:
            config = item.config
            upstreams = emulated_upstreams(item.capability, base_url) if base_url else config.upstreams
            engine = await stack.enter_async_context(
                open_engine(
                    item.capability,
                    read_only=config.read_only,
                    tools=config.tools,
                    upstreams=upstreams,
                    env=env,
                    retry=config.retry,
                    timeouts=config.timeouts,
                    max_concurrency=config.max_concurrency,
                )
            )
            out.append((item, engine))
        yield out


async def _serve_http(apps: Sequence[tuple[str, ServeConfig, int, ASGIApp]]) -> None:
    """Every face on its port, all stopped together (serve's own scheme)."""
    servers = [http_server(app, config, port) for _what, config, port, app in apps]
    for what, config, port, _app in apps:
        path = "/mcp" if what.startswith("MCP") else ""
        print(f"hms-recordings: {what} on http://{config.host}:{port}{path}", file=sys.stderr, flush=True)
    await serve_all(servers)


async def _run(served: list[Served], single_port: bool) -> None:
    first = served[0].config
    async with _engines(served) as engines:
        redactor = Redactor()
        for _item, engine in engines:
            redactor.add(*engine.bindings.secrets())
        configure_logging(first.log_level, redactor, json_lines=first.json_logs)
        if not single_port:
            await _serve_http(
                [
                    (f"{face.name} of {item.file} ({len(engine.tools)} tools)", item.config, face.port, face.app)
                    for item, engine in engines
                    for face in http_faces(item.capability, engine, item.config)
                ]
            )
            return
        server = combined_server([(item.file, engine) for item, engine in engines], log_level=first.log_level)
        if first.transport == "stdio":
            await server.run_stdio_async()
            return
        app: ASGIApp = server.streamable_http_app(
            host=first.host,
            stateless_http=first.stateless,
            json_response=first.json_response,
            max_request_body_size=MAX_REQUEST_BYTES,
            transport_security=transport_security(first),
        )
        # Host/Origin checks, request ids and inbound auth as on every face (metrics count the first file's engine)
        app = guard_http_face(app, engines[0][1], first, sdk_checked=("/mcp",))
        count = sum(len(engine.tools) for _item, engine in engines)
        await _serve_http([(f"MCP ({count} tools from {len(engines)} files)", first, first.port, app)])


def serve_many(args: argparse.Namespace) -> int:
    """The ``serve`` command with several files (see the module docstring)."""
    served = plan_serving(args)
    anyio.run(_run, served, bool(args.single_port))
    return 0
