#!/usr/bin/env bash
# Installs what the eBPF probe and the lab need, on a fresh machine too; does nothing when
# everything is there. Pinned: bpf-linker 0.13.0 built against LLVM 22 (its LLVM major must be
# at least the nightly rustc's), nightly rust-src for building the kernel crate.
# Usage: scripts/install-ebpf.sh
set -euo pipefail

sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
pkgs=()
command -v nft >/dev/null || pkgs+=(nftables)
command -v ip >/dev/null || pkgs+=(iproute2)
command -v iperf3 >/dev/null || pkgs+=(iperf3)
[ -x /usr/lib/llvm-22/bin/llvm-config ] || pkgs+=(llvm-22-dev libpolly-22-dev)
dpkg -s libzstd-dev zlib1g-dev libxml2-dev >/dev/null 2>&1 || pkgs+=(libzstd-dev zlib1g-dev libxml2-dev)
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "installing: ${pkgs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component list --toolchain nightly --installed | grep -q '^rust-src' \
  || rustup component add rust-src --toolchain nightly

want="bpf-linker 0.13.0"
if ! bpf-linker --version 2>/dev/null | grep -q "0.13.0"; then
  echo "installing $want (LLVM 22)"
  LLVM_PREFIX=/usr/lib/llvm-22 LLVM_SYS_221_PREFIX=/usr/lib/llvm-22 PATH=/usr/lib/llvm-22/bin:$PATH \
    cargo install --locked bpf-linker --version 0.13.0 --no-default-features --features llvm-22
fi
bpf-linker --version
nft --version
