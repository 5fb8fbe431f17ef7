"""The 100ms part of a skill's setup section: how to try every command against the local emulator.

The skill face (:mod:`hms_recordings.faces.skill`) is generic and names no host, variable or command of 100ms; the
server hands it this text for capability files whose consumed APIs the embedded emulator stands in for.
"""

from __future__ import annotations

from hms_recordings.capability.model import Capability
from hms_recordings.hms.emulated import emulated_upstreams

__all__ = ["EMULATOR_PORT", "setup_text"]

#: The port the recipe starts the emulator on (the emulator command's own default would do as well; this one is
#: spelled out so that the ``--upstream`` flags below can name it).
EMULATOR_PORT = 8765


def setup_text(capability: Capability) -> str | None:
    """Shell lines (for the setup code block) that start the emulator and point the commands at it; ``None`` when no
    consumed API of ``capability`` is hosted on 100ms."""
    emulated = emulated_upstreams(capability, f"http://127.0.0.1:{EMULATOR_PORT}")
    if not emulated:
        return None
    flags = " ".join(f"--upstream {ns}={url}" for ns, url in emulated.items())
    return "\n".join(
        [
            "# or against the local emulator of the API (same endpoints, no account needed):",
            f"hms-recordings emulator --port {EMULATOR_PORT} &",
            'export HMS_MANAGEMENT_TOKEN="$(hms-recordings token)"',
            f'UPSTREAM="{flags}"',
        ]
    )
