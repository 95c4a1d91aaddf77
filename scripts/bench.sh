#!/usr/bin/env bash
# Prints the figures quoted in README: the engine (index build, memory, verdict latency,
# matrix) and the terminal UI (frame time, memory, finder latency), on generated clusters.
# and the live cluster against the scripted API server (first snapshot, change latency, memory).
# Usage: scripts/bench.sh [engine|tui|live]   (all when omitted)
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in ${1:-engine tui live}; do
  echo "== $bench"
  cargo bench --locked --bench "$bench"
done
