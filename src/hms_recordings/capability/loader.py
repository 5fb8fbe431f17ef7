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

The reading itself is layered: :mod:`.read_base` (plumbing), :mod:`.read_tools`, :mod:`.read_consumes`, and the
exposes and cross-references here. Only what would stop the file from being served is an error here (a
:class:`CapabilityError` listing every finding with its YAML path and line); deviations from alpha2 are the business
of ``validate --strict``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from hms_recordings.capability.model import (
    Aggregate,
    AggregateFunction,
    Capability,
    ConsumedApi,
    ExposedMcp,
    ExposedRest,
    ExposedSkill,
    Forward,
    Prompt,
    RestOperation,
    RestParam,
    RestResource,
    Tool,
    ToolParam,
)
from hms_recordings.capability.read_consumes import ConsumesReader
from hms_recordings.capability.versions import normalise
from hms_recordings.capability.yamlsource import PathKey, YamlDoc, read_yaml
from hms_recordings.errors import CapabilityError, Finding

__all__ = [
    "BUILTIN_CAPABILITY",
    "SEED_ALIASES",
    "lenient_findings",
    "load_capability",
    "load_file",
    "read_resource_tool",
]

#: The 100ms recordings capability shipped in the package: the default of ``serve``, ``tools`` and ``call``.
BUILTIN_CAPABILITY = Path(__file__).with_name("builtin") / "recordings.yaml"
#: ``with`` prefixes that mean "the tool's own argument" whatever the expose namespace is (rule 4).
SEED_ALIASES = frozenset({"tools", "rest", "mcp", "args"})
TOOL_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
REST_PARAM_LOCATIONS = frozenset({"path", "query", "header", "cookie", "body"})


class _Reader(ConsumesReader):
    """Walks the plain data once, collecting findings instead of stopping at the first one."""

    def capability(self) -> Capability:
        root = self.mapping(self.doc.data, (), "the file")
        info = self.mapping(root.get("info"), ("info",), "info")
        label = self.text(info, "label", ("info",)) or self.text(info, "title", ("info",))  # rule 1: title as label
        cap = self.mapping(root.get("capability"), ("capability",), "capability")
        if not cap and "consumes" not in root:
            shared = [k for k in ("binds", "exposes", "aggregates") if k in root]
            if shared:  # an ikanos shared file: its sections are imported by capabilities
                message = f"the file has only a shared `{shared[0]}` section and no `capability`, so nothing is served"
                fix = "serve the capability that imports it, or add `capability:` with consumes/exposes"
            else:
                message, fix = "the file has no `capability` section", "add `capability:` with consumes/exposes"
            self.fail(("capability",), message, fix)
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
                skills += self.exposed_skills(node, path)
            elif kind == "control" and isinstance(node.get("port"), int):
                control = (str(node.get("address") or "127.0.0.1"), int(node["port"]))
        declared = bool(skills) or any(res.operations or res.forward for r in rest for res in r.resources)
        declared = declared or any(m.tools or m.resources or m.prompts for m in mcp)
        if not declared and any(api.operations for api in consumes.values()):
            mcp = [default_mcp(consumes)]
        elif not declared and not self.findings and control is None:  # a control port alone is served (serve.py)
            # validate and serve agree: a file with nothing to serve is refused by both, in these words.
            self.fail(
                ("capability",),
                "the file declares nothing to serve: no MCP tool, resource or prompt, no REST operation, no skill, and"
                " REST forward and no consumed operation to serve as a tool (a bare `baseUri` is not served on its"
                " own)",
                "declare operations under `consumes` (each is then served as a tool) or tools under an `mcp` expose;"
                " a shared file is imported by a capability, not served alone",
            )
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

    def exposed_skills(self, node: dict[str, Any], path: PathKey) -> list[ExposedSkill]:
        """The official shape lists the skills under ``skills``, one per item; a flat expose (the skill's own fields
        on the expose, as some files write it) is read as one skill."""
        if "skills" not in node:
            return [
                ExposedSkill(self.text(node, "name", path, default="skill"), self.text(node, "description", path), node)
            ]
        out = []
        for i, item in enumerate(self.seq(node.get("skills"), (*path, "skills"), "skills")):
            spath: PathKey = (*path, "skills", i)
            skill = self.mapping(item, spath, "a skill")
            out.append(
                ExposedSkill(
                    self.text(skill, "name", spath, default="skill"), self.text(skill, "description", spath), skill
                )
            )
        return out

    def mcp_resource(self, node: dict[str, Any], path: PathKey) -> dict[str, Any]:
        """Checks an MCP resource and keeps it as data: static (``location``) or dynamic (``call``/``steps``)."""
        self.text(node, "name", path, required=True)
        uri = self.text(node, "uri", path, required=True)
        by_tool = isinstance(node.get("x-tool"), str)  # x-tool: read through an MCP tool of the same expose
        dynamic = "call" in node or "steps" in node or by_tool
        if dynamic == ("location" in node):
            self.fail(
                path,
                "a resource needs either `location` (static) or `call`/`steps`/`x-tool` (dynamic)",
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
        if dynamic and not by_tool:
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
                    self.forward(res.get("forward"), (*rpath, "forward")),
                )
            )
        port = node.get("port", 8080)
        return ExposedRest(
            self.text(node, "namespace", path, required=True),
            int(port) if isinstance(port, int) else 8080,
            str(node.get("address") or "127.0.0.1"),
            tuple(resources),
        )

    def forward(self, item: Any, path: PathKey) -> Forward | None:
        if item is None:
            return None
        node = self.mapping(item, path, "a forward")
        target = self.text(node, "targetNamespace", path, required=True)
        self.forward_targets.append((target, (*path, "targetNamespace")))
        trusted = [str(h) for h in self.seq(node.get("trustedHeaders"), (*path, "trustedHeaders"), "trustedHeaders")]
        return Forward(target, tuple(trusted)) if target else None

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
        for target, where in self.forward_targets:
            if target not in cap.consumes:
                self.fail(
                    where,
                    f"`forward` names `{target}`, which is not a consumed API",
                    f"use one of: {', '.join(cap.consumes) or 'none (declare the API under `consumes`)'}",
                )
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
                    fix = (
                        f"use one of: {known}"
                        if known
                        else (
                            "declare the API under `consumes` or import it; a shared exposes or aggregates file is"
                            " imported by a capability, not served alone"
                        )
                    )
                    self.fail(where, f"`{call}` names no consumed operation", fix)
            self.check_steps(tool)
            if tool.ref is not None:
                ns, _, fn = str(tool.ref).partition(".")
                if ns not in cap.aggregates or fn not in cap.aggregates[ns].functions:
                    self.fail(
                        (*tool.yaml_path, "ref"),
                        f"`ref: {tool.ref}` names no aggregate function",
                        "use <aggregate namespace>.<function name>",
                    )


