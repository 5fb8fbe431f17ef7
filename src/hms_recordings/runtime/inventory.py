"""The inventory: a capability compiled once into everything its faces can serve, and the one tool filter.

:func:`compile_inventory` is pure (no I/O, no clients, no secrets): MCP tools, REST-only operations, dynamic resource
templates, prompts and step plans, each a :class:`~hms_recordings.runtime.compiled.CompiledTool` or plain data. An
entry that cannot be compiled is reported in :attr:`Inventory.problems` and left out, so that one bad declaration does
not take the rest of the file down; ``strict=True`` turns the first problem into the error.

:meth:`Inventory.select` is the only filter, applied in this order (documented in the README):

1. unknown names in ``tools`` or ``toolsets`` are a :class:`~hms_recordings.errors.ConfigError` (start-up stops);
2. ``tools`` and ``toolsets`` select: a tool is kept when it is named or its ``x-toolset`` is (their union); without
   either, every tool is kept;
3. ``read_only`` then removes every entry that is not read-only, whatever 1-2 said.

REST-only operations (no ``x-tool``) have no MCP name: ``tools`` leaves them out, ``toolsets`` keeps those whose
toolset is named, ``read_only`` keeps the read-only ones. Resources follow ``read_only`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hms_recordings.capability.loader import read_resource_tool
from hms_recordings.capability.model import Capability, ExposedMcp, Forward, Prompt, RestOperation, RestResource
from hms_recordings.errors import CapabilityError, ConfigError
from hms_recordings.runtime.compiled import CompiledTool, ResourceListing, compile_tool
from hms_recordings.runtime.request import RequestPlan

__all__ = ["ForwardEntry", "Inventory", "RestEntry", "StaticResource", "compile_inventory"]


@dataclass(frozen=True)
class RestEntry:
    """One operation of a ``rest`` expose and the compiled entry that answers it (an MCP tool for ``x-tool``)."""

    expose_namespace: str
    resource: RestResource
    operation: RestOperation
    tool: CompiledTool
    port: int


@dataclass(frozen=True)
class StaticResource:
    """A ``location: file:///...`` resource, as declared; the files are found when a server starts, not here."""

    expose_namespace: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class ForwardEntry:
    """A REST resource whose requests are relayed to a consumed API (``forward``), as the Java engine does: the
    method, the rest of the path (its ``{path}`` placeholder), the query, the body and the trusted headers."""

    expose_namespace: str
    resource: RestResource
    forward: Forward
    port: int


@dataclass(frozen=True)
class Inventory:
    capability: Capability
    plans: dict[str, RequestPlan]
    tools: dict[str, CompiledTool]  # MCP tools, by name, in file order
    rest: tuple[RestEntry, ...] = ()
    resources: tuple[CompiledTool, ...] = ()  # dynamic resources (kind "resource"), URI or URI template in `.uri`
    static_resources: tuple[StaticResource, ...] = ()
    prompts: tuple[Prompt, ...] = ()
    forwards: tuple[ForwardEntry, ...] = ()
    problems: tuple[str, ...] = ()  # entries left out, each with the reason
    all_tool_names: tuple[str, ...] = field(default=())  # before selection, for error messages

    @property
    def exposes(self) -> tuple[ExposedMcp, ...]:
        return self.capability.mcp

    def toolsets(self) -> list[str]:
        return sorted({t.toolset for t in self.tools.values() if t.toolset})

    def select(
        self,
        *,
        tools: tuple[str, ...] | None = None,
        toolsets: tuple[str, ...] | None = None,
        read_only: bool = False,
    ) -> Inventory:
        """The entries a server serves; see the module docstring for the order."""
        if tools is not None:
            unknown = [n for n in tools if n not in self.tools]
            if unknown:
                raise ConfigError(
                    f"--tools names unknown tool{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                    f"(known: {', '.join(self.tools)})"
                )
        known_sets = {t.toolset for t in self.tools.values() if t.toolset} | {
            e.tool.toolset for e in self.rest if e.tool.toolset
        }
        if toolsets is not None:
            unknown = [n for n in toolsets if n not in known_sets]
            if unknown:
                raise ConfigError(
                    f"--toolsets names unknown toolset{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(known_sets)) or 'none'})"
                )

        def chosen(entry: CompiledTool, named: bool) -> bool:
            if tools is None and toolsets is None:
                keep = True
            else:
                keep = (named and tools is not None and entry.name in tools) or (
                    toolsets is not None and entry.toolset in toolsets
                )
            return keep and (entry.read_only or not read_only)

        kept = {name: t for name, t in self.tools.items() if chosen(t, True)}
        rest = tuple(
            e for e in self.rest if (e.operation.x_tool in kept if e.operation.x_tool else chosen(e.tool, False))
        )
        resources = tuple(r for r in self.resources if r.read_only or not read_only)
        # A forward relays any method: it is no tool to choose, and not read-only.
        forwards = self.forwards if tools is None and toolsets is None and not read_only else ()
        return replace(self, tools=kept, rest=rest, resources=resources, forwards=forwards)


