"""Orchestrated tools (``steps`` and ``mappings``) and mock tools (static output values).

Steps run in order, as in the Java engine's ``OperationStepExecutor``:

* ``call`` sends a consumed operation. Its parameters are the tool's arguments overlaid with the step's ``with``
  (``<namespace>.<arg>`` references, ``{{templates}}`` that see the arguments *and* every earlier step's output as
  ``{{step-name.field}}``, literals). The output is kept under the step's name, projected through the operation's
  ``outputParameters`` when it has some (``{name: value}`` per named parameter).
* ``lookup`` finds the first entry of an earlier step's array whose ``match`` field equals ``lookupValue`` (compared
  as text) and keeps only the ``outputParameters`` fields; nothing found keeps ``null``.
* ``script`` steps are not run by this runtime: calling such a tool fails with an error naming the step.

``mappings`` then build the result: ``targetName`` is a dotted path in the result (``a.b`` nests), ``value`` is
``$.step-name.field`` walked key by key (a missing key gives ``null``). Without mappings, the last step's output (a
call's raw response, as Java) goes through the tool's ``outputParameters``.

A failing step stops the chain; the error keeps its class and context, and its message starts with
``step `<name>` failed:``.

Lenient readings (docs/capability-format.md, section 4): a step without ``type`` is a ``lookup`` when it has
``index``, else a ``call``; ``index`` may be a dotted path into a step's output (``get-recording.recording_assets``),
since real APIs wrap arrays in objects; a step ``with`` value written ``$.step.field`` or ``step.field`` (an earlier
step's name) reads that step's output; a mapping ``value`` may be a ``{{template}}`` or a path to a tool argument; an
operation whose only output parameter maps the whole response (``{name: result, value: $.}``, as the APIs.io files
write) yields the response itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hms_recordings.capability.model import Operation, OutputSpec, Step, Tool
from hms_recordings.capability.templates import MISSING, Scope, Template, as_text
from hms_recordings.errors import CapabilityError, DomainError, HmsRecordingsError
from hms_recordings.runtime.outputs import OutputMapper
from hms_recordings.runtime.request import ArgRef, RequestPlan, WithPlan
from hms_recordings.runtime.schemas import derive_schema, schema_from_params

__all__ = ["StepPlan", "StepRunner", "compile_steps", "mock_result", "parse_path", "run_steps", "steps_schema", "walk"]


class StepRunner(Protocol):
    """What running steps needs from the invoker: bound values and a way to send a consumed operation."""

    @property
    def bindings(self) -> Mapping[str, str]: ...

    @property
    def namespaces(self) -> frozenset[str]: ...

    def send_operation(self, key: str, params: dict[str, Any]) -> Awaitable[Any]:
        """Send ``namespace.operation`` with ``params``; resolves to the upstream's decoded answer."""
        ...


_WHOLE = {"$", "$."}


# ------------------------------------------------------------------------------------------------------ paths


def parse_path(text: str) -> tuple[str, ...]:
    """``$.a.b[0].c`` -> ``("a", "b", "0", "c")``; ``[*]`` and ``*`` become ``"*"`` (every element)."""
    body = text.strip()
    body = body[1:] if body.startswith("$") else body
    body = body.replace("[*]", ".*").replace("[", ".").replace("]", "")
    return tuple(part for part in body.split(".") if part)


def walk(node: Any, parts: tuple[str, ...]) -> Any:
    """Follow ``parts`` key by key (digits index lists, ``*`` maps over a list); anything missing gives ``None``."""
    for position, part in enumerate(parts):
        if part == "*":
            return [walk(item, parts[position + 1 :]) for item in node] if isinstance(node, list) else None
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is None:
            return None
    return node


def _assign(result: dict[str, Any], target: str, value: Any) -> None:
    *parents, leaf = target.split(".")
    node = result
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


# ------------------------------------------------------------------------------------------------------ plans


@dataclass(frozen=True)
class _CallStep:
    step: Step
    operation: Operation
    with_plan: WithPlan
    plan: RequestPlan
    paths: tuple[tuple[str, tuple[str, ...]], ...]  # with-key -> path into earlier outputs (lenient `$.step.x`)
    project: Callable[[Any], Any]
    for_each: tuple[str, ...] | None = None  # x-forEach: path to the earlier array the call runs over


