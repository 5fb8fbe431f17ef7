"""The tool list's cost to a model, side by side: this tree's built-in capability against the same file at a git
ref (default ``main``) and the published seed (examples/recordings.yaml), in tokens estimated as characters / 4 of
the ``tools/list`` result JSON (compact, as the server sends it, and spaced, as json.dumps writes by default).

    .venv/bin/python bench/tool_list_tokens.py [--ref main]

The budget (issue 18) is 3,500 tokens for the whole built-in list; tests/builtin/test_agent_tasks.py checks it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hms_recordings.capability.loader import BUILTIN_CAPABILITY, load_file
from hms_recordings.faces.mcp import describe_tools
from hms_recordings.runtime.inventory import compile_inventory

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 3_500


def tools_of(path: Path) -> list[dict[str, Any]]:
    return describe_tools(list(compile_inventory(load_file(path)).tools.values()))


def tokens(tools: list[dict[str, Any]], compact: bool = True) -> float:
    return len(json.dumps({"tools": tools}, separators=(",", ":") if compact else None, ensure_ascii=False)) / 4


def at_ref(ref: str) -> list[dict[str, Any]] | None:
    relative = BUILTIN_CAPABILITY.resolve().relative_to(ROOT)
    shown = subprocess.run(["git", "show", f"{ref}:{relative}"], cwd=ROOT, capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "recordings.yaml"
        copy.write_text(shown.stdout, encoding="utf-8")
        return tools_of(copy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ref", default="main", help="git ref of the built-in to compare with (main)")
    args = parser.parse_args()
    contenders = {"this tree": tools_of(BUILTIN_CAPABILITY), f"built-in at {args.ref}": at_ref(args.ref)}
    contenders["seed (examples/recordings.yaml)"] = tools_of(ROOT / "examples" / "recordings.yaml")
    print(f"{'capability':<34} {'tools':>5} {'tokens':>8} {'spaced':>8} {'per tool':>9}")
    for name, tools in contenders.items():
        if tools is None:
            print(f"{name:<34} (not found)")
            continue
        compact, spaced, each = tokens(tools), tokens(tools, False), tokens(tools) / len(tools)
        print(f"{name:<34} {len(tools):>5} {compact:>8.0f} {spaced:>8.0f} {each:>9.0f}")
    ours, before = contenders["this tree"], contenders[f"built-in at {args.ref}"]
    assert ours is not None
    print(f"\nbudget {BUDGET}: this tree uses {tokens(ours, False) / BUDGET:.2f} of it (spaced form)")
    if before is not None:
        print(f"this tree / {args.ref}: {tokens(ours) / tokens(before):.2f} (compact)")
    print("\nper tool (this tree, compact):")
    for tool in ours:
        print(f"  {tool['name']:<34} {len(json.dumps(tool, separators=(',', ':'))) / 4:>6.0f}")


if __name__ == "__main__":
    main()
