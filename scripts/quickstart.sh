#!/usr/bin/env bash
# From a fresh machine to a finished search: install what is missing, build, run the
# quickstart example on a local pool of 2 processes, and show its status.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release
rm -rf runs/quickstart
./target/release/hpo run examples/quickstart.toml --processes 2
./target/release/hpo status runs/quickstart
echo "results: runs/quickstart/results.csv"
