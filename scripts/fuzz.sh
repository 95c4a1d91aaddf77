#!/usr/bin/env bash
# Fuzzes the readers of untrusted input with cargo-fuzz (libFuzzer, nightly): the manifest
# loader, the label-selector parser (-l), Calico's selector language, the agent's wire decoder, the recorded-flow readers
# and the theme/context TOML. Each target runs for a fixed time from a copy of its saved corpus
# (tests/fuzz/corpus), on FUZZ_JOBS processes (default 2); the script prints executions and
# crashes per target and exits 1 if any target crashed (the inputs are kept under
# target/fuzz/artifacts). No sanitizer: the code is safe Rust, and what is looked for is a
# panic, a hang (10 s per input) or memory beyond 2 GB.
#
# Usage: scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...]
#   FUZZ_SAVE=1 merges new coverage back into tests/fuzz/corpus (minimized).
# Not part of CI: tests/fuzz_corpus.rs runs every saved input once there.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(manifests selector calico wire flows theme)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz build --fuzz-dir tests/fuzz -O -s none
work=target/fuzz
crashed=0
printf '%-10s %14s %10s %8s %s\n' target executions exec/s crashes corpus
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  cp -n tests/fuzz/corpus/"$t"/* "$work/corpus/$t/" 2>/dev/null || true
  log="$work/$t.log"
  touch "$log.start"
  set +e
  cargo +nightly fuzz run --fuzz-dir tests/fuzz -O -s none "$t" "$work/corpus/$t" -- \
    -max_total_time="$secs" -fork="${FUZZ_JOBS:-2}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" >"$log" 2>&1
  status=$?
  set -e
  # Fork mode reports `#RUNS: cov: ...` lines; the last one holds the total.
  runs=$(grep -oE '^#[0-9]+' "$log" | tr -d '#' | tail -1)
  runs=${runs:-$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)}
  rate=$(( ${runs:-0} / secs ))
  # Only what this run found: older artifacts stay for inspection but are not counted again.
  found=$(find "$work/artifacts/$t" -type f -newer "$log.start" | wc -l)
  size=$(find "$work/corpus/$t" -type f | wc -l)
  printf '%-10s %14s %10s %8s %s\n' "$t" "${runs:-?}" "${rate:-?}" "$found" "$size"
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    crashed=1
    echo "  $t: see $log and $work/artifacts/$t" >&2
  fi
  if [ "${FUZZ_SAVE:-0}" = 1 ]; then
    cargo +nightly fuzz cmin --fuzz-dir tests/fuzz -O -s none "$t" "$work/corpus/$t" >/dev/null 2>&1 || true
    cp -n "$work/corpus/$t"/* tests/fuzz/corpus/"$t"/ 2>/dev/null || true
  fi
done
exit "$crashed"
