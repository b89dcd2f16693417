#!/usr/bin/env bash
# The project's test command (README): offline, on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 WETOK_BENCH_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m pytest -q "$@"
