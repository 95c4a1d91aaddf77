#!/usr/bin/env bash
# Runs every check the project has, on a fresh machine too: installs what is missing first.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "toolchain"
command -v cargo >/dev/null || { echo "cargo is required (rustup.rs)" >&2; exit 1; }
if command -v rustup >/dev/null; then
  cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
  cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
fi
cargo --version

log "format"
cargo fmt --all -- --check

log "lint"
cargo clippy --locked --all-targets -- -D warnings

log "tests"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test --locked 2>&1 | tee "$out"
# One closing line with the totals of every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "\n%d passed, %d failed\n", p, f }' "$out"
