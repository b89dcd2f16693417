#!/usr/bin/env bash
# The demo (README): sets up .venv if needed, then runs suites/demo.yaml on the bundled photos
# and prints the results table. TAEF2's weights are fetched when there is network; offline, point
# WETOK_BENCH_WEIGHTS at a folder holding taef2_encoder.pth and taef2_decoder.pth.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
if [ -z "${WETOK_BENCH_WEIGHTS:-}" ] && [ -f ../shared/weights/taef2_encoder.pth ]; then
    export WETOK_BENCH_WEIGHTS="$(cd ../shared/weights && pwd)"
fi
wetok-bench run suites/demo.yaml "$@"
wetok-bench report "${WETOK_BENCH_RESULTS:-results}/demo" --out reports/demo
