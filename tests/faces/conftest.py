"""Fixtures for the REST, operations and skill faces: the real service on an in-process emulator, no sockets.

``rest_face`` and ``mcp_face`` are the faces exactly as ``serve`` hosts them (request ids, Host/Origin checks, auth
when configured); ``bare_rest`` is the REST face's own app, nothing around it, for what the face itself answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest

from hms_recordings.faces.rest import build_rest_app
from hms_recordings.server.serve import Hosted
from hms_recordings.server.serve import mcp_face as hosted_mcp_face
from hms_recordings.server.serve import rest_face as hosted_rest_face
from hms_recordings.server.settings import ServeSettings
from tests.rig import Rig, make_rig

#: The Host the tests call the faces by (an allowed loopback name, as a browser on the machine would send).
BASE = "http://127.0.0.1:9091"


@asynccontextmanager
async def face_client(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def hosted(rig: Rig) -> Hosted:
    return Hosted(rig.service, [rig.service], [rig.service.inventory.capability])


@asynccontextmanager
async def rest_face(rig: Rig, settings: ServeSettings | None = None) -> AsyncIterator[httpx2.AsyncClient]:
    """The REST face exactly as ``serve`` builds it (request ids, Host/Origin checks, auth when configured)."""
    async with face_client(hosted_rest_face(hosted(rig), settings or ServeSettings())) as client:
        yield client


@asynccontextmanager
async def bare_rest(rig: Rig) -> AsyncIterator[httpx2.AsyncClient]:
    """The REST face's own app: no request ids, no Host checks, no auth."""
    async with face_client(build_rest_app(rig.service)) as client:
        yield client


@asynccontextmanager
async def mcp_face(rig: Rig, settings: ServeSettings | None = None) -> AsyncIterator[httpx2.AsyncClient]:
    """The MCP face as ``serve`` builds it, for its plain HTTP routes (no lifespan: no MCP session is opened)."""
    async with face_client(hosted_mcp_face(hosted(rig), settings or ServeSettings())) as client:
        yield client


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as built:
        yield built


@pytest.fixture
async def rest(rig: Rig) -> AsyncIterator[httpx2.AsyncClient]:
    async with rest_face(rig) as client:
        yield client
