"""Capability files built to exhaust the reader: nested aliases ("billion laughs") and very deep nesting.

``validate`` and ``serve`` must refuse both with a finding and their documented exit codes (``validate``: 2, the file
cannot be read as a capability; ``serve``: 1, a capability error), in bounded time and memory: the limits are
checked on the parser's events, before any Python object is built. Subprocess tests measure the real command.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hms_recordings.capability.loader import BUILTIN_CAPABILITY
from hms_recordings.capability.yamlsource import YAML_LIMITS, YamlLimits, parse_yaml
from hms_recordings.errors import CapabilityError

SEED = Path(BUILTIN_CAPABILITY).read_text(encoding="utf-8")


def laughs(levels: int, width: int = 9) -> str:
    """``levels`` anchors, each a list of ``width`` aliases of the one before: ``width ** levels`` values expanded."""
    lines = ["capability:", "  l0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"  l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def deep_flow(depth: int) -> str:
    return "capability:\n  deep: " + "[" * depth + "]" * depth + "\n"


def deep_block(depth: int) -> str:
    return "capability:\n" + "".join("  " * (i + 1) + "k:\n" for i in range(depth)) + "  " * (depth + 1) + "v\n"


#: Runs the command as its child and prints the child's peak RSS: a child forked straight from a large test process
#: would count the parent's pages in its own peak (Linux counts what it had before ``exec``).
_MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
sys.stderr.write("\\nPEAK_KIB=%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def run_cli(*argv: str) -> tuple[int, str, float, int]:
    """Exit code, output, seconds and that command's own peak RSS in MiB, for one real ``hms-recordings`` run
    (killed after 60 s)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "hms_recordings.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - started
    text, _, peak = (done.stdout + done.stderr).rpartition("\nPEAK_KIB=")
    return done.returncode, text, took, int(peak.strip()) // 1024


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("laughs.yaml", laughs(12), "more than 200,000 values once its aliases are expanded"),
        ("flow.yaml", deep_flow(3000), "nested deeper than 64 levels"),
        ("block.yaml", deep_block(3000), "nested deeper than 64 levels"),
    ],
)
def test_validate_and_serve_refuse_alias_bombs_and_deep_nesting_quickly_with_a_finding(
    tmp_path: Path, name: str, text: str, says: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, output, took, peak = run_cli("validate", str(path))
    assert code == 2 and says in output and "Traceback" not in output, output
    assert took < 20 and peak < 200, (took, peak)
    code, output, took, peak = run_cli("serve", str(path), "--emulator", "--port", "0")
    assert code == 1 and says in output and "Traceback" not in output, output
    assert took < 20 and peak < 200, (took, peak)


def test_the_alias_bomb_is_a_small_file_of_a_huge_expansion() -> None:
    assert len(laughs(12)) < 1_000 and 9**12 > 280_000_000_000  # under a kilobyte, 2.8e11 values expanded


def test_the_finding_names_the_line_where_the_limit_was_crossed() -> None:
    with pytest.raises(CapabilityError) as caught:
        parse_yaml(laughs(8), "x.yaml")  # l5 (line 7) is the first level whose expansion passes 200,000
    [finding] = caught.value.findings
    assert finding.line == 7 and "aliases" in finding.message


def test_the_built_in_capability_is_well_within_the_limits() -> None:
    doc = parse_yaml(SEED, "recordings.yaml", limits=YamlLimits(max_depth=20, max_nodes=5_000))
    assert doc.data["naftiko"]


def test_aliases_within_the_limits_are_expanded_as_before() -> None:
    doc = parse_yaml("a: &x [1, 2]\nb: *x\nc: {k: *x}\n")
    assert doc.data == {"a": [1, 2], "b": [1, 2], "c": {"k": [1, 2]}}


# -- property-based: any nesting of anchors and aliases ---------------------------------------------------------


@st.composite
def alias_documents(draw: st.DrawFn) -> tuple[str, int, int]:
    """A YAML document of anchored lists that alias earlier anchors; with its expanded size and depth."""
    levels = draw(st.integers(1, 8))
    sizes: list[tuple[int, int]] = []  # values, height of each anchored list, counted independently
    lines = []
    for i in range(levels):
        items: list[str] = []
        values, height = 1, 1
        for _ in range(draw(st.integers(0, 6))):
            if sizes and draw(st.booleans()):
                j = draw(st.integers(0, len(sizes) - 1))
                items.append(f"*a{j}")
                values += sizes[j][0]
                height = max(height, sizes[j][1] + 1)
            else:
                items.append(draw(st.sampled_from(["1", "x", "true", "{k: v}"])))
                values += 3 if items[-1] == "{k: v}" else 1
                height = max(height, 2 if items[-1] == "{k: v}" else 1)
        sizes.append((values, height))
        lines.append(f"l{i}: &a{i} [{', '.join(items)}]")
    total = 1 + sum(1 + v for v, _h in sizes)  # the root, each key and each list
    depth = 1 + max(h for _v, h in sizes)
    return "\n".join(lines) + "\n", total, depth


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=alias_documents(), max_nodes=st.integers(5, 3_000), max_depth=st.integers(2, 12))
def test_any_alias_document_is_refused_exactly_when_its_expansion_is_over_a_limit(
    doc: tuple[str, int, int], max_nodes: int, max_depth: int
) -> None:
    text, total, depth = doc
    over = total > max_nodes or depth > max_depth
    limits = YamlLimits(max_depth=max_depth, max_nodes=max_nodes)
    if over:
        with pytest.raises(CapabilityError) as caught:
            parse_yaml(text, limits=limits)
        assert caught.value.findings and caught.value.findings[0].line >= 1
    else:
        assert isinstance(parse_yaml(text, limits=limits).data, dict)


@pytest.mark.parametrize("block", [True, False], ids=["block style", "flow style"])
def test_every_depth_is_refused_exactly_above_the_limit_and_never_crashes(block: bool) -> None:
    for depth in range(1, YAML_LIMITS.max_depth + 40):
        text = deep_block(depth) if block else deep_flow(depth)
        # The root mapping, then `capability`'s mapping (block style: the first `k:`), then the nesting.
        nested = depth + 1 if block else depth + 2
        try:
            parse_yaml(text)
            refused = False
        except CapabilityError:
            refused = True
        assert refused == (nested > YAML_LIMITS.max_depth), depth
