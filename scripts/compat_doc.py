"""Write ``docs/compatibility.md``: format version x construct x supported, and the corpus figures.

Everything in the page is computed here from the code (the vendored schemas, :mod:`~hms_recordings.capability.versions`,
:mod:`~hms_recordings.capability.ignored`) and from running the loader, strict validation and the conversions over
``tests/corpus/``. ``tests/corpus/test_compatibility_doc.py`` renders it again and fails when the page is stale.

    python scripts/compat_doc.py          # rewrite the page
    python scripts/compat_doc.py --check  # exit 1 when the page is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from hms_recordings.capability.convert import comparable, convert
from hms_recordings.capability.ignored import CONSTRUCTS, ignored_constructs
from hms_recordings.capability.loader import load_capability
from hms_recordings.capability.strict import strip_extensions
from hms_recordings.capability.versions import VERSIONS, FormatVersion, declared_version, normalise, official_schema
from hms_recordings.capability.yamlsource import YamlDoc, read_yaml
from hms_recordings.errors import CapabilityError, Finding
from hms_recordings.runtime.inventory import compile_inventory

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
PAGE = ROOT / "docs" / "compatibility.md"
NOT_MEANT = json.loads((CORPUS / "not_meant_to_serve.json").read_text(encoding="utf-8"))
TARGETS = ("ikanos-1.0.0-beta5", "naftiko-1.0.0-alpha2")

#: (construct, official definition, property, how the runtime reads it: "read" or a construct id of ignored.py).
MATRIX: tuple[tuple[str, str, str, str], ...] = (
    ("consumed HTTP APIs: resources, operations, parameters", "ConsumesHttp", "resources", "read"),
    ("request bodies: JSON", "RequestBodyJson", "data", "read"),
    ("request bodies: text, xml, sparql, form, multipart, raw", "RequestBodyFormUrlEncoded", "data", "read"),
    ("outbound bearer, basic, apikey authentication", "AuthBearer", "token", "read"),
    ("outbound digest authentication", "AuthDigest", "password", "digest.challenge"),
    ("imports of consumed APIs", "ImportedConsumesHttp", "location", "read"),
    ("imports of consumed APIs (`from`)", "ImportEntry", "from", "read"),
    ("binds (environment, file)", "Binding", "keys", "read"),
    ("MCP tools: simple, orchestrated, ref, mock", "McpTool", "call", "read"),
    ("MCP tool hints", "McpToolHints", "readOnly", "read"),
    ("MCP resources and prompts", "McpResource", "uri", "read"),
    ("MCP cache hints `ttlMs` / `cacheScope`", "ExposesMcp", "ttlMs", "mcp.ttlMs"),
    ("orchestration steps: call, lookup", "OperationStepLookup", "index", "read"),
    ("orchestration steps: script", "OperationStepScript", "language", "step.script"),
    ("aggregates (`functions`)", "Aggregate", "functions", "read"),
    ("aggregates (`flows`)", "Aggregate", "flows", "read"),
    ("REST expose", "ExposesRest", "resources", "read"),
    ("REST `forward`", "ForwardConfig", "targetNamespace", "read"),
    ("REST `responses` / `responseBinary`", "ExposedOperation", "responses", "rest-operation.responses"),
    ("skill expose (`skills`)", "ExposesSkill", "skills", "read"),
    ("control expose: port", "ExposesControl", "port", "read"),
    ("control expose: management, observability", "ExposesControl", "observability", "control.observability"),
    ("inbound authentication on exposes", "ExposesMcp", "authentication", "expose.authentication"),
    (
        "binary content (`outputRawFormat: binary`, `maxBinarySize`)",
        "ConsumedHttpOperation",
        "maxBinarySize",
        "operation.maxBinarySize",
    ),
    ("non-JSON responses (`outputRawFormat`)", "ConsumedHttpOperation", "outputRawFormat", "operation.outputRawFormat"),
    ("`tunnel` (OpenZiti)", "ConsumesHttp", "tunnel", "consumes.tunnel"),
    ("`tags` on resources, operations, tools", "McpTool", "tags", "tags"),
    ("names as map keys, `display`, `target`", "StepOutputMapping", "target", "read"),
)


@dataclass
class FileResult:
    file: str
    version: str
    source: str
    served: bool = False
    refusals: list[Finding] = field(default_factory=list)
    official_ok: bool = False
    ignored: list[Any] = field(default_factory=list)
    exact: dict[str, bool] = field(default_factory=dict)
    tools: int = 0  # MCP tools served
    forwards: int = 0  # REST forwards served


def _has(version: FormatVersion, definition: str, prop: str) -> bool:
    node = official_schema(version).get("$defs", {}).get(definition)
    if not isinstance(node, dict):
        return False
    props = dict(node.get("properties", {}))
    for branch in node.get("allOf", ()):
        props.update(branch.get("properties", {}))
    return prop in props


def analyse(
    read: Callable[[str], YamlDoc] | None = None, accepted: Callable[[str], bool | None] | None = None
) -> list[FileResult]:
    """Run the loader, the official schema, ``ignored`` and both conversions over every corpus capability file.
    ``read`` and ``accepted`` (the official schema's verdict) may come from a cache (the test suite has one)."""
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))["files"]
    reader = read or (lambda file: read_yaml(CORPUS / file))
    results = []
    for entry in manifest:
        if "declared" not in entry:
            continue
        doc = reader(entry["file"])
        declared = f"{entry['declared']['key']}-{entry['declared']['version']}"
        result = FileResult(entry["file"], declared, entry["repository"])
        try:
            model = load_capability(doc)
            result.served = True
            inventory = compile_inventory(model)
            result.tools, result.forwards = len(inventory.tools), len(inventory.forwards)
        except CapabilityError as exc:
            model = None
            result.refusals = exc.findings
        version = declared_version(doc.data)[0]
        if accepted is not None:
            result.official_ok = bool(accepted(entry["file"]))
        elif version is not None:
            validator = Draft202012Validator(official_schema(version))
            result.official_ok = validator.is_valid(strip_extensions(doc.data))
        normalised = normalise(doc)
        if not any(f.severity == "error" for f in normalised.findings):
            result.ignored = ignored_constructs(normalised.doc)
        if model is not None:
            for target in TARGETS:
                conversion = convert(doc, target, check=False)
                try:
                    again = load_capability(YamlDoc(conversion.data, doc.file))
                    result.exact[target] = comparable(again) == comparable(model)
                except CapabilityError:
                    result.exact[target] = False
        results.append(result)
    return results


