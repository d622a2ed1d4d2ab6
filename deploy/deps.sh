#!/usr/bin/env bash
# deps.sh: installs the Debian packages actiongap needs to build, run and test.
# Idempotent: installs only what is missing; uses sudo when not root.
set -euo pipefail

PKGS=(gcc libc6-dev pkg-config meson ninja-build python3
      libevent-dev libhiredis-dev libcjson-dev check libssl-dev
      libcurl4-openssl-dev libqrencode-dev libpng-dev libsystemd-dev
      redis-server redis-tools curl openssl
      man-db groff-base                        # test_proto_conf_man renders the man pages
      dpkg-dev debhelper lintian)              # test_package builds the .deb (deploy/package.sh)
[ "${AG_DEPS_EXTRA:-}" ] && read -r -a extra <<<"$AG_DEPS_EXTRA" && PKGS+=("${extra[@]}")

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps apt from starting a system redis-server that would take port 6379
if [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$SUDO" ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
