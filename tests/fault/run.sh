#!/usr/bin/env bash
# run.sh: runs every fault script (not part of ./deploy/test.sh) and prints
# their verdict lines. Options: --quick shortens the outages.
set -uo pipefail
cd "$(dirname "$0")"
./../../deploy/build.sh "${AG_BUILD:-../../build}" 2>/dev/null || ../../deploy/build.sh
quick=0; [ "${1:-}" = --quick ] && quick=1
fails=0
run() { echo "== $*"; python3 "$@" 2>&1 | grep -E "^(FAIL|.*: sent )" ; [ "${PIPESTATUS[0]}" -eq 0 ] || fails=$((fails + 1)); }
run redis_kill.py
run redis_outage.py $([ $quick = 1 ] && echo 10 || echo 60)
run disk_full.py $([ $quick = 1 ] && echo 10 || echo 30)
run collector_kill.py
run aggregator_pause.py $([ $quick = 1 ] && echo 20 || echo 600)
run webhook_down.py $([ $quick = 1 ] && echo 10 || echo 60)
echo "fault scripts failed: $fails"
[ "$fails" -eq 0 ]
