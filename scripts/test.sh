#!/usr/bin/env bash
# Sets up everything the tests need (alembic 1.20.1 for the comparison tests, the loopback
# database services) and runs every test.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
cd "$(repo_root)"
ensure_rust
ensure_alembic_venv
ensure_services
ensure_keyutils
ensure_gui_deps
ensure_chromium
ensure_ui
ensure_dump_tools
ensure_sshd
# The comparison with alembic must run here, not skip.
export RETORT_REQUIRE_ALEMBIC=1
# Runs the tests make are journaled in a store of their own, not in the user's.
RETORT_HOME=$(mktemp -d)
export RETORT_HOME
if command -v cargo-nextest >/dev/null 2>&1; then
  # nextest closes with one summary line for the whole workspace
  cargo nextest run --workspace --locked --no-fail-fast
else
  log=$(mktemp)
  set +e
  cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
  failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
  echo "$passed passed, $failed failed"
  exit "$status"
fi
