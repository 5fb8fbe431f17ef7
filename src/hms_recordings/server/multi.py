"""``hms-recordings serve A.yaml B.yaml …``: several capability files served by one process.

Every file keeps its own service: its namespace, bindings, upstreams and tools. Two layouts:

* **one server per file** (the default), each on the ports its settings give (``--port`` > environment > the file's
  ``exposes[mcp].port``), each with its own metrics. The APIs.io 100ms files all claim 9090, so the ports are checked
  *before* anything starts, and a clash is a :class:`ConfigError` naming the files and the way out;
* **one server for all** (``--single-port``, and the only choice over stdio): every file's tools, resources and
  prompts on one MCP server (a :class:`~hms_recordings.runtime.service.CombinedService`), on ``--port`` or the first
  file's port, with one set of metrics for that server. A name served by two files is an error naming both: names
  are never silently changed.

``--upstream NS=URL``, ``--tools a,b`` and ``--toolsets`` apply to the files that consume ``NS`` or define the tool
or toolset; a namespace, tool or toolset that no file has is an error. ``--emulator`` starts one emulator shared by
every file.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from hms_recordings.capability.loader import load_file
from hms_recordings.capability.model import Capability
from hms_recordings.errors import ConfigError
from hms_recordings.faces.mcp import build_mcp_server, run_stdio
from hms_recordings.runtime.inventory import compile_inventory
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.service import CapabilityService, CombinedService
from hms_recordings.server.logging import CallLog, configure_logging
from hms_recordings.server.metrics import Metrics
from hms_recordings.server.serve import (
    Face,
    Hosted,
    banner,
    check_servable,
    http_faces,
    http_server,
    mcp_face,
    serve_all,
)
from hms_recordings.server.settings import ServeSettings
from hms_recordings.server.targets import emulation, open_service, select_inventory

__all__ = ["Served", "check_unique_names", "combine", "is_combined", "metrics_per_file", "plan_serving", "serve_many"]


@dataclass(frozen=True)
class Served:
    """One capability file and the settings it is served with."""

    file: str
    capability: Capability
    settings: ServeSettings


def _names(capability: Capability) -> tuple[set[str], set[str]]:
    """The tool names and toolsets a file defines (compiled, so a ``ref`` or an x-toolset counts as served)."""
    inventory = compile_inventory(capability)
    tools = set(inventory.tools)
    toolsets = {t.toolset for t in inventory.tools.values() if t.toolset} | {
        e.tool.toolset for e in inventory.rest if e.tool.toolset
    }
    return tools, toolsets


def _missing(wanted: tuple[str, ...] | None, owned: Sequence[set[str]]) -> list[str]:
    return [name for name in wanted or () if not any(name in names for names in owned)]


def plan_serving(args: argparse.Namespace | Mapping[str, Any], env: Mapping[str, str] | None = None) -> list[Served]:
    """Load every file and decide its settings; raise :class:`ConfigError` before anything starts."""
    env = dict(os.environ if env is None else env)
    flags = dict(vars(args) if isinstance(args, argparse.Namespace) else args)
    files: list[str] = list(flags.pop("files"))
    capabilities = [load_file(path) for path in files]
    common = ServeSettings.build(None, flags=flags, env=env)  # the selection and upstreams, checked once
    if common.oauth:
        # Not wired for several files yet: refusing is safer than serving them without the authentication asked for.
        raise ConfigError(
            "HMS_RECORDINGS_OAUTH_ISSUER serves one capability file per process for now; start one serve per file"
        )
    if common.workers > 1:
        raise ConfigError("--workers serves one capability file; start one `serve FILE --workers N` per file")
    unknown = sorted(ns for ns in common.upstreams if not any(ns in cap.consumes for cap in capabilities))
    if unknown:
        raise ConfigError(f"--upstream names {', '.join(unknown)}, which none of the files consumes")
    names = [_names(capability) for capability in capabilities]
    for option, wanted, index in (("--tools", common.tools, 0), ("--toolsets", common.toolsets, 1)):
        missing = _missing(wanted, [owned[index] for owned in names])
        if missing:
            noun = "defines" if option == "--tools" else "declares"
            raise ConfigError(f"{option} names {', '.join(missing)}, which none of the files {noun}")
    served = []
    for path, capability, (tools, toolsets) in zip(files, capabilities, names, strict=True):
        settings = ServeSettings.build(capability, flags=flags, env=env)
        settings = settings.model_copy(
            update={
                "upstreams": {ns: url for ns, url in common.upstreams.items() if ns in capability.consumes},
                "tools": None if common.tools is None else tuple(t for t in common.tools if t in tools),
                "toolsets": None if common.toolsets is None else tuple(t for t in common.toolsets if t in toolsets),
            }
        )
        served.append(Served(path, capability, settings))
    if not common.single_port:
        _check_ports(served)
    return served


def _claims(item: Served) -> list[tuple[str, int]]:
    """The ports a file's faces listen on when served on its own (as :func:`~.serve.run_server` would)."""
    claims = [("MCP", item.settings.port)]
    if item.settings.rest_port is not None:
        claims.append(("REST", item.settings.rest_port))
    if item.capability.control is not None:
        claims.append(("operations", item.capability.control[1]))
    return claims


