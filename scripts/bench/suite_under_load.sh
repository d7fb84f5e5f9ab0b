#!/usr/bin/env bash
# Runs the whole suite RUNS times in a row (default 3) while two busy loops keep both cores
# busy: a test that depends on timing fails here. One line per run on standard output.
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-3}
yes > /dev/null & hog1=$!
yes > /dev/null & hog2=$!
trap 'kill $hog1 $hog2 2>/dev/null' EXIT
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  log=$(mktemp)
  RETORT_REQUIRE_ALEMBIC=1 RETORT_HOME=$(mktemp -d) \
    cargo nextest run --workspace --locked --no-fail-fast > "$log" 2>&1
  rc=$?
  [ "$rc" = 0 ] || failed=1
  echo "run $i: rc=$rc, $(( $(date +%s) - start )) s, $(grep Summary "$log" | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg), log $log"
done
exit "$failed"
