"""Fixtures for the MCP-face and built-in capability tests (the rig itself lives in ``rig.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hms_recordings.hms.tokens import AppCredentials, mint_management_token
from tests.builtin.rig import Rig, make_rig
from tests.paths import SEED


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as built:
        yield built


@pytest.fixture
async def seed_rig() -> AsyncIterator[Rig]:
    async with make_rig(SEED, env={"HMS_MANAGEMENT_TOKEN": mint_management_token(AppCredentials.development())}) as r:
        yield r
