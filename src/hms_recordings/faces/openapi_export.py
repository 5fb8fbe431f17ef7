"""``hms-recordings export openapi``: the OpenAPI 3.1 document of a capability's REST face, without serving it.

As the Naftiko/Ikanos CLI's ``export openapi`` (which documents a capability's REST adapter), the document describes
the ``type: rest`` exposes: the routes :func:`~hms_recordings.faces.rest_routes.plan_routes` would serve and exactly
the document ``serve`` publishes at ``/openapi.json`` (:func:`~hms_recordings.faces.openapi.build_openapi`), plus a
``servers`` entry for the expose's address and port. Nothing is connected and no secret is needed: the routes are
planned on a catalogue of the compiled inventory, which answers what a face asks about the surface and refuses calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hms_recordings.capability.model import Capability, Prompt
from hms_recordings.errors import CapabilityError, ConfigError
from hms_recordings.faces.openapi import build_openapi
from hms_recordings.faces.rest_routes import plan_routes
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.inventory import Inventory, RestEntry, compile_inventory
from hms_recordings.runtime.invoker import CallContext
from hms_recordings.runtime.outcome import Outcome
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.service import FileResource, RenderedPrompt, ServiceInfo

__all__ = ["ExportResult", "export_openapi"]


class _Catalogue:
    """The :class:`~hms_recordings.runtime.service.Service` surface of an inventory, with nothing behind it."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        capability = inventory.capability
        expose = inventory.exposes[0] if inventory.exposes else None
        self._info = ServiceInfo(
            name=expose.namespace if expose else "hms-recordings",
            title=capability.label or None,
            instructions=(expose.description if expose and expose.description else capability.description) or None,
            description=capability.description or None,
        )

    @property
    def info(self) -> ServiceInfo:
        return self._info

    @property
    def redactor(self) -> Redactor:
        return Redactor()

    def tools(self) -> Sequence[CompiledTool]:
        return list(self.inventory.tools.values())

    def tool(self, name: str) -> CompiledTool | None:
        return self.inventory.tools.get(name)

    def _refuse(self) -> ConfigError:
        return ConfigError("an exported catalogue describes the capability; it calls nothing (use `serve` or `call`)")

    async def call(self, name: str, arguments: Any, context: CallContext | None = None) -> Outcome:
        raise self._refuse()

    async def call_entry(self, entry: CompiledTool, arguments: Any, context: CallContext | None = None) -> Outcome:
        raise self._refuse()

    def files(self) -> Sequence[FileResource]:
        return []

    def dynamic_resources(self) -> Sequence[CompiledTool]:
        return list(self.inventory.resources)

    async def read(self, uri: str, context: CallContext | None = None) -> tuple[Outcome, str]:
        raise self._refuse()

    def prompts(self) -> Sequence[Prompt]:
        return list(self.inventory.prompts)

    def render_prompt(self, name: str, arguments: dict[str, Any] | None) -> RenderedPrompt:
        raise self._refuse()

    def rest_entries(self) -> Sequence[RestEntry]:
        return list(self.inventory.rest)


class ExportResult:
    """The document and the REST operations left out of it (one sentence each, as ``serve`` logs them)."""

    def __init__(self, document: dict[str, Any], problems: list[str]) -> None:
        self.document = document
        self.problems = problems


def export_openapi(capability: Capability) -> ExportResult:
    """The OpenAPI 3.1 document of ``capability``'s REST exposes; none is a :class:`CapabilityError`."""
    if not capability.rest:
        raise CapabilityError(
            f"{capability.file or 'the capability'} has no `type: rest` expose: `export openapi` documents the REST "
            "face (add one whose operations name tools with `x-tool`; `import openapi` writes one)"
        )
    catalogue = _Catalogue(compile_inventory(capability))
    routes, problems = plan_routes(catalogue)
    document = build_openapi(catalogue, routes)
    rest = capability.rest[0]
    host = "localhost" if rest.address in ("0.0.0.0", "::") else rest.address  # a wildcard bind is reached on localhost
    document["servers"] = [
        {"url": f"http://{host}:{rest.port}", "description": f"hms-recordings serve ({rest.namespace})"}
    ]
    return ExportResult(document, problems)
