"""A compiled entry of the inventory: everything one call needs that can be known before any call is made.

Compiling is pure: no I/O, no clients, no secrets. A :class:`CompiledTool` is an MCP tool, a REST-only operation or
a dynamic MCP resource (``kind``); all three are run by the one :class:`~hms_recordings.runtime.invoker.Invoker`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

from hms_recordings.capability.model import Capability, Hints, OutputSpec, Tool
from hms_recordings.errors import CapabilityError
from hms_recordings.runtime.aggregates import resolve_ref
from hms_recordings.runtime.orchestrate import StepPlan, compile_steps, steps_schema
from hms_recordings.runtime.outputs import OutputMapper, output_schema_for
from hms_recordings.runtime.request import RequestPlan, WithPlan
from hms_recordings.runtime.schemas import ArgumentValidator, derive_schema, schema_from_params

__all__ = ["CompiledTool", "EntryKind", "ResourceListing", "compile_tool", "registered_handlers"]

EntryKind = Literal["tool", "rest", "resource"]
#: A handler (``x-handler``) takes an :class:`~hms_recordings.runtime.invoker.Invocation`; typed loosely here so that
#: compiling does not depend on the invoker.
AnyHandler = Callable[[Any], Awaitable[Any]]


@cache
def registered_handlers() -> dict[str, AnyHandler]:
    """Handlers registered under the entry-point group ``hms_recordings.handlers`` (each: a name -> handler map)."""
    found: dict[str, AnyHandler] = {}
    for entry in entry_points(group="hms_recordings.handlers"):
        found.update(entry.load())
    return found


@dataclass(frozen=True)
class ResourceListing:
    """How a dynamic resource is listed: the name, title and description its declaration gives.

    Kept apart from the entry's tool because an ``x-tool`` resource runs that tool (and must say what it says when
    it fails) while being listed under its own name."""

    name: str
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class CompiledTool:
    tool: Tool
    kind: EntryKind
    expose_namespace: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    validator: ArgumentValidator
    with_plan: WithPlan
    request: RequestPlan | None
    mapper: OutputMapper
    hints: Hints
    safe_to_retry: bool
    handler: AnyHandler | None = None
    steps: StepPlan | None = None
    page_items: OutputMapper | None = None  # compiled x-pagination JSONPaths
    page_cursor: OutputMapper | None = None
    uri: str | None = None  # resources: the URI or URI template
    mime_type: str | None = None  # resources: what a read returns
    listing: ResourceListing | None = None  # resources: how resources/list names it

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def read_only(self) -> bool:
        return bool(self.hints.read_only)

    @property
    def toolset(self) -> str | None:
        return self.tool.toolset


def _hints(tool: Tool, method: str | None) -> Hints:
    hints = tool.hints
    read_only = hints.read_only
    if read_only is None and method is not None and not tool.handler:
        read_only = method == "GET"  # derived from the method when the file does not say
    destructive = hints.destructive
    if destructive is None and read_only:
        destructive = False
    return Hints(read_only, destructive, hints.idempotent, hints.open_world)


def _with_missing_needs(declared: dict[str, Any], derived: dict[str, Any]) -> dict[str, Any]:
    """A tool's declared ``inputParameters`` plus what its request cannot go without and the tool did not declare
    (a path placeholder, a body variable): published files forget them, and without them the tool is uncallable."""
    lacking = [n for n in derived.get("required", ()) if n not in declared["properties"]]
    if not lacking:
        return declared
    properties = {**declared["properties"], **{n: derived["properties"][n] for n in lacking}}
    return {**declared, "properties": properties, "required": [*declared.get("required", ()), *lacking]}


def compile_tool(
    tool: Tool,
    expose_namespace: str,
    *,
    capability: Capability,
    plans: Mapping[str, RequestPlan],
    bound: frozenset[str],
    kind: EntryKind = "tool",
    uri: str | None = None,
) -> CompiledTool:
    """Compile one tool (or REST operation, or dynamic resource) against the capability's request plans.

    ``bound``: the names of bound variables (binds' keys), which templates may use without the caller giving them."""
    tool = resolve_ref(tool, capability)  # `ref`: what the tool leaves out comes from the aggregate function
    # `shipyard.voyage-id` in an aggregate function's `with` is the argument, as the expose's own prefix is.
    namespaces = frozenset({expose_namespace, *capability.aggregates})
    with_plan = WithPlan.compile(tool.with_, namespaces)
    plan = plans.get(tool.call) if tool.call else None
    if tool.call and plan is None:
        raise CapabilityError(f"tool {tool.name}: `call: {tool.call}` names no consumed operation")
    steps = compile_steps(tool, namespaces, plans) if tool.steps else None
    if steps is not None:
        schema = steps_schema(steps, tool, bound)
    elif tool.params is not None:
        schema = schema_from_params(tool.params)
        if plan is not None:
            schema = _with_missing_needs(schema, derive_schema(plan, with_plan, bound))
    elif plan is not None:
        schema = derive_schema(plan, with_plan, bound)
    else:
        schema = {"type": "object", "properties": {}, "additionalProperties": False}
    handler = None
    if tool.handler:
        handler = registered_handlers().get(tool.handler)
        if handler is None:
            raise CapabilityError(
                f"tool {tool.name}: unknown x-handler {tool.handler!r} "
                f"(registered: {', '.join(sorted(registered_handlers())) or 'none'})"
            )
    method = plan.operation.method if plan else None
    hints = _hints(tool, method)
    idempotent_op = plan.operation.idempotent if plan else None
    # Repeating is harmless for a GET, or when the file says so (x-idempotent on the operation, or the tool's
    # idempotent hint); a start, which has neither, is never sent twice.
    safe = method == "GET" or bool(idempotent_op) or (idempotent_op is None and bool(hints.idempotent))
    try:
        validator = ArgumentValidator(tool.name, schema, check=not capability.schemas_checked)
    except Exception as exc:  # jsonschema's SchemaError: the x-schema in the file is wrong
        raise CapabilityError(f"tool {tool.name}: its input schema is not valid JSON Schema: {exc}") from None
    pagination = tool.pagination
    return CompiledTool(
        tool=tool,
        kind=kind,
        expose_namespace=expose_namespace,
        input_schema=schema,
        output_schema=tool.output_schema or output_schema_for(tool.outputs),
        validator=validator,
        with_plan=with_plan,
        request=plan,
        mapper=OutputMapper(tool.outputs),
        hints=hints,
        safe_to_retry=safe,
        handler=handler,
        steps=steps,
        page_items=OutputMapper((OutputSpec(type="array", mapping=pagination.items),)) if pagination else None,
        page_cursor=OutputMapper((OutputSpec(type="string", mapping=pagination.cursor),)) if pagination else None,
        uri=uri,
    )
