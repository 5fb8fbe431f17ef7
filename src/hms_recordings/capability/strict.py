"""Strict validation of capability files against the official schema of their version, with path, line and a fix.

Two layers, both reported as :class:`RuleFinding` (a :class:`~hms_recordings.errors.Finding` with a stable ``rule`` id):

* the official JSON Schema (draft 2020-12) of the version the file declares (``schemas/``, vendored unchanged, see
  ``schemas/SOURCES.md``), whose raw ``oneOf``/``anyOf`` errors are unreadable, so we walk ``error.context`` down
  to the branch the author evidently meant and word each leaf error;
* the cheap Spectral-style checks the schema cannot express (unique namespaces and tool names, ``call``/``ref``
  targets, no trailing ``/`` in ``baseUri``, no ``?`` in paths), run on the file normalised to the alpha2 shape
  (:mod:`.versions`) so that one implementation serves every version.

``x-`` keys are this project's extension mechanism: they are taken out before the official schema sees the file
(every official object is closed) and reported as ``info`` findings; they never make a file invalid. A file without
``x-`` keys is therefore a deviation exactly when its official schema rejects it.

    >>> from hms_recordings.capability.yamlsource import parse_yaml
    >>> [f.rule for f in validate_strict(parse_yaml("naftiko: 1.0.0-alpha2\\n"))]
    ['root-shape']
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

# The project declares types-jsonschema for tests; without it installed the import is untyped, not wrong.
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from hms_recordings.capability.versions import (
    ALPHA2,
    NAMED_MAPS,
    FormatVersion,
    declared_version,
    normalise,
    official_schema,
)
from hms_recordings.capability.yamlsource import PathKey, YamlDoc, format_path
from hms_recordings.errors import Finding

__all__ = ["RULES", "DeviationKey", "RuleFinding", "group_findings", "strip_extensions", "validate_strict"]

#: Every rule id this module emits; docs/validation.md says what each flags (a test keeps the two in step).
_RULE_IDS = (
    "bearer-token consumed-param-fields object-output-properties unknown-key missing-key bad-value "
    "bad-pattern bad-type root-shape mcp-transport-port output-mapping-or-value skill-tool-source "
    "resource-source prompt-source unique-namespace baseuri-trailing-slash path-query-string "
    "unique-tool-name call-target ref-target schema extension"
)
RULES: tuple[str, ...] = tuple(_RULE_IDS.split())

_SCALAR_OUTPUT = (
    "output-mapping-or-value",
    "a scalar output needs exactly one of `mapping` or `value`",
    "keep either `mapping` (JSONPath) or `value` (static)",
)
#: Schema objects whose ``oneOf``/``anyOf`` is a rule of its own: we word it instead of descending into branches.
#: Names are the official ``$defs`` names (an ``allOf`` branch is named after its definition).
_COMBINATOR_RULES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("Root", "oneOf"): (
        "root-shape",
        "the file needs `naftiko` plus either `capability` or a root `consumes`, not both",
        "add `naftiko: 1.0.0-alpha2` and keep exactly one of `capability` / `consumes`",
    ),
    ("Capability", "anyOf"): ("missing-key", "`capability` needs `exposes` or `consumes`", "add a `consumes` list"),
    ("ExposesMcp", "oneOf"): (
        "mcp-transport-port",
        "an http MCP expose needs `port`; a `transport: stdio` one takes none",
        "add `port: 9090`, or set `transport: stdio` and drop `port`",
    ),
    ("MappedOutputParameterString", "oneOf"): _SCALAR_OUTPUT,
    ("MappedOutputParameterNumber", "oneOf"): _SCALAR_OUTPUT,
    ("MappedOutputParameterBoolean", "oneOf"): _SCALAR_OUTPUT,
    ("SkillTool", "oneOf"): (
        "skill-tool-source",
        "a skill tool needs exactly one of `from` or `instruction`",
        "keep either `from` or `instruction`",
    ),
    ("McpResource", "oneOf"): (
        "resource-source",
        "an MCP resource is either dynamic (`call`/`steps`) or static (`location`)",
        "keep either `call`/`steps` or `location`",
    ),
    ("McpPrompt", "oneOf"): (
        "prompt-source",
        "an MCP prompt needs exactly one of `template` or `location`",
        "keep either `template` or `location`",
    ),
}
_IKANOS_ROOT = (
    "root-shape",
    "the file needs `ikanos` plus `capability`, or exactly one of `consumes`, `exposes`, `aggregates`, `binds`",
    "add `ikanos: 1.0.0-beta5` and either `capability` or a single shared section",
)

#: What a pattern means, in words a reader can act on.
_PATTERN_WORDS: dict[str, str] = {
    "^[a-zA-Z0-9-]+$": "letters, digits and `-` only",
    "^[a-zA-Z0-9-]+\\.[a-zA-Z0-9-]+$": "`namespace.operation`",
    "^https?://[^/]+(/[^{]*)?$": "`http(s)://host[/path]` with no `{`",
    "^[A-Z][A-Z0-9_]*$": "UPPER_SNAKE_CASE",
    "^file:///": "a `file:///` URI",
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "a `YYYY-MM-DD` date",
    "^[a-zA-Z][a-zA-Z0-9+.-]*://": "a URI such as `file:///./secrets.yaml`",
    "^[a-zA-Z0-9_.-]+$": "letters, digits, `_`, `-` and `.`",
    "^[a-zA-Z0-9_*-]+$": "letters, digits, `_`, `-` and `*`",
}

#: Keys whose value is a free-form map: an ``x-`` key inside is data (a parameter name, a field), not an extension.
_FREE_MAPS = frozenset({"keys", "with", "properties", "metadata", "data"})

#: Which oneOf/anyOf branch the author evidently meant is decided by these validators failing one level down.
_DISCRIMINATORS = frozenset({"const"})

#: A group of findings that are the same deviation at several locations.
DeviationKey = tuple[str, str]


@dataclass(frozen=True)
class RuleFinding(Finding):
    """A :class:`Finding` with the id of the rule that produced it (see :data:`RULES`)."""

    rule: str = ""


def group_findings(findings: list[Finding]) -> dict[DeviationKey, list[Finding]]:
    """Group findings by ``(rule, message)``: one key per distinct deviation, each with all its locations."""
    groups: dict[DeviationKey, list[Finding]] = {}
    for finding in findings:
        rule = finding.rule if isinstance(finding, RuleFinding) else ""
        groups.setdefault((rule, finding.message), []).append(finding)
    return groups


#: ``id()`` of every definition (and of each of its ``allOf`` branches) of a loaded schema -> its ``$defs`` name:
#: the official schemas have no ``title``s, and the messages name the construct.
_DEF_NAMES: dict[int, str] = {}


@functools.cache
def _validator(version: FormatVersion) -> Draft202012Validator:
    # Compiled once per process and version: read and checked on first use, not on import of the CLI.
    schema = official_schema(version)
    Draft202012Validator.check_schema(schema)
    _DEF_NAMES[id(schema)] = "Root"
    for name, definition in schema.get("$defs", {}).items():
        _DEF_NAMES[id(definition)] = name
        for branch in definition.get("allOf", ()) if isinstance(definition, dict) else ():
            _DEF_NAMES.setdefault(id(branch), name)
    return Draft202012Validator(schema)


def _label(version: FormatVersion) -> str:
    """How messages name the version: plain ``alpha2`` for the seed's version, the full name otherwise."""
    return "alpha2" if version == ALPHA2 else f"{version.key} {version.version}"


