"""Shared fixtures: a clean environment for every test and anyio on asyncio."""

from __future__ import annotations

import os

import pytest

#: Variables that change behaviour; tests start with none of them and set what they need.
_OUR_VARS = ("HMS_", "HMS_RECORDINGS_")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_OUR_VARS):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
