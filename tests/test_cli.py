"""The ``hms-recordings`` command: exit codes, outputs, refusals (run in-process through ``main``)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from hms_recordings.cli import build_parser, main, synopsis
from hms_recordings.emulator import EmulatorConfig, serve_in_background
from hms_recordings.hms.tokens import AppCredentials, verify_management_token
from tests.paths import SEED

FILES = Path(__file__).parent / "faces" / "files"

ROOM = "6a0f1c2d3e4f5a6b7c8d9e0f"


def test_tools_lists_the_built_in_surface(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools"]) == 0
    out = capsys.readouterr().out
    assert "hms-wait-for-recording" in out and "read-only" in out


def test_tools_json_is_the_snapshot_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "--json", "--read-only"]) == 0
    surface = json.loads(capsys.readouterr().out)
    assert all(t["annotations"]["readOnlyHint"] for t in surface)


def test_tools_with_toolsets_lists_only_the_tools_of_those_sets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "--json", "--toolsets", "assets"]) == 0
    names = [t["name"] for t in json.loads(capsys.readouterr().out)]
    assert names == [
        "hms-list-recording-assets",
        "hms-get-recording-asset",
        "hms-read-recording-asset",
        "hms-get-recording-presigned-url",
        "hms-get-recording-download-links",
    ]


def test_an_unknown_toolset_is_refused_naming_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "--toolsets", "asets"]) == 3
    assert "asets" in (err := capsys.readouterr().err) and "assets, audit, events, recordings" in err


def test_an_entry_that_cannot_be_served_is_reported_and_strict_refuses_it(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    bad = str(FILES / "bad_x_tool.yaml")
    assert main(["tools", bad]) == 0
    assert capsys.readouterr().out.startswith("hms-list ")
    assert [r.getMessage() for r in caplog.records if r.name == "hms_recordings.server"] == [
        "not served: REST operation GET /recordings: x-tool 'hms-no-such-tool' names no MCP tool (known: hms-list)"
    ]
    assert main(["tools", bad, "--strict"]) == 3
    assert "--strict: 1 entry of" in capsys.readouterr().err
    assert main(["serve", bad, "--strict", "--emulator"]) == 3


def test_serve_refuses_when_the_selection_leaves_nothing_to_serve(capsys: pytest.CaptureFixture[str]) -> None:
    rooms = Path(__file__).parent / "format" / "files" / "sibling-rooms.yaml"  # one tool, which writes
    assert main(["serve", str(rooms), "--read-only", "--emulator"]) == 3
    assert capsys.readouterr().err == (
        f"hms-recordings: nothing to serve from {rooms} (check --tools, --toolsets and --read-only)\n"
    )


def test_call_against_the_emulator_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["call", "hms-start-recording", "--emulator", "--arg", f"room_id={ROOM}", "--arg", "audio_only=true"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["room_id"] == ROOM and data["status"] == "starting"


def test_call_with_bad_arguments_exits_2_and_names_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "hms-get-recording", "--emulator", "--arg", "recording_id=nope"]) == 2
    assert "`recording_id` must match" in capsys.readouterr().err


def test_args_json_values_keep_their_json_types(capsys: pytest.CaptureFixture[str]) -> None:
    # JSON is never coerced: a number where the schema says string is refused, as over MCP.
    assert main(["call", "hms-get-recording", "--emulator", "--args-json", '{"recording_id": 123}']) == 2
    assert "`recording_id` must be of type string" in capsys.readouterr().err


@pytest.mark.anyio
async def test_an_all_digit_arg_reaches_the_upstream_as_the_string_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    # Regression (issue 12): `--arg` values are text read by the schema, never guessed with json.loads.
    creds = AppCredentials.development()
    async with serve_in_background(EmulatorConfig(credentials=creds)) as emulator:
        argv = ["call", "hms-get-recording", "--arg", "recording_id=123456789012345678901234"]
        argv += ["--upstream", f"recordings={emulator.api_url}"]
        env = {"HMS_ACCESS_KEY": creds.access_key, "HMS_APP_SECRET": creds.app_secret}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            code = await anyio.to_thread.run_sync(main, argv)
        import httpx2

        async with httpx2.AsyncClient(base_url=emulator.base_url) as admin:
            log = (await admin.get("/_emulator/requests")).json()
    assert code == 1
    assert "not_found: recording 123456789012345678901234 does not exist" in capsys.readouterr().err
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/v2/recordings/123456789012345678901234", 404)
    ]


def test_the_synopsis_is_rendered_from_the_parser_with_help_for_every_option() -> None:
    text = synopsis()
    commands = [line for line in text.splitlines() if line.startswith("hms-recordings ")]
    assert [line.split("    ")[0] for line in commands] == [
        "hms-recordings serve",
        "hms-recordings tools",
        "hms-recordings call",
        "hms-recordings download",
        "hms-recordings validate",
        "hms-recordings convert",
        "hms-recordings audit",
        "hms-recordings token",
        "hms-recordings emulator",
        "hms-recordings skill export",
        "hms-recordings import openapi",
        "hms-recordings export openapi",
    ]
    for flag in ("--toolsets", "--max-result-chars", "--strict", "--retry-attempts", "--session-idle-timeout"):
        assert f"    {flag} " in text
    options = [line for line in text.splitlines() if line.startswith("    ")]
    assert all(len(line.split(None, 2)) >= 2 for line in options)
    undocumented = [
        action.dest
        for parser in _leaf_parsers()
        for action in parser._actions
        if not action.help and action.dest != "help"
    ]
    assert undocumented == []


def _leaf_parsers() -> list[object]:
    import argparse

    out = []
    pending = [build_parser()]
    while pending:
        parser = pending.pop()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append(parser)
        for action in subs:
            pending.extend(action.choices.values())
    return out


def test_call_with_an_upstream_error_exits_1_with_the_actionable_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "hms-stop-recording", "--emulator", "--arg", f"room_id={ROOM}"]) == 1
    assert "has no active recording" in capsys.readouterr().err


@pytest.mark.anyio
async def test_call_shows_a_progress_bar_while_waiting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = AppCredentials.development()
    monkeypatch.setenv("HMS_ACCESS_KEY", creds.access_key)
    monkeypatch.setenv("HMS_APP_SECRET", creds.app_secret)
    async with serve_in_background(EmulatorConfig(start_delay=2.5, processing_time=0)) as emulator:
        upstream = ["--upstream", f"recordings={emulator.api_url}"]

        def run(*argv: str) -> int:
            return main([*argv, *upstream])

        assert await anyio.to_thread.run_sync(run, "call", "hms-start-recording", "--arg", f"room_id={ROOM}") == 0
        recording_id = json.loads(capsys.readouterr().out)["id"]
        code = await anyio.to_thread.run_sync(
            run, "call", "hms-wait-for-recording", "--arg", f"recording_id={recording_id}", "--arg", "until=running"
        )
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["reached"] is True
    bars = [line for line in captured.err.splitlines() if line.startswith("[")]
    assert bars[0].startswith("[..............................]   0% recording") and "is starting" in bars[0]
    assert bars[-1].startswith("[##############################] 100%")


def test_serve_without_credentials_refuses_and_mentions_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 3
    err = capsys.readouterr().err
    assert "HMS_MANAGEMENT_TOKEN" in err and "HMS_ACCESS_KEY" in err and "--emulator" in err


def test_serve_on_the_seed_without_its_token_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(SEED)]) == 3
    err = capsys.readouterr().err
    assert "HMS_MANAGEMENT_TOKEN" in err and "--emulator" in err


def test_serve_with_an_unknown_tool_name_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--emulator", "--tools", "hms-list-recording"]) == 3
    assert "hms-list-recording" in capsys.readouterr().err


def test_validate_exit_codes_valid_invalid_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SEED)]) == 0
    assert main(["validate", str(SEED), "--strict"]) == 1
    assert "3 deviations from alpha2" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("naftiko: [unclosed\n", encoding="utf-8")
    assert main(["validate", str(broken)]) == 2


def test_token_prints_a_management_token_for_the_configured_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HMS_ACCESS_KEY", "key-abc")
    monkeypatch.setenv("HMS_APP_SECRET", "secret-abc-123-which-is-long-enough-for-hs256")
    assert main(["token", "--valid-for", "600"]) == 0
    token = capsys.readouterr().out.strip()
    claims = verify_management_token(token, AppCredentials("key-abc", "secret-abc-123-which-is-long-enough-for-hs256"))
    assert claims["exp"] - claims["nbf"] == 610


def test_token_refuses_an_excessive_lifetime(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--valid-for", str(30 * 86400)]) == 3
    assert "valid_for" in capsys.readouterr().err