#: A fan-out (x-forEach) calls the upstream once per element, one after the other; this bounds a runaway list.
MAX_FAN_OUT = 50


@dataclass(frozen=True)
class _LookupStep:
    step: Step
    index: tuple[str, ...]  # earlier step name, then a path inside its output
    value: Template


@dataclass(frozen=True)
class _OtherStep:
    step: Step  # a script step: refused when run


@dataclass(frozen=True)
class StepPlan:
    steps: tuple[_CallStep | _LookupStep | _OtherStep, ...]
    mappings: tuple[tuple[str, tuple[str, ...] | Template | str], ...]
    step_names: frozenset[str]


def _projection(operation: Operation) -> Callable[[Any], Any]:
    """What later steps see of a call: the response, or the operation's ``outputParameters`` projected by name."""
    outputs = operation.outputs
    if not outputs or (len(outputs) == 1 and _maps_whole(outputs[0])):
        return lambda data: data
    named = [(spec.name, OutputMapper((spec,))) for spec in outputs if spec.name]
    if named:
        return lambda data: {name: mapper(data) for name, mapper in named}
    unnamed = OutputMapper(outputs)  # first non-null, as Java does for unnamed parameters

    def first(data: Any) -> Any:
        found = unnamed(data)
        return data if found is None else found

    return first


def _maps_whole(spec: OutputSpec) -> bool:
    return (spec.mapping or "").strip() in _WHOLE and not spec.properties and spec.items is None


def compile_steps(tool: Tool, expose_namespace: str | frozenset[str], plans: Mapping[str, RequestPlan]) -> StepPlan:
    """Compile a tool's steps and mappings once (and check them: every failure is a load-time error)."""
    seen: list[str] = []
    steps: list[_CallStep | _LookupStep | _OtherStep] = []
    for step in tool.steps:
        if step.name in seen:
            raise CapabilityError(f"tool {tool.name}: two steps are named `{step.name}`")
        if step.kind == "call":
            plan = plans.get(step.call or "")
            if plan is None:
                raise CapabilityError(
                    f"tool {tool.name}: step `{step.name}` calls `{step.call}`, which names no consumed operation"
                )
            plain: dict[str, Any] = {}
            paths: list[tuple[str, tuple[str, ...]]] = []
            for key, raw in step.with_.items():
                path = _earlier_step_path(raw, seen)
                if path is None:
                    plain[key] = raw
                else:
                    paths.append((key, path))
            for_each = parse_path(step.for_each) if step.for_each else None
            if for_each is not None and (not for_each or for_each[0] not in seen):
                raise CapabilityError(
                    f"tool {tool.name}: step `{step.name}` has `x-forEach: {step.for_each}`, which names no earlier "
                    f"step (earlier: {', '.join(seen) or 'none'})"
                )
            steps.append(
                _CallStep(
                    step,
                    plan.operation,
                    WithPlan.compile(plain, expose_namespace),
                    plan,
                    tuple(paths),
                    _projection(plan.operation),
                    for_each,
                )
            )
        elif step.kind == "lookup":
            index = parse_path(step.index or "")
            if not index or index[0] not in seen:
                raise CapabilityError(
                    f"tool {tool.name}: lookup step `{step.name}` has `index: {step.index}`, "
                    f"which names no earlier step (earlier: {', '.join(seen) or 'none'})"
                )
            steps.append(_LookupStep(step, index, Template.compile(step.lookup_value or "")))
        else:
            steps.append(_OtherStep(step))
        seen.append(step.name)
    mappings: list[tuple[str, tuple[str, ...] | Template | str]] = []
    for mapping in tool.mappings:
        source: tuple[str, ...] | Template | str
        if "{{" in mapping.value:
            source = Template.compile(mapping.value)
        elif mapping.value.startswith("$") or _earlier_step_path(mapping.value, seen) is not None:
            source = parse_path(mapping.value)
        else:
            source = mapping.value
        mappings.append((mapping.target, source))
    return StepPlan(tuple(steps), tuple(mappings), frozenset(seen))


