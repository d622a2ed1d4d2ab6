#!/usr/bin/env bash
# build.sh: configures (once) and builds actiongap into ./build (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" --buildtype=debugoptimized "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
