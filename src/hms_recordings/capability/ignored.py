"""What a file declares that the runtime does not carry out: each construct listed with its line, so nothing is
dropped silently.

Two kinds (``IgnoredFinding.status``):

* ``ignored``: the runtime reads the file without the construct, by design (``docs/capability-format.md`` section 6,
  ``docs/compatibility.md``): an MCP cache hint, a binary size limit, inbound authentication on an expose...
* ``defect``: the runtime should carry it out and does not yet (issue 17, part 2: the runtime rebuild); the file is
  served with a known wrong request. Each is listed in ``docs/compatibility.md`` with the module that owns the fix.

The walk runs on the document normalised to the alpha2 shape (:mod:`.versions`), whose lines are the original file's.

    >>> from hms_recordings.capability.yamlsource import parse_yaml
    >>> text = "naftiko: 1.0.0-alpha2\\ncapability:\\n  exposes:\\n  - {type: mcp, ttlMs: 5}\\n"
    >>> [(f.construct, f.line) for f in ignored_constructs(parse_yaml(text))]
    [('mcp.ttlMs', 4)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hms_recordings.capability.yamlsource import PathKey, YamlDoc, format_path
from hms_recordings.errors import Finding

__all__ = ["CONSTRUCTS", "IgnoredFinding", "ignored_constructs"]


@dataclass(frozen=True)
class IgnoredFinding(Finding):
    """A construct the runtime does not carry out; ``construct`` is its id in :data:`CONSTRUCTS`."""

    construct: str = ""
    status: str = "ignored"  # ignored | defect


#: construct id -> (status, what happens instead, what to do). The ids are ``<where>.<key>``.
CONSTRUCTS: dict[str, tuple[str, str, str]] = {
    "consumes.tunnel": ("ignored", "requests go straight to `baseUri`; no tunnel is opened", "remove `tunnel`"),
    "operation.outputSchema": ("ignored", "responses are not checked against `outputSchema`", ""),
    "operation.outputRawFormat": (
        "ignored",
        "a response that is not JSON is returned as text, not converted",
        "use `outputRawFormat: json` or accept text",
    ),
    "operation.maxBinarySize": ("ignored", "binary responses are not limited by `maxBinarySize`", ""),
    "operation.outputMediaType": ("ignored", "`outputMediaType` is not used", ""),
    "operation.path": (
        "defect",
        "an operation-level `path` is ignored: the request goes to the resource's path (wrong URL)",
        "move the path to its own resource until the runtime reads it (issue 17, part 2)",
    ),
    "operation.body-encoding": (
        "defect",
        "a body of this type is sent as JSON (the runtime's requests only carry JSON bodies)",
        "until the runtime encodes form and text bodies (issue 17, part 2), expect a JSON body",
    ),
    "operation.body-variable": (
        "defect",
        "the body template uses a variable that neither the operation's parameters nor the tools calling it supply:"
        " the tool's input schema does not ask for it, and a call without it fails (issue 17: `internal_error`)",
        "declare the variable as an `in: body` parameter of the operation, or give it a value in the tool's `with`",
    ),
    "param.path-value": (
        "defect",
        "a fixed `value` on a path parameter is not applied: the path is filled from the arguments only"
        " (runtime/request.py), so the tool asks the caller for it",
        "until part 2 of issue 17, pass the value from the tool's `with`",
    ),
    "rest.route-clash": (
        "defect",
        "two REST operations on the same method and path: issue 17 reports that `serve` then stops, MCP included",
        "give each REST operation its own method and path",
    ),
    "rest.path-name": (
        "defect",
        "a REST path parameter that is not an identifier (e.g. `{zone-id}`) is not an argument of the tool behind it"
        " (`zone_id`): `validate` passes the file but `serve` exits",
        "write path parameters as identifiers (`{zone_id}`) matching the consumed operation's",
    ),
    "param.cookie": ("ignored", "cookie parameters are not sent", ""),
    "param.environment": ("ignored", "environment parameters are not sent", ""),
    "apikey.name-in": (
        "defect",
        "apikey `name`/`in` are not read; alpha2 spells them `key`/`placement`",
        "write `key:` and `placement:` (header or query)",
    ),
    "auth.unbound-variable": (
        "defect",
        "the credential uses a variable no bind declares: the runtime reports it as not set even when the environment"
        " has it",
        "declare it in `binds` (e.g. `- {namespace: env, keys: {X: X}}`)",
    ),
    "digest.challenge": ("ignored", "digest credentials are sent pre-emptively as Basic (no challenge round)", ""),
    "expose.authentication": (
        "ignored",
        "inbound authentication on an expose is not enforced; HMS_RECORDINGS_AUTH_TOKEN protects every HTTP face",
        "set HMS_RECORDINGS_AUTH_TOKEN",
    ),
    "mcp.ttlMs": ("ignored", "MCP cache hints are not sent", ""),
    "mcp.cacheScope": ("ignored", "MCP cache hints are not sent", ""),
    "mcp.maxBinarySize": ("ignored", "binary results are not limited by `maxBinarySize`", ""),
    "rest.maxBinarySize": ("ignored", "binary results are not limited by `maxBinarySize`", ""),
    "rest-resource.forward": ("ignored", "REST `forward` is not served", ""),
    "rest-operation.responses": ("ignored", "declared REST `responses` are not used in the OpenAPI document", ""),
    "rest-operation.responseBinary": ("ignored", "binary REST responses are not produced", ""),
    "mcp-resource.binary": ("ignored", "the resource is read as text, not as binary content", ""),
    "step.script": ("ignored", "a `script` step is not run: calling the tool fails with `kind: unsupported`", ""),
    "control.management": ("ignored", "the control port serves health only; `management` is not used", ""),
    "control.observability": ("ignored", "`observability` (metrics, traces, exporters) is not used", ""),
    "semantics.cacheable": ("ignored", "`cacheable` has no MCP equivalent", ""),
    "tags": ("ignored", "`tags` are not published", ""),
}

_BODY_TYPES_SENT = frozenset({"json"})
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
#: ``add(path, construct, detail="")``: records one construct.
Add = Callable[..., None]


def ignored_constructs(doc: YamlDoc) -> list[IgnoredFinding]:
    """Every construct of ``doc`` (alpha2-shaped) that the runtime does not carry out, in file order."""
    out: list[IgnoredFinding] = []
    data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
    cap: dict[str, Any] = data["capability"] if isinstance(data.get("capability"), dict) else {}

    def add(path: PathKey, construct: str, detail: str = "") -> None:
        status, what, fix = CONSTRUCTS[construct]
        message = f"{detail}: {what}" if detail else what
        out.append(
            IgnoredFinding(format_path(path), doc.line_of(path), message, fix, "warning", doc.file, construct, status)
        )

    # Bound variables and bind namespaces (`{{env.X}}`) are supplied by the runtime, not by the caller.
    keys = {str(k) for b in _binds(data, cap) for k in (b.get("keys") or {})}
    bound = keys | {str(b.get("namespace")) for b in _binds(data, cap)}
    callers = _callers(cap)
    for cpath, api in [
        *_items(data.get("consumes"), ("consumes",)),
        *_items(cap.get("consumes"), ("capability", "consumes")),
    ]:
        if "tunnel" in api:
            add((*cpath, "tunnel"), "consumes.tunnel")
        if cap:  # a standalone consumes file gets its binds from the capability that imports it
            _authentication(api.get("authentication"), (*cpath, "authentication"), add, keys)
        _params(api, cpath, add)
        for rpath, resource in _items(api.get("resources"), (*cpath, "resources")):
            _tags(resource, rpath, add)
            _params(resource, rpath, add)
            supplied = bound | {str(p.get("name")) for _, p in _items(resource.get("inputParameters"), ())}
            supplied |= {str(p.get("name")) for _, p in _items(api.get("inputParameters"), ())}
            for opath, op in _items(resource.get("operations"), (*rpath, "operations")):
                _operation(op, opath, add, supplied, callers.get(f"{api.get('namespace')}.{op.get('name')}"))
    for epath, expose in _items(cap.get("exposes"), ("capability", "exposes")):
        kind = expose.get("type")
        routes: dict[tuple[str, str], PathKey] = {}
        if "authentication" in expose and kind in ("mcp", "rest", "skill", "control"):
            add((*epath, "authentication"), "expose.authentication")
        for key in ("ttlMs", "cacheScope", "maxBinarySize"):
            if key in expose and f"{kind}.{key}" in CONSTRUCTS:
                add((*epath, key), f"{kind}.{key}")
        if kind == "control":
            for key in ("management", "observability"):
                if key in expose:
                    add((*epath, key), f"control.{key}")
        for rpath, resource in _items(expose.get("resources"), (*epath, "resources")):
            _tags(resource, rpath, add)
            if kind == "mcp" and "binary" in resource:
                add((*rpath, "binary"), "mcp-resource.binary")
            if kind == "rest":
                _rest_paths(resource, rpath, routes, add)
                if "forward" in resource:
                    add((*rpath, "forward"), "rest-resource.forward")
                for opath, op in _items(resource.get("operations"), (*rpath, "operations")):
                    _tags(op, opath, add)
                    for key in ("responses", "responseBinary"):
                        if key in op:
                            add((*opath, key), f"rest-operation.{key}")
                    _steps(op, opath, add)
        for tpath, tool in _items(expose.get("tools"), (*epath, "tools")):
            _tags(tool, tpath, add)
            _steps(tool, tpath, add)
    for apath, aggregate in _items(cap.get("aggregates"), ("capability", "aggregates")):
        for fpath, function in _items(aggregate.get("functions"), (*apath, "functions")):
            _tags(function, fpath, add)
            _steps(function, fpath, add)
            semantics = function.get("semantics")
            if isinstance(semantics, dict) and "cacheable" in semantics:
                add((*fpath, "semantics", "cacheable"), "semantics.cacheable")
            if "outputMediaType" in function:
                add((*fpath, "outputMediaType"), "operation.outputMediaType")
    return sorted(out, key=lambda f: (f.line, f.path))


def _callers(cap: dict[str, Any]) -> dict[str, set[str]]:
    """``ns.operation`` -> the names its callers supply: their input parameters and ``with`` keys."""
    out: dict[str, set[str]] = {}
    callers: list[dict[str, Any]] = []
    for _, expose in _items(cap.get("exposes"), ()):
        callers += [t for _, t in _items(expose.get("tools"), ())]
        callers += [op for _, r in _items(expose.get("resources"), ()) for _, op in _items(r.get("operations"), ())] + [
            r for _, r in _items(expose.get("resources"), ())
        ]
    callers += [f for _, a in _items(cap.get("aggregates"), ()) for _, f in _items(a.get("functions"), ())]
    for caller in callers:
        names = {str(p.get("name")) for _, p in _items(caller.get("inputParameters"), ())}
        for node in [caller, *(s for _, s in _items(caller.get("steps"), ()))]:
            if isinstance(node.get("call"), str):
                with_: dict[str, Any] = node["with"] if isinstance(node.get("with"), dict) else {}
                out.setdefault(node["call"], set()).update(names | {str(k) for k in with_})
    return out


def _binds(data: dict[str, Any], cap: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        b
        for _, b in [*_items(data.get("binds"), ()), *_items(cap.get("binds"), ())]
        if isinstance(b.get("keys"), dict | None)
    ]


def _items(node: Any, path: PathKey) -> Iterator[tuple[PathKey, dict[str, Any]]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, dict):
                yield (*path, index), item


def _tags(node: dict[str, Any], path: PathKey, add: Add) -> None:
    if "tags" in node:
        add((*path, "tags"), "tags")


def _params(node: dict[str, Any], path: PathKey, add: Add) -> None:
    for ppath, param in _items(node.get("inputParameters"), (*path, "inputParameters")):
        where = param.get("in")
        if where in ("cookie", "environment"):
            add((*ppath, "in"), f"param.{where}", f"`{param.get('name')}`")


def _rest_paths(resource: dict[str, Any], path: PathKey, routes: dict[tuple[str, str], PathKey], add: Add) -> None:
    route = resource.get("path")
    if not isinstance(route, str):
        return
    for name in _PLACEHOLDER.findall(route):
        if not _IDENTIFIER.fullmatch(name):
            add((*path, "path"), "rest.path-name", f"`{{{name}}}`")
    for opath, op in _items(resource.get("operations"), (*path, "operations")):
        key = (str(op.get("method", "GET")).upper(), _PLACEHOLDER.sub("{}", route))
        if key in routes:
            add((*opath, "method"), "rest.route-clash", f"`{key[0]} {route}`")
        routes.setdefault(key, opath)


def _operation(op: dict[str, Any], path: PathKey, add: Add, supplied: set[str], callers: set[str] | None) -> None:
    """``callers``: the argument and ``with`` names of the tools and steps that call ``op`` (``None``: nothing
    calls it, so no tool is affected by its body)."""
    _tags(op, path, add)
    _params(op, path, add)
    for ppath, param in _items(op.get("inputParameters"), (*path, "inputParameters")):
        if param.get("in") == "path" and param.get("value") is not None:
            add((*ppath, "value"), "param.path-value", f"`{param.get('name')}`")
    names = supplied | {str(p.get("name")) for _, p in _items(op.get("inputParameters"), ())}
    if op.get("body") is not None and callers is not None:
        names |= callers
        missing = sorted({v for v in _VARIABLE.findall(str(op["body"])) if v.split(".")[0] not in names})
        if missing:
            add((*path, "body"), "operation.body-variable", ", ".join(f"`{{{{{v}}}}}`" for v in missing))
    for key in ("outputSchema", "maxBinarySize", "outputMediaType", "path"):
        if key in op:
            add((*path, key), f"operation.{key}")
    raw = op.get("outputRawFormat")
    if raw is not None and raw != "json":
        add((*path, "outputRawFormat"), "operation.outputRawFormat", f"`outputRawFormat: {raw}`")
    body = op.get("body")
    if isinstance(body, dict) and isinstance(body.get("type"), str) and body["type"] not in _BODY_TYPES_SENT:
        add((*path, "body", "type"), "operation.body-encoding", f"`body: {{type: {body['type']}}}`")


def _authentication(auth: Any, path: PathKey, add: Add, keys: set[str]) -> None:
    """``keys``: the variables the binds declare (``{{X}}`` and ``{{namespace.X}}`` both need ``X`` among them)."""
    if not isinstance(auth, dict):
        return
    texts = " ".join(str(v) for k, v in auth.items() if k != "type")
    unbound = sorted({v for v in _VARIABLE.findall(texts) if v.rsplit(".", 1)[-1] not in keys})
    if unbound:
        add(path, "auth.unbound-variable", ", ".join(f"`{{{{{v}}}}}`" for v in unbound))
    if auth.get("type") == "apikey" and ("name" in auth or "in" in auth) and "key" not in auth:
        add(path, "apikey.name-in")
    if auth.get("type") == "digest":
        add((*path, "type"), "digest.challenge")


def _steps(node: dict[str, Any], path: PathKey, add: Add) -> None:
    for spath, step in _items(node.get("steps"), (*path, "steps")):
        if step.get("type") == "script":
            add((*spath, "type"), "step.script")
