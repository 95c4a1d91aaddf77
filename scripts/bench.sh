#!/usr/bin/env bash
# Prints the figures quoted in README: the engine (index build, memory, verdict latency,
# matrix) and the terminal UI (frame time, memory, finder latency), on generated clusters.
# the live cluster against the scripted API server (first snapshot, change latency, memory),
# audit mode (a staged default-deny: declared-reachability diff, recorded flows judged), and
# the command line on 10k and 30k pods of manifests (load, matrix in every form, effective -A),
# and ten scripted agents streaming 200k flows/s into the UI (lag, losses, frames, memory).
# The node probe has a script of its own (root, a lab, iperf3): scripts/bench-probe.sh.
# Usage: scripts/bench.sh [engine|tui|live|audit|cli|agents|probe]   (all but probe when omitted)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = probe ]; then
  exec bash scripts/bench-probe.sh
fi
for bench in ${1:-engine tui live audit cli agents}; do
  echo "== $bench"
  cargo bench --locked --bench "$bench"
done
