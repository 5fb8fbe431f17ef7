"""Paths of the test data that lives in the repository (tests read nothing outside it)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The published 100ms capability file, byte for byte (see fixtures/SOURCES.md).
SEED = FIXTURES / "recordings.yaml"
