"""Reading tools: input parameters, hints, outputs, orchestration steps and the tool-level ``x-`` extensions."""

from __future__ import annotations

import re
from typing import Any

from hms_recordings.capability.model import (
    ErrorRule,
    Hints,
    OutputSpec,
    Pagination,
    Step,
    StepMapping,
    Tool,
    ToolParam,
)
from hms_recordings.capability.read_base import ReaderBase
from hms_recordings.capability.yamlsource import PathKey

__all__ = ["ToolReader"]


class ToolReader(ReaderBase):
    """MCP tools, REST operations and aggregate functions all read their tool-shaped part here."""

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
            scopes=self.scopes(node.get("x-scopes"), (*path, "x-scopes")),
        )

    def scopes(self, value: Any, path: PathKey) -> tuple[str, ...] | None:
        """x-scopes: the OAuth scopes a caller needs for this tool, all of them (a list of names without spaces)."""
        if value is None:
            return None
        names = []
        for i, item in enumerate(self.seq(value, path, "x-scopes")):
            if not isinstance(item, str) or not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", item):
                self.fail((*path, i), "a scope is a name without spaces or quotes", "write e.g. `recordings:read`")
                continue
            names.append(item)
        return tuple(names)

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
            item_cursor=str(node.get("itemCursor", default.item_cursor)),
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
