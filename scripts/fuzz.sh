#!/usr/bin/env bash
# Fuzzes every parser and splitter of retort-core with cargo-fuzz (libFuzzer) for a bounded
# time each, and prints per target: seconds run, executions, crashes. Exits non-zero when any
# target crashed (a panic, a hang past -timeout, or running out of memory). See docs/fuzzing.md.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60
#   TARGET              default: every target in fuzz/fuzz_targets/
# Environment: FUZZ_MINIMIZE=1 runs `cargo fuzz cmin` on each corpus afterwards.
#
# New inputs that reach new code are added to fuzz/corpus/<target>/; crashing inputs are
# written to fuzz/artifacts/<target>/ (not committed: each crash becomes a unit test).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/fuzz"
seconds="${1:-60}"
shift || true
case "$seconds" in
'' | *[!0-9]*)
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
  ;;
esac

# cargo-fuzz passes -Z flags to rustc; the toolchain is stable, so allow them.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "Installing cargo-fuzz…" >&2
  cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd "$fuzz" && cargo fuzz list)
fi

# No sanitizer: the code under test is safe Rust, and what is looked for is a panic (which
# libFuzzer's panic hook turns into an abort) or a hang; debug assertions and overflow
# checks stay on (cargo-fuzz's default).
build_flags=(--sanitizer none)
(cd "$fuzz" && cargo fuzz build "${build_flags[@]}")
# Run the built binaries themselves, so that the time counted is fuzzing time.
bin_dir="$fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT
failed=0
summary=()
for target in "${targets[@]}"; do
  corpus="$fuzz/corpus/$target"
  artifacts="$fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  log="$log_dir/$target.log"
  echo "== $target: ${seconds}s" >&2
  start=$(date +%s)
  status=0
  "$bin_dir/$target" "$corpus" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  ran=$(($(date +%s) - start))
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1 # the run failed without writing an input (e.g. it did not start)
  fi
  if [ "$crashes" -gt 0 ]; then
    failed=1
    echo "-- $target failed (exit $status); the end of its log:" >&2
    tail -40 "$log" >&2
  fi
  summary+=("$(printf '%-16s %8ss %12s executions %4s crashes' "$target" "$ran" "${executions:-?}" "$crashes")")
  if [ "${FUZZ_MINIMIZE:-0}" = 1 ] && [ "$status" -eq 0 ]; then
    (cd "$fuzz" && cargo fuzz cmin "${build_flags[@]}" "$target" "$corpus" >/dev/null 2>&1)
  fi
done

echo
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "FAILED: crashing inputs are in fuzz/artifacts/; reproduce with" \
    "'cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET ARTIFACT'" >&2
fi
exit "$failed"
