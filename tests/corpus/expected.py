"""The reference interpreter: the HTTP request a capability file declares for one tool call, read from the file alone.

This is the oracle of ``test_requests.py``. It reads the file's data in the alpha2 shape (``versions.normalise``)
and never the project's model or request code, so that the runtime and this module can disagree. It encodes the
format's documents (the official schemas' descriptions, the Naftiko/Ikanos Java engines' request building):

* URL: ``baseUri`` + the resource ``path`` (+ an operation-level ``path``); ``{x}`` and ``{{x}}`` are filled from a
  fixed ``value`` of a parameter of that name, else the call's parameters (arguments merged with ``with``), else a
  bound variable. Literal query text after ``?`` in a path is sent as query parameters.
* ``with`` (and ``{{tools.x}}`` in a template): ``<namespace>.<arg>`` names an argument (the expose namespace;
  ``tools``, ``mcp``, ``rest`` and ``args``
  too, which the public files use for the same thing); other strings are Mustache templates over what is merged so
  far; anything else is a literal. Entries are applied in order, over the arguments.
* Query and header parameters (the consumes level, then the resource and operation): a fixed ``value`` is a
  template, skipped when it needs a variable nobody gives; else the parameter's value, a list as repeated keys.
* Body: an operation ``body`` (raw string: a template sent as JSON; ``{type, data}``: json, text/xml/sparql,
  formUrlEncoded, multipartForm) with templates filled as text, the Java engine's Mustache way (lists and objects as
  compact JSON, a missing variable as ``""``); else the ``in: body`` parameters collected into one JSON object
  (a lone one named ``body`` is the whole body, as the files generated from OpenAPI mean it).
* Credential: bearer, basic (and digest, sent as basic: no challenge happens against a fake), apikey with
  ``key``/``placement`` (alpha2, placement defaulting to header) or ``name``/``in`` (ikanos). Its variables come from
  ``binds`` (an environment key, or a key of the ``location`` file, read as the runtime reads it: JSON or YAML,
  ``file:///./x`` relative to the capability file) or, with no bind, straight from the environment
  (``{{env.X}}`` or ``{{X}}``).

Besides the requests it says which argument names they use (``needs``) and which variables nobody gives
(``missing``): a value the request needs that the tool's input schema does not carry.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from hms_recordings.capability.versions import normalise
from hms_recordings.capability.yamlsource import read_yaml

__all__ = ["SKIPPED", "Expectation", "ExpectedRequest", "Oracle", "Unsupported"]

_VAR = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_PATH_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}|\{([A-Za-z0-9_.\-]+)\}")
#: Namespaces the public files use in ``with`` to name an argument, besides the expose namespace itself.
ARG_PREFIXES = frozenset({"tools", "mcp", "rest", "args"})
#: Body ``type`` -> (kind, media type); ``form`` and ``multipart`` are the short spellings some files use.
BODY_TYPES = {
    "json": ("json", "application/json"),
    "text": ("text", "text/plain"),
    "xml": ("text", "application/xml"),
    "sparql": ("text", "application/sparql-query"),
    "formUrlEncoded": ("form", "application/x-www-form-urlencoded"),
    "form": ("form", "application/x-www-form-urlencoded"),
    "multipartForm": ("multipart", "multipart/form-data"),
    "multipart": ("multipart", "multipart/form-data"),
}
#: How deep ``ref`` and ``import`` are followed: the format has no chains longer than one.
MAX_HOPS = 4
#: What the request tests could not check, and why, counted over the session (printed in the terminal summary).
SKIPPED: Counter[str] = Counter()


class Unsupported(Exception):
    """A tool whose requests cannot be predicted from the file (a script step, a mock): the test counts it."""


@dataclass(frozen=True)
class ExpectedRequest:
    method: str
    path: str  # after the API's base URL, percent-decoded
    query: tuple[tuple[str, str], ...]  # sorted (name, value) pairs
    headers: tuple[tuple[str, str], ...]  # declared headers only, names lowercased
    body_kind: str | None = None  # json | text | form | multipart | None (no body)
    body: Any = None  # json: the value (or the text when it is not JSON); form: sorted pairs; multipart: parts


@dataclass
class Expectation:
    requests: list[ExpectedRequest] = field(default_factory=list)
    needs: set[str] = field(default_factory=set)  # argument names the requests use
    missing: set[str] = field(default_factory=set)  # variables the requests need that nothing gives
    #: Why the requests after the listed ones cannot be predicted (a step that reads an earlier step's answer).
    stops: str | None = None


def text_of(value: Any) -> str:
    """A value as Mustache writes it: strings as they are, booleans and numbers as JSON, lists and objects compact."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value) if value is not None else ""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _mapping(node: Any) -> Mapping[str, Any]:
    return node if isinstance(node, dict) else {}


