"""The command line tells a new user what they need: defaults in every option's help, per-tool help from the
tool's schema, the emulator's address, a "no credentials" error that keeps state (not a throwaway ``--emulator``),
a hint for an ``--upstream`` without ``/v2``, and a progress line that overwrites cleanly."""

from __future__ import annotations

import argparse
import io
import json
import sys

import anyio
import pytest

from hms_recordings.cli import _ProgressBar, build_parser, main
from hms_recordings.emulator import EmulatorConfig, serve_in_background
from hms_recordings.hms.tokens import mint_management_token
from tests.test_cli import _leaf_parsers


def test_every_option_of_every_command_says_its_default() -> None:
    missing = [
        f"{parser.prog} {max(action.option_strings, key=len)}"
        for parser in _leaf_parsers()
        for action in parser._actions  # type: ignore[attr-defined]
        if action.option_strings
        and not isinstance(action, argparse._HelpAction | argparse._VersionAction)
        and "default" not in (action.help or "")
    ]
    assert missing == []
    assert build_parser().prog == "hms-recordings"


def test_call_tool_help_describes_every_argument_from_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "hms-wait-for-recording", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: hms-recordings call hms-wait-for-recording --arg recording_id=<string>")
    assert "[--arg until=<running|completed>]" in text and "[--arg timeout_seconds=<integer>]" in text
    assert "recording_id <string>  (required; pattern ^[0-9a-f]{24}$)" in text
    assert "timeout_seconds <integer>  (optional; 1..900; default 120)" in text
    assert "read-only" in text


def test_call_tool_help_for_an_unknown_tool_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "hms-nope", "-h"]) == 2
    err = capsys.readouterr().err
    assert "no tool 'hms-nope'" in err and "hms-start-recording" in err


def test_call_without_credentials_says_how_to_keep_state_between_calls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "hms-list-recordings"]) == 3
    err = capsys.readouterr().err
    assert "hms-recordings emulator" in err and "hms-recordings token" in err
    assert "--upstream recordings=http://127.0.0.1:8765/v2" in err
    assert "fresh, empty emulator for this one command" in err
    assert "Or pass --emulator to try everything" not in err


def test_call_with_emulator_says_its_recordings_end_with_the_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "hms-list-recordings", "--emulator"]) == 0
    assert "whose recordings end with this call" in capsys.readouterr().err


def test_download_refuses_the_throwaway_emulator_and_says_what_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "6a10aa2d3e4f5a6b7c8d9e0f", "--emulator"]) == 3
    assert "hms-recordings emulator" in capsys.readouterr().err


@pytest.mark.anyio
async def test_an_upstream_without_v2_gets_a_hint_naming_the_missing_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = EmulatorConfig(manual_clock=True, seed=1)
    async with serve_in_background(config) as emulator:
        monkeypatch.setenv("HMS_MANAGEMENT_TOKEN", mint_management_token(config.credentials))
        argv = ["call", "hms-get-recording", "--arg", "recording_id=6a10aa2d3e4f5a6b7c8d9e0f"]
        code = await anyio.to_thread.run_sync(main, [*argv, "--upstream", f"recordings={emulator.base_url}"])
        err = capsys.readouterr().err
        good = await anyio.to_thread.run_sync(main, [*argv, "--upstream", f"recordings={emulator.api_url}"])
        err_good = capsys.readouterr().err
    assert code == 1 and f"try --upstream recordings={emulator.base_url}/v2" in err
    assert good == 1 and "does not exist" in err_good and "hint:" not in err_good  # a real 404, no hint


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.anyio
async def test_a_shorter_progress_line_overwrites_the_longer_one_entirely(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = _ProgressBar()
    await bar(1, 5, "recording 6a10aa2d3e4f5a6b7c8d9e0f is post_processing after 10.2s")
    await bar(2, 5, "recording 6a10aa2d3e4f5a6b7c8d9e0f is completed after 3.8s")
    line: list[str] = []
    for segment in screen.getvalue().split("\r"):  # what the terminal shows: each \r returns to column 0
        line[: len(segment)] = list(segment)
    shown = "".join(line).rstrip()
    assert shown.endswith("is completed after 3.8s") and "ss" not in shown.split()[-1]


def test_serve_with_emulator_prints_the_emulators_address() -> None:
    import subprocess

    script = "from hms_recordings.cli import main; import sys; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", script, "serve", "--emulator", "--port", "0", "--rest-port", "0"]
    seen: list[str] = []
    with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin"}) as process:
        assert process.stderr is not None
        try:
            for _ in range(40):  # bounded: the start lines come first
                text = process.stderr.readline()
                seen.append(text)
                if "embedded emulator at" in text or not text:
                    break
        finally:
            process.terminate()
            process.wait(timeout=10)
    line = next((s for s in seen if "embedded emulator at" in s), "")
    assert "embedded emulator at http://127.0.0.1:" in line and line.rstrip().endswith("/v2"), json.dumps(seen)
