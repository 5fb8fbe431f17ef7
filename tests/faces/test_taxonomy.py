"""One error taxonomy for every face: every kind anything can produce is described in ``hms_recordings.taxonomy``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from hms_recordings.capability.loader import load_file
from hms_recordings.errors import (
    BindingError,
    CapabilityError,
    ConfigError,
    CredentialError,
    DomainError,
    RateLimited,
    RetryBudgetExhausted,
    ToolInputError,
    UnknownToolError,
    UpstreamConnectError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamTransportError,
)
from hms_recordings.faces.problems import problem_response
from hms_recordings.runtime.compiled import EntryKind
from hms_recordings.runtime.outcome import failure_from_exception
from hms_recordings.runtime.redact import Redactor
from hms_recordings.taxonomy import HTTP_ONLY, KINDS, title

SRC = Path(__file__).resolve().parents[2] / "src" / "hms_recordings"
#: Kind literals in the source: ``kind="x"``, ``ErrorInfo("x", ...)``, ``problem_response("x", ...)``, ``reject("x")``.
KIND_LITERAL = re.compile(r"""(?:\bkind=|ErrorInfo\(|problem_response\(|\.reject\()\s*["']([a-z_]+)["']""")


def produced_by_exceptions() -> set[str]:
    redact = Redactor()
    errors: list[BaseException] = [
        UnknownToolError("x"),
        ToolInputError("x"),
        CredentialError("x"),
        DomainError("x"),
        CapabilityError("x"),
        BindingError("x"),
        ConfigError("x"),
        UpstreamTimeout("x"),
        UpstreamConnectError("x"),
        UpstreamTransportError("x"),
        RateLimited("x", status=429),
        RetryBudgetExhausted("x", last=UpstreamTimeout("x"), attempts=2),
        RuntimeError("a bug"),
    ]
    errors += [UpstreamStatusError("x", status=status) for status in range(400, 600)]
    return {failure_from_exception(error, redact).kind for error in errors}


def test_every_kind_an_exception_can_become_is_described() -> None:
    assert produced_by_exceptions() - KINDS.keys() == set()


def test_every_kind_written_in_the_source_is_described() -> None:
    found = {
        kind
        for path in SRC.rglob("*.py")
        if "emulator" not in path.parts
        for kind in KIND_LITERAL.findall(path.read_text())
    }
    assert found, "the pattern no longer finds kind literals"
    # ``kind="rest"`` and the like name what a compiled entry is (EntryKind), not an error.
    assert found - KINDS.keys() - set(get_args(EntryKind)) == set()


def test_every_kind_in_the_built_in_capability_x_errors_is_described() -> None:
    capability = load_file()
    kinds = {rule.kind for mcp in capability.mcp for tool in mcp.tools for rule in tool.errors if rule.kind}
    assert kinds
    assert kinds - KINDS.keys() == set()


def test_http_only_kinds_are_part_of_the_taxonomy() -> None:
    assert KINDS.keys() >= HTTP_ONLY


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_has_a_meaning_a_next_step_and_a_problem_title(kind: str) -> None:
    meaning, next_step = KINDS[kind]
    assert meaning and next_step
    response = problem_response(kind, 400, "detail text")
    assert response.media_type == "application/problem+json"
    assert title(kind)[0].isupper()
    assert bytes(response.body).count(title(kind).encode()) == 1