def strip_extensions(node: Any) -> Any:
    """``node`` without its ``x-`` keys (those inside free-form maps are data and stay)."""
    if isinstance(node, dict):
        return {
            k: (v if k in _FREE_MAPS else strip_extensions(v)) for k, v in node.items() if not str(k).startswith("x-")
        }
    if isinstance(node, list):
        return [strip_extensions(v) for v in node]
    return node


def validate_strict(doc: YamlDoc) -> list[RuleFinding]:
    """Every deviation of ``doc`` from its version's official schema, plus the semantic checks (severity ``error``),
    plus its ``x-`` extension keys (severity ``info``). A file that declares no version is checked as alpha2."""
    if not isinstance(doc.data, dict):
        got = "nothing" if doc.data is None else type(doc.data).__name__
        message = f"a capability file is a YAML mapping; this one holds {got}"
        return [_at(doc, (), "root-shape", message, "start the file with `naftiko: 1.0.0-alpha2`")]
    version, declared = declared_version(doc.data)
    normalised = normalise(doc)
    if version is None and declared:
        refusal = normalised.findings[0]
        return [_at(doc, (declared.partition(":")[0],), "bad-value", refusal.message, refusal.fix)]
    version = version or ALPHA2
    leaves = [leaf for error in _validator(version).iter_errors(strip_extensions(doc.data)) for leaf in _leaves(error)]
    findings = _named_rules(doc, leaves, version)
    findings += _semantic_findings(normalised.doc, normalised.doc.data)
    findings += _extension_findings(doc, doc.data, (), _label(version))
    unique = {(f.rule, f.path, f.message): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.line, f.path, f.rule))


