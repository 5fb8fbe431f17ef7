"""What a file declares that the runtime does not carry out: each construct listed with its line, so nothing is
dropped silently.

Two kinds (``IgnoredFinding.status``):

* ``ignored``: the runtime reads the file without the construct, by design (``docs/capability-format.md`` section 6,
  ``docs/compatibility.md``): an MCP cache hint, a binary size limit, inbound authentication on an expose...
* ``default``: the file leaves something out and the runtime supplies an evident default (an MCP face for a file
  that exposes nothing), said so that it is never a surprise;
* ``defect``: the runtime should carry it out and does not yet; the file would be served with a known wrong request.
  None is left: the last ones (issue 17) are carried out now, and ``docs/compatibility.md`` lists any that appear.

The walk runs on the document normalised to the alpha2 shape (:mod:`.versions`), whose lines are the original file's.

    >>> from hms_recordings.capability.yamlsource import parse_yaml
    >>> text = "naftiko: 1.0.0-alpha2\\ncapability:\\n  exposes:\\n  - {type: mcp, ttlMs: 5}\\n"
    >>> [(f.construct, f.line) for f in ignored_constructs(parse_yaml(text))]
    [('mcp.ttlMs', 4)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hms_recordings.capability.model import BODY_KINDS
from hms_recordings.capability.yamlsource import PathKey, YamlDoc, format_path
from hms_recordings.errors import Finding

__all__ = ["CONSTRUCTS", "IgnoredFinding", "ignored_constructs"]


@dataclass(frozen=True)
class IgnoredFinding(Finding):
    """A construct the runtime does not carry out; ``construct`` is its id in :data:`CONSTRUCTS`."""

    construct: str = ""
    status: str = "ignored"  # ignored | default | defect


#: construct id -> (status, what happens instead, what to do). The ids are ``<where>.<key>``.
CONSTRUCTS: dict[str, tuple[str, str, str]] = {
    "capability.default-mcp": (
        "default",
        "the file exposes no tool, route or resource: `serve` serves each consumed operation as an MCP tool"
        " (`<namespace>-<operation>`) on 127.0.0.1:9090",
        "add an `exposes` section to choose the tools and their names",
    ),
    "consumes.tunnel": ("ignored", "requests go straight to `baseUri`; no tunnel is opened", "remove `tunnel`"),
    "operation.outputSchema": ("ignored", "responses are not checked against `outputSchema`", ""),
    "operation.outputRawFormat": (
        "ignored",
        "a response that is not JSON is returned as text, not converted",
        "use `outputRawFormat: json` or accept text",
    ),
    "operation.maxBinarySize": ("ignored", "binary responses are not limited by `maxBinarySize`", ""),
    "operation.outputMediaType": ("ignored", "`outputMediaType` is not used", ""),
    "operation.body-encoding": (
        "ignored",
        "a body of a type the format does not define is sent as JSON",
        "use json, text, xml, sparql, formUrlEncoded or multipartForm",
    ),
    "consumes.baseUri-empty": (
        "ignored",
        "the API has no address: its tools are served, and each call fails until `--upstream NAMESPACE=URL` gives one",
        "set `baseUri: https://host/prefix`",
    ),
    "param.cookie": ("ignored", "cookie parameters are not sent", ""),
    "param.environment": ("ignored", "environment parameters are not sent", ""),
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
    "rest-operation.responses": ("ignored", "declared REST `responses` are not used in the OpenAPI document", ""),
    "rest-operation.responseBinary": ("ignored", "binary REST responses are not produced", ""),
    "mcp-resource.binary": ("ignored", "the resource is read as text, not as binary content", ""),
    "step.script": ("ignored", "a `script` step is not run: calling the tool fails with `kind: unsupported`", ""),
    "control.management": ("ignored", "the control port serves health only; `management` is not used", ""),
    "control.observability": ("ignored", "`observability` (metrics, traces, exporters) is not used", ""),
    "semantics.cacheable": ("ignored", "`cacheable` has no MCP equivalent", ""),
    "tags": ("ignored", "`tags` are not published", ""),
}

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

    apis = [*_items(data.get("consumes"), ("consumes",)), *_items(cap.get("consumes"), ("capability", "consumes"))]
    if _declares_operations(apis) and not _exposes_entries(cap):
        add(("capability",), "capability.default-mcp")
    for cpath, api in apis:
        if "tunnel" in api:
            add((*cpath, "tunnel"), "consumes.tunnel")
        if api.get("baseUri") == "":
            add((*cpath, "baseUri"), "consumes.baseUri-empty")
        _authentication(api.get("authentication"), (*cpath, "authentication"), add)
        _params(api, cpath, add)
        for rpath, resource in _items(api.get("resources"), (*cpath, "resources")):
            _tags(resource, rpath, add)
            _params(resource, rpath, add)
            for opath, op in _items(resource.get("operations"), (*rpath, "operations")):
                _operation(op, opath, add)
    for epath, expose in _items(cap.get("exposes"), ("capability", "exposes")):
        kind = expose.get("type")
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


def _operation(op: dict[str, Any], path: PathKey, add: Add) -> None:
    _tags(op, path, add)
    _params(op, path, add)
    for key in ("outputSchema", "maxBinarySize", "outputMediaType"):
        if key in op:
            add((*path, key), f"operation.{key}")
    raw = op.get("outputRawFormat")
    if raw is not None and raw != "json":
        add((*path, "outputRawFormat"), "operation.outputRawFormat", f"`outputRawFormat: {raw}`")
    body = op.get("body")
    if isinstance(body, dict) and isinstance(body.get("type"), str) and body["type"].lower() not in BODY_KINDS:
        add((*path, "body", "type"), "operation.body-encoding", f"`body: {{type: {body['type']}}}`")


def _declares_operations(apis: list[tuple[PathKey, dict[str, Any]]]) -> bool:
    return any(
        True
        for _, api in apis
        for _, resource in _items(api.get("resources"), ())
        for _ in _items(resource.get("operations"), ())
    )


def _exposes_entries(cap: dict[str, Any]) -> bool:
    """Whether an expose declares something to serve (the loader's test for the default MCP face, on plain data)."""
    for _, expose in _items(cap.get("exposes"), ()):
        kind = expose.get("type")
        if kind == "mcp" and any(expose.get(key) for key in ("tools", "resources", "prompts")):
            return True
        if kind == "skill":
            return True
        if kind == "rest" and any(
            True for _, r in _items(expose.get("resources"), ()) for _ in _items(r.get("operations"), ())
        ):
            return True
    return False


def _authentication(auth: Any, path: PathKey, add: Add) -> None:
    if isinstance(auth, dict) and auth.get("type") == "digest":
        add((*path, "type"), "digest.challenge")


def _steps(node: dict[str, Any], path: PathKey, add: Add) -> None:
    for spath, step in _items(node.get("steps"), (*path, "steps")):
        if step.get("type") == "script":
            add((*spath, "type"), "step.script")
