"""Reading ``binds`` and consumed HTTP APIs (resources, operations, parameters, authentication, imports)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from hms_recordings.capability.model import (
    EMPTY_BASE_URI,
    Authentication,
    Binding,
    ConsumedApi,
    ConsumedParam,
    Operation,
)
from hms_recordings.capability.read_tools import ToolReader
from hms_recordings.capability.versions import normalise
from hms_recordings.capability.yamlsource import PathKey, read_yaml
from hms_recordings.errors import CapabilityError

__all__ = ["ConsumesReader"]

PARAM_LOCATIONS = frozenset({"path", "query", "header", "cookie", "body", "environment"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class ConsumesReader(ToolReader):
    """Binds and consumed APIs; it builds on :class:`ToolReader` because operations have output parameters too."""

    def binding(self, item: Any, path: PathKey) -> Binding:
        node = self.mapping(item, path, "a binding")
        keys = self.mapping(node.get("keys"), (*path, "keys"), "binding keys")
        optional = node.get("x-optional") or []
        return Binding(
            namespace=self.text(node, "namespace", path, default="env"),
            keys={str(k): str(v) for k, v in keys.items()},
            location=node.get("location"),
            optional=frozenset(str(v) for v in optional) if isinstance(optional, list) else frozenset(),
        )

    def consumed_param(self, item: Any, path: PathKey) -> ConsumedParam | None:
        node = self.mapping(item, path, "a parameter")
        name = self.text(node, "name", path, required=True)
        where = self.text(node, "in", path, required=True)
        if where and where not in PARAM_LOCATIONS:
            self.fail((*path, "in"), f"`in: {where}` is not one of {', '.join(sorted(PARAM_LOCATIONS))}")
            return None
        if not name or not where:
            return None
        value = node.get("value")
        return ConsumedParam(
            name=name,
            location=where,
            value=None if value is None else str(value),
            type=node.get("type"),
            required=bool(node.get("required", where == "path")),
            description=str(node.get("description") or ""),
            schema=dict(node.get("x-schema") or {}),
        )

    def authentication(self, item: Any, path: PathKey) -> Authentication | None:
        if item is None:
            return None
        node = self.mapping(item, path, "authentication")
        kind = self.text(node, "type", path, required=True)
        if kind == "bearer":
            # rule 1: the 100ms files say `value` (and `placement: header`, which is the only placement for bearer)
            token = node.get("token", node.get("value"))
            return Authentication(
                "bearer", token=None if token is None else str(token), provider=node.get("x-provider")
            )
        if kind in ("basic", "digest"):
            return Authentication(kind, username=str(node.get("username", "")), password=str(node.get("password", "")))
        if kind == "apikey":
            # alpha2 spells them `key`/`placement`; files written after OpenAPI (and the ikanos docs) say `name`/`in`.
            placement = str(node.get("placement", node.get("in", "header")))
            if placement not in ("header", "query"):
                self.fail(
                    (*path, "placement"),
                    f"apikey placement `{placement}` is not supported",
                    "use `placement: header` or `placement: query`",
                )
            return Authentication(
                "apikey",
                key=str(node.get("key", node.get("name", ""))),
                value=str(node.get("value", "")),
                placement=placement,
            )
        if kind:
            self.fail(
                (*path, "type"),
                f"outbound authentication `{kind}` is not supported",
                "use bearer, basic, digest or apikey",
            )
        return None

    def consumed_api(self, item: Any, path: PathKey) -> ConsumedApi | None:
        node = self.mapping(item, path, "a consumed API")
        if "import" in node or ("location" in node and "baseUri" not in node):
            return self.imported_api(node, path)
        namespace = self.text(node, "namespace", path, required=True)
        base = self.text(node, "baseUri", path, required=True).rstrip("/")
        if base and not re.match(r"^https?://[^/\s]+", base):
            self.fail((*path, "baseUri"), f"baseUri `{base}` is not an http(s) URL", "use https://host/prefix")
        elif not base and node.get("baseUri") is not None:
            # Generated files leave it empty for the deployer to fill: the tools are served, and a call says
            # where to give the address (runtime/upstreams.py) instead of the file being refused.
            # (validate lists it: capability/ignored.py `consumes.baseUri-empty`).
            base = EMPTY_BASE_URI
        params = tuple(
            p
            for i, item in enumerate(
                self.seq(node.get("inputParameters"), (*path, "inputParameters"), "inputParameters")
            )
            if (p := self.consumed_param(item, (*path, "inputParameters", i))) is not None
        )
        operations: dict[str, Operation] = {}
        for r, res_item in enumerate(self.seq(node.get("resources"), (*path, "resources"), "resources")):
            rpath: PathKey = (*path, "resources", r)
            resource = self.mapping(res_item, rpath, "a resource")
            res_path = self.text(resource, "path", rpath, required=True)
            res_params = [
                p
                for i, it in enumerate(
                    self.seq(resource.get("inputParameters"), (*rpath, "inputParameters"), "inputParameters")
                )
                if (p := self.consumed_param(it, (*rpath, "inputParameters", i))) is not None
            ]
            for o, op_item in enumerate(self.seq(resource.get("operations"), (*rpath, "operations"), "operations")):
                opath: PathKey = (*rpath, "operations", o)
                op = self.mapping(op_item, opath, "an operation")
                name = self.text(op, "name", opath, required=True)
                method = self.text(op, "method", opath, required=True).upper()
                if method and method not in METHODS:
                    self.fail(
                        (*opath, "method"),
                        f"method `{method}` is not one of {', '.join(sorted(METHODS))}",
                        "the format has no other methods: use GET for a HEAD (its answer has the same headers) or"
                        " leave the operation out",
                    )
                op_params = [
                    p
                    for i, it in enumerate(
                        self.seq(op.get("inputParameters"), (*opath, "inputParameters"), "inputParameters")
                    )
                    if (p := self.consumed_param(it, (*opath, "inputParameters", i))) is not None
                ]
                if name in operations:
                    self.fail(
                        (*opath, "name"),
                        f"operation `{name}` is declared twice in `{namespace}`",
                        "give each operation a unique name",
                    )
                outputs = tuple(
                    self.output(o_item, (*opath, "outputParameters", k))
                    for k, o_item in enumerate(
                        self.seq(op.get("outputParameters"), (*opath, "outputParameters"), "outputs")
                    )
                )
                operations[name] = Operation(
                    namespace=namespace,
                    name=name,
                    method=method,
                    path=_operation_path(res_path, op.get("path")),
                    description=str(op.get("description") or op.get("label") or ""),
                    params=tuple(res_params + op_params),
                    body=op.get("body"),
                    output_format=str(op.get("outputRawFormat", "json")),
                    outputs=outputs,
                    idempotent=op.get("x-idempotent"),
                )
        if not namespace or not base:
            return None
        return ConsumedApi(
            namespace,
            base,
            operations,
            self.authentication(node.get("authentication"), (*path, "authentication")),
            params,
            str(node.get("description") or ""),
        )

    def local_file(self, location: str) -> Path:
        """``file:///./x``, ``./x`` and ``x`` are relative to this file (as binds' locations); ``file:///x`` is not."""
        raw = location.removeprefix("file://")
        base = Path(self.doc.file).parent if self.doc.file else Path.cwd()
        if raw.startswith("/./"):
            return base / raw.removeprefix("/./")
        return Path(raw) if raw.startswith("/") else base / raw

    def imported_api(self, node: dict[str, Any], path: PathKey) -> ConsumedApi | None:
        """``{location, import, as}``: one consumed API of another file, renamed ``as`` (Java's ConsumesImportResolver).

        Lenient: without ``import``, a file that consumes exactly one API gives that one. Imports are not followed
        further (an imported entry must be inline), so files cannot import each other in a loop.
        """
        location = self.text(node, "location", path, required=True)
        wanted = self.text(node, "import", path)
        if not location:
            return None
        target = self.local_file(location)
        try:
            imported = normalise(read_yaml(target))  # an imported file may be of another version
        except CapabilityError as exc:
            self.fail((*path, "location"), f"cannot import consumes: {exc.message}", "check `location`")
            return None
        if any(f.severity == "error" for f in imported.findings):
            self.findings.extend(f for f in imported.findings if f.severity == "error")
            return None
        sub = type(self)(imported.doc)  # the full reader that is reading the importing file
        root = sub.mapping(sub.doc.data, (), "the file")
        cap = sub.mapping(root.get("capability"), ("capability",), "capability")
        entries = [
            (where, i, entry)
            for where, items in (
                (("consumes",), root.get("consumes")),
                (("capability", "consumes"), cap.get("consumes")),
            )
            for i, entry in enumerate(sub.seq(items, where, "consumes"))
            if isinstance(entry, dict) and "baseUri" in entry
        ]
        names = [str(entry.get("namespace")) for _where, _i, entry in entries]
        if wanted:
            chosen = [e for e in entries if e[2].get("namespace") == wanted]
        else:
            chosen = entries if len(entries) == 1 else []
        if not chosen:
            self.fail(
                (*path, "import"),
                f"{target} has no inline consumed API named `{wanted or '?'}`",
                f"use one of: {', '.join(names) or 'none'}",
            )
            return None
        where, index, entry = chosen[0]
        api = sub.consumed_api(entry, (*where, index))
        self.findings.extend(sub.findings)
        alias = self.text(node, "as", path)
        if api is None or not alias or alias == api.namespace:
            return api
        operations = {name: replace(op, namespace=alias) for name, op in api.operations.items()}
        return replace(api, namespace=alias, operations=operations)


def _operation_path(resource_path: str, operation_path: Any) -> str:
    """An operation-level ``path`` (not in the schema, written by some published files) continues the resource's
    path, unless it already starts with it."""
    if not isinstance(operation_path, str) or not operation_path.strip("/"):
        return resource_path
    if operation_path.startswith(resource_path.rstrip("/") + "/") or operation_path == resource_path:
        return operation_path
    return resource_path.rstrip("/") + "/" + operation_path.lstrip("/")
