#!/usr/bin/env bash
# Prints the figures quoted in README: the engine (index build, memory, verdict latency,
# matrix) and the terminal UI (frame time, memory, finder latency), on generated clusters.
# the live cluster against the scripted API server (first snapshot, change latency, memory),
# and audit mode (a staged default-deny: declared-reachability diff, recorded flows judged).
# The node probe has a script of its own (root, a lab, iperf3): scripts/bench-probe.sh.
# Usage: scripts/bench.sh [engine|tui|live|audit|probe]   (engine, tui, live and audit when omitted)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = probe ]; then
  exec bash scripts/bench-probe.sh
fi
for bench in ${1:-engine tui live audit}; do
  echo "== $bench"
  cargo bench --locked --bench "$bench"
done
