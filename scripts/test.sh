#!/usr/bin/env bash
# The project's test command (README): sets up .venv if needed, then runs the whole suite
# offline on the CPU. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export HF_HUB_OFFLINE=1 WETOK_BENCH_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m pytest -q "$@"
