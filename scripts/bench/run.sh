#!/usr/bin/env bash
# Benchmark: `retort heads`/`history` vs `alembic heads`/`history` on a generated 10,000-revision
# Alembic project. Checks the outputs are byte-identical, times each command (hyperfine if present,
# else a small Python harness), measures peak RSS, and writes the results to docs/benchmarks.md.
#
#   bash scripts/bench/run.sh            # from anywhere in the repository
#
# Knobs (environment): REVISIONS (10000), SEED (1), RETORT_RUNS (10), ALEMBIC_RUNS (3).
# alembic 1.20.1 comes from .venv (created by scripts/lib/setup.sh if it lacks alembic).
# retort is timed twice: "cold" (no header cache: it reads every file and writes the cache) and
# warm (the cache written by the run before).
# Exits non-zero if retort's output differs from alembic's (after still recording the timings).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"   # ensure_rust, ensure_alembic_venv, apt_install
REPO=$(repo_root)
cd "$REPO"
REVISIONS=${REVISIONS:-10000}
SEED=${SEED:-1}
RETORT_RUNS=${RETORT_RUNS:-10}
ALEMBIC_RUNS=${ALEMBIC_RUNS:-3}
OUT=$REPO/bench-out
PROJECT=$OUT/project
INI=$PROJECT/alembic.ini
RETORT=${CARGO_TARGET_DIR:-$REPO/target}/release/retort
# Retort's own home for the runs: its header cache goes to $RETORT_HOME/cache (removed before
# each "cold" run, so that run reads every file and writes the cache; the other runs use it).
export RETORT_HOME=$OUT/home
CACHE=$RETORT_HOME/cache
DOC=$REPO/docs/benchmarks.md
export PYTHONHASHSEED=0  # alembic's output does not depend on it here, but pin it anyway

ensure_rust
ensure_alembic_venv      # .venv with alembic 1.20.1 + SQLAlchemy, created if missing
ALEMBIC=$REPO/.venv/bin/alembic
PY=$REPO/.venv/bin/python
# hyperfine is optional (else a Python harness times the runs); GNU time gives the peak RSS.
command -v hyperfine >/dev/null && [ -x /usr/bin/time ] || apt_install hyperfine time || true

echo "== building retort (release)"
cargo build --release --quiet -p retort-cli

echo "== generating $REVISIONS revisions (seed $SEED) into $PROJECT"
mkdir -p "$OUT"
python3 "$REPO/scripts/bench/generate_project.py" --revisions "$REVISIONS" --seed "$SEED" --out "$PROJECT"

echo "== checking retort's output against alembic's (without, then with the header cache)"
MISMATCH="" CRASHED=""
sleep 2  # files changed in the last 2 s are not cached (see project/header_cache.rs)
for cmd in heads history; do
    "$ALEMBIC" -c "$INI" "$cmd" >"$OUT/alembic-$cmd.txt" </dev/null
    rm -rf "$CACHE"
    "$RETORT" -c "$INI" "$cmd" >"$OUT/retort-$cmd.txt" </dev/null || CRASHED+=" $cmd (exit $?)"
    "$RETORT" -c "$INI" "$cmd" >"$OUT/retort-$cmd-warm.txt" </dev/null || CRASHED+=" $cmd warm (exit $?)"
    if ! cmp -s "$OUT/retort-$cmd.txt" "$OUT/retort-$cmd-warm.txt"; then
        echo "!! $cmd: retort's output with the header cache differs from without" >&2
        MISMATCH+="- \`$cmd\`: retort's output with the header cache differs from without"$'\n'
    fi
    if cmp -s "$OUT/alembic-$cmd.txt" "$OUT/retort-$cmd.txt"; then
        echo "   $cmd: identical ($(wc -l <"$OUT/alembic-$cmd.txt") lines)"
    else
        first=$(python3 - "$OUT/alembic-$cmd.txt" "$OUT/retort-$cmd.txt" <<'EOF'
import sys
a, r = (open(p, "rb").read().decode().split("\n") for p in sys.argv[1:])
i = next((i for i, (x, y) in enumerate(zip(a, r)) if x != y), min(len(a), len(r)))
get = lambda l: repr(l[i]) if i < len(l) else "<end of output>"
n = sum(x != y for x, y in zip(a, r)) + abs(len(a) - len(r))
print("line %d: alembic %s, retort %s (%d lines differ; alembic %d lines, retort %d)"
      % (i + 1, get(a), get(r), n, len(a) - 1, len(r) - 1))
EOF
)
        echo "!! $cmd DIFFERS: $first" >&2
        MISMATCH+="- \`$cmd\` differs, first at $first"$'\n'
    fi
