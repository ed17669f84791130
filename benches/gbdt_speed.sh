#!/usr/bin/env bash
# GBDT-SPEED wrapper: installs the comparison packages (never crate deps), builds the
# release trainer and runs benches/gbdt_speed.py. Usage: benches/gbdt_speed.sh [py args...]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import lightgbm, xgboost, sklearn, pandas" 2>/dev/null \
  || python3 -m pip install --quiet lightgbm xgboost scikit-learn pandas
cargo build --release --bin propensity-train
exec python3 benches/gbdt_speed.py --bin target/release/propensity-train "$@"
