"""Fixtures for the deployment tests: the rig for the in-process ones; the others start real processes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.rig import Rig, make_rig


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with make_rig() as built:
        yield built
