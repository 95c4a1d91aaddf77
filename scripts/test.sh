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

log "system packages"
# tmux drives the real binary in the terminal UI's end-to-end tests; pgrep finds its pid.
need=()
command -v tmux >/dev/null || need+=(tmux)
command -v pgrep >/dev/null || need+=(procps)
# setpriv runs the binary without privileges in the probe tests.
command -v setpriv >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
tmux -V

log "eBPF toolchain"
# The probe tests load the real programs: bpf-linker, nightly rust-src, nftables, iproute2.
bash scripts/install-ebpf.sh
export PATH="$HOME/.cargo/bin:$PATH"

log "format"
cargo fmt --all -- --check

log "lint"
cargo clippy --locked --all-targets -- -D warnings

log "tests"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Snapshots are reviewed by people: a changed or missing one fails here, never gets written.
INSTA_UPDATE=no INSTA_FORCE_PASS=0 cargo test --locked 2>&1 | tee "$out"
# One closing line with the totals of every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "\n%d passed, %d failed\n", p, f }' "$out"

log "peer analyzer corpus"
# A peer analyzer's public test corpus with its expected answers, beside the checkout when the
# project is developed in its shared workspace; users cloning the project do not have it.
peer=../shared/conformance/netpol-analyzer
if [ -x "$peer/check.sh" ]; then
  cargo build --locked --quiet --bin kubectl-netpol_tui
  bin=target/debug/kubectl-netpol_tui
  # AdminNetworkPolicy and BaselineAdminNetworkPolicy cases: every one must agree.
  bash "$peer/check.sh" "$bin" --group anp | tail -1
  # NetworkPolicy cases: three name their policies with '_', which the API server refuses and
  # so do we (file, line and field in the error); every other case must agree.
  peer_out=$(bash "$peer/check.sh" "$bin" || true)
  echo "$peer_out" | tail -1
  unexpected=$(echo "$peer_out" | grep '^FAIL' | grep -v -e 'load-error' || true)
  refused=$(echo "$peer_out" | grep -c '^FAIL.*load-error' || true)
  if [ -n "$unexpected" ] || [ "$refused" -gt 3 ]; then
    echo "$peer_out" | grep '^FAIL' >&2
    exit 1
  fi
else
  echo "skipped: $peer is not beside this checkout"
fi
