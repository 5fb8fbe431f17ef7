"""The ``hms-recordings`` command: a thin edge that builds settings, calls the library, maps errors to exit codes.

Exit codes: 0 success; 1 the tool or check failed (an error result, an invalid file); 2 usage error or unreadable file;
3 configuration refused (missing credentials, unsafe address).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hms_recordings import __version__
from hms_recordings.errors import BindingError, CapabilityError, ConfigError, HmsRecordingsError

if TYPE_CHECKING:  # the command line imports what a command needs when it runs it: start-up time counts
    from hms_recordings.runtime.inventory import Inventory
    from hms_recordings.server.events.store import EventStore
    from hms_recordings.server.settings import CallSettings

__all__ = ["build_parser", "main", "synopsis"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _load(path: str | None) -> Any:
    from hms_recordings.capability.loader import load_file

    return load_file(path)


# ------------------------------------------------------------------------------------------------------------ serve


def cmd_serve(args: argparse.Namespace) -> int:
    import anyio

    if len(args.files) > 1:
        from hms_recordings.server.multi import serve_many

        return serve_many(args)
    from hms_recordings.server.serve import run_server
    from hms_recordings.server.settings import ServeSettings

    file = args.files[0] if args.files else None
    capability = _load(file)
    settings = ServeSettings.build(capability, flags=vars(args))
    if settings.workers > 1:
        from hms_recordings.server.workers import serve_workers

        anyio.run(serve_workers, file, settings)
        return EXIT_OK
    anyio.run(run_server, capability, settings)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ tools


def cmd_tools(args: argparse.Namespace) -> int:
    from hms_recordings.faces.mcp import describe_tools
    from hms_recordings.server.settings import CallSettings
    from hms_recordings.server.targets import select_inventory

    capability = _load(args.capability)
    # Compiling needs no credentials and no upstream: the inventory alone says what would be served.
    inventory = select_inventory(capability, CallSettings.build(None, flags=vars(args)))
    surface = describe_tools(list(inventory.tools.values()))
    if args.json:
        print(json.dumps(surface, indent=2, ensure_ascii=False))
    else:
        width = max((len(t["name"]) for t in surface), default=4)
        for tool in surface:
            flag = "read-only" if tool.get("annotations", {}).get("readOnlyHint") else "writes   "
            first = tool["description"].split(". ")[0].rstrip(".")
            print(f"{tool['name']:<{width}}  {flag}  {first}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------- call


def parse_arguments(pairs: list[str], raw_json: str | None) -> tuple[dict[str, Any], frozenset[str]]:
    """``--args-json`` (JSON values, never coerced) and ``--arg NAME=VALUE`` (text, coerced by the tool's schema).

    Returns the arguments and the names given as text: the invoker reads those by the schema, exactly as REST reads
    a query string, so ``--arg recording_id=123456789012345678901234`` stays the string it is."""
    arguments: dict[str, Any] = {}
    if raw_json:
        try:
            loaded = json.loads(raw_json)
        except ValueError as exc:
            raise ConfigError(f"--args-json is not valid JSON: {exc}") from None
        except RecursionError:  # nesting deeper than the decoder's stack: refused like any over-deep argument
            raise ConfigError("--args-json is nested too deeply") from None
        if not isinstance(loaded, dict):
            raise ConfigError("--args-json must be a JSON object")
        arguments.update(loaded)
    text: set[str] = set()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--arg {pair!r} must look like NAME=VALUE")
        arguments[name] = value
        text.add(name)
    return arguments, frozenset(text)


class _ProgressBar:
    def __init__(self) -> None:
        self.shown = False
        self.last_width = 0

    async def __call__(self, done: float, total: float | None, message: str | None) -> None:
        width = 30
        if total:
            filled = int(width * min(done / total, 1.0))
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {100 * min(done / total, 1.0):3.0f}%"
        else:
            bar = f"[{done:g}]"
        end = "\r" if sys.stderr.isatty() else "\n"
        line = f"{bar} {message or ''}"
        # On a terminal each line overwrites the last: pad to the previous width, or a shorter line leaves the end
        # of the longer one behind (a "3.8s" over "10.2s" read "3.8ss").
        print(line.ljust(self.last_width) if end == "\r" else line, end=end, file=sys.stderr, flush=True)
        self.last_width = len(line)
        self.shown = True


@asynccontextmanager
async def _event_log(inventory: Inventory, tool: str, settings: CallSettings) -> AsyncIterator[EventStore | None]:
    """The server's event log, opened only for the tool that reads it (``serve`` writes it; docs/events.md)."""
    from hms_recordings.hms.events import EVENTS_HANDLER

    entry = inventory.tools.get(tool)
    if entry is None or entry.tool.handler != EVENTS_HANDLER:
        yield None
        return
    from hms_recordings.server.events.store import EventStore

    path = settings.events_path()
    async with EventStore(path, max_events=settings.events_max, max_age_days=settings.events_max_age_days) as store:
        yield store


def cmd_call(args: argparse.Namespace) -> int:
    import anyio

    from hms_recordings.runtime.invoker import CallContext
    from hms_recordings.server.audit import AuditStore
    from hms_recordings.server.settings import CallSettings
    from hms_recordings.server.targets import STATEFUL_EMULATOR_HINT, emulation, open_service, select_inventory

    capability = _load(args.capability)
    arguments, text_fields = parse_arguments(args.arg or [], args.args_json)
    settings = CallSettings.build(None, flags=vars(args))  # the same HMS_RECORDINGS_* upstream settings as `serve`
    inventory = select_inventory(capability, settings)
    bar = _ProgressBar()
    # With HMS_RECORDINGS_EVENTS_DB set, a state-changing call made here is in the audit trail too, and the audit
    # tool reads that trail.
    audit = AuditStore(settings.events_db, max_rows=settings.audit_max_rows) if settings.events_db else None
    if settings.emulator:
        _err("--emulator: a fresh in-process 100ms emulator, empty, whose recordings end with this call")

    async def run() -> Any:
        async with (
            emulation(settings, "inprocess") as emulated,
            _event_log(inventory, args.tool, settings) as event_log,
            open_service(
                inventory,
                settings,
                emulated=emulated,
                observers=[audit] if audit else [],
                event_log=event_log,
                credentials_hint=STATEFUL_EMULATOR_HINT,
            ) as service,
        ):
            context = CallContext(face="cli", progress=bar, text_fields=text_fields)
            return await service.call(args.tool, arguments, context)

    try:
        outcome = anyio.run(run)
    finally:
        if audit is not None:
            audit.close()
    if bar.shown and sys.stderr.isatty():
        print(file=sys.stderr)
    if outcome.error is not None:
        _err(f"{outcome.error.kind}: {outcome.error.message}")
        if 404 in (outcome.error.upstream_status, outcome.error.http_status):
            for hint in base_path_hints(capability, settings.upstreams):
                _err(hint)
        return EXIT_USAGE if outcome.error.kind in ("invalid_arguments", "unknown_tool") else EXIT_FAILED
    print(json.dumps(outcome.data, ensure_ascii=False, indent=2, default=str))  # for a human reader: indented
    for note in outcome.notes:
        _err(note)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ audit


def cmd_audit(args: argparse.Namespace) -> int:
    """``audit``: the audit trail in the events database, newest first (one line per event, or JSON lines)."""
    from pathlib import Path

    from hms_recordings.server.audit import AuditStore, parse_since
    from hms_recordings.server.settings import CallSettings

    settings = CallSettings.build(None, flags={})
    path = settings.events_db_path()
    if not Path(path).is_file():
        _err(f"no audit trail at {path} (set HMS_RECORDINGS_EVENTS_DB to the server's events database)")
        return EXIT_FAILED
    since = parse_since(args.since) if args.since else None
    store = AuditStore(path)
    try:
        events = store.query(since=since, room_id=args.room, limit=args.limit)
    finally:
        store.close()
    for event in events:
        item = event.as_dict()
        if args.json:
            print(json.dumps(item, ensure_ascii=False, sort_keys=True))
            continue
        who = item["subject"] or "-"
        if item["client"]:
            who += f" ({item['client']})"
        where = " ".join(f"{k}={item[k]}" for k in ("room_id", "recording_id") if item[k])
        print(f"{item['at']}  {who}  {item['tool']}  {where or '-'}  {item['outcome']}  via {item['face']}")
    return EXIT_OK


def base_path_hints(capability: Any, upstreams: dict[str, str]) -> list[str]:
    """An ``--upstream`` without the base path of the file's ``baseUri`` (``/v2`` for 100ms) answers 404 on every
    route, which reads as "does not exist": say what is missing."""
    from urllib.parse import urlsplit

    hints = []
    for namespace, url in sorted(upstreams.items()):
        api = capability.consumes.get(namespace)
        want = urlsplit(api.base_uri).path.rstrip("/") if api is not None else ""
        have = urlsplit(url).path.rstrip("/")
        if want and not have.endswith(want):
            hints.append(
                f"hint: --upstream {namespace}={url} lacks the base path {want} of the file's baseUri "
                f"({api.base_uri}), so every route may answer 404: try --upstream {namespace}={url.rstrip('/')}{want}"
            )
    return hints


# --------------------------------------------------------------------------------------------------------- download


def cmd_download(args: argparse.Namespace) -> int:
    import anyio

    from hms_recordings.hms.download import DownloadOptions, download_links, render_summary
    from hms_recordings.runtime.invoker import CallContext
    from hms_recordings.server.settings import CallSettings
    from hms_recordings.server.targets import STATEFUL_EMULATOR_HINT, open_service, select_inventory

    if args.emulator:
        raise ConfigError(f"download needs recordings that outlive the command. {STATEFUL_EMULATOR_HINT}")
    if not 1 <= args.parallel <= 32 or not 1 <= args.attempts <= 100:
        raise ConfigError("--parallel must be 1-32 and --attempts 1-100")
    capability = _load(args.capability)
    settings = CallSettings.build(None, flags=vars(args))
    inventory = select_inventory(capability, settings)
    types = frozenset(t.strip() for t in (args.types or "").split(",") if t.strip())
    options = DownloadOptions(Path(args.dir), types, args.parallel, args.attempts, args.timeout)

    async def run() -> int:
        async with open_service(inventory, settings, credentials_hint=STATEFUL_EMULATOR_HINT) as service:
            context = CallContext(face="cli", text_fields=frozenset({"recording_id"}))
            outcome = await service.call(
                "hms-get-recording-download-links", {"recording_id": args.recording_id}, context
            )
        if outcome.error is not None:
            _err(f"{outcome.error.kind}: {outcome.error.message}")
            if 404 in (outcome.error.upstream_status, outcome.error.http_status):
                for hint in base_path_hints(capability, settings.upstreams):
                    _err(hint)
            return EXIT_FAILED
        data = outcome.data
        if data.get("status") != "completed":
            why = data.get("failure_reason") or (
                "wait first: hms-recordings call hms-wait-for-recording --arg recording_id=" + args.recording_id
            )
            _err(f"recording {args.recording_id} is {data.get('status')}, nothing to download: {why}")
            return EXIT_FAILED
        links = data.get("links") or []
        chosen = [link for link in links if not types or link.get("type") in types]
        if not chosen:
            known = sorted({str(link.get("type")) for link in links})
            _err(f"no completed asset of type {', '.join(sorted(types))}; this recording has {', '.join(known)}")
            return EXIT_FAILED
        files = await download_links(chosen, options)
        print(render_summary(files, options.folder))
        for pending in data.get("not_ready") or []:
            _err(f"not downloaded: {pending.get('type')} {pending.get('asset_id')} is still {pending.get('status')}")
        return EXIT_FAILED if any(f.status == "failed" for f in files) else EXIT_OK

    code: int = anyio.run(run)
    return code


# --------------------------------------------------------------------------------------------------------- validate


def cmd_validate(args: argparse.Namespace) -> int:
    from hms_recordings.capability.loader import lenient_findings
    from hms_recordings.capability.validation import validate_file

    report = validate_file(args.file, strict=args.strict, lenient_check=lenient_findings)
    if not report.unreadable and not report.serving_errors:
        # What `serve` would leave out, planned exactly as `serve` plans it, so that the two agree.
        from hms_recordings.capability.loader import load_file
        from hms_recordings.faces.catalogue import left_out

        report.left_out = left_out(load_file(args.file))
    print(report.render())
    return report.exit_code()


def cmd_convert(args: argparse.Namespace) -> int:
    from hms_recordings.capability.convert import run_convert

    return run_convert(args.file, args.to, args.output)


# ------------------------------------------------------------------------------------------------------------ token


def cmd_token(args: argparse.Namespace) -> int:
    from hms_recordings.hms.tokens import AppCredentials, mint_management_token

    creds = AppCredentials.from_env(allow_development=True)
    assert creds is not None
    if creds.is_development:
        _err(
            "HMS_ACCESS_KEY/HMS_APP_SECRET are not set: minting with the emulator's development key "
            "(accepted by `hms-recordings emulator`, not by 100ms)"
        )
    try:
        print(mint_management_token(creds, valid_for=args.valid_for))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return EXIT_OK


# --------------------------------------------------------------------------------------------------------- emulator


def cmd_emulator(args: argparse.Namespace) -> int:
    from hms_recordings.emulator import config_from_args, run_emulator

    run_emulator(config_from_args(args), args.host, args.port)
    return EXIT_OK


def cmd_skill_export(args: argparse.Namespace) -> int:
    from hms_recordings.faces.skill import export_skill
    from hms_recordings.hms.skill_text import setup_text

    capability = _load(args.capability)
    print(export_skill(capability, args.dir, setup_text=setup_text(capability)))
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ parser


def _selection_options(parser: argparse.ArgumentParser) -> None:
    """--tools, --toolsets, --read-only: the one filter (Inventory.select), in its documented order; --strict."""
    parser.add_argument(
        "--tools", default=None, metavar="NAME,NAME", help="only these tools, comma-separated (default: all)"
    )
    parser.add_argument(
        "--toolsets",
        default=None,
        metavar="SET,SET",
        help="only the tools of these x-toolsets, with --tools: both (default: all)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="then drop every tool that is not read-only (default: off)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="refuse to start when any entry cannot be served (default: off)",
    )


def _upstream_options(parser: argparse.ArgumentParser, emulator_help: str) -> None:
    """Where calls go and how hard they are tried (the upstream part of the settings, shared by serve and call)."""
    parser.add_argument("--emulator", action="store_true", default=None, help=emulator_help)
    parser.add_argument(
        "--upstream",
        action="append",
        metavar="NAMESPACE=URL",
        help="override one consumed API's baseUri, e.g. recordings=http://127.0.0.1:8765/v2 (repeatable; "
        "default: the file's baseUri)",
    )
    parser.add_argument(
        "--retry-attempts", type=int, metavar="N", help="attempts per upstream call, the first included (default 12)"
    )
    parser.add_argument(
        "--retry-deadline", type=float, metavar="S", help="seconds for all attempts together (default 30)"
    )
    parser.add_argument(
        "--timeout-connect", type=float, metavar="S", help="upstream connect timeout in seconds (default 5)"
    )
    parser.add_argument("--timeout-read", type=float, metavar="S", help="upstream read timeout in seconds (default 30)")
    parser.add_argument(
        "--max-concurrency", type=int, metavar="N", help="upstream requests in flight per API (default 32)"
    )
    parser.add_argument(
        "--max-response-bytes", type=int, metavar="N", help="larger upstream answers are refused (default 8388608)"
    )
    parser.add_argument(
        "--max-result-chars", type=int, metavar="N", help="longer results are shortened, with a note (default 50000)"
    )


def build_parser(*, emulator_options: bool = True) -> argparse.ArgumentParser:
    """``emulator_options=False`` skips importing the emulator, which other commands do not need (cold start)."""
    parser = argparse.ArgumentParser(prog="hms-recordings", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"hms-recordings {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve capability files over MCP (and REST where declared)")
    serve.add_argument(
        "files",
        nargs="*",
        metavar="CAPABILITY_FILE",
        help="capability files to serve (default: the built-in 100ms recordings)",
    )
    serve.add_argument(
        "--transport", choices=["http", "stdio"], default=None, help="MCP transport (default: the file's, else http)"
    )
    serve.add_argument("--host", default=None, help="address to listen on (default: the file's, else 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="MCP port, 0 = any free (default: the file's, else 9090)")
    serve.add_argument("--rest-port", type=int, default=None, help="REST port (default: the rest expose's port)")
    _upstream_options(
        serve, "start the embedded 100ms emulator, print its address and use it upstream while serving (default: off)"
    )
    _selection_options(serve)
    serve.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="allow a non-loopback address without an auth token (default: off)",
    )
    serve.add_argument(
        "--stateless",
        action="store_true",
        default=None,
        help="Streamable HTTP without sessions, for load balancers (default: off)",
    )
    serve.add_argument(
        "--json-response",
        action="store_true",
        default=None,
        help="answer with JSON instead of SSE streams (default: off)",
    )
    serve.add_argument("--max-sessions", type=int, metavar="N", help="open MCP sessions at most (default 1000)")
    serve.add_argument(
        "--session-idle-timeout",
        type=float,
        metavar="S",
        help="close an MCP session idle this many seconds (default 300)",
    )
    serve.add_argument(
        "--max-sessions-per-client",
        type=int,
        metavar="N",
        help="open MCP sessions per client, its remote address or OAuth subject (default 250)",
    )
    serve.add_argument(
        "--max-request-bytes", type=int, metavar="N", help="largest request body accepted in bytes (default 1048576)"
    )
    serve.add_argument(
        "--header-timeout", type=float, metavar="S", help="seconds for a request's line and headers (default 10)"
    )
    serve.add_argument("--body-timeout", type=float, metavar="S", help="seconds for a request's body (default 30)")
    serve.add_argument(
        "--keep-alive-timeout", type=float, metavar="S", help="close a connection idle between requests (default 5)"
    )
    serve.add_argument(
        "--single-port",
        action="store_true",
        default=None,
        help="with several files: serve all on one port (default: off)",
    )
    serve.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log threshold (default WARNING)",
    )
    serve.add_argument(
        "--json-logs", action="store_true", default=None, help="one JSON object per log line (default: off)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes serving one port, one per core; more than 1 is stateless (default 1)",
    )
    serve.add_argument(
        "--drain-grace",
        type=float,
        metavar="S",
        help="on SIGTERM, seconds not ready before listeners close (default 2)",
    )
    serve.add_argument(
        "--drain-timeout", type=float, metavar="S", help="then seconds for calls in flight to finish (default 30)"
    )
    serve.set_defaults(func=cmd_serve)

    tools = sub.add_parser("tools", help="show the tool surface")
    tools.add_argument(
        "capability",
        nargs="?",
        metavar="CAPABILITY_FILE",
        help="the file to describe (default: the built-in capability)",
    )
    tools.add_argument(
        "--json", action="store_true", help="print the tools/list JSON instead of a table (default: off)"
    )
    _selection_options(tools)
    tools.set_defaults(func=cmd_tools)

    call = sub.add_parser("call", help="call one tool and print its result")
    call.add_argument(
        "tool", metavar="TOOL", help="the tool's name (see `tools`); `call TOOL --help` describes its arguments"
    )
    call.add_argument(
        "--arg",
        action="append",
        metavar="NAME=VALUE",
        help="one argument, read by the tool's schema (repeatable; default: none)",
    )
    call.add_argument(
        "--args-json", metavar="JSON", help="all arguments as one JSON object, values as typed (default: none)"
    )
    call.add_argument("--capability", metavar="FILE", help="the capability file (default: the built-in capability)")
    _upstream_options(call, "against a fresh in-process emulator whose recordings end with this call (default: off)")
    _selection_options(call)
    call.set_defaults(func=cmd_call)

    download = sub.add_parser(
        "download", help="download every completed asset of a recording (parallel, resumable, size-checked)"
    )
    download.add_argument("recording_id", metavar="RECORDING_ID", help="the recording whose assets to download")
    download.add_argument("--dir", default=".", metavar="DIR", help="folder to write into (default: .)")
    download.add_argument(
        "--types", metavar="TYPE,TYPE", help="only these asset types, e.g. room-composite,chat (default: all)"
    )
    download.add_argument("--parallel", type=int, default=4, metavar="N", help="files at once (default 4)")
    download.add_argument(
        "--attempts",
        type=int,
        default=5,
        metavar="N",
        help="requests per file; each after the first resumes (default 5)",
    )
    download.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="seconds without data before resuming (default 60)"
    )
    download.add_argument("--capability", metavar="FILE", help="the capability file (default: the built-in capability)")
    _upstream_options(download, "not for download: its recordings would end with it; see `emulator` (default: off)")
    download.set_defaults(func=cmd_download)

    validate = sub.add_parser("validate", help="check a capability file")
    validate.add_argument("file", metavar="CAPABILITY_FILE", help="the capability file")
    validate.add_argument(
        "--strict", action="store_true", help="also report every deviation from alpha2 (default: off)"
    )
    validate.set_defaults(func=cmd_validate)

    convert = sub.add_parser("convert", help="rewrite a capability file in another format version")
    convert.add_argument("file", metavar="CAPABILITY_FILE", help="the capability file, any supported version")
    convert.add_argument(
        "--to",
        required=True,
        choices=["ikanos-1.0.0-beta5", "naftiko-1.0.0-alpha2"],
        help="the target version (required, no default)",
    )
    convert.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    convert.set_defaults(func=cmd_convert)
    audit = sub.add_parser("audit", help="show the audit trail of recording actions (HMS_RECORDINGS_EVENTS_DB)")
    audit.add_argument(
        "--since", default=None, help="ISO 8601 time, or a span back from now: 15m, 2h, 7d (default: all)"
    )
    audit.add_argument("--room", default=None, metavar="ROOM_ID", help="only this room's events (default: every room)")
    audit.add_argument("--limit", type=int, default=100, help="at most this many events, 1-200 (default 100)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line (default: off)")
    audit.set_defaults(func=cmd_audit)

    token = sub.add_parser("token", help="print a management token minted from HMS_ACCESS_KEY/HMS_APP_SECRET")
    token.add_argument(
        "--valid-for", type=int, default=86_400, metavar="SECONDS", help="lifetime in seconds (default 86400)"
    )
    token.set_defaults(func=cmd_token)

    emulator = sub.add_parser("emulator", help="run the local 100ms recordings API emulator")
    if emulator_options:
        from hms_recordings.emulator import add_cli_arguments

        add_cli_arguments(emulator)
    emulator.set_defaults(func=cmd_emulator)

    skill = sub.add_parser("skill", help="Agent Skill export")
    skill_sub = skill.add_subparsers(dest="skill_command", required=True)
    export = skill_sub.add_parser("export", help="write an Agent Skills folder")
    export.add_argument("dir", metavar="DIR", help="the folder to write into")
    export.add_argument("--capability", metavar="FILE", help="the capability file (default: the built-in capability)")
    export.set_defaults(func=cmd_skill_export)

    from hms_recordings.cli_openapi import add_parsers as add_openapi_parsers

    add_openapi_parsers(sub)
    return parser


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """Every leaf command under ``parser``: (its name, its help, its parser)."""
    out: list[tuple[str, str, argparse.ArgumentParser]] = []
    for action in parser._actions:  # argparse keeps subcommands only here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                nested = _commands(child, f"{prefix} {name}")
                out += nested or [(f"{prefix} {name}", helps.get(name, ""), child)]
    return out


