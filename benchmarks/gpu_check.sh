#!/usr/bin/env bash
# GPU readiness check (see benchmarks/gpu_check.py): identity, SD-VAE-sized and WeTok-f16-sized jobs on
# 2,000 images at 256, the official-shape loop, and a 2-GPU torchrun when there are two GPUs.
#   bash benchmarks/gpu_check.sh                 # one H200: under 8 minutes
#   bash benchmarks/gpu_check.sh --smoke         # CPU, 8 images, narrow tokenizers: the code path only
# Extra arguments go to gpu_check.py (--images N, --batch-size B, --workers W, --precision bf16, --json PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
export HF_HUB_OFFLINE=1 WETOK_BENCH_OFFLINE=1
# 470 s on a GPU (the check must fit in 8 minutes; figures are written after every part), 15 min for --smoke
LIMIT=470
for arg in "$@"; do [ "$arg" = "--smoke" ] && LIMIT=900; done
exec timeout "$LIMIT" "$PY" benchmarks/gpu_check.py "$@"
