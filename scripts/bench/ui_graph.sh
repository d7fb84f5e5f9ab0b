#!/usr/bin/env bash
# The history graph of a 10,000-revision project in Chromium (through `retort serve`): time
# to first paint, then frame intervals while scrolling with Chromium's frame rate capped at
# the vsync and uncapped, the work of each scroll step, and long animation frames.
# Figures: docs/benchmarks.md.
#   bash scripts/bench/ui_graph.sh [REVISIONS]
#   BENCH_MODES=uncapped bash scripts/bench/ui_graph.sh     # one mode only
#   UI_DIST=/path/to/dist bash scripts/bench/ui_graph.sh    # another UI build, same server
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$(repo_root)"
ensure_rust
ensure_chromium
ensure_ui
cargo build --release --locked -q -p retort-cli
node ui/e2e/bench.mjs "$PWD/target/release/retort" "${1:-10000}"
