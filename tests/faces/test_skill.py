"""The Agent Skill: ``skill export`` writes a SKILL.md whose every example runs, and declared skills are served."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from hms_recordings.capability.loader import load_file
from hms_recordings.cli import main
from hms_recordings.faces.skill import export_skill
from hms_recordings.hms.skill_text import setup_text
from hms_recordings.taxonomy import HTTP_ONLY, KINDS
from tests.clients.harness import console_script, free_port, server_env
from tests.faces.conftest import rest_face
from tests.rig import make_rig

FILES = Path(__file__).parent / "files"
HELPER = "Find 100ms recordings and explain their status. Use it when someone asks about past recordings."
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CALL_TIMEOUT = 60.0
EMULATOR_START_TIMEOUT = 20.0


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    data: dict[str, Any] = YAML(typ="safe").load(head)
    return data, body


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    capability = load_file()
    return export_skill(capability, tmp_path_factory.mktemp("skill"), setup_text=setup_text(capability))


# --------------------------------------------------------------------------------------------------------- the file


def test_export_writes_skill_md_with_name_and_description_front_matter(exported: Path) -> None:
    meta, body = front_matter((exported / "SKILL.md").read_text())
    assert meta["name"] == exported.name == "100ms-recordings"
    assert NAME.match(meta["name"]) and len(meta["name"]) <= 64
    assert 0 < len(meta["description"]) <= 1024
    assert "Use this skill when" in meta["description"]
    assert set(meta) == {"name", "description"}
    assert body.count("\n### ") == len(load_file().mcp[0].tools)


def test_every_tool_has_a_section_with_an_arguments_table_and_an_example_call(exported: Path) -> None:
    text = (exported / "SKILL.md").read_text()
    for tool in load_file().mcp[0].tools:
        section = text.split(f"\n### {tool.name} ", 1)[1].split("\n### ", 1)[0]
        assert tool.description.split(".")[0] in " ".join(section.split())
        [example] = bash_blocks(section)
        assert example.startswith(f"hms-recordings call {tool.name}")
    assert "| `room_id` | string, pattern `^[0-9a-f]{24}$` | yes |" in text


def test_the_troubleshooting_section_is_the_error_taxonomy(exported: Path) -> None:
    section = (exported / "SKILL.md").read_text().split("## Troubleshooting", 1)[1]
    for kind, (meaning, next_step) in KINDS.items():
        if kind in HTTP_ONLY:
            assert f"`{kind}`" not in section
        else:
            assert f"| `{kind}` | {meaning} | {next_step} |" in section


def test_the_cli_exports_the_skill_and_prints_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skill", "export", str(tmp_path)]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder == tmp_path / "100ms-recordings"
    assert (folder / "SKILL.md").is_file()


def test_a_capability_of_ones_own_is_bundled_and_named_in_the_examples(tmp_path: Path) -> None:
    folder = export_skill(load_file(FILES / "plain_rest.yaml"), tmp_path)
    assert (folder / "capability.yaml").read_bytes() == (FILES / "plain_rest.yaml").read_bytes()
    [example] = [b for b in bash_blocks((folder / "SKILL.md").read_text()) if "hms-recordings call" in b]
    assert '--capability "$CAPABILITY"' in example


def test_export_needs_no_credential_and_knows_no_emulator_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HMS_MANAGEMENT_TOKEN", "HMS_ACCESS_KEY", "HMS_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    text = (export_skill(load_file(), tmp_path) / "SKILL.md").read_text()
    setup = bash_blocks(text)[0]
    assert setup == '# against the real API, with the variables above exported:\nUPSTREAM=""\n'
    assert "emulator" not in text
    assert "HMS_MANAGEMENT_TOKEN" in text  # named by the capability's binds, not by the skill face


# ---------------------------------------------------------------------------------------- running every example


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + EMULATOR_START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"the emulator exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the emulator did not listen on {port} within {EMULATOR_START_TIMEOUT:g}s")
            time.sleep(0.05)  # bounded readiness polling


@pytest.fixture
def emulator_from_setup(exported: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Run the SKILL.md setup block on a free port: the emulator line as a process, the rest through bash."""
    setup = bash_blocks((exported / "SKILL.md").read_text())[0]
    port = str(free_port())
    lines = [line.replace("8765", port) for line in setup.splitlines()]
    [emulator_line] = [line for line in lines if line.startswith("hms-recordings emulator")]
    assert emulator_line.endswith(" &")
    # The emulator's clock is the test's business: no start delay and no processing time, so nothing waits.
    argv = [
        str(console_script()),
        *emulator_line[: -len(" &")].split()[1:],
        "--start-delay",
        "0",
        "--processing-time",
        "0",
    ]
    env = server_env()
    process = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_port(int(port), process)
        rest = "\n".join(line for line in lines if line is not emulator_line and line != emulator_line)
        done = subprocess.run(
            ["bash", "-c", rest + '\nprintf "%s\\0%s" "$UPSTREAM" "$HMS_MANAGEMENT_TOKEN"'],
            env=env,
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT,
            check=True,
        )
        upstream, token = done.stdout.split("\0")
        assert upstream == f"--upstream recordings=http://127.0.0.1:{port}/v2"
        yield port, {**env, "UPSTREAM": upstream, "HMS_MANAGEMENT_TOKEN": token}
    finally:
        process.terminate()
        process.wait(timeout=10)


