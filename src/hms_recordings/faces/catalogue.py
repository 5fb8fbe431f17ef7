"""A capability's surface as the faces see it, with nothing behind it: for what is planned without serving.

``export openapi`` documents the REST face from it, and ``validate`` asks it which entries each face would leave out
(:func:`left_out`), so that ``validate`` and ``serve`` agree on what is served: both compile the same inventory
and plan the same routes. It answers what a face asks about the surface and refuses calls; no secret is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hms_recordings.capability.model import Capability, Prompt
from hms_recordings.errors import ConfigError
from hms_recordings.faces.rest_routes import plan_routes
from hms_recordings.runtime.compiled import CompiledTool
from hms_recordings.runtime.inventory import ForwardEntry, Inventory, RestEntry, compile_inventory
from hms_recordings.runtime.invoker import CallContext
from hms_recordings.runtime.outcome import Outcome
from hms_recordings.runtime.redact import Redactor
from hms_recordings.runtime.service import FileResource, Relayed, RenderedPrompt, ServiceInfo
from hms_recordings.runtime.upstreams import RelayRequest

__all__ = ["Catalogue", "left_out"]


class Catalogue:
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

    def forwards(self) -> Sequence[ForwardEntry]:
        return list(self.inventory.forwards)

    async def relay(self, entry: ForwardEntry, request: RelayRequest) -> Relayed:
        raise self._refuse()


def left_out(capability: Capability) -> list[str]:
    """One sentence per entry ``serve`` would leave out of a face (a tool that cannot compile, a REST operation
    that cannot be routed), in the words ``serve`` logs."""
    inventory = compile_inventory(capability)
    _routes, rest = plan_routes(Catalogue(inventory))
    return [*inventory.problems, *rest]