# --- schema errors -> findings ---------------------------------------------------------------------------------


def _title(error: ValidationError) -> str:
    schema = error.schema
    if not isinstance(schema, dict):
        return ""
    return str(schema.get("title") or _DEF_NAMES.get(id(schema), ""))


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The most specific causes of ``error``: descend into the branch of a oneOf/anyOf the author meant."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    if (_title(error), str(error.validator)) in _COMBINATOR_RULES:
        return [error]
    depth = len(error.absolute_path)
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)

    def score(item: tuple[int, list[ValidationError]]) -> tuple[bool, int, int, int]:
        index, errors = item
        # A failed `type` constant one level down means "not this variant" (bearer vs basic, object vs array).
        mismatch = any(
            len(e.absolute_path) == depth + 1
            and (e.validator in _DISCRIMINATORS or (e.validator == "enum" and e.absolute_path[-1] == "type"))
            for e in errors
        ) or any(e.validator == "type" and len(e.absolute_path) == depth for e in errors)
        missing = sum(1 for e in errors if e.validator == "required" and len(e.absolute_path) == depth)
        return (mismatch, missing, len(errors), index)

    scored = sorted((score(item), item[1]) for item in branches.items())
    if scored[0][0][0]:
        return [error]  # no variant's `type` matches: _describe lists the allowed ones
    return [leaf for sub in scored[0][1] for leaf in _leaves(sub)]


_QUOTED = re.compile(r"'([^']*)'")


def _extras(error: ValidationError) -> list[str]:
    schema, instance = error.schema, error.instance
    if not isinstance(instance, dict):
        return []
    if error.validator == "unevaluatedProperties":
        # `allOf` definitions close themselves with unevaluatedProperties: the unexpected keys are in the message.
        named = error.message.partition("(")[2]
        return [k for k in _QUOTED.findall(named) if k in instance]
    known = set(schema.get("properties", {})) if isinstance(schema, dict) else set()
    return [k for k in instance if k not in known and not str(k).startswith("x-")]


def _missing(error: ValidationError) -> list[str]:
    required = error.validator_value if isinstance(error.validator_value, list) else []
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [str(k) for k in required if k not in instance]


