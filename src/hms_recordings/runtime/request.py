"""Turn a tool's arguments into an upstream HTTP request, with every template compiled at load time.

``with`` (rule 4): ``<prefix>.<name>`` with a known prefix is a reference to argument ``name``; other strings are
templates; numbers are literals. An unresolved reference never overwrites an argument.

Paths (rule 3): ``{x}`` and ``{{x}}`` are both placeholders. Each value is checked (no ``/``, ``\\``, ``..``, ``?``,
``#``, ``%``, control characters, nothing that Unicode normalisation turns into one of those) and percent-encoded, so a
value can never leave its path segment. Failures are :class:`ToolInputError` raised before anything is sent.

Body (rule 5): an operation ``body:`` wins, encoded as its type says (``runtime/bodies.py``); else an ``in: body``
parameter named ``body`` is the whole JSON body; else the ``in: body`` parameters are collected into one JSON object.

What the caller must give (:meth:`RequestPlan.needs`): every path placeholder without a fixed ``value``, every
parameter without one, and every variable of the body. Tool input schemas are derived from it, so a served tool can
always be called with a request its file declares.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hms_recordings.capability.loader import SEED_ALIASES
from hms_recordings.capability.model import ConsumedParam, Operation
from hms_recordings.capability.templates import MISSING, Scope, Template, as_text
from hms_recordings.errors import ToolInputError
from hms_recordings.runtime.bodies import BodyPlan, EncodedBody

__all__ = ["ArgRef", "Need", "PreparedRequest", "RequestPlan", "WithPlan", "check_path_value"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}|\{([A-Za-z0-9_.-]+)\}")
_FORBIDDEN = re.compile(r"[/\\?#%\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_PATH_VALUE = 512


def check_path_value(name: str, value: Any) -> str:
    """Return ``value`` as a safe, percent-encoded path segment, or raise :class:`ToolInputError`."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ToolInputError(f"`{name}` must be a string", [name])
    text = str(value)
    if not text:
        raise ToolInputError(f"`{name}` must not be empty", [name])
    if len(text) > _MAX_PATH_VALUE:
        raise ToolInputError(f"`{name}` is too long ({len(text)} characters, at most {_MAX_PATH_VALUE})", [name])
    for form in (text, unicodedata.normalize("NFKC", text)):
        if _FORBIDDEN.search(form) or form in (".", "..") or ".." in form:
            raise ToolInputError(
                f"`{name}` contains characters that are not allowed in a path segment "
                "(/, \\, .., ?, #, %, or a control character)",
                [name],
            )
    return quote(text, safe="")


@dataclass(frozen=True)
class ArgRef:
    name: str


@dataclass(frozen=True)
class WithPlan:
    """The compiled ``with`` block of a tool: target parameter -> argument reference, template or literal."""

    entries: tuple[tuple[str, ArgRef | Template | Any], ...]

    @classmethod
    def compile(cls, with_: dict[str, Any], namespaces: str | frozenset[str]) -> WithPlan:
        """``namespaces``: the expose's (and the aggregates' a ``ref`` brings in), which prefix an argument."""
        prefixes = SEED_ALIASES | ({namespaces} if isinstance(namespaces, str) else namespaces)
        entries: list[tuple[str, ArgRef | Template | Any]] = []
        for key, raw in with_.items():
            if isinstance(raw, str):
                prefix, dot, name = raw.partition(".")
                if dot and prefix in prefixes and name and "{{" not in raw:
                    entries.append((key, ArgRef(name)))
                else:
                    entries.append((key, Template.compile(raw)))
            else:
                entries.append((key, raw))
        return cls(tuple(entries))

    def references(self) -> dict[str, str]:
        """Operation parameter -> tool argument name, for schema derivation."""
        return {key: src.name for key, src in self.entries if isinstance(src, ArgRef)}

    def apply(self, args: dict[str, Any], scope: Scope) -> dict[str, Any]:
        params = dict(args)
        for key, src in self.entries:
            if isinstance(src, ArgRef):
                value = args.get(src.name, MISSING)
            elif isinstance(src, Template):
                value = src.value(scope) if not src.missing(scope) else MISSING
            else:
                value = src
            if value is not MISSING and value is not None:
                params[key] = value
        return params


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    path: str  # relative to the API's base URI, already encoded
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    json_body: Any = None
    has_body: bool = False
    body: EncodedBody | None = None  # a typed body: bytes and their content type (JSON stays in ``json_body``)


