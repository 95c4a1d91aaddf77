#!/usr/bin/env bash
# Prints the figures quoted in README: the engine (index build, memory, verdict latency,
# matrix) and the terminal UI (frame time, memory, finder latency), on generated clusters.
# Usage: scripts/bench.sh [engine|tui]   (both when omitted)
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in ${1:-engine tui}; do
  echo "== $bench"
  cargo bench --locked --bench "$bench"
done
