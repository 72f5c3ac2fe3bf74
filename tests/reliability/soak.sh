#!/usr/bin/env bash
# Long reliability soak: the fault tests of tests/reliability again and again, bigger,
# until PAUSE_SOAK_HOURS have passed (default 2). Stops at the first failure; every
# round's figures are appended to var/soak-<date>.log.
#
#   tests/reliability/soak.sh                         # 2 hours
#   PAUSE_SOAK_HOURS=8 PAUSE_KILL_POSTS=500 tests/reliability/soak.sh
#
# Knobs (environment, with the soak's defaults): PAUSE_KILL_POSTS (300 per client),
# PAUSE_KILL_COUNT (60 kills), PAUSE_DROPS (5000), PAUSE_DROPS_POSTS (300),
# PAUSE_REDIS_POSTS (300), PAUSE_FLOOD_SECONDS (30); each round draws a new kill seed.
set -euo pipefail
cd "$(dirname "$0")/../.."
hours=${PAUSE_SOAK_HOURS:-2}
export PAUSE_KILL_POSTS=${PAUSE_KILL_POSTS:-300} PAUSE_KILL_COUNT=${PAUSE_KILL_COUNT:-60}
export PAUSE_DROPS=${PAUSE_DROPS:-5000} PAUSE_DROPS_POSTS=${PAUSE_DROPS_POSTS:-300}
export PAUSE_REDIS_POSTS=${PAUSE_REDIS_POSTS:-300} PAUSE_FLOOD_SECONDS=${PAUSE_FLOOD_SECONDS:-30}
log="var/soak-$(date +%Y%m%d-%H%M%S).log"
mkdir -p var
end=$(( $(date +%s) + ${hours%.*} * 3600 ))
round=0
while [ "$(date +%s)" -lt "$end" ]; do
  round=$((round + 1))
  export PAUSE_KILL_SEED=$RANDOM$RANDOM PAUSE_DROPS_SEED=$RANDOM
  echo "== round $round ($(date -Is)) seeds kill=$PAUSE_KILL_SEED drops=$PAUSE_DROPS_SEED" | tee -a "$log"
  PAUSE_RELIABILITY_TIMEOUT=7200 .venv/bin/python -m pytest tests/reliability -q -s \
    2>&1 | grep -E "figures:|passed|failed|Error" | tee -a "$log"
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "== soak failed in round $round (see $log)"
    exit "$status"
  fi
done
echo "== soak passed: $round rounds in ${hours} h (figures in $log)"