def _location_path(location: str, base: Path) -> Path:
    raw = location.removeprefix("file://")
    if raw.startswith("/./"):
        return base / raw.removeprefix("/./")
    return Path(raw) if raw.startswith("/") else base / raw


class _Scope:
    """What templates of one request can see, recording which arguments they use and which names nobody gives."""

    def __init__(self, oracle: Oracle, params: dict[str, Any], deps: dict[str, set[str]], out: Expectation) -> None:
        self.oracle = oracle
        self.params = params
        self.deps = deps
        self.out = out
        self.step_names: set[str] = set()
        self.reads_step = False

    def lookup(self, name: str, *, credential: bool = False) -> tuple[bool, Any]:
        if name in self.params:
            self.out.needs |= self.deps.get(name, {name})
            return True, self.params[name]
        head, dot, rest = name.partition(".")
        if dot and head in self.step_names:
            self.reads_step = True
            return False, None
        if dot and head in ARG_PREFIXES and head not in self.oracle.bind_namespaces:
            # `{{tools.repo}}` in a template names the argument `repo`, as `tools.repo` does in a `with`.
            if rest not in self.params:
                return False, None
            self.out.needs |= self.deps.get(rest, {rest})
            return True, self.params[rest]
        if dot and head in self.oracle.bind_namespaces and rest in self.oracle.bound:
            return True, self.oracle.bound[rest]
        if name in self.oracle.bound:
            return True, self.oracle.bound[name]
        if credential:
            key = rest if dot and head == "env" else name
            if key in self.oracle.env:
                return True, self.oracle.env[key]
        return False, None

    def render(self, template: str, *, credential: bool = False, required: bool = True) -> tuple[str, bool]:
        """The template filled in, and whether every variable was found (a missing one renders as ``""``)."""
        complete = True

        def fill(match: re.Match[str]) -> str:
            nonlocal complete
            found, value = self.lookup(match.group(1), credential=credential)
            if not found:
                complete = False
                return ""
            return text_of(value)

        rendered = _VAR.sub(fill, template)
        if not complete and required:
            self.out.missing |= {m for m in _VAR.findall(template) if not self.lookup(m, credential=credential)[0]}
        return rendered, complete


