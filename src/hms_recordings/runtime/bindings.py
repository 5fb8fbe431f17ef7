"""Resolve a capability's ``binds`` into values, once, at start-up.

Without ``location`` a provider key is an environment variable; with ``location`` (``file:///abs/path`` or
``file:///./relative``, JSON or YAML) it is a key in that file. A missing value stops start-up with its name, unless
the binding lists it under the ``x-optional`` extension (the built-in capability binds ``HMS_MANAGEMENT_TOKEN`` *or*
``HMS_ACCESS_KEY``/``HMS_APP_SECRET``, so each alone is optional).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hms_recordings.capability.model import Capability
from hms_recordings.capability.yamlsource import read_yaml
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


def _location_data(location: str, base: Path) -> Mapping[str, Any]:
    if not location.startswith("file://"):
        raise BindingError(f"binding location {location!r} is not a file:// URI")
    raw = location.removeprefix("file://")
    path = base / raw.removeprefix("/./") if raw.startswith("/./") else Path(raw)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BindingError(f"cannot read binding file {path}: {exc.__class__.__name__}") from None
    else:
        data = read_yaml(path).data
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
    if missing:
        names = ", ".join(missing)
        raise BindingError(
            f"the capability binds {names}, which {'is' if len(missing) == 1 else 'are'} not set; "
            f"set {'it' if len(missing) == 1 else 'them'} in the environment"
        )
    return Bindings(values, frozenset(b.namespace for b in capability.binds))
