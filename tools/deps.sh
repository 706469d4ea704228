#!/usr/bin/env bash
# tools/deps.sh — install the Debian 12 packages rootwalk needs that are
# missing.  Used by tools/start, tests/run and .ci/run so the list lives in
# one place.  Usage: tools/deps.sh [build|test|bench]  (each includes the one before)
set -euo pipefail

build_pkgs=(gcc meson ninja-build pkg-config libuv1-dev libldns-dev check)
test_pkgs=(nsd knot knot-dnsutils bind9-dnsutils unbound python3 python3-dnspython
	python3-pytest iproute2 iputils-ping dnsperf clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
bench_pkgs=(knot-resolver)
case "${1:-build}" in
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "tools/deps.sh: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian's nsd/knot/unbound packages try to start their services; we only
# want the binaries, so keep policy-rc.d from starting anything.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
