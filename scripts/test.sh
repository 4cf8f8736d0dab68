#!/usr/bin/env bash
# Run the test suite (sets up .venv first if needed). Extra arguments go to pytest. The suite runs on
# $IMUSIM_TEST_WORKERS processes (default: 2, pytest-xdist; 0 runs it in this process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
workers=${IMUSIM_TEST_WORKERS:-2}
if [ "$workers" = "0" ]; then
  exec .venv/bin/python -m pytest -q "$@"
fi
exec .venv/bin/python -m pytest -q -n "$workers" --dist worksteal --durations=25 "$@"
