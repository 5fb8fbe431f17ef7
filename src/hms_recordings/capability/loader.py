"""Lenient reading of capability files: by their evident intent, not by the letter of alpha2.

The rules (``docs/capability-format.md``, each with a test in ``tests/capability/test_lenient_loading.py``):

1. bearer ``value`` is read as ``token`` (``placement: header`` ignored); ``type``/``required`` on consumed parameters
   are honoured; ``info.title`` stands in for ``label``; ``description`` on a REST expose is accepted.
2. ``{{VAR}}`` and ``{{namespace.VAR}}`` both resolve from ``binds`` (see :mod:`.templates`).
3. ``{x}`` and ``{{x}}`` in paths are both placeholders (see :mod:`hms_recordings.runtime.request`).
4. ``with`` values ``<prefix>.<name>`` refer to argument ``name`` when the prefix is the expose namespace or one of
   ``tools``, ``rest``, ``mcp``, ``args``.
5. Body: a ``body:`` template wins; else an ``in: body`` parameter named ``body`` is the whole body; else the
   ``in: body`` parameters are collected into one object.
6. Tool input schemas come from ``inputParameters``, else from ``with`` plus the operation's parameters.
7. ``$`` and ``$.`` mean the whole response, also for ``type: object`` without ``properties``.
8. Hints become MCP annotations, ``label`` the title; the expose ``description`` the server instructions.

Only what would stop the file from being served is an error here (a :class:`CapabilityError` listing every finding
with its YAML path and line); deviations from alpha2 are the business of ``validate --strict``.
"""

from __future__ import annotations

import re
from dataclasses import replace
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
    RestParam,
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
REST_PARAM_LOCATIONS = frozenset({"path", "query", "header", "cookie", "body"})


