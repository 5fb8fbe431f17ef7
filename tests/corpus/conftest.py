"""The corpus tests' one recording fake upstream, shared by the whole session (see ``recording_upstream.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpus.recording_upstream import RecordingUpstream, recording_upstream


@pytest.fixture(scope="session")
def upstream() -> Iterator[RecordingUpstream]:
    with recording_upstream() as server:
        yield server
