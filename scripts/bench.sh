#!/usr/bin/env bash
# Prints the engine's figures (index build, memory, verdict latency, matrix) for the
# generated 1k- and 10k-pod clusters. Usage: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench engine
