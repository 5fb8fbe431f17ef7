"""``hms-recordings export openapi``: the OpenAPI 3.1 document of a capability's REST face, without serving it.

As the Naftiko/Ikanos CLI's ``export openapi`` (which documents a capability's REST adapter), the document describes
the ``type: rest`` exposes: the routes :func:`~hms_recordings.faces.rest_routes.plan_routes` would serve and exactly
the document ``serve`` publishes at ``/openapi.json`` (:func:`~hms_recordings.faces.openapi.build_openapi`), plus a
``servers`` entry for the expose's address and port. Nothing is connected and no secret is needed: the routes are
planned on a catalogue of the compiled inventory, which answers what a face asks about the surface and refuses calls.
"""

from __future__ import annotations

from typing import Any

from hms_recordings.capability.model import Capability
from hms_recordings.errors import CapabilityError
from hms_recordings.faces.catalogue import Catalogue
from hms_recordings.faces.openapi import build_openapi
from hms_recordings.faces.rest_routes import plan_routes
from hms_recordings.runtime.inventory import compile_inventory

__all__ = ["ExportResult", "export_openapi"]


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
    catalogue = Catalogue(compile_inventory(capability))
    routes, problems = plan_routes(catalogue)
    document = build_openapi(catalogue, routes)
    rest = capability.rest[0]
    host = "localhost" if rest.address in ("0.0.0.0", "::") else rest.address  # a wildcard bind is reached on localhost
    document["servers"] = [
        {"url": f"http://{host}:{rest.port}", "description": f"hms-recordings serve ({rest.namespace})"}
    ]
    return ExportResult(document, problems)