def _cell(version: FormatVersion, definition: str, prop: str, how: str) -> str:
    if not _has(version, definition, prop):
        return "-"
    if how == "read":
        return "yes"
    return CONSTRUCTS[how][0]


def render(results: list[FileResult]) -> str:
    lines = [
        "# Compatibility: format versions, constructs, and the corpus",
        "",
        "Generated by `scripts/compat_doc.py` from the code and from running it over `tests/corpus/` (do not edit by",
        "hand: `tests/corpus/test_compatibility_doc.py` fails when this page is stale).",
        "",
        "## Versions",
        "",
        "Every version is read through one normalisation into the alpha2 shape (`capability/versions.py`);",
        "`validate --strict` checks a file against the official schema of the version it declares",
        "(`capability/schemas/`, sources in `capability/schemas/SOURCES.md`).",
        "",
        "| declared | official schema | read as | `convert --to` |",
        "|---|---|---|---|",
    ]
    for version in VERSIONS:
        shape = "ikanos shape, normalised" if version.ikanos_shape else "as written (alpha2 shape)"
        to = "target" if version.name in TARGETS else ""
        lines.append(f"| `{version.key}: {version.version}` | `{version.schema_file.name}` | {shape} | {to} |")
    lines += [
        "| `naftiko: 0.5` and any other | none | refused: the finding says how to convert it | |",
        "",
        "## Version x construct",
        "",
        "`yes`: read and carried out. `ignored`: read without it, listed by `validate` (by design). `-`: not in that",
        "version. (`defect`, should be carried out and is not, would be listed too: there is none.)",
        "",
        "| construct | " + " | ".join(v.name.replace("1.0.0-", "") for v in VERSIONS) + " |",
        "|---|" + "---|" * len(VERSIONS),
    ]
    for construct, definition, prop, how in MATRIX:
        cells = " | ".join(_cell(v, definition, prop, how) for v in VERSIONS)
        lines.append(f"| {construct} | {cells} |")
    lines += ["", "What `validate` reports as not carried out, by construct id (`capability/ignored.py`):", ""]
    lines += ["| id | status | what happens |", "|---|---|---|"]
    for key, (status, what, _fix) in CONSTRUCTS.items():
        lines.append(f"| `{key}` | {status} | {what} |")

    total = len(results)
    served = [r for r in results if r.served]
    accepted = [r for r in results if r.official_ok]
    accepted_served = [r for r in accepted if r.served]
    unmeant_files = {e["file"]: e for e in NOT_MEANT["files"]}
    unmeant = [r for r in accepted if r.file in unmeant_files]
    meant = [r for r in accepted if r.file not in unmeant_files]
    meant_served = [r for r in meant if r.served]
    lines += [
        "",
        "## Corpus figures",
        "",
        f"- capability files: **{total}** from {len({r.source for r in results})} repositories"
        f" (`tests/corpus/manifest.json`)",
        f"- servable by `validate` (the lenient load succeeds): **{len(served)}**; refused with findings:"
        f" {total - len(served)}; crashes: 0 (a crash fails `test_the_lenient_load_never_crashes_*`)",
        f"- accepted by their version's official schema: **{len(accepted)}**; of those servable: {len(accepted_served)}"
        f" ({_percent(len(accepted_served), len(accepted))})",
        f"- of the accepted, {len(unmeant)} are files their authors did not mean to be served alone (below, with the"
        f" evidence; `tests/corpus/not_meant_to_serve.json`): of the accepted files meant to be served,"
        f" {len(meant_served)} of {len(meant)} serve ({_percent(len(meant_served), len(meant))})",
        f"- served: {sum(r.tools for r in served)} MCP tools and {sum(r.forwards for r in served)} REST forwards, each"
        " called against a recording upstream by `tests/corpus/test_requests.py`, which compares the request with"
        " the one a reference reading of the file declares (`tests/corpus/expected.py`)",
    ]
    for target in TARGETS:
        tried = [r for r in served if target in r.exact]
        exact = [r for r in tried if r.exact[target]]
        lines.append(f"- `convert --to {target}` loads as the same model: {len(exact)} of {len(tried)}")
    lines += ["", "| declared version | files | servable | official schema accepts |", "|---|---|---|---|"]
    by_version = Counter(r.version for r in results)
    for version in sorted(by_version):
        group = [r for r in results if r.version == version]
        ok = sum(r.served for r in group)
        lines.append(f"| `{version}` | {len(group)} | {ok} | {sum(r.official_ok for r in group)} |")
    lines += ["", "| source repository | files | servable |", "|---|---|---|"]
    for source in sorted({r.source for r in results}):
        group = [r for r in results if r.source == source]
        lines.append(f"| `{source}` | {len(group)} | {sum(r.served for r in group)} |")

    constructs = Counter(f.construct for r in results for f in r.ignored)
    lines += ["", "Constructs not carried out, over the corpus:", "", "| id | status | places | files |"]
    lines.append("|---|---|---|---|")
    for key, count in constructs.most_common():
        files = len({r.file for r in results for f in r.ignored if f.construct == key})
        lines.append(f"| `{key}` | {CONSTRUCTS[key][0]} | {count} | {files} |")

    defective = [r for r in results if r.served and any(f.status == "defect" for f in r.ignored)]
    if defective:  # none today; should one appear, it is listed, never hidden
        lines += ["", "## Files served with a known defect, line by line", ""]
        for r in defective:
            defects = [f for f in r.ignored if f.status == "defect"]
            shown = ", ".join(sorted({f"{f.line} (`{f.construct}`)" for f in defects}, key=_line_key))
            lines.append(f"- `{r.file}`: lines {shown}")

    lines += ["", "## Accepted by their schema, not meant to be served alone", ""]
    for r in unmeant:
        entry = unmeant_files[r.file]
        lines.append(f"- `{r.file}`: {entry['reason']} (evidence: {entry['evidence']})")
    lines += ["", "## Files not served, line by line", ""]
    lines += ["The lenient load's findings (the first three of each file); `validate FILE` lists them all.", ""]
    for r in results:
        if r.served:
            continue
        lines.append(f"- `{r.file}` ({r.version}):")
        for finding in r.refusals[:3]:
            lines.append(f"  - line {finding.line}: {_one_line(finding.message)} (fix: {_one_line(finding.fix)})")
        if len(r.refusals) > 3:
            lines.append(f"  - and {len(r.refusals) - 3} more")
    return "\n".join(lines) + "\n"


def _line_key(text: str) -> tuple[int, str]:
    head = text.split(" ", 1)[0]
    return (int(head) if head.isdigit() else 0, text)


def _one_line(text: str) -> str:
    # Findings quote paths of this machine's checkout: keep the page the same wherever it is generated.
    return " ".join(text.replace(str(CORPUS) + "/", "").replace("|", "\\|").split())


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/compatibility.md is stale")
    args = parser.parse_args()
    page = render(analyse())
    if args.check:
        sys.exit(0 if PAGE.read_text(encoding="utf-8") == page else 1)
    PAGE.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    main()