def _check_ports(served: Sequence[Served]) -> None:
    """Each file on its own ports: refuse stdio (one stdin) and any port claimed twice, naming files and the fix."""
    if any(s.settings.transport == "stdio" for s in served):
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


def check_unique_names(services: Sequence[tuple[str, CapabilityService]]) -> None:
    """With ``--single-port`` every tool, prompt and resource name is served once; a clash names both files."""
    owners: dict[tuple[str, str], str] = {}
    for file, service in services:
        claims = [("tool", t.name) for t in service.tools()]
        claims += [("prompt", p.name) for p in service.prompts()]
        claims += [("resource", r.uri or r.name) for r in service.dynamic_resources()]
        claims += [("resource", f.uri) for f in service.files()]
        for kind, name in claims:
            other = owners.setdefault((kind, name), file)
            if other != file:
                leave_out = ", or leave one out with --tools" if kind == "tool" else ""
                raise ConfigError(
                    f"{kind} `{name}` is served by both {other} and {file}; with --single-port every {kind} name "
                    f"must be unique: serve the files on separate ports{leave_out}"
                )


def combine(services: Sequence[tuple[str, CapabilityService]]) -> CombinedService:
    """One service for several files (``--single-port``), after the name check with its way out."""
    check_unique_names(services)
    return CombinedService(services)


@asynccontextmanager
async def _services(served: Sequence[Served], observers: Sequence[Metrics]) -> AsyncIterator[list[CapabilityService]]:
    """A service per file, each told about its server's metrics; one shared emulator with ``--emulator``."""
    async with AsyncExitStack() as stack:
        emulated = await stack.enter_async_context(emulation(served[0].settings, "socket"))
        out = []
        for item, metrics in zip(served, observers, strict=True):
            inventory = select_inventory(item.capability, item.settings)
            service = await stack.enter_async_context(
                open_service(inventory, item.settings, emulated=emulated, observers=(metrics, CallLog()))
            )
            out.append(service)
        yield out


def is_combined(served: Sequence[Served]) -> bool:
    """One server for every file: asked for with ``--single-port``, and the only way over stdio."""
    first = served[0].settings
    return first.single_port or first.transport == "stdio"


def metrics_per_file(served: Sequence[Served]) -> list[Metrics]:
    """One :class:`Metrics` per server: the same object for every file when they share one, else one each."""
    shared = Metrics()
    out = [shared if is_combined(served) else Metrics() for _ in served]
    for item, metrics in zip(served, out, strict=True):
        metrics.prepare(item.capability.consumes)
    return out


async def _run(served: list[Served]) -> None:
    first = served[0].settings
    configure_logging(first.log_level, Redactor(), json_lines=first.json_logs)
    single = is_combined(served)
    per_file = metrics_per_file(served)
    async with _services(served, per_file) as services:
        redactor = Redactor()
        for service in services:
            redactor.merge(service.redactor)
        configure_logging(first.log_level, redactor, json_lines=first.json_logs)
        if not single:
            faces: list[tuple[Served, str, Face]] = []
            hosts: list[Hosted] = []
            for item, service, metrics in zip(served, services, per_file, strict=True):
                hosted = Hosted(service, [service], [item.capability], metrics)
                hosts.append(hosted)
                label = f"{item.file} ({len(service.tools())} tools)"
                faces += [(item, label, face) for face in http_faces(item.capability, hosted, item.settings)]
            check_servable(services, what="any of the files")
            banner(
                [f"{face.name} of {label} on http://{item.settings.host}:{face.port}" for item, label, face in faces]
            )
            drains = list({id(h.drain): h.drain for h in hosts}.values())
            await serve_all(
                [http_server(face.app, item.settings, face.port) for item, _label, face in faces],
                drains=drains,
                grace=first.drain_grace,
            )
            return
        combined = combine([(item.file, service) for item, service in zip(served, services, strict=True)])
        hosted = Hosted(combined, services, [item.capability for item in served], per_file[0])  # shared by all
        check_servable(services, what="any of the files")
        if first.transport == "stdio":
            await run_stdio(build_mcp_server(combined))
            return
        count = len(combined.tools())
        server = http_server(mcp_face(hosted, first), first, first.port)
        banner([f"MCP on http://{first.host}:{first.port}/mcp, {count} tools from {len(services)} files"])
        await serve_all([server], drains=[hosted.drain], grace=first.drain_grace)


def serve_many(args: argparse.Namespace) -> int:
    """The ``serve`` command with several files (see the module docstring)."""
    import anyio

    served = plan_serving(args)
    anyio.run(_run, served)
    return 0
