#!/usr/bin/env bash
# run.sh MINUTES: the soak test (not part of ./deploy/test.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
./deploy/build.sh "${AG_BUILD:-build}"
AG_BUILD=${AG_BUILD:-$PWD/build} exec python3 tests/soak/soak.py "${1:-5}"
