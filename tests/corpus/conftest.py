"""The corpus tests' one recording fake upstream, shared by the whole session (see ``recording_upstream.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpus.expected import SKIPPED
from tests.corpus.recording_upstream import RecordingUpstream, recording_upstream


@pytest.fixture(scope="session")
def upstream() -> Iterator[RecordingUpstream]:
    with recording_upstream() as server:
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Tools whose requests were not (or only partly) compared, by reason: counted, never silent."""
    if SKIPPED:
        terminalreporter.section("corpus requests not compared")
        for reason, count in SKIPPED.most_common():
            terminalreporter.write_line(f"{count:5d}  {reason}")
