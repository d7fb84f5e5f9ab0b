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
# The demo's database is demo/demo.db (SQLite); each run starts it empty.
rm -f demo/demo.db
echo
echo "==> retort -c demo upgrade reviews@head --plan"
"$retort" -c demo upgrade reviews@head --plan
echo
echo "==> retort -c demo upgrade heads"
"$retort" -c demo upgrade heads
echo
echo "==> retort -c demo current"
"$retort" -c demo current
echo
echo "==> retort -c demo downgrade pricing@-1"
"$retort" -c demo downgrade pricing@-1
echo
echo "==> retort -c demo current -v"
"$retort" -c demo current -v