done

if [ -n "$CRASHED" ]; then
    echo "!! retort failed on:$CRASHED; nothing to time" >&2
    exit 1
fi

# time_cmd RUNS WARMUP CMD... -> prints "min median" in seconds; with PREPARE set, that shell
# command runs before each run (untimed).
time_cmd() {
    local runs=$1 warmup=$2; shift 2
    if command -v hyperfine >/dev/null; then
        hyperfine --style none -N --runs "$runs" --warmup "$warmup" ${PREPARE:+--prepare "$PREPARE"} \
            --export-json "$OUT/hf.json" -- "$*" >/dev/null
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["min"], r["median"])' "$OUT/hf.json"
    else
        python3 - "$runs" "$warmup" "$@" <<'EOF'
import os, statistics, subprocess, sys, time
runs, warmup, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
times = []
for i in range(warmup + runs):
    if os.environ.get("PREPARE"):
        subprocess.run(os.environ["PREPARE"], shell=True, check=True)
    t = time.perf_counter()
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    if i >= warmup:
        times.append(time.perf_counter() - t)
print(min(times), statistics.median(times))
EOF
    fi
}
peak_rss_mib() {  # peak RSS of one run, MiB
    /usr/bin/time -v "$@" 2>&1 >/dev/null </dev/null |
        awk -F: '/Maximum resident set size/ {printf "%.1f", $2 / 1024}'
}

TIMER=$(command -v hyperfine >/dev/null && hyperfine --version || echo "Python harness (perf_counter)")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)  # other work on the machine skews wall times; it goes in the report
echo "== timing with $TIMER (retort: $RETORT_RUNS runs + 1 warm-up, cold and warm cache; alembic: $ALEMBIC_RUNS runs)"
: >"$OUT/results.tsv"
for tool in retort "retort cold" alembic; do
    for cmd in heads history; do
        PREPARE=""
        case $tool in
            retort) bin=$RETORT runs=$RETORT_RUNS warmup=1 ;;
            "retort cold") bin=$RETORT runs=$RETORT_RUNS warmup=1 PREPARE="rm -rf '$CACHE'" ;;
            alembic) bin=$ALEMBIC runs=$ALEMBIC_RUNS warmup=0 ;;
        esac
        export PREPARE
        read -r min median < <(time_cmd "$runs" "$warmup" "$bin" -c "$INI" "$cmd")
        [ -n "$PREPARE" ] && eval "$PREPARE"
        rss=$(peak_rss_mib "$bin" -c "$INI" "$cmd")
        name="${tool%% *} $cmd${tool#retort}"  # "retort heads", "retort heads cold", "alembic heads"
        [ "$tool" = alembic ] && name="alembic $cmd"
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$runs" "$min" "$median" "$rss" >>"$OUT/results.tsv"
        printf '   %-20s min %8.4f s, median %8.4f s, peak RSS %s MiB\n' "$name" "$min" "$median" "$rss"
    done
done
unset PREPARE
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# The Markdown report: printed, and written to docs/benchmarks.md.
export REVISIONS SEED RETORT_RUNS ALEMBIC_RUNS TIMER MISMATCH
MACHINE="$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(
    awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr); load average $LOAD before timing, $LOAD_AFTER after"
VERSIONS="retort $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock ||
    echo " + uncommitted changes") (release build), $("$ALEMBIC" --version), SQLAlchemy $(
    "$PY" -c 'import sqlalchemy; print(sqlalchemy.__version__)'), $("$PY" --version)"
