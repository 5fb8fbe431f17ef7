#!/usr/bin/env bash
# The benchmark's one command: bench/run.sh [--quick] [other run_all.py flags]
#
# Creates bench/.venv (git-ignored) with the project (editable) and bench/requirements.txt, then runs
# bench/run_all.py, which writes bench/results.json, bench/RESULTS.md and bench/latency.png (raw samples and server
# logs go to bench/out/). About 10 minutes on a 2-core machine; --quick takes about 2-3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=bench/.venv
STAMP="$VENV/.installed"
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
# Reinstall only when the requirements or the project's metadata changed since the last install.
if [[ ! -f "$STAMP" || bench/requirements.txt -nt "$STAMP" || pyproject.toml -nt "$STAMP" ]]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e . -r bench/requirements.txt
    touch "$STAMP"
fi
exec "$VENV/bin/python" bench/run_all.py "$@"