class Oracle:
    """The requests one capability file declares; ``data`` is its alpha2-shaped data, ``file`` where it lives."""

    def __init__(self, data: Mapping[str, Any], file: Path, env: Mapping[str, str] | None = None) -> None:
        self.data = data
        self.file = file
        cap: Mapping[str, Any] = _mapping(data.get("capability"))
        self.cap = cap
        self.binds = [b for b in [*(data.get("binds") or []), *(cap.get("binds") or [])] if isinstance(b, dict)]
        self.bind_namespaces = {str(b.get("namespace", "env")) for b in self.binds}
        self.consumes = self._consumes(data, file, 0)
        self.env: dict[str, str] = dict(env) if env is not None else self.test_env()
        self.bound = self._bound()

    # -- what the file reads from outside ------------------------------------------------------------------------

    def test_env(self) -> dict[str, str]:
        """Test values for every environment key the file reads: bound keys and a credential's unbound variables."""
        env: dict[str, str] = {}
        for bind in self.binds:
            if not bind.get("location"):
                for key in (bind.get("keys") or {}).values():
                    env[str(key)] = f"t-{key}"
        bound_vars = {str(v) for b in self.binds for v in (b.get("keys") or {})}
        inline = [*(self.data.get("consumes") or []), *(self.cap.get("consumes") or [])]
        for api in [*inline, *self.consumes.values()]:  # an imported API's credential is read as well
            auth = api.get("authentication") if isinstance(api, dict) else None
            for value in (auth or {}).values():
                for name in _VAR.findall(value) if isinstance(value, str) else []:
                    head, dot, rest = name.partition(".")
                    var = rest if dot and (head in self.bind_namespaces or head == "env") else name
                    if var not in bound_vars:
                        env.setdefault(var, f"t-{var}")
        return env

    def bind_files_missing(self) -> list[str]:
        return [
            str(b["location"])
            for b in self.binds
            if b.get("location") and not _location_path(str(b["location"]), self.file.parent).is_file()
        ]

    def _bound(self) -> dict[str, str]:
        bound: dict[str, str] = {}
        for bind in self.binds:
            source: Mapping[str, Any] = self.env
            if bind.get("location"):
                path = _location_path(str(bind["location"]), self.file.parent)
                if not path.is_file():
                    continue
                loaded = read_yaml(path).data
                source = loaded if isinstance(loaded, dict) else {}
            for var, key in (bind.get("keys") or {}).items():
                if source.get(key) not in (None, ""):
                    bound[str(var)] = str(source[key])
        return bound

    def _consumes(self, data: Mapping[str, Any], file: Path, hops: int) -> dict[str, dict[str, Any]]:
        cap = _mapping(data.get("capability"))
        apis: dict[str, dict[str, Any]] = {}
        for api in [*(data.get("consumes") or []), *(cap.get("consumes") or [])]:
            if not isinstance(api, dict):
                continue
            if "baseUri" in api:
                apis[str(api.get("namespace"))] = api
            elif api.get("location") and hops < MAX_HOPS:
                # An import (`location`, `import`, `as`): the named consumed API of another file, renamed.
                other = _location_path(str(api["location"]), file.parent)
                found = self._consumes(normalise(read_yaml(other)).doc.data, other, hops + 1)
                wanted = api.get("import") or (next(iter(found)) if len(found) == 1 else None)
                if wanted in found:
                    apis[str(api.get("as") or wanted)] = found[str(wanted)]
        return apis

    # -- one tool ------------------------------------------------------------------------------------------------

    def declaration(self, tool: Mapping[str, Any]) -> dict[str, Any]:
        """The tool with a ``ref`` resolved: what the tool leaves out comes from the aggregate function."""
        ref = tool.get("ref")
        if not isinstance(ref, str):
            return dict(tool)
        ns, _, name = ref.partition(".")
        for aggregate in self.cap.get("aggregates") or []:
            if aggregate.get("namespace") != ns:
                continue
            for function in aggregate.get("functions") or []:
                if function.get("name") == name:
                    return {**function, **{k: v for k, v in tool.items() if k != "ref"}, "_aggregate": ns}
        return dict(tool)

    def expect(self, tool: Mapping[str, Any], expose_namespace: str, args: Mapping[str, Any]) -> Expectation:
        decl = self.declaration(tool)
        out = Expectation()
        prefixes = {expose_namespace, *ARG_PREFIXES, *([decl["_aggregate"]] if "_aggregate" in decl else [])}
        params, deps = dict(args), {k: {k} for k in args}
        scope = _Scope(self, params, deps, out)
        if decl.get("call"):
            self._merge_with(decl.get("with") or {}, scope, prefixes)
            out.requests.append(self._request(str(decl["call"]), scope))
            return out
        steps = decl.get("steps")
        if not steps:
            raise Unsupported("no call and no steps (a mock tool)")
        if any(isinstance(s, dict) and (s.get("type") == "script" or "script" in s) for s in steps):
            raise Unsupported("a script step")
        self._merge_with(decl.get("with") or {}, scope, prefixes)
        for step in steps:
            if not isinstance(step, dict) or not step.get("call"):
                scope.step_names.add(str(step.get("name")) if isinstance(step, dict) else "")
                continue
            step_scope = _Scope(self, dict(scope.params), dict(scope.deps), out)
            step_scope.step_names = scope.step_names
            self._merge_with(step.get("with") or {}, step_scope, prefixes)
            request = self._request(str(step["call"]), step_scope)
            if step_scope.reads_step:
                out.stops = f"step {step.get('name')} reads an earlier step's answer"
                return out
            out.requests.append(request)
            scope.step_names.add(str(step.get("name")))
        return out

    def _merge_with(self, with_: Mapping[str, Any], scope: _Scope, prefixes: set[str]) -> None:
        for key, raw in with_.items():
            if isinstance(raw, str):
                head, dot, rest = raw.partition(".")
                if dot and head in prefixes and rest and "{{" not in raw:
                    if rest in scope.params:
                        scope.params[key] = scope.params[rest]
                        scope.deps[key] = scope.deps.get(rest, {rest})
                    else:
                        scope.out.missing.add(rest)
                    continue
                if raw.startswith("$."):  # a step-answer reference (JSONPath), not a template
                    scope.reads_step = scope.reads_step or raw[2:].partition(".")[0] in scope.step_names
                    continue
                names = _VAR.findall(raw)
                used = set().union(*(scope.deps.get(n, {n}) for n in names if n in scope.params)) if names else set()
                rendered, _ = scope.render(raw)
                scope.params[key] = rendered
                scope.deps[key] = used
            else:
                scope.params[key] = raw
                scope.deps[key] = set()

    def _operation(self, call: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        ns, _, name = call.partition(".")
        if ns not in self.consumes:  # a namespace with a dot in it (published: `... (CSF) 2.0 — Sandbox API`)
            ns, _, name = call.rpartition(".")
        api = self.consumes[ns]
        for resource in api.get("resources") or []:
            for operation in resource.get("operations") or []:
                if operation.get("name") == name:
                    return api, resource, operation
        raise KeyError(call)

    def _request(self, call: str, scope: _Scope) -> ExpectedRequest:
        api, resource, operation = self._operation(call)
        declared = [
            p
            for p in [
                *(api.get("inputParameters") or []),
                *(resource.get("inputParameters") or []),
                *(operation.get("inputParameters") or []),
            ]
            if isinstance(p, dict) and p.get("name")
        ]
        fixed = {str(p["name"]): str(p["value"]) for p in declared if p.get("value") is not None}
        path = str(resource.get("path") or "") + str(operation.get("path") or "")
        if not path.startswith("/"):
            # A relative resource path (`forecast`) is under the base URI, whether or not that ends in `/`: gluing
            # `.../v1forecast` is never what a file means. The test's base URL has no trailing slash.
            path = "/" + path
        path, _, literal_query = path.partition("?")

        def segment(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name in fixed:
                return quote(scope.render(fixed[name])[0], safe="")
            found, value = scope.lookup(name)
            if not found:
                scope.out.missing.add(name)
                return ""
            return quote(text_of(value), safe="")

        filled = _PATH_VAR.sub(segment, path)
        query = parse_qsl(literal_query, keep_blank_values=True)
        headers: dict[str, str] = {}
        body_params: dict[str, Any] = {}
        for param in declared:
            where, name = param.get("in"), str(param["name"])
            if where not in ("query", "header", "body"):
                continue  # path parameters fill the path; environment and cookie ones send nothing
            if name in fixed:
                value, complete = scope.render(fixed[name], required=False)
                if not complete:
                    continue  # as the Java engine: a fixed value that still needs a variable is left out
                values: list[Any] = [value]
            else:
                found, given = scope.lookup(name)
                if not found or given is None:
                    if param.get("required") is True:
                        scope.out.missing.add(name)
                    continue
                values = given if isinstance(given, list) and where == "query" else [given]
            if where == "query":
                query += [(name, text_of(v)) for v in values]
            elif where == "header":
                headers[name.lower()] = text_of(values[-1])
            else:
                body_params[name] = values[-1]
        self._credential(api, scope, headers, query)
        kind, body, media = self._body(operation, body_params, scope)
        if kind is not None and "content-type" not in headers:
            headers["content-type"] = media
        return ExpectedRequest(
            method=str(operation.get("method") or "GET").upper(),
            path=filled,
            query=tuple(sorted(query)),
            headers=tuple(sorted(headers.items())),
            body_kind=kind,
            body=body,
        )

    def _credential(self, api: Mapping[str, Any], scope: _Scope, headers: dict[str, str], query: list[Any]) -> None:
        auth = api.get("authentication")
        if not isinstance(auth, dict):
            return

        def render(key: str) -> str:
            return scope.render(str(auth.get(key) or ""), credential=True)[0]

        kind = auth.get("type")
        if kind == "bearer":
            headers["authorization"] = f"Bearer {render('token')}"
        elif kind in ("basic", "digest"):
            pair = f"{render('username')}:{render('password')}".encode()
            headers["authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        elif kind == "apikey":
            name = str(auth.get("key") or auth.get("name") or "")
            placement = auth.get("placement") or auth.get("in") or "header"
            if placement == "query":
                query.append((name, render("value")))
            else:
                headers[name.lower()] = render("value")

    def _body(
        self, operation: Mapping[str, Any], body_params: dict[str, Any], scope: _Scope
    ) -> tuple[str | None, Any, str]:
        body = operation.get("body")
        if body is None:
            if not body_params:
                return None, None, ""
            if list(body_params) == ["body"]:
                # The public files generated from OpenAPI name the request body `body`: it is the whole body.
                return "json", body_params["body"], "application/json"
            return "json", body_params, "application/json"
        if isinstance(body, str):
            return "json", _json_or_text(scope.render(body)[0]), "application/json"
        if not isinstance(body, dict):
            return "json", _fill(body, scope), "application/json"
        kind, media = BODY_TYPES.get(str(body.get("type", "json")), ("json", "application/json"))
        data = body.get("data")
        if kind == "json":
            return kind, _json_or_text(scope.render(data)[0]) if isinstance(data, str) else _fill(data, scope), media
        if kind == "text":
            return kind, scope.render(str(data or ""))[0], media
        if kind == "form":
            if isinstance(data, dict):
                pairs = [(str(_fill(k, scope)), text_of(_fill(v, scope))) for k, v in data.items()]
            else:
                pairs = parse_qsl(scope.render(str(data or ""))[0], keep_blank_values=True)
            return kind, sorted(pairs), media
        parts = [
            (
                scope.render(str(p.get("name", "")))[0],
                scope.render(str(p["filename"]))[0] if p.get("filename") is not None else None,
                str(p["contentType"]) if p.get("contentType") else None,
                scope.render(str(p.get("value", "")))[0],
            )
            for p in data or []
            if isinstance(p, dict)
        ]
        return kind, parts, media


def _fill(node: Any, scope: _Scope) -> Any:
    """A JSON tree with every string (keys too) filled as text: the Java engine writes the tree, then fills it."""
    if isinstance(node, str):
        return scope.render(node)[0]
    if isinstance(node, dict):
        return {_fill(k, scope): _fill(v, scope) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, scope) for v in node]
    return node


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    return sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def form_text(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs)
