"""The ``import openapi`` and ``export openapi`` commands (registered in :mod:`hms_recordings.cli`).

``import openapi SPEC`` writes the capability of an OpenAPI 3.0/3.1 document (``-o FILE``, else stdout) and prints
each thing it left out or guessed on stderr; a document it cannot import writes nothing and exits 2.
``export openapi FILE`` writes the OpenAPI 3.1 document of the capability's REST face (as ``serve`` publishes it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hms_recordings.errors import CapabilityError

__all__ = ["cmd_export_openapi", "cmd_import_openapi"]


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def cmd_import_openapi(args: argparse.Namespace) -> int:
    from hms_recordings.capability.openapi_import import MAX_SPEC_BYTES, import_openapi, read_openapi

    path = Path(args.spec)
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:  # refused before reading: the limit bounds memory, not only the parse
            raise CapabilityError(
                f"{path} is {size:,} bytes, over the limit of {MAX_SPEC_BYTES:,}; nothing was imported"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CapabilityError(f"cannot read {path}: {exc.__class__.__name__}: {exc}") from None
    result = import_openapi(read_openapi(text, str(path)), namespace=args.namespace)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    _write(result.text, args.output)
    return 0


def cmd_export_openapi(args: argparse.Namespace) -> int:
    from hms_recordings.capability.loader import load_file
    from hms_recordings.faces.openapi_export import export_openapi

    result = export_openapi(load_file(args.file))
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    _write(json.dumps(result.document, indent=2, ensure_ascii=False) + "\n", args.output)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``import openapi`` and ``export openapi`` under the top-level subcommands."""
    imp = sub.add_parser("import", help="write a capability file from another description")
    imp_sub = imp.add_subparsers(dest="import_command", required=True)
    openapi_in = imp_sub.add_parser("openapi", help="an OpenAPI 3.0/3.1 document to a capability (one tool each)")
    openapi_in.add_argument("spec", metavar="SPEC", help="the OpenAPI document, JSON or YAML")
    openapi_in.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    openapi_in.add_argument(
        "--namespace", metavar="NS", default=None, help="the consumed API's namespace (default: from info.title)"
    )
    openapi_in.set_defaults(func=cmd_import_openapi)

    exp = sub.add_parser("export", help="write another description of a capability")
    exp_sub = exp.add_subparsers(dest="export_command", required=True)
    openapi_out = exp_sub.add_parser("openapi", help="the OpenAPI 3.1 document of a capability's REST face")
    openapi_out.add_argument("file", metavar="CAPABILITY_FILE", help="the capability file")
    openapi_out.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    openapi_out.set_defaults(func=cmd_export_openapi)