class _Reader:
    """Walks the plain data once, collecting findings instead of stopping at the first one."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.findings: list[Finding] = []
        self.resource_tools: list[Tool] = []  # dynamic MCP resources, read as tools so their calls get checked

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
            self.fail(
                ("capability",), "the file has no `capability` section", "add `capability:` with consumes/exposes"
            )
        binds = [self.binding(b, ("binds", i)) for i, b in enumerate(self.seq(root.get("binds"), ("binds",), "binds"))]
        binds += [
            self.binding(b, ("capability", "binds", i))
            for i, b in enumerate(self.seq(cap.get("binds"), ("capability", "binds"), "binds"))
        ]
        consumes: dict[str, ConsumedApi] = {}
        for where, items in ((("consumes",), root.get("consumes")), (("capability", "consumes"), cap.get("consumes"))):
            for i, item in enumerate(self.seq(items, where, "consumes")):
                api = self.consumed_api(item, (*where, i))
                if api is None:
                    continue
                if api.namespace in consumes:
                    self.fail(
                        (*where, i, "namespace"),
                        f"namespace `{api.namespace}` is consumed twice",
                        "give each consumed API its own namespace",
                    )
                consumes[api.namespace] = api
        aggregates = {}
        for i, item in enumerate(self.seq(cap.get("aggregates"), ("capability", "aggregates"), "aggregates")):
            agg = self.aggregate(item, ("capability", "aggregates", i))
            if agg is not None:
                aggregates[agg.namespace] = agg
        mcp: list[ExposedMcp] = []
        rest: list[ExposedRest] = []
        skills: list[ExposedSkill] = []
        control: tuple[str, int] | None = None
        for i, item in enumerate(self.seq(cap.get("exposes"), ("capability", "exposes"), "exposes")):
            path: PathKey = ("capability", "exposes", i)
            node = self.mapping(item, path, "an expose")
            kind = node.get("type")
            if kind == "mcp":
                mcp.append(self.exposed_mcp(node, path))
            elif kind == "rest":
                rest.append(self.exposed_rest(node, path))
            elif kind == "skill":
                skills.append(
                    ExposedSkill(
                        self.text(node, "name", path, default="skill"), self.text(node, "description", path), node
                    )
                )
            elif kind == "control" and isinstance(node.get("port"), int):
                control = (str(node.get("address") or "127.0.0.1"), int(node["port"]))
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
            control=control,
            schemas_checked=self.doc.schemas_checked,
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
            return Authentication(
                "bearer", token=None if token is None else str(token), provider=node.get("x-provider")
            )
        if kind in ("basic", "digest"):
            return Authentication(kind, username=str(node.get("username", "")), password=str(node.get("password", "")))
        if kind == "apikey":
            placement = str(node.get("placement", "header"))
            if placement not in ("header", "query"):
                self.fail(
                    (*path, "placement"),
                    f"apikey placement `{placement}` is not supported",
                    "use `placement: header` or `placement: query`",
                )
            return Authentication(
                "apikey", key=str(node.get("key", "")), value=str(node.get("value", "")), placement=placement
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
                    self.fail((*opath, "method"), f"method `{method}` is not one of {', '.join(sorted(METHODS))}")
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
            sub = _Reader(read_yaml(target))
        except CapabilityError as exc:
            self.fail((*path, "location"), f"cannot import consumes: {exc.message}", "check `location`")
            return None
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

    def output(self, item: Any, path: PathKey) -> OutputSpec:
        node = self.mapping(item, path, "an output parameter")
        mapping = node.get("mapping")
        value = node.get("value")
        if mapping is None and isinstance(value, str) and value.startswith("$"):
            mapping, value = value, None  # a JSONPath in `value` is a mapping, as the Java deserializer reads it
        props = node.get("properties")
        if isinstance(props, list):  # lenient: a list of named parameters, as the Java model holds them
            props = {str(p["name"]): p for p in props if isinstance(p, dict) and p.get("name")}
        items = node.get("items")
        if isinstance(items, list):  # orchestrated outputs list each item's fields; one unnamed entry is the item
            named = [i for i in items if isinstance(i, dict) and i.get("name")]
            items = (
                {"type": "object", "properties": {str(i["name"]): i for i in named}}
                if named
                else items[0]
                if len(items) == 1
                else None
            )
        kind = str(node.get("type", "object"))
        if isinstance(value, str) and kind in ("boolean", "number", "integer"):
            # A static value is typed by `type`, as Java's MockResponseBuilder reads `value: 'true'`
            text = value.strip()
            if kind == "boolean" and text.lower() in ("true", "false"):
                value = text.lower() == "true"
            elif kind != "boolean" and re.fullmatch(r"-?\d+", text):
                value = int(text)
            elif kind == "number" and re.fullmatch(r"-?\d+\.\d*(?:[eE][-+]?\d+)?", text):
                value = float(text)
        return OutputSpec(
            type=kind,
            name=node.get("name"),
            mapping=None if mapping is None else str(mapping),
            value=value,
            const=node.get("const"),
            has_const="const" in node,
            properties={str(k): self.output(v, (*path, "properties", str(k))) for k, v in props.items()}
            if isinstance(props, dict)
            else None,
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
                params.append(
                    ToolParam(
                        name=name,
                        type=str(p.get("type", "string")),
                        description=str(p.get("description") or ""),
                        required=bool(p.get("required", True)),
                        schema=dict(p.get("x-schema") or {}),
                    )
                )
        return tuple(params)

    def tool(self, node: dict[str, Any], path: PathKey, *, name_required: bool = True) -> Tool:
        name = self.text(node, "name", path, required=name_required and "ref" not in node)
        if not name and isinstance(node.get("ref"), str):
            name = node["ref"].partition(".")[2]  # a ref-mode tool may leave its name to the function (Java)
        hints = self.mapping(node.get("hints"), (*path, "hints"), "hints")
        steps = []
        for i, s in enumerate(self.seq(node.get("steps"), (*path, "steps"), "steps")):
            spath: PathKey = (*path, "steps", i)
            sn = self.mapping(s, spath, "a step")
            kind = self.text(sn, "type", spath, default="lookup" if "index" in sn else "call")
            needs = {"call": ("call",), "lookup": ("index", "match", "lookupValue"), "script": ()}.get(kind)
            if needs is None:
                self.fail((*spath, "type"), f"step type `{kind}` is not one of call, lookup, script")
            for key in needs or ():
                if sn.get(key) is None:
                    self.fail((*spath, key), f"a {kind} step needs `{key}`", f"add `{key}:`")
            steps.append(
                Step(
                    kind=kind,
                    name=self.text(sn, "name", spath, required=True),
                    call=sn.get("call"),
                    with_=dict(sn.get("with") or {}),
                    index=sn.get("index"),
                    match=sn.get("match"),
                    lookup_value=None if sn.get("lookupValue") is None else str(sn.get("lookupValue")),
                    # lenient: lookup fields written as output parameters ({name: ...}) keep their names
                    fields=tuple(
                        str(f.get("name")) if isinstance(f, dict) else str(f) for f in sn.get("outputParameters") or ()
                    ),
                    **self.for_each(sn.get("x-forEach"), (*spath, "x-forEach")),
                )
            )
        raw_mappings = node.get("mappings")
        if isinstance(raw_mappings, dict):  # lenient: `{targetName: value}` written as one mapping
            raw_mappings = [{"targetName": k, "value": v} for k, v in raw_mappings.items()]
        mappings = tuple(
            StepMapping(str(m.get("targetName", "")), str(m.get("value", "")))
            for m in self.seq(raw_mappings, (*path, "mappings"), "mappings")
            if isinstance(m, dict)
        )
        with_ = node.get("with")
        return Tool(
            name=name,
            description=str(node.get("description") or ""),
            label=node.get("label"),
            call=node.get("call"),
            with_=dict(with_) if isinstance(with_, dict) else {},
            params=self.tool_params(node, path),
            hints=Hints(
                hints.get("readOnly"), hints.get("destructive"), hints.get("idempotent"), hints.get("openWorld")
            ),
            outputs=tuple(
                self.output(o, (*path, "outputParameters", i))
                for i, o in enumerate(self.seq(node.get("outputParameters"), (*path, "outputParameters"), "outputs"))
            ),
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

    def for_each(self, value: Any, path: PathKey) -> dict[str, Any]:
        """x-forEach: ``step.path`` or ``{in: step.path, where: {field: value}}``."""
        if value is None:
            return {}
        if isinstance(value, str):
            return {"for_each": value}
        node = self.mapping(value, path, "x-forEach")
        where = self.mapping(node.get("where"), (*path, "where"), "x-forEach where")
        return {
            "for_each": self.text(node, "in", path, required=True),
            "where": {str(k): str(v) for k, v in where.items()},
        }

    def error_rules(self, value: Any, path: PathKey) -> tuple[ErrorRule, ...]:
        rules = []
        for i, item in enumerate(self.seq(value, path, "x-errors")):
            node = self.mapping(item, (*path, i), "an error rule")
            status = node.get("status")
            if not isinstance(status, int):
                self.fail((*path, i, "status"), "an error rule needs an integer `status`", "add `status: 404`")
                continue
            rules.append(
                ErrorRule(
                    status,
                    self.text(node, "message", (*path, i), required=True),
                    str(node.get("contains") or ""),
                    node.get("kind"),
                )
            )
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
                self.fail(
                    (*tpath, "name"),
                    f"tool name `{tool.name}` is not a valid MCP tool name",
                    "use 1-128 characters from A-Z a-z 0-9 _ - .",
                )
            if tool.name in seen:
                self.fail((*tpath, "name"), f"tool `{tool.name}` is declared twice", "rename one of them")
            seen.add(tool.name)
            tools.append(tool)
        prompts = []
        for i, item in enumerate(self.seq(node.get("prompts"), (*path, "prompts"), "prompts")):
            ppath: PathKey = (*path, "prompts", i)
            p = self.mapping(item, ppath, "a prompt")
            args = tuple(
                ToolParam(
                    str(a.get("name")),
                    str(a.get("type", "string")),
                    str(a.get("description") or ""),
                    bool(a.get("required", True)),
                )
                for a in p.get("arguments") or ()
                if isinstance(a, dict)
            )
            template = tuple(
                (str(m.get("role", "user")), str(m.get("content", "")))
                for m in p.get("template") or ()
                if isinstance(m, dict)
            )
            location = p.get("location")
            if not template and isinstance(location, str):
                # A prompt kept in a file is one user message (Java's PromptHandler); read once, at load.
                try:
                    template = (("user", self.local_file(location).read_text(encoding="utf-8")),)
                except (OSError, UnicodeDecodeError) as exc:
                    self.fail(
                        (*ppath, "location"),
                        f"cannot read the prompt file: {exc.__class__.__name__}",
                        "point `location` at a UTF-8 text file (file:///./relative or file:///absolute)",
                    )
            prompts.append(
                Prompt(
                    self.text(p, "name", ppath, required=True),
                    str(p.get("label") or ""),
                    str(p.get("description") or ""),
                    args,
                    template,
                )
            )
        port = node.get("port", 9090)
        return ExposedMcp(
            namespace=self.text(node, "namespace", path, required=True),
            transport=str(node.get("transport", "http")),
            address=str(node.get("address") or "127.0.0.1"),
            port=int(port) if isinstance(port, int) else 9090,
            description=str(node.get("description") or ""),
            tools=tuple(tools),
            prompts=tuple(prompts),
            resources=tuple(
                self.mcp_resource(r, (*path, "resources", i))
                for i, r in enumerate(self.seq(node.get("resources"), (*path, "resources"), "resources"))
                if isinstance(r, dict)
            ),
        )

    def mcp_resource(self, node: dict[str, Any], path: PathKey) -> dict[str, Any]:
        """Checks an MCP resource and keeps it as data: static (``location``) or dynamic (``call``/``steps``)."""
        self.text(node, "name", path, required=True)
        uri = self.text(node, "uri", path, required=True)
        dynamic = "call" in node or "steps" in node
        if dynamic == ("location" in node):
            self.fail(
                path,
                "a resource needs either `location` (static) or `call`/`steps` (dynamic)",
                "keep exactly one of them",
            )
        elif not dynamic:
            location = str(node.get("location"))
            if not location.startswith("file://") or not self.local_file(location).exists():
                self.fail(
                    (*path, "location"),
                    f"resource location `{location}` is not an existing file:// path",
                    "use file:///./relative/dir or file:///absolute/dir",
                )
        elif uri and "{" in uri and not re.fullmatch(r"[^{}]*(\{[A-Za-z_][A-Za-z0-9_]*\}[^{}]*)+", uri):
            self.fail(
                (*path, "uri"),
                f"resource uri `{uri}` has a malformed {{parameter}}",
                "write parameters as {name}, e.g. hms://recordings/{recording_id}",
            )
        if dynamic:
            self.resource_tools.append(self.tool({**node, "name": node.get("name") or "resource"}, path))
        return node

    def exposed_rest(self, node: dict[str, Any], path: PathKey) -> ExposedRest:
        resources = []
        for r, item in enumerate(self.seq(node.get("resources"), (*path, "resources"), "resources")):
            rpath: PathKey = (*path, "resources", r)
            res = self.mapping(item, rpath, "a REST resource")
            ops = []
            for o, op_item in enumerate(self.seq(res.get("operations"), (*rpath, "operations"), "operations")):
                opath: PathKey = (*rpath, "operations", o)
                op = self.mapping(op_item, opath, "a REST operation")
                method = self.text(op, "method", opath, required=True).upper()
                tool = self.tool(op, opath, name_required=False)
                tool = replace(tool, name=tool.name or f"{method} {res.get('path', '')}")
                x_tool = op.get("x-tool")
                if x_tool is not None and not isinstance(x_tool, str):
                    self.fail((*opath, "x-tool"), "`x-tool` must be the name of an MCP tool")
                    x_tool = None
                if x_tool and (tool.call or tool.steps or tool.ref):
                    self.fail(
                        (*opath, "x-tool"), "`x-tool` and `call`/`steps`/`ref` exclude each other", "keep one of them"
                    )
                # The resource's inputParameters apply to each of its operations; the operation's own win by name.
                declared = {p.name: (p, t) for p, t in self.rest_params(res, rpath) + self.rest_params(op, opath)}
                if declared and not x_tool:
                    constants = {p.name: p.value for p, _ in declared.values() if p.value is not None}
                    tool = replace(
                        tool,
                        params=tuple(t for p, t in declared.values() if p.value is None),
                        with_={**constants, **tool.with_},
                    )
                ops.append(
                    RestOperation(
                        method, tool, str(op.get("name") or ""), x_tool, tuple(p for p, _ in declared.values())
                    )
                )
            resources.append(
                RestResource(
                    self.text(res, "path", rpath, required=True),
                    str(res.get("name") or ""),
                    str(res.get("description") or ""),
                    tuple(ops),
                )
            )
        port = node.get("port", 8080)
        return ExposedRest(
            self.text(node, "namespace", path, required=True),
            int(port) if isinstance(port, int) else 8080,
            str(node.get("address") or "127.0.0.1"),
            tuple(resources),
        )

    def rest_params(self, node: dict[str, Any], path: PathKey) -> list[tuple[RestParam, ToolParam]]:
        """ExposedInputParameter: where the route reads the argument, and the argument as the tool schema sees it.

        A path parameter is always required; the others only with ``required: true`` (lenient: alpha2 has no
        ``required`` here). ``pattern`` and the ``x-schema`` extension become JSON Schema keywords."""
        out = []
        for i, item in enumerate(self.seq(node.get("inputParameters"), (*path, "inputParameters"), "inputParameters")):
            ppath: PathKey = (*path, "inputParameters", i)
            p = self.mapping(item, ppath, "an input parameter")
            name = self.text(p, "name", ppath, required=True)
            where = self.text(p, "in", ppath, required=True)
            if where and where not in REST_PARAM_LOCATIONS:
                self.fail((*ppath, "in"), f"`in: {where}` is not one of {', '.join(sorted(REST_PARAM_LOCATIONS))}")
                continue
            if not name or not where:
                continue
            pattern = p.get("pattern")
            schema = {"pattern": str(pattern)} if pattern is not None else {}
            schema.update(p.get("x-schema") or {})
            kind = str(p.get("type", "string"))
            description = str(p.get("description") or "")
            out.append(
                (
                    RestParam(
                        name, where, kind, description, None if pattern is None else str(pattern), p.get("value")
                    ),
                    ToolParam(name, kind, description, where == "path" or bool(p.get("required", False)), schema),
                )
            )
        return out

    def aggregate(self, item: Any, path: PathKey) -> Aggregate | None:
        node = self.mapping(item, path, "an aggregate")
        namespace = self.text(node, "namespace", path, required=True)
        functions = {}
        for i, f in enumerate(self.seq(node.get("functions"), (*path, "functions"), "functions")):
            fpath: PathKey = (*path, "functions", i)
            fn = self.mapping(f, fpath, "a function")
            semantics = self.mapping(fn.get("semantics"), (*fpath, "semantics"), "semantics")
            tool = self.tool(fn, fpath)
            functions[tool.name] = AggregateFunction(
                tool.name, tool.description, tool, semantics.get("safe"), semantics.get("idempotent")
            )
        return Aggregate(namespace, str(node.get("label") or ""), functions) if namespace else None

    def check_references(self, cap: Capability) -> None:
        tools = [t for m in cap.mcp for t in m.tools] + [
            op.tool for r in cap.rest for res in r.resources for op in res.operations
        ]
        tools += [f.tool for a in cap.aggregates.values() for f in a.functions.values()]
        tools += self.resource_tools
        for tool in tools:
            calls = [(tool.call, (*tool.yaml_path, "call"))] + [
                (s.call, (*tool.yaml_path, "steps", i, "call")) for i, s in enumerate(tool.steps) if s.kind == "call"
            ]
            for call, where in calls:
                if call is not None and cap.operation(str(call)) is None:
                    known = ", ".join(op.key for api in cap.consumes.values() for op in api.operations.values())
                    self.fail(where, f"`{call}` names no consumed operation", f"use one of: {known}")
            self.check_steps(tool)
            if tool.ref is not None:
                ns, _, fn = str(tool.ref).partition(".")
                if ns not in cap.aggregates or fn not in cap.aggregates[ns].functions:
                    self.fail(
                        (*tool.yaml_path, "ref"),
                        f"`ref: {tool.ref}` names no aggregate function",
                        "use <aggregate namespace>.<function name>",
                    )

    def check_steps(self, tool: Tool) -> None:
        """Step names are unique and a lookup's ``index`` names an earlier step (``step`` or ``step.path``)."""
        earlier: list[str] = []
        for i, step in enumerate(tool.steps):
            where: PathKey = (*tool.yaml_path, "steps", i)
            if step.name in earlier:
                self.fail((*where, "name"), f"two steps are named `{step.name}`", "give each step its own name")
            head = re.split(r"[.\[]", str(step.index or "").removeprefix("$.").removeprefix("$"))[0]
            if step.kind == "lookup" and step.index and head not in earlier:
                self.fail(
                    (*where, "index"),
                    f"`index: {step.index}` names no earlier step",
                    f"use one of: {', '.join(earlier) or '(no earlier step)'}",
                )
            earlier.append(step.name)


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
