#!/usr/bin/env bash
# The test command: install what is needed, then lint (ruff), type-check (mypy on src/)
# and run the whole test suite including the slow real-data tests and the doctests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev
if [ -z "${EQUIRESTORE_DATA:-}" ] && [ -d ../shared/data ]; then
  export EQUIRESTORE_DATA="$(cd ../shared/data && pwd)"
fi
echo "[test] ruff"
.venv/bin/ruff check src tests benchmarks paper
.venv/bin/ruff format --check src tests benchmarks paper
echo "[test] mypy src"
.venv/bin/mypy src
echo "[test] pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider --doctest-modules src tests paper "$@"