def _option_text(action: argparse.Action) -> str:
    if not action.option_strings:
        shown = action.metavar or action.dest
        return f"{shown} ..." if action.nargs in ("*", "+") else f"[{shown}]" if action.nargs == "?" else str(shown)
    name = max(action.option_strings, key=len)
    if action.nargs == 0:
        return name
    if action.choices:
        return f"{name} {'|'.join(str(c) for c in action.choices)}"
    return f"{name} {action.metavar or action.dest.upper()}"


def synopsis() -> str:
    """The README's command synopsis, rendered from the argument parser (every command, every option, its help)."""
    lines: list[str] = []
    for command, summary, parser in _commands(build_parser(), "hms-recordings"):
        lines.append(f"{command}    {summary}".rstrip())
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            lines.append(f"    {_option_text(action):<32} {action.help or ''}".rstrip())
    return "\n".join(lines) + "\n"


def _tool_help(argv: list[str]) -> int:
    """``call TOOL --help``: the tool's arguments from its input schema (``--capability FILE`` is honoured)."""
    from hms_recordings.cli_help import tool_help

    capability = argv[argv.index("--capability") + 1] if "--capability" in argv[:-1] else None
    try:
        print(tool_help(_load(capability), argv[1]))
    except KeyError as exc:
        _err(f"hms-recordings: unknown_tool: {exc.args[0]}")
        return EXIT_USAGE
    except CapabilityError as exc:
        _err(str(exc))
        return EXIT_USAGE
    return EXIT_OK


