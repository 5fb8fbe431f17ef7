"""One build per session: the wheel and sdist, a fresh venv with the wheel alone, the MCPB CLI, the bundle."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clients.harness import NodeTools
from tests.distribution.tooling import BUILD_MCPB, REPO, ok, outside_env, prepare_mcpb_cli, project_version, run


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class Bundle:
    mcpb: Path  # what scripts/build-mcpb wrote
    stage: Path  # the folder it packed


def clean_copy(target: Path) -> Path:
    """The checkout's files as a fresh clone has them (tracked and not ignored), without build leftovers.

    setuptools folds a stale ``*.egg-info/SOURCES.txt`` into the next sdist, so building in the working tree could
    ship a file that MANIFEST.in no longer asks for; a release is built from a clean tree, and so is this one.
    """
    listed = ok(
        run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, env=outside_env())
    )
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of it
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build``: the sdist from a clean copy of the checkout, then the wheel from the sdist (so the sdist
    is proven complete)."""
    if importlib.util.find_spec("build") is None:
        pytest.fail("the `build` package is missing: install the test extra (.venv/bin/pip install -e '.[test]')")
    source = clean_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    ok(run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], cwd=out, env=outside_env()))
    version = project_version()
    wheel, sdist = out / f"hms_recordings-{version}-py3-none-any.whl", out / f"hms_recordings-{version}.tar.gz"
    found = sorted(p.name for p in out.iterdir())
    assert found == sorted([wheel.name, sdist.name]), found
    return Dists(wheel=wheel, sdist=sdist)


@pytest.fixture(scope="session")
def wheel_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding the wheel and its dependencies, nothing from the checkout."""
    root = tmp_path_factory.mktemp("wheel-venv")
    venv = root / "venv"
    env = outside_env()
    ok(run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=env))
    ok(run([str(venv / "bin" / "pip"), "install", "-q", str(dists.wheel)], cwd=root, env=env))
    return venv


@pytest.fixture(scope="session")
def mcpb_cli(tmp_path_factory: pytest.TempPathFactory) -> NodeTools:
    return prepare_mcpb_cli(tmp_path_factory.mktemp("node-home"))


@pytest.fixture(scope="session")
def bundle(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """``scripts/build-mcpb`` run on the session's wheel, writing into a scratch folder instead of dist/."""
    root = tmp_path_factory.mktemp("mcpb")
    stage, out = root / "stage", root / "dist" / "hms-recordings.mcpb"
    command = [sys.executable, str(BUILD_MCPB), "--wheel", str(dists.wheel), "--stage", str(stage), "--out", str(out)]
    printed = ok(run(command, cwd=root, env=outside_env()))
    assert printed.strip() == str(out)
    return Bundle(mcpb=out, stage=stage)
