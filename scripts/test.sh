#!/usr/bin/env bash
# README command 2: install what the tests need (venv, packages, Debian's redis-server), run them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Plain `pytest` skips the slow tests for a quick edit loop; this command runs every test.
exec .venv/bin/python -m pytest -m "slow or not slow" "$@"
