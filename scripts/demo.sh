#!/usr/bin/env bash
# Sets up what Retort needs and runs it on the bundled demo project (demo/: a native SQL
# project whose database is an embedded SQLite file).
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
cd "$(repo_root)"
ensure_rust
ensure_ui
cargo build --release --locked -q -p retort-cli
# Where cargo puts its builds: $CARGO_TARGET_DIR when set, as cargo itself does.
target_dir=${CARGO_TARGET_DIR:-target}
retort=$target_dir/release/retort
# With a display: the desktop app on the demo project (its database part-way up, so the graph
# shows applied and pending revisions). RETORT_DEMO_CLI=1, or no display: the CLI tour below.
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${RETORT_DEMO_CLI:-}" ]; then
  ensure_gui_deps
  rm -f demo/demo.db
  "$retort" -c demo upgrade reviews@head >/dev/null
  cargo build --release --locked -q --features custom-protocol -p retort-app
  echo "==> $target_dir/release/retort-app demo   (or: $retort serve demo, for a browser)"
  exec "$target_dir/release/retort-app" demo
fi
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