def _ticks(keys: list[str]) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def _named_rules(doc: YamlDoc, leaves: list[ValidationError], version: FormatVersion) -> list[RuleFinding]:
    """The known deviations of the APIs.io files get one precise finding each; everything else is worded generically."""
    label = _label(version)
    out: list[RuleFinding] = []
    claimed: set[str] = set()
    for error in leaves:
        path, title, instance = tuple(error.absolute_path), _title(error), error.instance
        if title == "AuthBearer" and isinstance(instance, dict) and "value" in instance:
            used = [k for k in ("value", "placement") if k in instance]
            line = min(doc.line_of((*path, k)) for k in used)
            message = f"bearer authentication uses {' and '.join(_ticks([k]) for k in used)}; {label} expects `token`"
            out.append(_at(doc, path, "bearer-token", message, "rename `value` to `token` and drop `placement`", line))
            claimed.add(format_path(path))
        elif title == "ConsumedInputParameter" and error.validator == "additionalProperties":
            extras = _extras(error)
            if extras and set(extras) <= {"type", "required"}:
                verb, them = ("is", "it") if len(extras) == 1 else ("are", "them")
                allowed = "name, in, value" if not version.ikanos_shape else "in, value"
                message = f"consumed input parameters may only have {allowed}; {_ticks(extras)} {verb} not {label}"
                removed = " and ".join(_ticks([k]) for k in extras)
                fix = f"remove {removed} (describe {them} on the tool's inputParameters instead)"
                out.append(_at(doc, path, "consumed-param-fields", message, fix))
                continue
            out.append(_describe(doc, error, version))
        elif (
            title in ("MappedObjectOutput", "MappedOutputParameterObject")
            and error.validator == "required"
            and "properties" in _missing(error)
        ):
            mapping = instance.get("mapping") if isinstance(instance, dict) else None
            message = "an object output needs `properties`"
            if mapping in ("$", "$."):
                message += f"; `{{type: object, mapping: {mapping}}}` is not {label}"
            out.append(
                _at(
                    doc,
                    path,
                    "object-output-properties",
                    message,
                    "list the fields under `properties`, or map a scalar",
                )
            )
        else:
            out.append(_describe(doc, error, version))
    # The bearer finding already says everything about that object (unexpected keys, missing token).
    return [f for f in out if f.rule == "bearer-token" or f.path not in claimed]


def _at(
    doc: YamlDoc, path: PathKey, rule: str, message: str, fix: str, line: int = 0, severity: str = "error"
) -> RuleFinding:
    return RuleFinding(format_path(path), line or doc.line_of(path), message, fix, severity, doc.file, rule)


def _describe(doc: YamlDoc, error: ValidationError, version: FormatVersion) -> RuleFinding:
    path, title, validator, value = (
        tuple(error.absolute_path),
        _title(error),
        str(error.validator),
        error.validator_value,
    )
    key = next((str(p) for p in reversed(path) if isinstance(p, str)), "(root)")
    combinator = _COMBINATOR_RULES.get((title, validator))
    if version.ikanos_shape and (title, validator) == ("Root", "oneOf"):
        combinator = _IKANOS_ROOT
    if combinator is not None:
        return _at(doc, path, *combinator)
    if validator in ("oneOf", "anyOf"):
        return _no_variant(doc, error, _label(version))
    if validator in ("additionalProperties", "unevaluatedProperties"):
        extras = _extras(error)
        schema: Any = error.schema
        allowed = ", ".join(schema.get("properties", {}) if isinstance(schema, dict) else {})
        line = min((doc.line_of((*path, k)) for k in extras), default=0)
        verb = "is" if len(extras) == 1 else "are"
        message = f"{_ticks(extras)} {verb} not {_label(version)} in {title or 'this object'}"
        return _at(
            doc, path, "unknown-key", message, f"remove {_ticks(extras)} (allowed: {allowed}, or an `x-` key)", line
        )
    if validator == "required":
        missing = _missing(error)
        return _at(
            doc, path, "missing-key", f"{title or 'this object'} needs {_ticks(missing)}", f"add {_ticks(missing)}"
        )
    got = json.dumps(error.instance) if not isinstance(error.instance, dict | list) else type(error.instance).__name__
    if validator == "const":
        return _at(doc, path, "bad-value", f"`{key}` must be `{value}`; got {got}", f"set `{key}: {value}`")
    if validator == "enum":
        choices = ", ".join(str(v) for v in cast(list[Any], value))
        return _at(doc, path, "bad-value", f"`{key}` must be one of {choices}; got {got}", f"use one of {choices}")
    if validator in ("minimum", "maximum"):
        return _at(doc, path, "bad-value", f"`{key}` is out of range ({validator} {value}); got {got}", "use 1-65535")
    if validator == "minItems":
        return _at(doc, path, "bad-value", f"`{key}` needs at least {value} item(s)", f"add an item to `{key}`")
    if validator == "pattern":
        words = _PATTERN_WORDS.get(str(value), f"`{value}`")
        if "propertyNames" in error.relative_schema_path or "propertyNames" in error.schema_path:
            line = doc.line_of((*path, str(error.instance)))
            return _at(doc, path, "bad-pattern", f"key {got} in `{key}` must be {words}", f"rename it to {words}", line)
        return _at(doc, path, "bad-pattern", f"`{key}` must be {words}; got {got}", f"write `{key}` as {words}")
    if validator == "type" and version.ikanos_shape and key in NAMED_MAPS and isinstance(error.instance, list):
        message = f"`{key}` is a map keyed by name in {_label(version)}; got a list (the alpha2 way)"
        fix = f"write each item as `<name>: {{...}}`, or run `hms-recordings convert FILE --to {version.name}`"
        return _at(doc, path, "bad-type", message, fix)
    if validator == "type":
        return _at(doc, path, "bad-type", f"`{key}` must be of type {value}; got {got}", f"write `{key}` as {value}")
    return _at(doc, path, "schema", error.message, "see docs/capability-format.md section 2")


