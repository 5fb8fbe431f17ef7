"""Request bodies: an operation's ``body`` compiled once into what is sent and how it is encoded.

The format's ``RequestBody`` variants (alpha2 onwards):

* ``{type: json, data}`` -> ``application/json``; ``data`` an object/array tree of templates, or a template string;
* ``{type: text|xml|sparql, data}`` -> ``text/plain``, ``application/xml``, ``application/sparql-query``;
* ``{type: formUrlEncoded, data}`` -> ``application/x-www-form-urlencoded`` (a key -> value map, or a pre-encoded
  string); published files also write ``form`` or ``urlencoded``, read the same way;
* ``{type: multipartForm, data: [{name, value, filename?, contentType?}]}`` -> ``multipart/form-data``
  (``multipart`` too);
* a raw string -> sent as it is; the spec says it is JSON unless a ``Content-Type`` header parameter says otherwise.

A body any other shape (an untyped mapping, as older files write) is a JSON tree. Template variables are what the
caller must give (they are in the tool's input schema, see ``runtime/compiled.py``); one that is still missing when
the body is rendered is an argument error naming it, never a crash. A key whose whole value is a variable the
caller left out is dropped from a JSON object or a form, so optional fields stay optional.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hms_recordings.capability.model import BODY_KINDS
from hms_recordings.capability.templates import MISSING, Scope, Template, as_text
from hms_recordings.errors import ToolInputError

__all__ = ["BodyPlan", "EncodedBody"]

_TEXT_TYPES = {"text": "text/plain", "xml": "application/xml", "sparql": "application/sparql-query"}
_DROP: Any = object()  # a JSON/form value whose variable the caller did not give


@dataclass(frozen=True)
class EncodedBody:
    """What goes on the wire: JSON (``json`` set, encoded by the client) or bytes with their content type."""

    content_type: str
    json: Any = None
    content: bytes | None = None


@dataclass(frozen=True)
class BodyPlan:
    kind: str  # json | text | form | multipart | raw
    tree: Any  # templates in the shape of ``data``
    content_type: str

    @classmethod
    def compile(cls, body: Any) -> BodyPlan:
        if isinstance(body, dict) and isinstance(body.get("type"), str) and "data" in body:
            kind, data = BODY_KINDS.get(body["type"].lower(), "json"), body["data"]
            if kind == "text":
                return cls("text", _tree(str(data)), _TEXT_TYPES[body["type"].lower()])
            if kind == "form":
                return cls("form", _tree(data), "application/x-www-form-urlencoded")
            if kind == "multipart":
                return cls("multipart", _tree(data if isinstance(data, list) else []), "multipart/form-data")
            return cls("json", _tree(data), "application/json")
        if isinstance(body, str):
            return cls("raw", Template.compile(body), "application/json")
        return cls("json", _tree(body), "application/json")

    @property
    def names(self) -> tuple[str, ...]:
        """The template variables of the body, in order, without repeats."""
        seen: dict[str, None] = {}
        for template in _templates(self.tree):
            seen.update(dict.fromkeys(template.names))
        return tuple(seen)

    @property
    def whole_names(self) -> frozenset[str]:
        """Variables that are a whole JSON value (``key: "{{x}}"``), which take any JSON value as it is."""
        if self.kind != "json":
            return frozenset()
        return frozenset(n for t in _templates(self.tree) if (n := t.single_name) is not None)

    def render(self, scope: Scope) -> EncodedBody:
        if self.kind == "json":
            value = _render(self.tree, scope)
            if isinstance(self.tree, Template) and isinstance(value, str):
                value = _json_text(value)  # `data: "{...}"`: a template of JSON text, sent as that JSON
            return EncodedBody(self.content_type, json=None if value is _DROP else value)
        if self.kind in ("text", "raw"):
            text = _text(self.tree, scope)
            return EncodedBody(self.content_type, content=text.encode("utf-8"))
        if self.kind == "form":
            if isinstance(self.tree, Template):  # a pre-encoded string
                return EncodedBody(self.content_type, content=_text(self.tree, scope).encode("utf-8"))
            fields = _render(self.tree, scope) if isinstance(self.tree, dict) else {}
            pairs = [(str(k), as_text(v)) for k, v in fields.items() if v is not _DROP]
            return EncodedBody(self.content_type, content=urlencode(pairs).encode("utf-8"))
        return self._multipart(scope)

    def _multipart(self, scope: Scope) -> EncodedBody:
        boundary = uuid.uuid4().hex
        chunks: list[bytes] = []
        for part in self.tree:  # a list: compile() makes it one
            if not isinstance(part, dict):
                continue
            name = _text(part.get("name"), scope) if part.get("name") is not None else ""
            value = _render(part.get("value", ""), scope)
            if value is _DROP:
                continue
            disposition = f'form-data; name="{_quoted(name)}"'
            if part.get("filename") is not None:
                disposition += f'; filename="{_quoted(_text(part["filename"], scope))}"'
            head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            if part.get("contentType") is not None:
                head += f"Content-Type: {_text(part['contentType'], scope)}\r\n"
            chunks.append(head.encode("utf-8") + b"\r\n" + as_text(value).encode("utf-8") + b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode())
        return EncodedBody(f"multipart/form-data; boundary={boundary}", content=b"".join(chunks))


def _tree(node: Any) -> Any:
    if isinstance(node, str):
        return Template.compile(node)
    if isinstance(node, dict):
        return {k: _tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_tree(v) for v in node]
    return node


def _templates(node: Any) -> list[Template]:
    if isinstance(node, Template):
        return [node]
    if isinstance(node, dict):
        return [t for v in node.values() for t in _templates(v)]
    if isinstance(node, list):
        return [t for v in node for t in _templates(v)]
    return []


def _missing(template: Template, scope: Scope) -> ToolInputError:
    names = template.missing(scope)
    return ToolInputError(
        ", ".join(f"`{n}` is required (it fills the request body)" for n in names), [n for n in names if "." not in n]
    )


def _render(node: Any, scope: Scope) -> Any:
    if isinstance(node, Template):
        if node.missing(scope):
            if node.single_name is not None:
                return _DROP
            raise _missing(node, scope)
        return node.value(scope)
    if isinstance(node, dict):
        out = {k: _render(v, scope) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not _DROP}
    if isinstance(node, list):
        return [v for v in (_render(item, scope) for item in node) if v is not _DROP]
    return node


def _text(node: Any, scope: Scope) -> str:
    if isinstance(node, Template):
        if node.missing(scope):
            raise _missing(node, scope)
        return node.render(scope)
    return "" if node is None or node is MISSING else as_text(node)


def _json_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _quoted(text: str) -> str:
    # A name or file name never closes its quotes or breaks the part's header block.
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
