#!/usr/bin/env bash
# The history graph of a 10,000-revision project in Chromium (through `retort serve`): time
# to first paint and frame times while scrolling. Figures: docs/benchmarks.md.
#   bash scripts/bench/ui_graph.sh [REVISIONS]
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$(repo_root)"
ensure_rust
ensure_chromium
ensure_ui
cargo build --release --locked -q -p retort-cli
node ui/e2e/bench.mjs "$PWD/target/release/retort" "${1:-10000}"