def _no_variant(doc: YamlDoc, error: ValidationError, label: str) -> RuleFinding:
    """No oneOf/anyOf variant has this ``type`` (e.g. ``type: mpc``): list the types that exist."""
    path, depth = tuple(error.absolute_path), len(error.absolute_path)
    allowed: list[str] = []
    key = "type"
    for sub in error.context or []:
        if len(sub.absolute_path) == depth + 1 and sub.validator in ("const", "enum"):
            key = str(sub.absolute_path[-1])
            values = cast(list[Any], sub.validator_value) if sub.validator == "enum" else [sub.validator_value]
            allowed += [str(v) for v in values if str(v) not in allowed]
    instance = error.instance if isinstance(error.instance, dict) else {}
    if not allowed or key not in instance:
        message = f"matches none of the {label} shapes of {_title(error) or 'this object'}"
        return _at(doc, path, "schema", message, "see docs/capability-format.md section 2")
    choices = ", ".join(allowed)
    message = f"`{key}` must be one of {choices}; got {json.dumps(instance[key])}"
    return _at(doc, (*path, key), "bad-value", message, f"use one of {choices}")


# --- checks JSON Schema cannot express (the cheap part of the upstream Spectral ruleset) -------------------------


def _dicts(node: Any, path: PathKey) -> Iterator[tuple[PathKey, dict[str, Any]]]:
    """Every mapping under ``node`` with its path, depth first."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _dicts(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _dicts(value, (*path, index))


def _items(node: Any, path: PathKey) -> Iterator[tuple[PathKey, dict[str, Any]]]:
    """The mapping items of a list that should be at ``path`` (anything else was already reported by the schema)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, dict):
                yield (*path, index), item


