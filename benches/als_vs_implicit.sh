#!/usr/bin/env bash
# ALS fit time against Python `implicit` on the same synthetic Ta-Feng-shaped matrix.
# Installs implicit + scipy into a venv under target/ (never a crate dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q implicit scipy numpy
cargo build --release --example als_bench
# implicit runs its own threads; a threaded BLAS under it would oversubscribe the 2 cores.
OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "$venv/bin/python" benches/als_vs_implicit.py "${1:-target/als-bench}"
