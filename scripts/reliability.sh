#!/usr/bin/env bash
# Regenerate docs/reliability.md: installs what the tests need, runs every fault, hostile-input and
# security case (tests marked `reliability`) and the load benchmark. Arguments go to
# benchmarks/reliability.py (e.g. --load-duration 60, --skip-load).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python benchmarks/reliability.py "$@"
