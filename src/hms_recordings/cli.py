"""The ``hms-recordings`` command: a thin edge that builds configuration, calls the library, maps errors to exit codes.

Exit codes: 0 success; 1 the tool or check failed (an error result, an invalid file); 2 usage error or unreadable file;
3 configuration refused (missing credentials, unsafe address).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from hms_recordings import __version__
from hms_recordings.errors import BindingError, CapabilityError, ConfigError, HmsRecordingsError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _load(path: str | None) -> Any:
    from hms_recordings.capability.loader import load_file

    return load_file(path)


# ------------------------------------------------------------------------------------------------------------ serve


def cmd_serve(args: argparse.Namespace) -> int:
    from hms_recordings.config import ServeConfig
    from hms_recordings.serve import run_server

    if len(args.files) > 1:
        from hms_recordings.multi import serve_many

        return serve_many(args)
    capability = _load(args.files[0] if args.files else None)
    config = ServeConfig.build(capability, flags=vars(args))
    anyio.run(run_server, capability, config)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ tools


def cmd_tools(args: argparse.Namespace) -> int:
    from hms_recordings.faces.mcp import describe_tools
    from hms_recordings.runtime.engine import Engine, RuntimeSettings

    capability = _load(args.capability)
    # Listing tools needs no credentials: bind every variable to a placeholder so nothing is required.
    env = {key: "unset" for bind in capability.binds for key in bind.keys.values()}
    engine = Engine(
        capability,
        RuntimeSettings(env=env, read_only=args.read_only, tools=tuple(args.tools.split(",")) if args.tools else None),
    )
    surface = describe_tools(engine)
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


def _parse_args(pairs: list[str], raw_json: str | None) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if raw_json:
        try:
            loaded = json.loads(raw_json)
        except ValueError as exc:
            raise ConfigError(f"--args-json is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError("--args-json must be a JSON object")
        arguments.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--arg {pair!r} must look like NAME=VALUE")
        try:
            # Numbers, booleans, objects and arrays are read as JSON; anything else is a string.
            parsed = json.loads(value)
            arguments[name] = parsed if not isinstance(parsed, str) else value
        except ValueError:
            arguments[name] = value
    return arguments


class _ProgressBar:
    def __init__(self) -> None:
        self.shown = False

    async def __call__(self, done: float, total: float | None, message: str | None) -> None:
        width = 30
        if total:
            filled = int(width * min(done / total, 1.0))
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {100 * min(done / total, 1.0):3.0f}%"
        else:
            bar = f"[{done:g}]"
        end = "\r" if sys.stderr.isatty() else "\n"
        print(f"{bar} {message or ''}".ljust(width + 40), end=end, file=sys.stderr, flush=True)
        self.shown = True


def cmd_call(args: argparse.Namespace) -> int:
    from hms_recordings.config import ServeConfig, parse_upstreams
    from hms_recordings.targets import open_engine

    capability = _load(args.capability)
    arguments = _parse_args(args.arg or [], args.args_json)
    upstreams = parse_upstreams(args.upstream)
    if args.emulator and upstreams:
        raise ConfigError("--emulator and --upstream both choose the upstream; pass one of them")
    bar = _ProgressBar()
    tuning = ServeConfig.upstream_only()  # the same HMS_RECORDINGS_RETRY_*/TIMEOUT_* settings as `serve`

    async def run() -> Any:
        async with open_engine(
            capability,
            read_only=args.read_only,
            upstreams=upstreams,
            emulator="inprocess" if args.emulator else None,
            retry=tuning.retry,
            timeouts=tuning.timeouts,
            max_concurrency=tuning.max_concurrency,
        ) as engine:
            return await engine.call(args.tool, arguments, progress=bar)

    outcome = anyio.run(run)
    if bar.shown and sys.stderr.isatty():
        print(file=sys.stderr)
    if outcome.error is not None:
        _err(f"{outcome.error.kind}: {outcome.error.message}")
        return EXIT_USAGE if outcome.error.kind in ("invalid_arguments", "unknown_tool") else EXIT_FAILED
    print(json.dumps(outcome.data, ensure_ascii=False, indent=2, default=str))  # for a human reader: indented
    for note in outcome.notes:
        _err(note)
    return EXIT_OK


# --------------------------------------------------------------------------------------------------------- validate


def cmd_validate(args: argparse.Namespace) -> int:
    from hms_recordings.capability.loader import lenient_findings
    from hms_recordings.capability.validation import validate_file

    report = validate_file(args.file, strict=args.strict, lenient_check=lenient_findings)
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

    path = export_skill(_load(args.capability), args.dir)
    print(path)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ parser


def build_parser(*, emulator_options: bool = True) -> argparse.ArgumentParser:
    """``emulator_options=False`` skips importing the emulator, which other commands do not need (cold start)."""
    parser = argparse.ArgumentParser(prog="hms-recordings", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"hms-recordings {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve capability files over MCP (and REST where declared)")
    serve.add_argument("files", nargs="*", metavar="CAPABILITY_FILE", help="default: the built-in 100ms recordings")
    serve.add_argument("--transport", choices=["http", "stdio"], default=None)
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--rest-port", type=int, default=None)
    serve.add_argument("--emulator", action="store_true", help="start the embedded 100ms emulator and use it upstream")
    serve.add_argument("--upstream", action="append", metavar="NAMESPACE=URL", help="override a consumed API's baseUri")
    serve.add_argument("--read-only", action="store_true", default=None, help="serve only read-only tools")
    serve.add_argument("--tools", default=None, metavar="NAME,NAME", help="serve only these tools")
    serve.add_argument("--insecure", action="store_true", help="allow a non-loopback address without an auth token")
    serve.add_argument("--stateless", action="store_true", help="Streamable HTTP without sessions (for load balancers)")
    serve.add_argument("--json-response", action="store_true", help="answer with JSON instead of SSE streams")
    serve.add_argument("--single-port", action="store_true", help="with several files: serve all on one port")
    serve.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument("--json-logs", action="store_true", help="one JSON object per log line")
    serve.set_defaults(func=cmd_serve)

    tools = sub.add_parser("tools", help="show the tool surface")
    tools.add_argument("capability", nargs="?", metavar="CAPABILITY_FILE")
    tools.add_argument("--json", action="store_true")
    tools.add_argument("--read-only", action="store_true")
    tools.add_argument("--tools", default=None)
    tools.set_defaults(func=cmd_tools)

    call = sub.add_parser("call", help="call one tool and print its result")
    call.add_argument("tool")
    call.add_argument("--arg", action="append", metavar="NAME=VALUE")
    call.add_argument("--args-json", metavar="JSON")
    call.add_argument("--capability", metavar="FILE")
    call.add_argument("--emulator", action="store_true", help="against a fresh in-process emulator")
    call.add_argument("--upstream", action="append", metavar="NAMESPACE=URL")
    call.add_argument("--read-only", action="store_true")
    call.set_defaults(func=cmd_call)

    validate = sub.add_parser("validate", help="check a capability file")
    validate.add_argument("file")
    validate.add_argument("--strict", action="store_true", help="also report every deviation from alpha2")
    validate.set_defaults(func=cmd_validate)

    convert = sub.add_parser("convert", help="rewrite a capability file in another format version")
    convert.add_argument("file")
    convert.add_argument("--to", required=True, choices=["ikanos-1.0.0-beta5", "naftiko-1.0.0-alpha2"])
    convert.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    convert.set_defaults(func=cmd_convert)

    token = sub.add_parser("token", help="print a management token minted from HMS_ACCESS_KEY/HMS_APP_SECRET")
    token.add_argument("--valid-for", type=int, default=86_400, metavar="SECONDS")
    token.set_defaults(func=cmd_token)

    emulator = sub.add_parser("emulator", help="run the local 100ms recordings API emulator")
    if emulator_options:
        from hms_recordings.emulator import add_cli_arguments

        add_cli_arguments(emulator)
    emulator.set_defaults(func=cmd_emulator)

    skill = sub.add_parser("skill", help="Agent Skill export")
    skill_sub = skill.add_subparsers(dest="skill_command", required=True)
    export = skill_sub.add_parser("export", help="write an Agent Skills folder")
    export.add_argument("dir")
    export.add_argument("--capability", metavar="FILE")
    export.set_defaults(func=cmd_skill_export)
    return parser


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
    parser = build_parser(emulator_options=bool(argv) and argv[0] == "emulator")
    args = parser.parse_args(argv)
    try:
        code: int = _unwrap_groups(args.func, args)
    except BindingError as exc:
        hint = (
            " Or pass --emulator to try everything against the embedded 100ms emulator."
            if args.command in ("serve", "call")
            else ""
        )
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
    return code


if __name__ == "__main__":
    sys.exit(main())