def _earlier_step_path(raw: Any, earlier: list[str]) -> tuple[str, ...] | None:
    """Lenient: ``$.step.field`` or ``step.field`` in a step's ``with`` reads an earlier step's output."""
    if not isinstance(raw, str) or "{{" in raw or " " in raw:
        return None
    parts = parse_path(raw) if raw.startswith("$") else tuple(raw.split("."))
    return parts if parts and parts[0] in earlier and (raw.startswith("$") or len(parts) > 1) else None


# ------------------------------------------------------------------------------------------------------ schema


def steps_schema(plan: StepPlan, tool: Tool, bound: frozenset[str]) -> dict[str, Any]:
    """The input schema of an orchestrated tool (and the load-time check of its steps).

    ``inputParameters`` when present; otherwise what the steps need from the caller: each call step's operation
    parameters not filled by its ``with`` (renamed by references), plus the plain ``{{argument}}`` names its
    templates and lookups use.
    """
    if tool.params is not None:
        return schema_from_params(tool.params)
    properties: dict[str, Any] = {}
    required: list[str] = []

    def add(name: str, prop: dict[str, Any], needed: bool) -> None:
        if name not in properties:
            properties[name] = prop
        if needed and name not in required:
            required.append(name)

    for entry in plan.steps:
        templates: list[Template] = []
        if isinstance(entry, _CallStep):
            refs = entry.with_plan.references()
            filled = {key for key, src in entry.with_plan.entries if not isinstance(src, ArgRef)}
            filled |= {key for key, _path in entry.paths}
            derived = derive_schema(entry.plan, entry.with_plan, bound)
            for name, prop in derived["properties"].items():
                if name in plan.step_names:
                    continue  # `{{step}}` in a `with` template is an earlier step's output, not an argument
                if name not in filled or name in refs.values():
                    add(name, prop, name in derived.get("required", ()))
            templates = [src for _key, src in entry.with_plan.entries if isinstance(src, Template)]
        elif isinstance(entry, _LookupStep):
            templates = [entry.value]
        for template in templates:
            for name in template.names:
                if "." not in name and name not in plan.step_names and name not in bound:
                    add(name, {"type": "string", "description": f"Used by step `{entry.step.name}`."}, True)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


# ------------------------------------------------------------------------------------------------------ running


def _step_failed(step: Step, exc: HmsRecordingsError) -> HmsRecordingsError:
    """The same error (class, status, operation, ...) with a message that names the step."""
    message = f"step `{step.name}` failed: {exc.message}"
    clone = exc.__class__.__new__(exc.__class__)
    clone.__dict__.update(exc.__dict__)
    clone.args = (message,)
    clone.message = message
    return clone


async def run_steps(runner: StepRunner, plan: StepPlan, mapper: OutputMapper, args: dict[str, Any]) -> Any:
    """Run an orchestrated tool's steps in order and build its result."""
    outputs: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    empty: dict[str, str] = {}  # lookup step -> why it found nothing (for the next step's error)
    bindings, namespaces = runner.bindings, runner.namespaces
    for entry in plan.steps:
        step = entry.step
        scope = Scope(args={**args, **outputs}, bindings=bindings, namespaces=namespaces)
        try:
            if isinstance(entry, _CallStep) and entry.for_each is not None:
                outputs[step.name] = await _fan_out(runner, entry, args, outputs, scope)
            elif isinstance(entry, _CallStep):
                _check_inputs(entry, scope, outputs, empty)
                params = entry.with_plan.apply(args, scope)
                for key, path in entry.paths:
                    value = walk(outputs, path)
                    if value is not None:
                        params[key] = value
                data = await runner.send_operation(entry.operation.key, params)
                raw[step.name] = data
                outputs[step.name] = entry.project(data)
            elif isinstance(entry, _LookupStep):
                outputs[step.name] = _lookup(entry, outputs, scope, empty)
            else:
                raise DomainError(
                    f"it is a `{step.kind}` step, which hms-recordings does not run; express it with call and "
                    "lookup steps and mappings",
                    kind="unsupported",
                    status=501,
                )
        except HmsRecordingsError as exc:
            raise _step_failed(step, exc) from exc
    if plan.mappings:
        root = {**args, **outputs}
        result: dict[str, Any] = {}
        for target, source in plan.mappings:
            if isinstance(source, Template):
                value = source.value(Scope(args=root))  # no bindings: a result never carries a bound secret
                value = None if value is MISSING else value
            elif isinstance(source, tuple):
                value = walk(root, source)
            else:
                value = source
            _assign(result, target, value)
        return result
    last = plan.steps[-1] if plan.steps else None
    if last is None:
        return mapper(None)
    return mapper(raw.get(last.step.name, outputs.get(last.step.name)))


