#!/usr/bin/env bash
# Sourced by demo.sh and test.sh: make (once) and activate the project's virtual environment
# ($WETOK_BENCH_VENV, default .venv) with the package and its test tools installed.
venv="${WETOK_BENCH_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
if ! python -c "import wetok_bench, pytest" 2>/dev/null || [ pyproject.toml -nt "$venv/.wetok-installed" ]; then
    log="$venv/install.log"
    if ! python -m pip install -e ".[test]" >"$log" 2>&1; then
        cat "$log" >&2
        echo "installing wetok-bench failed (log above, also in $log)" >&2
        exit 1
    fi
    touch "$venv/.wetok-installed"
fi
