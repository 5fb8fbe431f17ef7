"""Fixtures for the REST, operations and skill faces: the real engine on an in-process emulator, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest

from hms_recordings.config import ServeConfig
from hms_recordings.serve import build_http_app, build_rest_http_app
from tests.builtin.rig import Rig, make_rig

#: The Host the tests call the faces by (an allowed loopback name, as a browser on the machine would send).
BASE = "http://127.0.0.1:9091"


@asynccontextmanager
async def face_client(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE) as client:
        yield client


@asynccontextmanager
async def rest_face(rig: Rig, config: ServeConfig | None = None) -> AsyncIterator[httpx2.AsyncClient]:
    """The REST face exactly as ``serve`` builds it (request ids, Host/Origin checks, auth when configured)."""
    async with face_client(build_rest_http_app(rig.engine, config or ServeConfig())) as client:
        yield client


@asynccontextmanager
async def mcp_face(rig: Rig, config: ServeConfig | None = None) -> AsyncIterator[httpx2.AsyncClient]:
    async with face_client(build_http_app(rig.engine, config or ServeConfig())) as client:
        yield client


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as built:
        yield built


@pytest.fixture
async def rest(rig: Rig) -> AsyncIterator[httpx2.AsyncClient]:
    async with rest_face(rig) as client:
        yield client
