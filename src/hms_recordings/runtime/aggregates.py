"""Aggregates (domain functions) reached from tools through ``ref``, and the MCP hints their semantics imply.

A tool (or REST operation) with ``ref: <aggregate namespace>.<function name>`` runs that function. What the tool sets
itself wins; everything it leaves out comes from the function: ``call``, ``with``, ``steps``, ``mappings``,
``outputParameters``, ``inputParameters`` (so the input schema too), ``description`` and ``label``.

Hints follow the Java engine's ``AggregateRefResolver``, field by field, lowest first:

1. derived from ``semantics``: ``safe: true`` gives ``readOnly: true, destructive: false``; ``safe: false`` gives
   ``readOnly: false``; ``idempotent`` is copied; ``cacheable`` has no MCP equivalent;
2. ``hints`` written on the function itself (lenient: alpha2 has none there, but some files write them);
3. the tool's explicit ``hints``.

A function may itself ``ref`` another function (resolved the same way); a cycle is a :class:`CapabilityError`.

    >>> derive_hints(AggregateFunction("f", "", Tool("f", ""), safe=True, idempotent=True))
    Hints(read_only=True, destructive=False, idempotent=True, open_world=None)
"""

from __future__ import annotations

from dataclasses import replace

from hms_recordings.capability.model import AggregateFunction, Capability, Hints, Tool
from hms_recordings.errors import CapabilityError

__all__ = ["derive_hints", "find_function", "merge_hints", "resolve_ref"]


def find_function(capability: Capability, ref: str) -> AggregateFunction:
    namespace, _, name = ref.partition(".")
    aggregate = capability.aggregates.get(namespace)
    function = aggregate.functions.get(name) if aggregate else None
    if function is None:
        known = [f"{a.namespace}.{f}" for a in capability.aggregates.values() for f in a.functions]
        raise CapabilityError(f"`ref: {ref}` names no aggregate function (known: {', '.join(known) or 'none'})")
    return function


def derive_hints(function: AggregateFunction) -> Hints:
    """The hints ``semantics`` imply (unset where the semantics say nothing)."""
    read_only = destructive = None
    if function.safe is True:
        read_only, destructive = True, False
    elif function.safe is False:
        read_only = False
    return Hints(read_only=read_only, destructive=destructive, idempotent=function.idempotent)


def merge_hints(base: Hints, override: Hints) -> Hints:
    """Each field ``override`` sets wins; the others keep ``base``'s value."""
    return Hints(
        read_only=base.read_only if override.read_only is None else override.read_only,
        destructive=base.destructive if override.destructive is None else override.destructive,
        idempotent=base.idempotent if override.idempotent is None else override.idempotent,
        open_world=base.open_world if override.open_world is None else override.open_world,
    )


def resolve_ref(tool: Tool, capability: Capability, _seen: tuple[str, ...] = ()) -> Tool:
    """``tool`` with what it leaves out taken from its ``ref``'d function; a tool without ``ref`` is returned as is."""
    if tool.ref is None:
        return tool
    if tool.ref in _seen:
        chain = " -> ".join([*_seen, tool.ref])
        raise CapabilityError(f"tool {tool.name or tool.ref}: `ref` loops ({chain})")
    function = find_function(capability, tool.ref)
    target = resolve_ref(function.tool, capability, (*_seen, tool.ref))
    # A tool that runs its own call or steps keeps them whole: mixing a tool's call with a function's steps would
    # run something neither author wrote.
    own_execution = tool.call is not None or bool(tool.steps)
    hints = merge_hints(merge_hints(derive_hints(function), target.hints), tool.hints)
    return replace(
        tool,
        name=tool.name or function.name,
        description=tool.description or target.description or function.description,
        label=tool.label if tool.label is not None else target.label,
        call=tool.call if own_execution else target.call,
        with_=tool.with_ or ({} if own_execution else dict(target.with_)),
        steps=tool.steps if own_execution else target.steps,
        mappings=tool.mappings or (() if own_execution else target.mappings),
        outputs=tool.outputs or target.outputs,
        params=tool.params if tool.params is not None else target.params,
        hints=hints,
        output_schema=tool.output_schema if tool.output_schema is not None else target.output_schema,
        ref=None,
    )
