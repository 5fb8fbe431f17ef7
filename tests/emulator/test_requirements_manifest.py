"""The requirements manifest and the tests agree (style.md lesson 6)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .requirements import REQUIREMENTS

HERE = Path(__file__).parent


def marked_tests() -> dict[str, set[str]]:
    """``module::test`` -> requirement ids of its markers, for every test function in this folder."""
    found: dict[str, set[str]] = {}
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                ids = {
                    dec.args[0].value
                    for dec in node.decorator_list
                    if isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "requirement"
                    if isinstance(dec.args[0], ast.Constant)
                }
                found[f"{path.stem}::{node.name}"] = ids
    return found


@pytest.mark.requirement("MANIFEST")
def test_every_manifest_entry_names_existing_tests_marked_with_its_id() -> None:
    """style.md lesson 6: each emulated behaviour cites its source and is enforced by tests that say so."""
    tests = marked_tests()
    ids = [req.id for req in REQUIREMENTS]
    assert len(ids) == len(set(ids))
    for req in REQUIREMENTS:
        assert req.citation, req.id
        assert req.tests, req.id
        for name in req.tests:
            assert name in tests, f"{req.id}: {name} does not exist"
            assert req.id in tests[name], f"{name} lacks @pytest.mark.requirement({req.id!r})"


@pytest.mark.requirement("MANIFEST")
def test_every_emulator_test_cites_a_manifest_requirement() -> None:
    """style.md lesson 6: no emulator test without a requirement, and no marker naming an unknown id."""
    known = {req.id for req in REQUIREMENTS} | {"MANIFEST"}
    listed = {name for req in REQUIREMENTS for name in req.tests}
    for name, ids in marked_tests().items():
        assert ids, f"{name} has no requirement marker"
        assert ids <= known, f"{name} cites unknown {ids - known}"
        if "MANIFEST" not in ids:
            assert name in listed, f"{name} is not listed in the manifest"
