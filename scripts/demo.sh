#!/usr/bin/env bash
# The demo (README): sets up .venv if needed, then runs suites/demo.yaml on the bundled photos,
# prints the results table and writes the report (reports/demo, or $WETOK_BENCH_REPORT), also
# when a job failed: the report shows the failure, and the script still exits with the run's
# non-zero status. Where Chromium is installed, the report is opened headless and checked (every
# image decodes, no figure is blank in a screenshot). TAEF2's weights are fetched when there is
# network; offline, point WETOK_BENCH_WEIGHTS at a folder holding taef2_encoder.pth and
# taef2_decoder.pth.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
if [ -z "${WETOK_BENCH_WEIGHTS:-}" ] && [ -f ../shared/weights/taef2_encoder.pth ]; then
    export WETOK_BENCH_WEIGHTS="$(cd ../shared/weights && pwd)"
fi
results="${WETOK_BENCH_RESULTS:-results}/demo"
report="${WETOK_BENCH_REPORT:-reports/demo}"
status=0
wetok-bench run suites/demo.yaml "$@" || status=$?
if [ -d "$results" ]; then
    if wetok-bench report "$results" --out "$report"; then
        if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
            python -m wetok_bench.report.render_check "$report/index.html" || status=$?
        fi
    else
        code=$?
        [ "$status" -ne 0 ] || status=$code
    fi
fi
exit "$status"
