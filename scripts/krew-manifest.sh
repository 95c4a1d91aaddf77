#!/usr/bin/env bash
# Fills deploy/krew/netpol-tui.yaml for a release: the version, where the archives are
# published, and each archive's sha256. Prints the manifest.
# Usage: scripts/krew-manifest.sh VERSION URL_BASE DIR > netpol-tui.yaml
#   VERSION   v0.1.0
#   URL_BASE  where the archives are published, e.g. https://example.org/releases/v0.1.0
#   DIR       holds kubectl-netpol_tui-linux-amd64.tar.gz and kubectl-netpol_tui-linux-arm64.tar.gz
#             (scripts/release.sh makes them)
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 VERSION URL_BASE DIR" >&2
  exit 2
fi
version=$1 base=${2%/} dir=$3
case "$version" in v[0-9]*.[0-9]*.[0-9]*) ;; *) echo "error: VERSION must look like v0.1.0" >&2; exit 2 ;; esac
case "$base" in https://*) ;; *) echo "error: URL_BASE must be an https:// address (krew downloads from it)" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
sums=()
for platform in linux-amd64 linux-arm64; do
  archive="$dir/kubectl-netpol_tui-$platform.tar.gz"
  [ -f "$archive" ] || { echo "error: $archive is missing" >&2; exit 2; }
  sums+=("$(sha256sum "$archive" | cut -d' ' -f1)")
done
sed -e '/^#/d' \
    -e "s|URL_BASE|$base|g" \
    -e "s|VERSION|$version|g" \
    -e "s|SHA256_LINUX_AMD64|${sums[0]}|" \
    -e "s|SHA256_LINUX_ARM64|${sums[1]}|" \
    "$here/deploy/krew/netpol-tui.yaml"