@dataclass(frozen=True)
class Need:
    """One value a request takes from the caller: its name, where it goes, and the parameter declaring it if any."""

    name: str
    location: str  # path | query | header | cookie | body
    param: ConsumedParam | None = None
    required: bool = True


@dataclass(frozen=True)
class RequestPlan:
    operation: Operation
    path_parts: tuple[str | tuple[str], ...]  # literal text, or (placeholder name,)
    query: tuple[tuple[ConsumedParam, Template | None], ...]
    headers: tuple[tuple[ConsumedParam, Template | None], ...]
    body_params: tuple[ConsumedParam, ...]
    body_plan: BodyPlan | None
    path_values: tuple[tuple[str, Template], ...] = ()  # path parameters with a fixed ``value``
    literal_query: tuple[tuple[str, Template], ...] = ()  # ``?a=b`` written into the path itself
    #: ``{{tools.repo}}`` in a body is the argument ``repo``, as ``tools.repo`` is in a ``with``: (variable, argument).
    body_aliases: tuple[tuple[str, str], ...] = ()

    @classmethod
    def compile(cls, operation: Operation, static_headers: tuple[ConsumedParam, ...] = ()) -> RequestPlan:
        # Some published files write a fixed query into the path (`/search?type=all`): it is sent as query
        # parameters (placeholders in it filled like the path's), never as part of the path.
        path, _, query_text = operation.path.partition("?")
        literal_query = tuple(
            (key, Template.compile(_PLACEHOLDER.sub(lambda m: "{{" + (m.group(1) or m.group(2)) + "}}", value)))
            for key, _, value in (pair.partition("=") for pair in query_text.split("&") if pair)
        )
        parts: list[str | tuple[str]] = []
        cursor = 0
        for match in _PLACEHOLDER.finditer(path):
            parts.append(path[cursor : match.start()])
            parts.append((match.group(1) or match.group(2),))
            cursor = match.end()
        parts.append(path[cursor:])

        def compiled(
            location: str, params: tuple[ConsumedParam, ...]
        ) -> tuple[tuple[ConsumedParam, Template | None], ...]:
            return tuple(
                (p, Template.compile(p.value) if p.value is not None else None)
                for p in params
                if p.location == location
            )

        all_params = (*static_headers, *operation.params)
        return cls(
            operation=operation,
            path_parts=tuple(p for p in parts if p != ""),
            query=compiled("query", all_params),
            headers=compiled("header", all_params),
            body_params=tuple(p for p in operation.params if p.location == "body"),
            body_plan=BodyPlan.compile(operation.body) if operation.body is not None else None,
            path_values=tuple(
                (p.name, Template.compile(p.value))
                for p in operation.params
                if p.location == "path" and p.value is not None
            ),
            literal_query=literal_query,
            body_aliases=_body_aliases(operation.body),
        )

    @property
    def path_names(self) -> tuple[str, ...]:
        return tuple(p[0] for p in self.path_parts if isinstance(p, tuple))

    def needs(self) -> tuple[Need, ...]:
        """What the caller gives: path placeholders without a fixed value (required, as the path reads), declared
        parameters without one (required as declared), the body's variables (required: a body that lacks one is
        not the body the file declares), and the variables of fixed values (optional: a value that still lacks a
        variable is not sent, as the Java engine does). Dotted names (``env.X``, ``step.field``) are not the
        caller's; the tool compiler also leaves out bound variables."""
        fixed = {name for name, _ in self.path_values}
        declared = {p.name: p for p in self.operation.params if p.value is None}
        out: dict[str, Need] = {}
        for name in self.path_names:
            if name not in fixed and name not in out:
                out[name] = Need(name, "path", declared.get(name))
        for param in self.operation.params:
            if param.value is None and param.name not in out and param.location != "path":
                out[param.name] = Need(param.name, param.location, param, param.required)
        if self.body_plan is not None:
            for name in self.body_plan.names:
                arg = dict(self.body_aliases).get(name, name)
                out.setdefault(arg, Need(arg, "body"))
        valued = [t for _, t in (*self.literal_query, *self.path_values)]
        valued += [t for _, t in (*self.query, *self.headers) if t is not None]
        for template in valued:
            for name in template.names:
                out.setdefault(name, Need(name, "query", required=False))
        # A declared parameter may have a dot in its name (`account.name`); a template's dotted name is not the
        # caller's.
        return tuple(n for n in out.values() if n.param is not None or "." not in n.name)

    def build(self, params: dict[str, Any], scope: Scope) -> PreparedRequest:
        path = []
        fixed = dict(self.path_values) if self.path_values else {}
        # Fixed values, the path's literal query and the body see the arguments as ``with`` mapped them too (a scope
        # built only when one of them is there: the plain call pays nothing for it).
        with_args = scope
        if self.path_values or self.literal_query or self.body_plan is not None:
            given = {**scope.args, **params}
            given.update({alias: given[arg] for alias, arg in self.body_aliases if arg in given})
            with_args = Scope(given, scope.bindings, scope.namespaces)
        for part in self.path_parts:
            if isinstance(part, tuple):
                name = part[0]
                if name in fixed and not fixed[name].missing(with_args):
                    path.append(check_path_value(name, fixed[name].render(with_args)))
                    continue
                if name not in params or params[name] is None:
                    raise ToolInputError(f"`{name}` is required (it fills the path {self.operation.path})", [name])
                path.append(check_path_value(name, params[name]))
            else:
                path.append(part)
        query = [(p.name, as_text(v)) for p, v in self._values(self.query, params, scope)]
        if self.literal_query:
            query += [(key, t.render(with_args)) for key, t in self.literal_query if not t.missing(with_args)]
        for name, text in query:
            # A schema `pattern` ending in `$` lets one trailing newline through (Python's `re.search`), so an id
            # filter like "<24 hex>\n" would reach the upstream: no control character ever goes into a query.
            # Regression test: tests/reliability/test_bad_input.py::test_a_trailing_newline_after_a_valid_id_*
            if _CONTROL.search(text):
                raise ToolInputError(f"`{name}` must not contain control characters (line breaks, tabs, NUL)", [name])
        headers = []
        for p, v in self._values(self.headers, params, scope):
            text = as_text(v)
            if "\r" in text or "\n" in text:
                raise ToolInputError(f"`{p.name}` must not contain line breaks", [p.name])
            headers.append((p.name, text))
        if self.body_plan is not None:
            encoded = self.body_plan.render(with_args)
            if encoded.content is None:
                return PreparedRequest(
                    self.operation.method, "".join(path), tuple(query), tuple(headers), encoded.json, True
                )
            return PreparedRequest(
                self.operation.method, "".join(path), tuple(query), tuple(headers), None, True, encoded
            )
        has_body, body = self._body(params)
        return PreparedRequest(self.operation.method, "".join(path), tuple(query), tuple(headers), body, has_body)

    @staticmethod
    def _values(
        plan: tuple[tuple[ConsumedParam, Template | None], ...], params: dict[str, Any], scope: Scope
    ) -> list[tuple[ConsumedParam, Any]]:
        out = []
        for param, template in plan:
            if template is not None:
                if template.missing(scope):
                    continue  # as the Java engine: a value that still needs a variable is skipped
                out.append((param, template.render(scope)))
            elif params.get(param.name) is not None:
                value = params[param.name]
                if isinstance(value, list):
                    out.extend((param, item) for item in value)  # repeated keys, as the 100ms SDK sends arrays
                else:
                    out.append((param, value))
        return out

    def _body(self, params: dict[str, Any]) -> tuple[bool, Any]:
        if not self.body_params:
            return False, None
        if len(self.body_params) == 1 and self.body_params[0].name == "body":
            value = params.get("body")
            return value is not None, value
        collected = {p.name: params[p.name] for p in self.body_params if params.get(p.name) is not None}
        return True, collected


def _body_aliases(body: Any) -> tuple[tuple[str, str], ...]:
    if body is None:
        return ()
    out = []
    for name in BodyPlan.compile(body).names:
        prefix, dot, arg = name.partition(".")
        if dot and prefix in SEED_ALIASES and arg and "." not in arg:
            out.append((name, arg))
    return tuple(out)