Check = Callable[[dict[str, Any]], dict[str, str]]


def _started(out: dict[str, Any]) -> dict[str, str]:
    assert out["status"] == "starting"
    return {"RECORDING_ID": out["id"]}


def _composite(out: dict[str, Any]) -> dict[str, str]:
    asset = next(a for a in out["assets"] if a["type"] == "room-composite")
    assert asset["status"] == "completed"
    return {"ASSET_ID": asset["id"]}


def _audited(out: dict[str, Any]) -> dict[str, str]:
    """Every state-changing step above, newest first, made through the CLI (no token: no subject)."""
    assert [e["tool"] for e in out["events"]] == [
        "hms-stop-recording-by-id",
        "hms-start-recording",
        "hms-stop-recording",
        "hms-resume-recording",
        "hms-pause-recording",
        "hms-start-recording",
    ], out
    assert all(e["outcome"] == "ok" and e["face"] == "cli" and e["subject"] is None for e in out["events"])
    return {}


def _chat_link(out: dict[str, Any]) -> dict[str, str]:
    """Every link has a URL; the chat's asset id is what the next step (reading the chat) needs."""
    assert out["links"] and all(link["url"] for link in out["links"]), out
    return {"ASSET_ID": next(link["asset_id"] for link in out["links"] if link["type"] == "chat")}


def _expect(**fields: Any) -> Check:
    def check(out: dict[str, Any]) -> dict[str, str]:
        for key, value in fields.items():
            assert out[key] == value, out
        return {}

    return check


#: The recording lifecycle in the order a user follows it; each step may set variables for the next ones.
WALKTHROUGH: list[tuple[str, Check]] = [
    ("hms-start-recording", _started),
    ("hms-get-recording", _expect(status="running")),
    ("hms-list-recordings", lambda out: {} if len(out["recordings"]) == 1 else pytest.fail(str(out))),
    ("hms-pause-recording", _expect(status="running")),
    ("hms-resume-recording", _expect(status="running")),
    ("hms-stop-recording", lambda out: {} if out["stopped"][0]["status"] == "stopping" else pytest.fail(str(out))),
    ("hms-wait-for-recording", _expect(reached=True)),
    ("hms-get-recording-download-links", _chat_link),
    ("hms-read-recording-asset", _expect(type="chat", format="rows")),
    ("hms-list-recording-assets", _composite),
    ("hms-get-recording-asset", _expect(type="room-composite", status="completed")),
    ("hms-get-recording-presigned-url", lambda out: {} if out["url"].startswith("http") else pytest.fail(str(out))),
    ("hms-start-recording", _started),
    ("hms-stop-recording-by-id", _expect(status="stopping")),
    ("hms-list-audit-events", _audited),
    # `call` reads the event log `serve` writes; this emulator delivers no webhooks, so the list may be empty.
    ("hms-list-recording-events", lambda out: {} if isinstance(out["events"], list) else pytest.fail(str(out))),
]


