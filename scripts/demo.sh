#!/usr/bin/env bash
# Sets up what Retort needs and runs it on the bundled demo project (demo/: a native SQL
# project whose database is an embedded SQLite file).
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
cd "$(repo_root)"
ensure_rust
cargo build --release --locked -q -p retort-cli
retort=target/release/retort
echo "==> retort -c demo heads"
"$retort" -c demo heads
echo
echo "==> retort -c demo branches"
"$retort" -c demo branches
echo "==> retort -c demo history --graph"
"$retort" -c demo history --graph
