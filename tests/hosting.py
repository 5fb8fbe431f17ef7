"""The rig's service hosted as ``serve`` hosts it: the guarded MCP and REST faces, with one server's metrics.

Metrics count only what the service tells them, so a test that reads ``/metrics`` builds its rig with
``make_rig(observers=[metrics])`` and hands the same :class:`Metrics` here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from starlette.types import ASGIApp

from hms_recordings.server.metrics import Metrics
from hms_recordings.server.serve import Hosted, mcp_face, rest_face
from hms_recordings.server.settings import ServeSettings
from tests.rig import Rig

__all__ = ["BASE", "face_client", "hosted", "mcp_app", "rest_app"]

#: The Host the tests call the faces by (an allowed loopback name, as a browser on the machine would send).
BASE = "http://127.0.0.1:9091"


def hosted(rig: Rig, metrics: Metrics | None = None) -> Hosted:
    service = rig.service
    return Hosted(service, [service], [service.inventory.capability], metrics or Metrics())


def mcp_app(rig: Rig, settings: ServeSettings | None = None, metrics: Metrics | None = None, **kw: Any) -> ASGIApp:
    return mcp_face(hosted(rig, metrics), settings or ServeSettings(), **kw)


def rest_app(rig: Rig, settings: ServeSettings | None = None, metrics: Metrics | None = None, **kw: Any) -> ASGIApp:
    return rest_face(hosted(rig, metrics), settings or ServeSettings(), **kw)


@asynccontextmanager
async def face_client(app: ASGIApp, base_url: str = BASE) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=base_url) as client:
        yield client
