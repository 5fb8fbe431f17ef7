"""Resolve a capability's ``binds`` into values, once, at start-up.

Without ``location`` a provider key is an environment variable; with ``location`` (``file:///abs/path`` or
``file:///./relative``, JSON or YAML) it is a key in that file. A missing value stops start-up with its name, unless
the binding lists it under the ``x-optional`` extension (the built-in capability binds ``HMS_MANAGEMENT_TOKEN`` *or*
``HMS_ACCESS_KEY``/``HMS_APP_SECRET``, so each alone is optional).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hms_recordings.capability.model import Capability
from hms_recordings.capability.templates import Template
from hms_recordings.errors import BindingError

__all__ = ["Bindings", "resolve_bindings"]


@dataclass(frozen=True)
class Bindings:
    values: dict[str, str]
    namespaces: frozenset[str]

    def secrets(self) -> list[str]:
        """Every bound value is treated as a secret: the format has no way to say which ones are not."""
        return list(self.values.values())

    def __repr__(self) -> str:
        return f"Bindings(names={sorted(self.values)}, namespaces={sorted(self.namespaces)})"


def _line_of_key(text: str, key: str, occurrence: int) -> int:
    """The line of the ``occurrence``-th (1-based) appearance of ``key`` as a key, or 0 when it cannot be found."""
    pattern = re.compile(rf"""(?m)(?:^|[{{,\s])["']?{re.escape(key)}["']?\s*:""")
    found = list(pattern.finditer(text))
    if len(found) < occurrence:
        return 0
    return text.count("\n", 0, found[occurrence - 1].start() + 1) + 1


def _duplicate(path: Path, text: str, key: str) -> BindingError:
    # Name the key and the line, never a value: the file holds secrets, and a parser's own message quotes both values.
    # Regression test: tests/reliability/test_upstream_secrets.py::test_a_binds_file_that_repeats_a_key_*
    line = _line_of_key(text, key, 2)
    where = f" (line {line})" if line else ""
    return BindingError(f"binding file {path} gives the key {key} twice{where}; keep one of them")


def _json_pairs(path: Path, text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                raise _duplicate(path, text, key)
            seen[key] = value
        return seen

    return pairs


def _read_secrets_file(path: Path) -> Any:
    """A JSON or YAML file of secrets. No error quotes its content: a parser's message may hold a value."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise BindingError(f"cannot read binding file {path}: {exc.__class__.__name__}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_json_pairs(path, text))
        except ValueError as exc:
            line = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise BindingError(f"cannot read binding file {path}: not valid JSON{line}") from None
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except DuplicateKeyError as exc:
        named = re.search(r'found duplicate key "(.*?)" with value', str(exc.problem or ""))
        if named:
            raise _duplicate(path, text, named.group(1)) from None
        at = exc.problem_mark.line + 1 if exc.problem_mark is not None else 0
        raise BindingError(f"binding file {path} repeats a key at line {at}; keep one of them") from None
    except YAMLError as exc:
        mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise BindingError(f"cannot read binding file {path}: not valid YAML{line}") from None


def _location_data(location: str, base: Path) -> Mapping[str, Any]:
    if not location.startswith("file://"):
        raise BindingError(f"binding location {location!r} is not a file:// URI")
    raw = location.removeprefix("file://")
    path = base / raw.removeprefix("/./") if raw.startswith("/./") else Path(raw)
    data = _read_secrets_file(path)
    if not isinstance(data, dict):
        raise BindingError(f"binding file {path} must hold a mapping of keys to values")
    return data


def resolve_bindings(capability: Capability, env: Mapping[str, str] | None = None) -> Bindings:
    env = os.environ if env is None else env
    base = Path(capability.file).parent if capability.file else Path.cwd()
    values: dict[str, str] = {}
    missing: list[str] = []
    for bind in capability.binds:
        source: Mapping[str, Any] = _location_data(bind.location, base) if bind.location else env
        for var, provider_key in bind.keys.items():
            value = source.get(provider_key)
            if value is None or value == "":
                if var not in bind.optional and provider_key not in bind.optional:
                    missing.append(provider_key if not bind.location else f"{provider_key} (in {bind.location})")
                continue
            values[var] = str(value)
    namespaces = {b.namespace for b in capability.binds}
    for name in _unbound_credential_variables(capability):
        # `{{env.X}}` (or `{{X}}`) in a credential with no bind declaring X: published files rely on the
        # environment directly, so X is read from it. Unset, it is not a start-up error but the credential's own:
        # every call of that API says which variable to set (runtime/credentials.py).
        value = env.get(name)
        if value:
            values.setdefault(name, str(value))
        namespaces.add("env")
    if missing:
        names = ", ".join(missing)
        raise BindingError(
            f"the capability binds {names}, which {'is' if len(missing) == 1 else 'are'} not set; "
            f"set {'it' if len(missing) == 1 else 'them'} in the environment"
        )
    return Bindings(values, frozenset(namespaces))


def _unbound_credential_variables(capability: Capability) -> list[str]:
    """The environment variables the consumed APIs' credentials and fixed headers name without a bind."""
    keys = {key for bind in capability.binds for key in bind.keys}
    namespaces = {bind.namespace for bind in capability.binds} | {"env"}
    texts: list[str] = []
    for api in capability.consumes.values():
        auth = api.authentication
        if auth is not None:
            texts += [t for t in (auth.token, auth.username, auth.password, auth.value) if t]
        texts += [p.value for p in api.params if p.value]
    found: dict[str, None] = {}
    for text in texts:
        for name in Template.compile(text).names:
            head, dot, rest = name.partition(".")
            variable = rest if dot else head
            if (dot and head not in namespaces) or "." in variable or variable in keys:
                continue
            found[variable] = None
    return list(found)
