"""Lenient reading of capability files: by their evident intent, not by the letter of alpha2.

The rules (``docs/capability-format.md``, each with a test in ``tests/capability/test_lenient_loading.py``):

1. bearer ``value`` is read as ``token`` (``placement: header`` ignored); ``type``/``required`` on consumed parameters
   are honoured; ``info.title`` stands in for ``label``; ``description`` on a REST expose is accepted.
2. ``{{VAR}}`` and ``{{namespace.VAR}}`` both resolve from ``binds`` (see :mod:`.templates`).
3. ``{x}`` and ``{{x}}`` in paths are both placeholders (see :mod:`hms_recordings.runtime.request`).
4. ``with`` values ``<prefix>.<name>`` refer to argument ``name`` when the prefix is the expose namespace or one of
   ``tools``, ``rest``, ``mcp``, ``args``.
5. Body: a ``body:`` template wins; else an ``in: body`` parameter named ``body`` is the whole body; else the ``in: body``
   parameters are collected into one object.
6. Tool input schemas come from ``inputParameters``, else from ``with`` plus the operation's parameters.
7. ``$`` and ``$.`` mean the whole response, also for ``type: object`` without ``properties``.
8. Hints become MCP annotations, ``label`` the title; the expose ``description`` the server instructions.

Only what would stop the file from being served is an error here (a :class:`CapabilityError` listing every finding
with its YAML path and line); deviations from alpha2 are the business of ``validate --strict``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hms_recordings.capability.model import (
    Aggregate,
    AggregateFunction,
    Authentication,
    Binding,
    Capability,
    ConsumedApi,
    ConsumedParam,
    ErrorRule,
    ExposedMcp,
    ExposedRest,
    ExposedSkill,
    Hints,
    Operation,
    OutputSpec,
    Pagination,
    Prompt,
    RestOperation,
    RestResource,
    Step,
    StepMapping,
    Tool,
    ToolParam,
)
from hms_recordings.capability.yamlsource import PathKey, YamlDoc, read_yaml
from hms_recordings.errors import CapabilityError, Finding

__all__ = ["BUILTIN_CAPABILITY", "SEED_ALIASES", "lenient_findings", "load_capability", "load_file"]

#: The 100ms recordings capability shipped in the package: the default of ``serve``, ``tools`` and ``call``.
BUILTIN_CAPABILITY = Path(__file__).with_name("builtin") / "recordings.yaml"
#: ``with`` prefixes that mean "the tool's own argument" whatever the expose namespace is (rule 4).
SEED_ALIASES = frozenset({"tools", "rest", "mcp", "args"})
TOOL_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
PARAM_LOCATIONS = frozenset({"path", "query", "header", "cookie", "body", "environment"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class _Reader:
    """Walks the plain data once, collecting findings instead of stopping at the first one."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.findings: list[Finding] = []

    def fail(self, path: PathKey, message: str, fix: str = "") -> None:
        self.findings.append(self.doc.finding(path, message, fix))

    def mapping(self, value: Any, path: PathKey, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, got {type(value).__name__}")
            return {}
        return value

    def seq(self, value: Any, path: PathKey, what: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"{what} must be a list, got {type(value).__name__}")
            return []
        return value

    def text(self, node: dict[str, Any], key: str, path: PathKey, *, required: bool = False, default: str = "") -> str:
        value = node.get(key)
        if value is None:
            if required:
                self.fail((*path, key), f"`{key}` is required", f"add `{key}:`")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail((*path, key), f"`{key}` must be a string")
            return default
        return str(value)

    # ----------------------------------------------------------------------------------------------------------------

    def capability(self) -> Capability:
        root = self.mapping(self.doc.data, (), "the file")
        info = self.mapping(root.get("info"), ("info",), "info")
        label = self.text(info, "label", ("info",)) or self.text(info, "title", ("info",))  # rule 1: title as label
        cap = self.mapping(root.get("capability"), ("capability",), "capability")
        if not cap and "consumes" not in root:
            self.fail(("capability",), "the file has no `capability` section", "add `capability:` with consumes/exposes")
        binds = [self.binding(b, ("binds", i)) for i, b in enumerate(self.seq(root.get("binds"), ("binds",), "binds"))]
        binds += [self.binding(b, ("capability", "binds", i))
                  for i, b in enumerate(self.seq(cap.get("binds"), ("capability", "binds"), "binds"))]
        consumes: dict[str, ConsumedApi] = {}
        for where, items in ((("consumes",), root.get("consumes")), (("capability", "consumes"), cap.get("consumes"))):
            for i, item in enumerate(self.seq(items, where, "consumes")):
                api = self.consumed_api(item, (*where, i))
                if api is None:
                    continue
                if api.namespace in consumes:
                    self.fail((*where, i, "namespace"), f"namespace `{api.namespace}` is consumed twice",
                              "give each consumed API its own namespace")
                consumes[api.namespace] = api
        aggregates = {}
        for i, item in enumerate(self.seq(cap.get("aggregates"), ("capability", "aggregates"), "aggregates")):
            agg = self.aggregate(item, ("capability", "aggregates", i))
            if agg is not None:
                aggregates[agg.namespace] = agg
        mcp: list[ExposedMcp] = []
        rest: list[ExposedRest] = []
        skills: list[ExposedSkill] = []
        for i, item in enumerate(self.seq(cap.get("exposes"), ("capability", "exposes"), "exposes")):
            path: PathKey = ("capability", "exposes", i)
            node = self.mapping(item, path, "an expose")
            kind = node.get("type")
            if kind == "mcp":
                mcp.append(self.exposed_mcp(node, path))
            elif kind == "rest":
                rest.append(self.exposed_rest(node, path))
            elif kind == "skill":
                skills.append(ExposedSkill(self.text(node, "name", path, default="skill"),
                                           self.text(node, "description", path), node))
            # other expose types (control, ...) are read by the faces that serve them
        capability = Capability(
            file=self.doc.file,
            label=label,
            description=self.text(info, "description", ("info",)),
            binds=tuple(binds),
            consumes=consumes,
            mcp=tuple(mcp),
            rest=tuple(rest),
            skills=tuple(skills),
            aggregates=aggregates,
            tags=tuple(str(t) for t in self.seq(info.get("tags"), ("info", "tags"), "tags")),
        )
        self.check_references(capability)
        return capability

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
            return Authentication("bearer", token=None if token is None else str(token),
                                  provider=node.get("x-provider"))
        if kind in ("basic", "digest"):
            return Authentication(kind, username=str(node.get("username", "")), password=str(node.get("password", "")))
        if kind == "apikey":
            placement = str(node.get("placement", "header"))
            if placement not in ("header", "query"):
                self.fail((*path, "placement"), f"apikey placement `{placement}` is not supported",
                          "use `placement: header` or `placement: query`")
            return Authentication("apikey", key=str(node.get("key", "")), value=str(node.get("value", "")),
                                  placement=placement)
        if kind:
            self.fail((*path, "type"), f"outbound authentication `{kind}` is not supported",
                      "use bearer, basic, digest or apikey")
        return None

    def consumed_api(self, item: Any, path: PathKey) -> ConsumedApi | None:
        node = self.mapping(item, path, "a consumed API")
        if "import" in node or "location" in node and "baseUri" not in node:
            self.fail(path, "imported consumes (`location`/`import`) are not supported yet", "inline the consumed API")
            return None
        namespace = self.text(node, "namespace", path, required=True)
        base = self.text(node, "baseUri", path, required=True).rstrip("/")
        if base and not re.match(r"^https?://[^/\s]+", base):
            self.fail((*path, "baseUri"), f"baseUri `{base}` is not an http(s) URL", "use https://host/prefix")
        params = tuple(p for i, item in enumerate(self.seq(node.get("inputParameters"), (*path, "inputParameters"),
                                                           "inputParameters"))
                       if (p := self.consumed_param(item, (*path, "inputParameters", i))) is not None)
        operations: dict[str, Operation] = {}
        for r, res_item in enumerate(self.seq(node.get("resources"), (*path, "resources"), "resources")):
            rpath: PathKey = (*path, "resources", r)
            resource = self.mapping(res_item, rpath, "a resource")
            res_path = self.text(resource, "path", rpath, required=True)
            res_params = [p for i, it in enumerate(self.seq(resource.get("inputParameters"),
                                                            (*rpath, "inputParameters"), "inputParameters"))
                          if (p := self.consumed_param(it, (*rpath, "inputParameters", i))) is not None]
            for o, op_item in enumerate(self.seq(resource.get("operations"), (*rpath, "operations"), "operations")):
                opath: PathKey = (*rpath, "operations", o)
                op = self.mapping(op_item, opath, "an operation")
                name = self.text(op, "name", opath, required=True)
                method = self.text(op, "method", opath, required=True).upper()
                if method and method not in METHODS:
                    self.fail((*opath, "method"), f"method `{method}` is not one of {', '.join(sorted(METHODS))}")
                op_params = [p for i, it in enumerate(self.seq(op.get("inputParameters"),
                                                               (*opath, "inputParameters"), "inputParameters"))
                             if (p := self.consumed_param(it, (*opath, "inputParameters", i))) is not None]
                if name in operations:
                    self.fail((*opath, "name"), f"operation `{name}` is declared twice in `{namespace}`",
                              "give each operation a unique name")
                outputs = tuple(self.output(o_item, (*opath, "outputParameters", k)) for k, o_item in
                                enumerate(self.seq(op.get("outputParameters"), (*opath, "outputParameters"), "outputs")))
                operations[name] = Operation(
                    namespace=namespace,
                    name=name,
                    method=method,
                    path=res_path,
                    description=str(op.get("description") or op.get("label") or ""),
                    params=tuple(res_params + op_params),
                    body=op.get("body"),
                    output_format=str(op.get("outputRawFormat", "json")),
                    outputs=outputs,
                    idempotent=op.get("x-idempotent"),
                )
        if not namespace or not base:
            return None
        return ConsumedApi(namespace, base, operations, self.authentication(node.get("authentication"),
                                                                            (*path, "authentication")),
                           params, str(node.get("description") or ""))

    def output(self, item: Any, path: PathKey) -> OutputSpec:
        node = self.mapping(item, path, "an output parameter")
        mapping = node.get("mapping")
        value = node.get("value")
        if mapping is None and isinstance(value, str) and value.startswith("$"):
            mapping, value = value, None  # a JSONPath in `value` is a mapping, as the Java deserializer reads it
        props = node.get("properties")
        items = node.get("items")
        return OutputSpec(
            type=str(node.get("type", "object")),
            name=node.get("name"),
            mapping=None if mapping is None else str(mapping),
            value=value,
            const=node.get("const"),
            has_const="const" in node,
            properties={str(k): self.output(v, (*path, "properties", str(k))) for k, v in props.items()}
            if isinstance(props, dict) else None,
            items=self.output(items, (*path, "items")) if isinstance(items, dict) else None,
            description=str(node.get("description") or ""),
        )

    def tool_params(self, node: dict[str, Any], path: PathKey) -> tuple[ToolParam, ...] | None:
        if "inputParameters" not in node:
            return None
        params: list[ToolParam] = []
        for i, item in enumerate(self.seq(node.get("inputParameters"), (*path, "inputParameters"), "inputParameters")):
            ppath: PathKey = (*path, "inputParameters", i)
            p = self.mapping(item, ppath, "an input parameter")
            name = self.text(p, "name", ppath, required=True)
            if name:
                params.append(ToolParam(
                    name=name,
                    type=str(p.get("type", "string")),
                    description=str(p.get("description") or ""),
                    required=bool(p.get("required", True)),
                    schema=dict(p.get("x-schema") or {}),
                ))
        return tuple(params)

    def tool(self, node: dict[str, Any], path: PathKey, *, name_required: bool = True) -> Tool:
        name = self.text(node, "name", path, required=name_required)
        hints = self.mapping(node.get("hints"), (*path, "hints"), "hints")
        steps = []
        for i, s in enumerate(self.seq(node.get("steps"), (*path, "steps"), "steps")):
            spath: PathKey = (*path, "steps", i)
            sn = self.mapping(s, spath, "a step")
            steps.append(Step(
                kind=self.text(sn, "type", spath, default="call"),
                name=self.text(sn, "name", spath, required=True),
                call=sn.get("call"),
                with_=dict(sn.get("with") or {}),
                index=sn.get("index"),
                match=sn.get("match"),
                lookup_value=None if sn.get("lookupValue") is None else str(sn.get("lookupValue")),
                fields=tuple(str(f) for f in sn.get("outputParameters") or ()),
            ))
        mappings = tuple(StepMapping(str(m.get("targetName", "")), str(m.get("value", "")))
                         for m in self.seq(node.get("mappings"), (*path, "mappings"), "mappings") if isinstance(m, dict))
        with_ = node.get("with")
        return Tool(
            name=name,
            description=str(node.get("description") or ""),
            label=node.get("label"),
            call=node.get("call"),
            with_=dict(with_) if isinstance(with_, dict) else {},
            params=self.tool_params(node, path),
            hints=Hints(hints.get("readOnly"), hints.get("destructive"), hints.get("idempotent"),
                        hints.get("openWorld")),
            outputs=tuple(self.output(o, (*path, "outputParameters", i)) for i, o in
                          enumerate(self.seq(node.get("outputParameters"), (*path, "outputParameters"), "outputs"))),
            steps=tuple(steps),
            mappings=mappings,
            ref=node.get("ref"),
            handler=node.get("x-handler"),
            output_schema=node.get("x-output-schema"),
            toolset=node.get("x-toolset"),
            options=dict(node.get("x-options") or {}),
            errors=self.error_rules(node.get("x-errors"), (*path, "x-errors")),
            pagination=self.pagination(node.get("x-pagination"), (*path, "x-pagination")),
            yaml_path=path,
        )

    def error_rules(self, value: Any, path: PathKey) -> tuple[ErrorRule, ...]:
        rules = []
        for i, item in enumerate(self.seq(value, path, "x-errors")):
            node = self.mapping(item, (*path, i), "an error rule")
            status = node.get("status")
            if not isinstance(status, int):
                self.fail((*path, i, "status"), "an error rule needs an integer `status`", "add `status: 404`")
                continue
            rules.append(ErrorRule(status, self.text(node, "message", (*path, i), required=True),
                                   str(node.get("contains") or ""), node.get("kind")))
        return tuple(rules)

    def pagination(self, value: Any, path: PathKey) -> Pagination | None:
        if value is None:
            return None
        node = self.mapping(value, path, "x-pagination")
        default = Pagination()
        return Pagination(
            items=str(node.get("items", default.items)),
            cursor=str(node.get("cursor", default.cursor)),
            cursor_argument=str(node.get("cursorArgument", default.cursor_argument)),
            limit_argument=str(node.get("limitArgument", default.limit_argument)),
            default_limit=int(node.get("defaultLimit", default.default_limit)),
        )

    def exposed_mcp(self, node: dict[str, Any], path: PathKey) -> ExposedMcp:
        tools = []
        seen: set[str] = set()
        for i, item in enumerate(self.seq(node.get("tools"), (*path, "tools"), "tools")):
            tpath: PathKey = (*path, "tools", i)
            tool = self.tool(self.mapping(item, tpath, "a tool"), tpath)
            if tool.name and not TOOL_NAME.match(tool.name):
                self.fail((*tpath, "name"), f"tool name `{tool.name}` is not a valid MCP tool name",
                          "use 1-128 characters from A-Z a-z 0-9 _ - .")
            if tool.name in seen:
                self.fail((*tpath, "name"), f"tool `{tool.name}` is declared twice", "rename one of them")
            seen.add(tool.name)
            tools.append(tool)
        prompts = []
        for i, item in enumerate(self.seq(node.get("prompts"), (*path, "prompts"), "prompts")):
            ppath: PathKey = (*path, "prompts", i)
            p = self.mapping(item, ppath, "a prompt")
            args = tuple(ToolParam(str(a.get("name")), str(a.get("type", "string")), str(a.get("description") or ""),
                                   bool(a.get("required", True))) for a in p.get("arguments") or () if isinstance(a, dict))
            template = tuple((str(m.get("role", "user")), str(m.get("content", ""))) for m in p.get("template") or ()
                             if isinstance(m, dict))
            prompts.append(Prompt(self.text(p, "name", ppath, required=True), str(p.get("label") or ""),
                                  str(p.get("description") or ""), args, template))
        port = node.get("port", 9090)
        return ExposedMcp(
            namespace=self.text(node, "namespace", path, required=True),
            transport=str(node.get("transport", "http")),
            address=str(node.get("address") or "127.0.0.1"),
            port=int(port) if isinstance(port, int) else 9090,
            description=str(node.get("description") or ""),
            tools=tuple(tools),
            prompts=tuple(prompts),
            resources=tuple(r for r in node.get("resources") or () if isinstance(r, dict)),
        )

    def exposed_rest(self, node: dict[str, Any], path: PathKey) -> ExposedRest:
        resources = []
        for r, item in enumerate(self.seq(node.get("resources"), (*path, "resources"), "resources")):
            rpath: PathKey = (*path, "resources", r)
            res = self.mapping(item, rpath, "a REST resource")
            ops = []
            for o, op_item in enumerate(self.seq(res.get("operations"), (*rpath, "operations"), "operations")):
                opath: PathKey = (*rpath, "operations", o)
                op = self.mapping(op_item, opath, "a REST operation")
                tool = self.tool(op, opath, name_required=False)
                ops.append(RestOperation(self.text(op, "method", opath, required=True).upper(), tool))
            resources.append(RestResource(self.text(res, "path", rpath, required=True), str(res.get("name") or ""),
                                          str(res.get("description") or ""), tuple(ops)))
        port = node.get("port", 8080)
        return ExposedRest(self.text(node, "namespace", path, required=True), int(port) if isinstance(port, int) else 8080,
                           str(node.get("address") or "127.0.0.1"), tuple(resources))

    def aggregate(self, item: Any, path: PathKey) -> Aggregate | None:
        node = self.mapping(item, path, "an aggregate")
        namespace = self.text(node, "namespace", path, required=True)
        functions = {}
        for i, f in enumerate(self.seq(node.get("functions"), (*path, "functions"), "functions")):
            fpath: PathKey = (*path, "functions", i)
            fn = self.mapping(f, fpath, "a function")
            semantics = self.mapping(fn.get("semantics"), (*fpath, "semantics"), "semantics")
            tool = self.tool(fn, fpath)
            functions[tool.name] = AggregateFunction(tool.name, tool.description, tool, semantics.get("safe"),
                                                     semantics.get("idempotent"))
        return Aggregate(namespace, str(node.get("label") or ""), functions) if namespace else None

    def check_references(self, cap: Capability) -> None:
        tools = [t for m in cap.mcp for t in m.tools] + [op.tool for r in cap.rest for res in r.resources
                                                          for op in res.operations]
        tools += [f.tool for a in cap.aggregates.values() for f in a.functions.values()]
        for tool in tools:
            calls = [(tool.call, (*tool.yaml_path, "call"))] + [
                (s.call, (*tool.yaml_path, "steps", i, "call")) for i, s in enumerate(tool.steps) if s.kind == "call"]
            for call, where in calls:
                if call is not None and cap.operation(str(call)) is None:
                    known = ", ".join(op.key for api in cap.consumes.values() for op in api.operations.values())
                    self.fail(where, f"`{call}` names no consumed operation", f"use one of: {known}")
            if tool.ref is not None:
                ns, _, fn = str(tool.ref).partition(".")
                if ns not in cap.aggregates or fn not in cap.aggregates[ns].functions:
                    self.fail((*tool.yaml_path, "ref"), f"`ref: {tool.ref}` names no aggregate function",
                              "use <aggregate namespace>.<function name>")


def lenient_findings(doc: YamlDoc) -> list[Finding]:
    """The problems that stop a file from being served (empty when it loads)."""
    reader = _Reader(doc)
    reader.capability()
    return reader.findings


def load_capability(doc: YamlDoc) -> Capability:
    reader = _Reader(doc)
    capability = reader.capability()
    if reader.findings:
        lines = "\n".join("  " + f.render() for f in reader.findings)
        raise CapabilityError(f"{doc.file or 'capability'} cannot be served:\n{lines}", reader.findings, doc.file)
    return capability


def load_file(path: str | Path | None = None) -> Capability:
    """Load a capability file; ``None`` loads the built-in 100ms recordings capability."""
    return load_capability(read_yaml(path or BUILTIN_CAPABILITY))
