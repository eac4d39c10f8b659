#!/usr/bin/env bash
# README command 1: install what the demo needs, then run it on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
exec .venv/bin/bordergate demo "$@"