def _unwrap_groups(func: Any, args: argparse.Namespace) -> int:
    """Task groups (the embedded emulator, uvicorn) wrap our errors in exception groups: take ours back out."""
    try:
        result: int = func(args)
    except BaseExceptionGroup as group:
        leaves: list[BaseException] = []
        pending: list[BaseException] = [group]
        while pending:
            item = pending.pop()
            if isinstance(item, BaseExceptionGroup):
                pending.extend(item.exceptions)
            else:
                leaves.append(item)
        ours = [leaf for leaf in leaves if isinstance(leaf, HmsRecordingsError)]
        if ours:
            raise ours[0] from None
        raise
    return result


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 3 and argv[0] == "call" and not argv[1].startswith("-") and {"-h", "--help"} & set(argv[2:]):
        return _tool_help(argv)
    parser = build_parser(emulator_options=bool(argv) and argv[0] == "emulator")
    args = parser.parse_args(argv)
    try:
        code: int = _unwrap_groups(args.func, args)
    except BindingError as exc:
        from hms_recordings.server.targets import EMULATOR_HINT, STATEFUL_EMULATOR_HINT

        hints = {"serve": EMULATOR_HINT, "call": STATEFUL_EMULATOR_HINT, "download": STATEFUL_EMULATOR_HINT}
        hint = f" {hints[args.command]}" if args.command in hints else ""
        _err(f"hms-recordings: {exc}.{hint}")
        return EXIT_CONFIG
    except CapabilityError as exc:
        _err(str(exc))
        return EXIT_USAGE if not exc.findings else EXIT_FAILED
    except ConfigError as exc:
        _err(f"hms-recordings: {exc}")
        return EXIT_CONFIG
    except HmsRecordingsError as exc:
        _err(f"hms-recordings: {exc.kind}: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    return code


def _reader_went_away() -> int:
    """``hms-recordings ... | head``: the reader closed the pipe, which is its right, not our failure to report.

    What is still buffered for stdout would fail again when the interpreter flushes it at exit (and print a
    traceback), so stdout is pointed at /dev/null first; the exit code is the shell's for a SIGPIPE (128 + 13)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    sys.exit(main())
