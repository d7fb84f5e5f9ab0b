#!/usr/bin/env bash
# Sets up everything the tests need (alembic 1.20.1 for the comparison tests, the loopback
# database services) and runs every test.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
cd "$(repo_root)"
ensure_rust
ensure_alembic_venv
ensure_services
# The comparison with alembic must run here, not skip.
export RETORT_REQUIRE_ALEMBIC=1
cargo test --workspace --locked
