#!/usr/bin/env bash
# Builds the release archives and the krew manifest for them:
#   OUT/kubectl-netpol_tui-linux-amd64.tar.gz, OUT/kubectl-netpol_tui-linux-arm64.tar.gz
#   (each: the stripped binary and LICENSE), OUT/SHA256SUMS, OUT/netpol-tui.yaml (krew).
# Usage: scripts/release.sh VERSION URL_BASE [OUT]   (OUT defaults to target/dist)
# Needs: the eBPF toolchain (scripts/install-ebpf.sh) for the probe; for arm64, the rustup
# target aarch64-unknown-linux-gnu and the cross C compiler gcc-aarch64-linux-gnu (Debian),
# which this script installs when it may (root with apt-get).
# macOS archives are not built: that needs Apple's SDK and linker, which are not on Linux.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 VERSION URL_BASE [OUT]" >&2
  exit 2
fi
version=$1 base=$2
here=$(cd "$(dirname "$0")/.." && pwd)
out=${3:-$here/target/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"

# The probe's eBPF object is the same for both (bpfel); built once, then given to the other.
cargo build --release --locked
object=$(ls -t target/release/build/netpol-tui-*/out/netpol-probe 2>/dev/null | head -1)
if [ -z "$object" ] || [ ! -s "$object" ]; then
  echo "error: the probe's eBPF object was not built (run scripts/install-ebpf.sh)" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q gcc-aarch64-linux-gnu >/dev/null
  else
    echo "error: aarch64-linux-gnu-gcc is missing (apt-get install gcc-aarch64-linux-gnu)" >&2
    exit 1
  fi
fi
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
NETPOL_PROBE_OBJECT=$object \
  cargo build --release --locked --target aarch64-unknown-linux-gnu

pack() { # binary strip platform
  local stage
  stage=$(mktemp -d)
  cp "$1" "$stage/kubectl-netpol_tui"
  "$2" "$stage/kubectl-netpol_tui"
  cp LICENSE "$stage/"
  tar -C "$stage" --owner=0 --group=0 -czf "$out/kubectl-netpol_tui-$3.tar.gz" kubectl-netpol_tui LICENSE
  rm -rf "$stage"
}
pack target/release/kubectl-netpol_tui strip linux-amd64
pack target/aarch64-unknown-linux-gnu/release/kubectl-netpol_tui aarch64-linux-gnu-strip linux-arm64
(cd "$out" && sha256sum kubectl-netpol_tui-linux-*.tar.gz > SHA256SUMS)
scripts/krew-manifest.sh "$version" "$base" "$out" > "$out/netpol-tui.yaml"
echo "built in $out:"
ls -l "$out"
echo "not built: macOS (darwin amd64/arm64) needs Apple's SDK and linker"