def compile_inventory(capability: Capability, *, strict: bool = False) -> Inventory:
    """Compile every entry of ``capability`` (see the module docstring)."""
    problems: list[str] = []
    plans: dict[str, RequestPlan] = {}
    for api in capability.consumes.values():
        static = tuple(p for p in api.params if p.value is not None)
        for op in api.operations.values():
            plans[op.key] = RequestPlan.compile(op, static)
    bound = frozenset(key for bind in capability.binds for key in bind.keys)

    def attempt(what: str, build: Any) -> CompiledTool | None:
        try:
            compiled: CompiledTool = build()
        except CapabilityError as exc:
            if strict:
                raise
            problems.append(f"{what}: {exc.message}")
            return None
        return compiled

    tools: dict[str, CompiledTool] = {}
    resources: list[CompiledTool] = []
    statics: list[StaticResource] = []
    prompts: list[Prompt] = []
    for expose in capability.mcp:
        for tool in expose.tools:

            def build_tool(tool: Any = tool, ns: str = expose.namespace) -> CompiledTool:
                return compile_tool(tool, ns, capability=capability, plans=plans, bound=bound)

            compiled = attempt(f"MCP tool {tool.name}", build_tool)
            if compiled is not None:
                tools[compiled.name] = compiled
        for raw in expose.resources:
            if "location" in raw:
                statics.append(StaticResource(expose.namespace, raw))
                continue
            mime = str(raw.get("mimeType") or "application/json")
            listing = ResourceListing(
                str(raw.get("name") or raw.get("uri")), raw.get("label") or None, raw.get("description") or None
            )
            if isinstance(raw.get("x-tool"), str):
                # x-tool: the resource reads through that MCP tool, so it validates, explains errors and shapes
                # its result exactly as the tool does.
                target = tools.get(raw["x-tool"])
                if target is None:
                    why = f"MCP resource {raw.get('name')}: x-tool {raw['x-tool']!r} names no MCP tool"
                    if strict:
                        raise CapabilityError(why)
                    problems.append(why)
                    continue
                resources.append(replace(target, kind="resource", uri=str(raw["uri"]), mime_type=mime, listing=listing))
                continue

            def build_resource(
                raw: dict[str, Any] = raw, ns: str = expose.namespace, listing: ResourceListing = listing
            ) -> CompiledTool:
                tool = read_resource_tool(raw, capability.file)
                compiled = compile_tool(
                    tool, ns, capability=capability, plans=plans, bound=bound, kind="resource", uri=str(raw["uri"])
                )
                return replace(compiled, mime_type=str(raw.get("mimeType") or "application/json"), listing=listing)

            resource = attempt(f"MCP resource {raw.get('name')}", build_resource)
            if resource is not None:
                resources.append(resource)
        prompts.extend(expose.prompts)
    rest: list[RestEntry] = []
    forwards: list[ForwardEntry] = []
    for rest_expose in capability.rest:
        for resource_decl in rest_expose.resources:
            if resource_decl.forward is not None:
                forwards.append(
                    ForwardEntry(rest_expose.namespace, resource_decl, resource_decl.forward, rest_expose.port)
                )
            for rest_op in resource_decl.operations:
                where = f"REST operation {rest_op.method} {resource_decl.path}"
                if rest_op.x_tool is not None:
                    target = tools.get(rest_op.x_tool)
                    if target is None:
                        problem = CapabilityError(
                            f"x-tool {rest_op.x_tool!r} names no MCP tool (known: {', '.join(tools) or 'none'})"
                        )
                        if strict:
                            raise problem
                        problems.append(f"{where}: {problem.message}")
                        continue
                    rest.append(RestEntry(rest_expose.namespace, resource_decl, rest_op, target, rest_expose.port))
                    continue

                def build_op(op: RestOperation = rest_op, ns: str = rest_expose.namespace) -> CompiledTool:
                    return compile_tool(op.tool, ns, capability=capability, plans=plans, bound=bound, kind="rest")

                compiled_op = attempt(where, build_op)
                if compiled_op is not None:
                    rest.append(RestEntry(rest_expose.namespace, resource_decl, rest_op, compiled_op, rest_expose.port))
    return Inventory(
        capability=capability,
        plans=plans,
        tools=tools,
        rest=tuple(rest),
        resources=tuple(resources),
        static_resources=tuple(statics),
        prompts=tuple(prompts),
        forwards=tuple(forwards),
        problems=tuple(problems),
        all_tool_names=tuple(tools),
    )
