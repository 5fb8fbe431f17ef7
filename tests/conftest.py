"""Shared fixtures: a clean environment for every test and anyio on asyncio."""

from __future__ import annotations

import os
import tempfile

import pytest

#: Variables that change behaviour; tests start with none of them and set what they need.
_OUR_VARS = ("HMS_", "HMS_RECORDINGS_")


def pytest_configure(config: pytest.Config) -> None:
    # Every server a test starts (in process or as a child, which inherits this) keeps its event log under the
    # user's data directory by default: point that at a scratch directory, never at the real ~/.local/share.
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="hms-recordings-test-data-")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_OUR_VARS):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
