"""The built-in capability's suites use the one rig (tests/rig.py); the names they import stay here."""

from __future__ import annotations

from tests.rig import MEETING, OTHER_ROOM, ROOM, UPSTREAM, Rig, make_rig

__all__ = ["MEETING", "OTHER_ROOM", "ROOM", "UPSTREAM", "Rig", "make_rig"]