@pytest.mark.e2e
def test_every_example_command_in_skill_md_runs_against_the_emulator(
    exported: Path, emulator_from_setup: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    text = (exported / "SKILL.md").read_text()
    examples = {block.split()[2]: block.strip() for block in bash_blocks(text) if "hms-recordings call" in block}
    assert set(examples) <= {tool for tool, _ in WALKTHROUGH}, "a new tool needs a step in WALKTHROUGH"
    _, env = emulator_from_setup
    env["HMS_RECORDINGS_EVENTS_DB"] = str(tmp_path / "events.sqlite3")  # the CLI's calls go into an audit trail
    # ROOM_ID is the only variable the user brings; the skill's variable table gives a sample value for it.
    env["ROOM_ID"] = re.search(r"\| `ROOM_ID` \| `room_id` \| `([0-9a-f]{24})` \|", text).group(1)  # type: ignore[union-attr]
    for tool, check in [step for step in WALKTHROUGH if step[0] in examples]:
        done = subprocess.run(
            ["bash", "-c", examples[tool]], env=env, capture_output=True, text=True, timeout=CALL_TIMEOUT
        )
        assert done.returncode == 0, f"{examples[tool]}\nexit {done.returncode}\n{done.stderr}"
        env.update(check(json.loads(done.stdout)))


# ------------------------------------------------------------------------------------------------ declared skills


def test_a_declared_skill_is_exported_with_its_front_matter_tools_and_files(tmp_path: Path) -> None:
    folder = export_skill(load_file(FILES / "skill_capability.yaml"), tmp_path)
    assert folder.name == "recordings-helper"
    meta, body = front_matter((folder / "SKILL.md").read_text())
    assert meta == {
        "name": "recordings-helper",
        "description": HELPER,
        "license": "Apache-2.0",
    }
    assert "#### helper-list" in body
    assert 'hms-recordings call helper-get --arg recording_id="$RECORDING_ID"' in body
    assert "starting, running, stopping, post_processing, then completed" in body
    assert (folder / "reference.md").read_text().startswith("# Recording statuses")


@pytest.mark.anyio
async def test_a_declared_skill_is_served_as_a_catalog_with_a_zip_and_its_files() -> None:
    async with make_rig(FILES / "skill_capability.yaml") as rig, rest_face(rig) as rest:
        catalog = (await rest.get("/skills")).json()
        assert catalog == {
            "skills": [
                {
                    "name": "recordings-helper",
                    "description": HELPER,
                    "license": "Apache-2.0",
                    "url": "/skills/recordings-helper",
                    "download": "/skills/recordings-helper.zip",
                }
            ]
        }
        one = (await rest.get("/skills/recordings-helper")).json()
        assert [f["path"] for f in one["files"]] == ["SKILL.md", "capability.yaml", "reference.md"]
        skill_md = await rest.get("/skills/recordings-helper/files/SKILL.md")
        assert skill_md.headers["content-type"] == "text/markdown; charset=utf-8"
        assert skill_md.text.startswith("---\nname: recordings-helper\n")
        download = await rest.get("/skills/recordings-helper.zip")
        assert download.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            assert archive.namelist() == [f"recordings-helper/{f['path']}" for f in one["files"]]
            assert archive.read("recordings-helper/SKILL.md") == skill_md.content
        for missing in (
            "/skills/nope",
            "/skills/nope.zip",
            "/skills/recordings-helper/files/..%2Fskill_capability.yaml",
            "/skills/recordings-helper/files/../../etc/passwd",
        ):
            response = await rest.get(missing)
            assert response.status_code == 404, missing
            assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.anyio
async def test_a_capability_without_a_skill_expose_serves_no_catalog() -> None:
    async with make_rig() as rig, rest_face(rig) as rest:
        assert (await rest.get("/skills")).status_code == 404
