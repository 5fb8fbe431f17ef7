"""The README's "Try it" block, run as written in a shell: an emulator, a token, a recording started, stopped at
once (the stop waits until it runs), waited for and downloaded. Two things are replaced, and only these: the port
(8765 may be taken by another process on the machine) and ``.venv/bin/`` (the test's own interpreter's folder)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.e2e


def try_it_block() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- try-it:start[^>]*-->\n```sh\n(.*?)```\n<!-- try-it:end -->", text, re.S)
    assert match is not None, "the README's Try it block is missing its markers"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_readme_try_it_session_records_and_downloads_a_recording(tmp_path: Path) -> None:
    script = try_it_block()
    assert "8765" in script and ".venv/bin/hms-recordings" in script
    bin_dir = str(Path(sys.executable).parent)
    script = script.replace("8765", str(free_port())).replace(".venv/bin/", f"{bin_dir}/")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    files = sorted(p.name for p in (tmp_path / "recordings").iterdir())
    assert [Path(f).suffix for f in files] == [".csv", ".mp4"] and all(f.startswith("Rec-") for f in files), files
    assert "2 of 2 file(s) in recordings" in done.stdout
    assert '"status": "completed"' in done.stdout and '"failure_reason"' not in done.stdout
    assert "signature=" not in done.stdout + done.stderr and os.path.getsize(tmp_path / "recordings" / files[1]) > 0