def _semantic_findings(doc: YamlDoc, root: dict[str, Any]) -> list[RuleFinding]:
    out: list[RuleFinding] = []
    cap: dict[str, Any] = root["capability"] if isinstance(root.get("capability"), dict) else {}
    consumes = [*_items(root.get("consumes"), ("consumes",)), *_items(cap.get("consumes"), ("capability", "consumes"))]
    exposes = list(_items(cap.get("exposes"), ("capability", "exposes")))

    seen: dict[str, PathKey] = {}
    for path, item in [*consumes, *exposes]:
        namespace = item.get("namespace", item.get("as"))
        if not isinstance(namespace, str):
            continue
        if namespace in seen:
            first = f"{format_path(seen[namespace])} (line {doc.line_of(seen[namespace])})"
            message = f"namespace `{namespace}` is already used by {first}"
            out.append(
                _at(doc, (*path, "namespace"), "unique-namespace", message, "give each adapter its own namespace")
            )
        else:
            seen[namespace] = path

    operations: dict[str, set[str] | None] = {}  # None: an imported adapter whose operations we cannot see
    for path, item in consumes:
        base = item.get("baseUri")
        if isinstance(base, str) and base.endswith("/"):
            message = "`baseUri` ends with `/`; resource paths start with one, so URLs would get `//`"
            out.append(_at(doc, (*path, "baseUri"), "baseuri-trailing-slash", message, f"write `{base.rstrip('/')}`"))
        if "import" in item:
            operations[str(item.get("as", item["import"]))] = None
            continue
        ops = operations.setdefault(str(item.get("namespace")), set())
        for rpath, resource in _items(item.get("resources"), (*path, "resources")):
            _query_in_path(doc, rpath, resource, "consumed", out)
            for _opath, op in _items(resource.get("operations"), (*rpath, "operations")):
                if ops is not None and isinstance(op.get("name"), str):
                    ops.add(op["name"])

    for path, expose in exposes:
        for rpath, resource in _items(expose.get("resources"), (*path, "resources")):
            if expose.get("type") == "rest":
                _query_in_path(doc, rpath, resource, "REST", out)
        names: dict[str, int] = {}
        for tpath, tool in _items(expose.get("tools"), (*path, "tools")):
            name = tool.get("name")
            if isinstance(name, str) and name in names:
                message = f"tool name `{name}` is already used in this expose (line {names[name]})"
                out.append(_at(doc, (*tpath, "name"), "unique-tool-name", message, "give each tool its own name"))
            elif isinstance(name, str):
                names[name] = doc.line_of((*tpath, "name"))

    functions = {
        (str(agg.get("namespace")), str(fn.get("name")))
        for apath, agg in _items(cap.get("aggregates"), ("capability", "aggregates"))
        for _fpath, fn in _items(agg.get("functions"), (*apath, "functions"))
    }
    for path, node in _dicts(cap, ("capability",)):
        if "consumes" in path:
            continue
        call, ref = node.get("call"), node.get("ref")
        if isinstance(call, str) and "." in call:
            out += _call_target(doc, (*path, "call"), call, operations)
        if isinstance(ref, str) and path[:2] != ("capability", "aggregates"):
            out += _ref_target(doc, (*path, "ref"), ref, functions)
    return out


def _query_in_path(doc: YamlDoc, path: PathKey, resource: dict[str, Any], kind: str, out: list[RuleFinding]) -> None:
    value = resource.get("path")
    if isinstance(value, str) and "?" in value:
        message = f"{kind} path `{value}` contains a query string; alpha2 paths have no `?`"
        fix = "move the query into inputParameters with `in: query`"
        out.append(_at(doc, (*path, "path"), "path-query-string", message, fix))


def _call_target(doc: YamlDoc, path: PathKey, call: str, operations: dict[str, set[str] | None]) -> list[RuleFinding]:
    namespace, _, operation = call.partition(".")
    if namespace not in operations:
        known = ", ".join(sorted(operations)) or "none"
        message = f"`call: {call}` names consumed namespace `{namespace}`, which does not exist"
        return [_at(doc, path, "call-target", message, f"use one of the consumed namespaces: {known}")]
    ops = operations[namespace]
    if ops is None or operation in ops:
        return []
    message = f"`call: {call}`: consumed namespace `{namespace}` has no operation `{operation}`"
    return [_at(doc, path, "call-target", message, f"use one of: {', '.join(sorted(ops)) or 'none'}")]


def _ref_target(doc: YamlDoc, path: PathKey, ref: str, functions: set[tuple[str, str]]) -> list[RuleFinding]:
    # `ref` is written `aggregate-namespace.function`; a bare function name is accepted when it is unambiguous.
    namespace, dot, name = ref.rpartition(".")
    if (dot and (namespace, name) in functions) or (not dot and sum(1 for _, f in functions if f == ref) == 1):
        return []
    known = ", ".join(sorted(f"{n}.{f}" for n, f in functions)) or "none (add `capability.aggregates`)"
    message = f"`ref: {ref}` names no aggregate function"
    return [_at(doc, path, "ref-target", message, f"use one of: {known}")]


def _extension_findings(doc: YamlDoc, node: Any, path: PathKey, label: str) -> list[RuleFinding]:
    """``x-`` keys are allowed everywhere alpha2 defines an object; report them so nobody is surprised."""
    out: list[RuleFinding] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("x-"):
                message = (
                    f"extension key `{key}` is not part of {label}; allowed as an extension, other engines ignore it"
                )
                out.append(_at(doc, (*path, key), "extension", message, "", severity="info"))
            elif key not in _FREE_MAPS:
                out += _extension_findings(doc, value, (*path, key), label)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _extension_findings(doc, value, (*path, index), label)
    return out