def default_mcp(consumes: dict[str, ConsumedApi]) -> ExposedMcp:
    """The MCP face of a file that exposes nothing (a consumes file, a control port alone): one tool per consumed
    operation, named ``<namespace>-<operation>``, its schema derived from the request (runtime/schemas.py) and its
    hints from the method. ``validate`` lists it (``capability.default-mcp``), so it is never a surprise."""
    tools = tuple(
        Tool(
            name=_tool_name(f"{op.namespace}-{op.name}"),
            description=op.description or f"{op.method} {op.path} on {op.namespace}.",
            call=op.key,
        )
        for api in consumes.values()
        for op in api.operations.values()
    )
    return ExposedMcp(namespace="default-mcp", tools=tools)


def _tool_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)[:128] or "tool"


def _read(doc: YamlDoc) -> tuple[Capability | None, list[Finding]]:
    # Every version is read through the one normalisation into the alpha2 shape (versions.py); a version this
    # runtime does not read is refused before the reader sees it, so its findings are not a cascade of guesses.
    normalised = normalise(doc)
    refusals = [f for f in normalised.findings if f.severity == "error"]
    if refusals:
        return None, refusals
    reader = _Reader(normalised.doc)
    capability = reader.capability()
    return capability, reader.findings


def lenient_findings(doc: YamlDoc) -> list[Finding]:
    """The problems that stop a file from being served (empty when it loads)."""
    return _read(doc)[1]


def load_capability(doc: YamlDoc) -> Capability:
    capability, findings = _read(doc)
    if findings or capability is None:
        lines = "\n".join("  " + f.render() for f in findings)
        raise CapabilityError(f"{doc.file or 'capability'} cannot be served:\n{lines}", findings, doc.file)
    return capability


def load_file(path: str | Path | None = None) -> Capability:
    """Load a capability file; ``None`` loads the built-in 100ms recordings capability."""
    return load_capability(read_yaml(path or BUILTIN_CAPABILITY))


def read_resource_tool(raw: dict[str, Any], file: str) -> Tool:
    """A dynamic MCP resource's ``call``/``with``/``steps``/``outputs``, read as a tool named after the resource."""
    reader = _Reader(YamlDoc(raw, file))
    return reader.tool({**raw, "name": str(raw.get("name") or "")}, (), name_required=False)
