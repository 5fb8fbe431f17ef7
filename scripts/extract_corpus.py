"""Rebuild ``tests/corpus/files/`` and ``tests/corpus/manifest.json`` from local git mirrors of the public sources.

The corpus is test data: public capability files committed with their source (repository, path, commit, declared
version). This script is how it was made, so that anyone can check a file against its origin or refresh the corpus.
It needs bare git directories of the source repositories (``--mirrors DIR`` holding ``owner+name/repo``); it only
reads them with ``git show`` / ``git ls-tree`` and never runs anything from them.

    python scripts/extract_corpus.py --mirrors /work/.mirror

Selection, deterministic:

- capability files only: YAML (a Jinja skeleton that only becomes YAML once rendered is not one) whose first key is
  ``naftiko:`` or ``ikanos:`` with a version string as its value (the pre-0.5 drafts' ``naftiko:`` mapping declares
  none), at most ``MAX_BYTES`` each;
- a file whose text equals one already taken once its version string is blanked is skipped (the ikanos tags mostly
  bump the version), except that the newest version (``ikanos-main``) is taken whole and every version keeps at
  least ``KEEP_PER_VERSION`` files, so that each official schema is exercised;
- the files a kept file imports or binds from come along, from the same commit;
- provider repositories are sampled evenly over their sorted paths, at their last commit before 2026-06-02 00:00 UTC
  (the other naftiko repositories are taken whole, at the same cutoff).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
CUTOFF = "2026-06-02"
#: The cutoff as git reads it. A bare date would be read as that day at the current time of day, so the commit chosen
#: for a repository that committed on the cutoff day would depend on when the script runs.
CUTOFF_INSTANT = f"{CUTOFF}T00:00:00Z"
KEEP_PER_VERSION = 4
#: Larger files (a few generated provider files reach 1 MB) are left out: the round-trip YAML parse of one would cost
#: seconds in the test suite and add nothing the smaller files of the same generator do not show.
MAX_BYTES = 100_000
#: Files a capability points at (imports, bind files, prompt and resource locations), relative to it.
#: A name may hold spaces and any other character but a quote (the naftiko sandboxes name shared files after the API's
#: title), so it runs to the first extension followed by a quote, a blank or the end of the line.
REFERENCE = re.compile(
    r"""(?:location|from):[ \t]*["']?(?:file:///)?(\.{0,2}/?[^"'\n]*?\.(?:ya?ml|json|md|txt))(?=["'\s]|$)""",
    re.MULTILINE,
)
#: The version on the root key's own line: ``[ \t]``, not ``\s``, which would read the next line's key as a version.
VERSION_LINE = re.compile(r"^(naftiko|ikanos):[ \t]*['\"]?([^'\"\s#]+)", re.MULTILINE)


@dataclass(frozen=True)
class Source:
    name: str  # folder under tests/corpus/files/
    repo: str  # owner/name on GitHub
    ref: str  # a tag, or "cutoff" for the last commit before CUTOFF
    under: str = ""  # only paths below this folder
    limit: int = 0  # 0: every file; otherwise an even sample of this many
    keep_all: bool = False  # take every file even when only its version string is new (the newest version)


SOURCES = (
    Source("naftiko-v0.5", "naftiko/framework", "v0.5", limit=6),
    Source("naftiko-v1.0.0-alpha1", "naftiko/framework", "v1.0.0-alpha1"),
    Source("naftiko-v1.0.0-alpha2", "naftiko/framework", "v1.0.0-alpha2"),
    Source("naftiko-main", "naftiko/framework", "e884353826d097a9d25c0f89eee179fef7a75f09"),
    Source("ikanos-v1.0.0-alpha3", "naftiko/ikanos", "v1.0.0-alpha3"),
    Source("ikanos-v1.0.0-alpha4", "naftiko/ikanos", "v1.0.0-alpha4"),
    Source("ikanos-v1.0.0-beta1", "naftiko/ikanos", "v1.0.0-beta1"),
    Source("ikanos-v1.0.0-beta2", "naftiko/ikanos", "v1.0.0-beta2"),
    Source("ikanos-v1.0.0-beta3", "naftiko/ikanos", "v1.0.0-beta3"),
    Source("ikanos-v1.0.0-beta4", "naftiko/ikanos", "v1.0.0-beta4"),
    Source("ikanos-main", "naftiko/ikanos", "32360e1b4ff0ca3213ddc47cf5424b3ef9f14251", keep_all=True),
    Source("cloudflare", "api-evangelist/cloudflare", "cutoff", "capabilities", 30),
    Source("stripe", "api-evangelist/stripe", "cutoff", "capabilities", 25),
    Source("twilio", "api-evangelist/twilio", "cutoff", "capabilities", 20),
    Source("zoom", "api-evangelist/zoom", "cutoff", "capabilities", 15),
    Source("slack", "api-evangelist/slack", "cutoff", "capabilities", 15),
    Source("github", "api-evangelist/github", "cutoff", "capabilities", 20),
    Source("okta", "api-evangelist/okta", "cutoff", "capabilities", 10),
    Source("shopify-admin", "api-evangelist/shopify-admin", "cutoff", "capabilities"),
    Source("restack", "api-evangelist/restack", "cutoff", "capabilities"),
    Source("whmcs", "api-evangelist/whmcs", "cutoff", "capabilities"),
    Source("xweather", "api-evangelist/xweather", "cutoff", "capabilities"),
    Source("datadog", "api-evangelist/datadog", "cutoff", "capabilities", 15),
    Source("pulumi", "api-evangelist/pulumi", "cutoff", "capabilities", 15),
    Source("spring-boot", "api-evangelist/spring-boot", "cutoff", "capabilities", 15),
    Source("amazon-resource-explorer", "api-evangelist/amazon-resource-explorer", "cutoff", "capabilities", 15),
    Source("buildkite-com", "api-evangelist/buildkite-com", "cutoff", "capabilities", 15),
    Source("amazon-codebuild", "api-evangelist/amazon-codebuild", "cutoff", "capabilities", 15),
    Source("streamlit", "api-evangelist/streamlit", "cutoff", "capabilities", 15),
    Source("sentry-system", "api-evangelist/sentry-system", "cutoff", "capabilities", 15),
    # The naftiko organisation's other repositories with capability files before the cutoff, whole. Left out:
    # naftiko/fleet (its one file is a Backstage Jinja skeleton), naftiko/manage-events and naftiko/notion-sandbox
    # (pre-0.5 drafts: ``naftiko:`` is a mapping, no version), naftiko/shipyard-cloudflare (its files are the
    # framework tutorial's, already taken), the sandboxes with none.
    Source("api-reusability", "naftiko/api-reusability", "cutoff"),
    Source("api-governance", "naftiko/api-governance", "cutoff"),
    Source("manage-health-score", "naftiko/manage-health-score", "cutoff"),
    Source("manage-people", "naftiko/manage-people", "cutoff"),
    Source("polychro", "naftiko/polychro", "cutoff"),
    Source("figma-sandbox", "naftiko/figma-sandbox", "cutoff"),
    Source("google-sandbox", "naftiko/google-sandbox", "cutoff"),
    Source("linkedin-sandbox", "naftiko/linkedin-sandbox", "cutoff"),
    Source("microsoft-365-copilot-sandbox", "naftiko/microsoft-365-copilot-sandbox", "cutoff"),
    Source("microsoft-outlook-sandbox", "naftiko/microsoft-outlook-sandbox", "cutoff"),
    Source("microsoft-teams-sandbox", "naftiko/microsoft-teams-sandbox", "cutoff"),
    Source("nist-cybersecurity-framework-sandbox", "naftiko/nist-cybersecurity-framework-sandbox", "cutoff"),
    Source("slack-sandbox", "naftiko/slack-sandbox", "cutoff"),
    Source("youtube-sandbox", "naftiko/youtube-sandbox", "cutoff"),
)


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True, encoding="utf-8"
    ).stdout


def declared(text: str) -> tuple[str, str] | None:
    match = VERSION_LINE.search(text)
    return (match.group(1), match.group(2)) if match else None


def is_yaml(text: str) -> bool:
    """Whether ``text`` parses as YAML; only the syntax is asked about (duplicate keys are the loader's to report)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = True
    try:
        yaml.load(text)
    except YAMLError:
        return False
    return True


def sample(paths: list[str], limit: int) -> list[str]:
    if not limit or len(paths) <= limit:
        return paths
    step = len(paths) / limit
    return [paths[int(i * step)] for i in range(limit)]


def references(path: str, text: str) -> list[str]:
    """Repository paths of the local files ``text`` (at ``path``) refers to."""
    base = Path(path).parent
    out = []
    for match in REFERENCE.finditer(text):
        target = os.path.normpath(base / match.group(1))
        if not target.startswith(".."):
            out.append(target)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, required=True, help="folder holding owner+name/repo git directories")
    args = parser.parse_args()
    files_dir = CORPUS / "files"
    shutil.rmtree(files_dir, ignore_errors=True)
    seen: set[str] = set()
    per_version: dict[str, int] = {}
    entries: list[dict[str, object]] = []
    support: list[tuple[Source, str, Path, str]] = []
    for source in SOURCES:
        git_dir = args.mirrors / source.repo.replace("/", "+") / "repo"
        ref = source.ref
        if ref == "cutoff":
            ref = git(git_dir, "log", "-1", f"--before={CUTOFF_INSTANT}", "--format=%H").strip()
        commit = git(git_dir, "rev-list", "-1", ref).strip()
        # NUL-separated: git otherwise quotes a path with non-ASCII characters, and the quoted name ends in `"`.
        listed = git(git_dir, "ls-tree", "-r", "-z", "--name-only", commit, *([source.under] if source.under else []))
        candidates = []
        for path in sorted(p for p in listed.split("\0") if p.endswith((".yaml", ".yml"))):
            text = git(git_dir, "show", f"{commit}:{path}")
            version = declared(text[:2000])
            if (
                len(text.encode()) > MAX_BYTES
                or version is None
                or not text.lstrip().startswith(("naftiko:", "ikanos:", "#", "---"))
                or not is_yaml(text)
            ):
                continue
            candidates.append((path, text, version))
        for path in sample([c[0] for c in candidates], source.limit):
            _, text, (root_key, version) = next(c for c in candidates if c[0] == path)
            tag = f"{root_key}-{version}"
            blanked = hashlib.sha256(VERSION_LINE.sub("", text).encode()).hexdigest()
            if blanked in seen and not source.keep_all and per_version.get(tag, 0) >= KEEP_PER_VERSION:
                continue
            seen.add(blanked)
            per_version[tag] = per_version.get(tag, 0) + 1
            target = files_dir / source.name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            support += [(source, commit, git_dir, ref_path) for ref_path in references(path, text)]
            entries.append(
                {
                    "file": str(target.relative_to(CORPUS)),
                    "repository": source.repo,
                    "path": path,
                    "commit": commit,
                    "ref": source.ref,
                    "declared": {"key": root_key, "version": version},
                }
            )
    # What the kept files import or bind from comes along (from the same commit), so that imports resolve; those
    # that are capability files themselves were already taken or are added as corpus files.
    taken = {str(e["file"]) for e in entries}
    for source, commit, git_dir, path in support:
        target = files_dir / source.name / path
        rel = str(target.relative_to(CORPUS))
        if rel in taken:
            continue
        try:
            text = git(git_dir, "show", f"{commit}:{path}")
        except subprocess.CalledProcessError:
            continue  # a reference to a file the repository does not have: the loader reports it
        taken.add(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        version = declared(text[:2000])
        entry: dict[str, object] = {"file": rel, "repository": source.repo, "path": path, "commit": commit}
        entry["ref"] = source.ref
        if version is None:
            entry["role"] = "support"
        else:
            entry["declared"] = {"key": version[0], "version": version[1]}
            tag = f"{version[0]}-{version[1]}"
            per_version[tag] = per_version.get(tag, 0) + 1
        entries.append(entry)
    manifest = {
        "note": "Public capability files, committed as test data with their source; see scripts/extract_corpus.py.",
        "files": entries,
    }
    (CORPUS / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(per_version.items()))
    print(f"{sum(1 for e in entries if 'declared' in e)} capability files: {counts}")


if __name__ == "__main__":
    main()
