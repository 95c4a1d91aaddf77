#!/usr/bin/env bash
# Packs the binary for krew (kubectl's plugin manager) and prints the plugin manifest for it:
# the archive's name, its sha256 and where it will be downloaded from.
# Usage: scripts/krew-manifest.sh BINARY VERSION URL_BASE [OS ARCH] > netpol-tui.yaml
#   BINARY    the built kubectl-netpol_tui (cargo build --release)
#   VERSION   v0.1.0
#   URL_BASE  where the archive is published, e.g. https://example.org/releases/v0.1.0
#   OS ARCH   the platform of BINARY (default: linux amd64)
# The archive kubectl-netpol_tui-OS-ARCH.tar.gz is written beside BINARY.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 BINARY VERSION URL_BASE [OS ARCH]" >&2
  exit 2
fi
bin=$1 version=$2 base=${3%/} os=${4:-linux} arch=${5:-amd64}
[ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 2; }
case "$version" in v[0-9]*) ;; *) echo "error: VERSION must look like v0.1.0" >&2; exit 2 ;; esac
dir=$(cd "$(dirname "$bin")" && pwd)
archive="kubectl-netpol_tui-$os-$arch.tar.gz"
here=$(cd "$(dirname "$0")/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/kubectl-netpol_tui"
cp "$here/LICENSE" "$stage/" 2>/dev/null || true
tar -C "$stage" -czf "$dir/$archive" .
sum=$(sha256sum "$dir/$archive" | cut -d' ' -f1)
cat <<YAML
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: netpol-tui
spec:
  version: $version
  shortDescription: NetworkPolicy in a terminal UI, explained and traced
  description: |
    Shows namespaces and pods with their effective ingress and egress rules, explains why
    any flow is allowed or blocked (policy, rule, tier), streams allowed and dropped flows
    from an eBPF probe on each node, and judges staged policies before they are applied.
  homepage: $base
  platforms:
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base/$archive
    sha256: $sum
    bin: kubectl-netpol_tui
YAML