MERGES=$(grep -c '(mergepoint)' "$OUT/alembic-history.txt" || true)
HEADS=$(wc -l <"$OUT/alembic-heads.txt")
export MACHINE VERSIONS MERGES HEADS
python3 - "$OUT/results.tsv" "$DOC" <<'EOF'
import datetime, os, sys
e = os.environ
res = {}
for line in open(sys.argv[1]):
    name, runs, lo, med, rss = line.rstrip("\n").split("\t")
    res[name] = (int(runs), float(lo), float(med), rss)
fmt = lambda s: "%.2f s" % s if s >= 1 else "%.1f ms" % (s * 1000)
ok = lambda good: "met" if good else "**NOT met**"
speed = {c: res["alembic " + c][2] / res["retort " + c][2] for c in ("heads", "history")}
label = lambda n: "`%s` (cold: no header cache)" % n[:-5] if n.endswith(" cold") else \
    "`%s` (warm: header cache)" % n if n.startswith("retort") else "`%s`" % n
table = "\n".join(["| Command | Runs | Min | Median | Peak RSS |", "|---|---:|---:|---:|---:|"] + [
    "| %s | %d | %s | %s | %s MiB |" % (label(n), r, fmt(lo), fmt(med), rss) for n, (r, lo, med, rss) in res.items()])
cold = {c: res["alembic " + c][2] / res["retort %s cold" % c][2] for c in ("heads", "history")}
check = "heads and history identical." if not e["MISMATCH"] else "**FAILED**\n\n" + e["MISMATCH"]
report = f"""# Benchmarks

Speed targets are checked here, with a reproducible script, never with timed tests.

## Retort vs Alembic: `heads` and `history` on a {int(e["REVISIONS"]):,}-revision project

- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}
- Machine: {e["MACHINE"]}
- Versions: {e["VERSIONS"]}
- Reproduce: `bash scripts/bench/run.sh` (rewrites this file; the project is generated into `bench-out/project`)
- Project: `scripts/bench/generate_project.py --revisions {e["REVISIONS"]} --seed {e["SEED"]}`, files in alembic 1.20.1's template
  layout: a main line with a short branch forked off and merged back about every 50 revisions ({e["MERGES"]} merges),
  two long-lived labelled branches (one of them a second base), a few `depends_on` edges; {e["HEADS"]} heads.
- Timer: {e["TIMER"]}; wall time of the whole process, stdout to /dev/null. retort: {e["RETORT_RUNS"]} runs after 1 warm-up,
  warm (the header cache in `$RETORT_HOME/cache` written by the run before) and cold (the cache folder removed
  before each run: every file is read and the cache written);
  alembic: {e["ALEMBIC_RUNS"]} runs, its `__pycache__` already warm from the output check. Peak RSS: `/usr/bin/time -v`, one run.

{table}

Speed-up (alembic median / retort median, warm cache): **heads {speed["heads"]:.0f}×**, **history {speed["history"]:.0f}×**;
cold cache (first run, which reads every file and writes the cache): heads {cold["heads"]:.0f}×, history {cold["history"]:.0f}×.

Output check (retort stdout vs alembic stdout, byte for byte): {check}

## Verdict

| Goal | Result |
|---|---|
| retort ≥ 100× faster than alembic on `heads` | {speed["heads"]:.0f}×: {ok(speed["heads"] >= 100)} |
| retort ≥ 100× faster than alembic on `history` | {speed["history"]:.0f}×: {ok(speed["history"] >= 100)} |
| `retort heads` under 100 ms (warm) | {fmt(res["retort heads"][2])} median: {ok(res["retort heads"][2] < 0.1)} |
| `retort heads` under 100 ms (cold) | {fmt(res["retort heads cold"][2])} median: {ok(res["retort heads cold"][2] < 0.1)} |
"""
# A hand-written "## Notes" section (analysis of the figures) survives re-runs.
old = open(sys.argv[2]).read() if os.path.exists(sys.argv[2]) else ""
if "\n## Notes" in old:
    report += old[old.index("\n## Notes"):]
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
open(sys.argv[2], "w").write(report)
print("\n" + report)
EOF
echo "(written to ${DOC#"$REPO"/})"
if [ -n "$MISMATCH" ]; then
    echo "!! retort's output differs from alembic's; see above" >&2
    exit 1
fi
