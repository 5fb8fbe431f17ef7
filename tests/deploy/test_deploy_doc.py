"""docs/deploy.md shows the HAProxy configuration the balancer test runs, byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.haproxy import EXAMPLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def test_the_haproxy_configuration_in_the_deploy_guide_is_the_one_the_balancer_test_runs() -> None:
    blocks = re.findall(r"```haproxy\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks == [EXAMPLE.read_text()]
