"""The MCP conformance suite against ``hms-recordings serve --emulator`` over HTTP, on both protocol eras.

Two runs of the pinned ``@modelcontextprotocol/conformance``: the active server suite (the 2025-11-25 wire, with the
initialize handshake and sessions) and ``--requirements 2026-07-28`` (the stateless wire with per-request ``_meta``),
both with ``conformance-expected-failures.yml``. The suite's exit code says "nothing failed beyond the baseline and
nothing in the baseline passed"; the per-check ``checks.json`` files let us say more: the scenarios that apply to a
server like ours pass every one of their checks, and every scenario the suite ran is accounted for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.clients.harness import NodeTools, RunningServer

pytestmark = [pytest.mark.node, pytest.mark.e2e]

EXPECTED_FAILURES = Path(__file__).with_name("conformance-expected-failures.yml")
RUN_TIMEOUT = 180.0
SCENARIO_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")

#: The two runs: the active suite on the 2025-11-25 wire, and exactly what the 2026-07-28 revision requires.
ERAS = {
    "2025-11-25": ["--spec-version", "2025-11-25"],
    "2026-07-28": ["--requirements", "2026-07-28"],
}
#: Scenarios that apply to a server like ours (tools, no resources or prompts of its own) and pass every check.
CLAIMED = {
    "2025-11-25": {
        "server-initialize",
        "server-session-lifecycle",
        "ping",
        "tools-list",
        "server-sse-multiple-streams",
        "resources-list",
        "prompts-list",
        "dns-rebinding-protection",
        "resources-subscribe",  # our 2025 subscriptions: tests/events/test_live_updates.py, test_replicas.py
        "resources-unsubscribe",
    },
    "2026-07-28": {
        "server-stateless",
        "tools-list",
        "server-sse-multiple-streams",
        "resources-list",
        "prompts-list",
        "sep-2164-resource-not-found",
        "dns-rebinding-protection",
        "caching",
        "http-header-validation",
        "input-required-result-unsupported-methods",
    },
}
#: Checks that may be skipped or informational inside a claimed scenario, with the reason.
TOLERATED = {
    "caching:sep-2549-resources-read-caching-hints": "we serve no resources, so there is no resources/read to hint",
    "server-sse-multiple-streams:server-sse-streams-functional": "INFO: JSON answers on the 2026 wire are allowed",
}
#: Scenarios the suite runs that are neither claimed nor baselined, with the reason.
UNCLAIMED = {
    "input-required-result-validate-input": "passes, but only because the fixture tool it calls is unknown to us",
    "json-schema-2020-12": "pending in this suite version (not scored); needs fixture tool json_schema_2020_12_tool",
    "http-custom-header-server-validation": "pending (not scored); needs a tool with x-mcp-header annotations",
    "tasks-*": "tasks extension (not scored); we implement no tasks",
}


@dataclass(frozen=True)
class ConformanceRun:
    returncode: int
    output: str
    checks: dict[str, list[dict[str, object]]]  # scenario -> its checks.json


def baseline() -> list[str]:
    loaded = YAML(typ="safe").load(EXPECTED_FAILURES.read_text())
    entries: list[str] = loaded["server"]
    return entries


def run_suite(tools: NodeTools, server: RunningServer, era: str, out: Path) -> ConformanceRun:
    done = tools.run(
        "conformance",
        "server",
        "--url",
        server.url,
        "--expected-failures",
        str(EXPECTED_FAILURES),
        "-o",
        str(out),
        *ERAS[era],
        timeout=RUN_TIMEOUT,
    )
    checks = {}
    for folder in sorted(out.iterdir()):
        match = SCENARIO_DIR.match(folder.name)
        assert match, f"unexpected output folder {folder.name}"
        checks[match["scenario"]] = json.loads((folder / "checks.json").read_text())
    return ConformanceRun(done.returncode, done.stdout + done.stderr, checks)


@pytest.fixture(scope="module")
def runs(
    node_tools: NodeTools, http_server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ConformanceRun]:
    """Both eras, run once for the module against one server (each run takes a few seconds)."""
    return {era: run_suite(node_tools, http_server, era, tmp_path_factory.mktemp(f"conformance-{era}")) for era in ERAS}


@pytest.mark.parametrize("era", ERAS)
def test_the_suite_passes_with_only_the_listed_expected_failures(runs: dict[str, ConformanceRun], era: str) -> None:
    run = runs[era]
    assert run.returncode == 0, f"conformance ({era}) exited {run.returncode}:\n{run.output[-6000:]}"
    assert "Baseline check passed" in run.output


@pytest.mark.parametrize("era", ERAS)
def test_the_scenarios_that_apply_to_our_server_pass_every_check(runs: dict[str, ConformanceRun], era: str) -> None:
    run = runs[era]
    excused = {entry for entry in baseline() if ":" in entry}
    problems = []
    for scenario in sorted(CLAIMED[era]):
        checks = run.checks.get(scenario)
        if not checks:
            problems.append(f"{scenario}: not run, or ran no checks")
            continue
        if not any(check["status"] == "SUCCESS" for check in checks):
            problems.append(f"{scenario}: no check succeeded")
        for check in checks:
            key = f"{scenario}:{check['id']}"
            if check["status"] == "SUCCESS" or key in excused or key in TOLERATED:
                continue
            problems.append(f"{key}: {check['status']} {check.get('errorMessage') or check.get('description')}")
    assert not problems, f"conformance ({era}):\n" + "\n".join(problems)


@pytest.mark.parametrize("era", ERAS)
def test_every_scenario_the_suite_runs_is_claimed_baselined_or_explained(
    runs: dict[str, ConformanceRun], era: str
) -> None:
    baselined = {entry.split(":", 1)[0] for entry in baseline()}
    unexplained = [
        scenario
        for scenario in runs[era].checks
        if scenario not in CLAIMED[era] | baselined and not any(fnmatch(scenario, p) for p in UNCLAIMED)
    ]
    assert not unexplained, f"new scenarios in the {era} run, claim, baseline or explain them: {unexplained}"


def test_every_expected_failure_names_a_scenario_and_check_that_one_of_the_runs_reported(
    runs: dict[str, ConformanceRun],
) -> None:
    reported = {scenario for run in runs.values() for scenario in run.checks}
    reported |= {
        f"{scenario}:{check['id']}"
        for run in runs.values()
        for scenario, checks in run.checks.items()
        for check in checks
    }
    stale = [entry for entry in baseline() if entry not in reported]
    assert not stale, f"expected failures that no run reports (typo, or gone from the suite): {stale}"


def test_the_claims_include_initialize_ping_tools_and_dns_rebinding_on_both_eras() -> None:
    # The list of what must pass, spelled out so that trimming CLAIMED cannot drop it unnoticed.
    assert {"server-initialize", "ping", "tools-list", "dns-rebinding-protection"} <= CLAIMED["2025-11-25"]
    assert {"server-stateless", "tools-list", "dns-rebinding-protection"} <= CLAIMED["2026-07-28"]


def test_every_expected_failure_gives_its_reason_on_its_own_line() -> None:
    lines = [line.strip()[2:] for line in EXPECTED_FAILURES.read_text().splitlines() if line.strip().startswith("- ")]
    entries = [line.split(" #", 1)[0] for line in lines]
    assert entries == baseline()
    unexplained = [line for line in lines if not re.fullmatch(r"\S+ # \S.{10,}", line)]
    assert not unexplained, "each expected failure needs a one-line reason after `# `: " + ", ".join(unexplained)


def test_no_claimed_scenario_is_also_a_wholesale_expected_failure() -> None:
    wholesale = {entry for entry in baseline() if ":" not in entry}
    for era, claimed in CLAIMED.items():
        assert not claimed & wholesale, f"{era}: {sorted(claimed & wholesale)} are both claimed and baselined"