async def _fan_out(
    runner: StepRunner, entry: _CallStep, args: dict[str, Any], outputs: dict[str, Any], scope: Scope
) -> list[Any]:
    """x-forEach: the call once per element of an earlier array (``{{item.field}}`` in ``with`` sees the element),
    keeping only elements whose ``where`` fields match; the step's output is the list of projected answers."""
    assert entry.for_each is not None
    items = walk(outputs, entry.for_each)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise DomainError(f"x-forEach `{entry.step.for_each}` is not a list", kind="invalid_request", status=502)
    where = entry.step.where
    chosen = [i for i in items if isinstance(i, Mapping) and all(as_text(i.get(k)) == v for k, v in where.items())]
    if len(chosen) > MAX_FAN_OUT:
        raise DomainError(
            f"x-forEach over {len(chosen)} elements; at most {MAX_FAN_OUT} calls are made for one tool call",
            kind="too_large",
            status=413,
        )
    results = []
    for item in chosen:
        item_scope = Scope(args={**scope.args, "item": item}, bindings=scope.bindings, namespaces=scope.namespaces)
        params = entry.with_plan.apply(args, item_scope)
        results.append(entry.project(await runner.send_operation(entry.operation.key, params)))
    return results


def _check_inputs(entry: _CallStep, scope: Scope, outputs: dict[str, Any], empty: dict[str, str]) -> None:
    """A step fed by a lookup that found nothing fails with the lookup's reason, not with a missing parameter."""
    heads = {
        name.partition(".")[0]
        for _key, src in entry.with_plan.entries
        if isinstance(src, Template)
        for name in src.missing(scope)
    }
    heads |= {path[0] for _key, path in entry.paths if walk(outputs, path) is None}
    for head in heads:
        if head in empty:
            raise DomainError(f"it needs `{head}`, which found nothing: {empty[head]}", kind="not_found", status=404)


def _lookup(entry: _LookupStep, outputs: dict[str, Any], scope: Scope, empty: dict[str, str]) -> Any:
    step = entry.step
    index_text = ".".join(entry.index)
    data = walk(outputs, entry.index)
    candidates = [data] if isinstance(data, Mapping) else data if isinstance(data, list) else []
    wanted = entry.value.render(scope)
    for item in candidates:
        if (
            isinstance(item, Mapping)
            and item.get(step.match or "") is not None
            and as_text(item[step.match or ""]) == wanted
        ):
            return {name: item.get(name) for name in step.fields} if step.fields else dict(item)
    empty[step.name] = (
        f"no entry of `{index_text}` has `{step.match}` = {wanted!r}"
        if candidates
        else f"`{index_text}` is empty or missing"
    )
    return None


# ------------------------------------------------------------------------------------------------------ mocks


def _mock_value(spec: OutputSpec) -> Any:
    if spec.has_const:
        return spec.const
    if spec.value is not None:
        return spec.value
    if spec.type == "object" and spec.properties:
        built = {name: value for name, child in spec.properties.items() if (value := _mock_value(child)) is not None}
        return built or None
    if spec.type == "array" and spec.items is not None:
        item = _mock_value(spec.items)
        return [] if item is None else [item]
    return None


def mock_result(tool: Tool) -> Any:
    """A mock tool's answer, as Java's ``MockResponseBuilder``: ``{name: value}`` for each output with a value.

    Lenient: a single unnamed output is the answer itself (Java would wrap it as ``{"value": ...}``).
    """
    if len(tool.outputs) == 1 and not tool.outputs[0].name:
        return _mock_value(tool.outputs[0])
    return {spec.name or "value": value for spec in tool.outputs if (value := _mock_value(spec)) is not None}
