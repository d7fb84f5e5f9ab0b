#!/usr/bin/env bash
# Benchmark: `retort upgrade head` vs `alembic upgrade head` running the same SQL, base -> head of a
# generated linear chain of 1,000 revisions, on SQLite (a fresh file each run) and PostgreSQL (a
# fresh scratch database each run). Each run is checked (version row = the head, 1,000 tables,
# 1,000 indexes, 3,000 rows, same schema digest for both tools); wall time, client CPU and peak RSS
# are recorded and written to docs/benchmarks.md as its "upgrade head" section (the rest of the
# file, and a hand-written "### Findings" subsection of this section, are kept).
#
#   bash scripts/bench/execution.sh          # from anywhere in the repository
#
# On SQLite the physical floor takes turns with them in the same series: the sqlite3 CLI running
# the same statements and version-row changes as a plain script, one transaction per revision
# (goal: retort ≤ 1.1× that floor).
#
# Knobs (environment): REVISIONS (1000), SEED (1), RUNS (5), WARMUP (1), BACKENDS ("sqlite postgresql"),
# TOOLS ("retort alembic": the tools of the main series; "retort" alone for a quick floor check),
# FLOOR (1: the sqlite3 floor joins the SQLite series; 0 to leave it out),
# BASELINE (a path to another retort binary, e.g. a build of an older commit: it joins every series as
# tool `baseline`, for a before/after in the same run; RETORT (target/release/retort) is the one measured),
# PG_URL (postgresql://postgres@127.0.0.1:5432, a role that may create databases),
# DIAGNOSE (1: also time the same SQL as a plain script through sqlite3/psql, in one transaction and
# in one per revision; SQLite on tmpfs; PostgreSQL with synchronous_commit=off; and count the sync
# calls of one SQLite run per tool with strace; 0 to skip), DIAG_RUNS (3).
# Exits non-zero if a run fails or a database ends in the wrong state (after recording the timings).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"   # ensure_rust, ensure_alembic_venv, ensure_services, apt_install
REPO=$(repo_root)
cd "$REPO"
REVISIONS=${REVISIONS:-1000}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
BACKENDS=${BACKENDS:-sqlite postgresql}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432}
DIAGNOSE=${DIAGNOSE:-1}
DIAG_RUNS=${DIAG_RUNS:-3}
TOOLS=${TOOLS:-retort alembic}
FLOOR=${FLOOR:-1}
OUT=$REPO/bench-out/execution
SQL_PROJECT=$OUT/sql
INI=$OUT/alembic/alembic.ini
DBDIR=$OUT/db                 # SQLite files: on the repository's disk, like a real project's
SHMDIR=/dev/shm/retort-bench-$$
RETORT=${RETORT:-$REPO/target/release/retort}
BASELINE=${BASELINE:-}
[ -z "$BASELINE" ] || TOOLS="$TOOLS baseline"
DOC=$REPO/docs/benchmarks.md
# Retort's own store (its journal gets a row per step) in a folder of the benchmark's.
export RETORT_HOME=$OUT/home
export PYTHONHASHSEED=0

ensure_rust
ensure_alembic_venv          # .venv with alembic 1.20.1 + SQLAlchemy + psycopg2
ensure_services              # the loopback PostgreSQL
ALEMBIC=$REPO/.venv/bin/alembic
PY=$REPO/.venv/bin/python
[ -x /usr/bin/time ] || apt_install time                      # GNU time: peak RSS
[ "$DIAGNOSE" = 0 ] || command -v strace >/dev/null || apt_install strace
[[ ($DIAGNOSE = 0 && $FLOOR = 0) || " $BACKENDS " != *" sqlite "* ]] || command -v sqlite3 >/dev/null || apt_install sqlite3

if [ "$RETORT" = "$REPO/target/release/retort" ]; then
    echo "== building retort (release)"
    cargo build --release --quiet -p retort-cli
fi

echo "== generating $REVISIONS revisions (seed $SEED) into ${OUT#"$REPO"/}"
mkdir -p "$OUT"
python3 "$REPO/scripts/bench/generate_sql_project.py" --revisions "$REVISIONS" --seed "$SEED" --out "$OUT"
HEAD_REV=$(cat "$OUT/head")
rm -rf "$DBDIR" "$OUT/logs"
mkdir -p "$DBDIR" "$OUT/logs"

# Scratch PostgreSQL databases are dropped after each run, and on any exit.
PG_DBS=()
pg_admin() { PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 "$PG_URL/postgres" "$@" >/dev/null; }
cleanup() {
    for db in "${PG_DBS[@]}"; do pg_admin -c "DROP DATABASE IF EXISTS \"$db\"" 2>/dev/null || true; done
    rm -rf "$SHMDIR"
}
trap cleanup EXIT

# state URL: prints a one-line digest of the database after a run (JSON).
state() {
    "$PY" - "$1" <<'EOF'
import hashlib, json, sys
url = sys.argv[1]
if url.startswith("sqlite:///"):
    import sqlite3
    con = sqlite3.connect(url[len("sqlite:///"):])
    q = lambda sql: con.execute(sql).fetchall()
    tables = [r[0] for r in q("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'alembic_version' ORDER BY name")]
    schema = q("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name <> 'alembic_version' ORDER BY name")
    indexes = q("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'")[0][0]
else:
    import psycopg2
    con = psycopg2.connect(url)
    cur = con.cursor()
    def q(sql):
        cur.execute(sql)
        return cur.fetchall()
    tables = [r[0] for r in q("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                              "AND table_name <> 'alembic_version' ORDER BY table_name")]
    schema = q("SELECT table_name, column_name, data_type, is_nullable, column_default, ordinal_position "
               "FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'alembic_version' "
               "ORDER BY table_name, ordinal_position")
    schema += q("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY indexname")
    indexes = q("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ix_%'")[0][0]
versions = sorted(r[0] for r in q("SELECT version_num FROM alembic_version"))
rows = sum(q("SELECT count(*) FROM %s" % t)[0][0] for t in tables)
print(json.dumps({"versions": versions, "tables": len(tables), "indexes": indexes, "rows": rows,
                  "schema": hashlib.md5(repr(schema).encode()).hexdigest()[:12]}))
EOF
}

FAILED=""
declare -A DIGEST   # backend -> the first run's schema digest; every run must give the same
# run_one BACKEND TOOL LABEL: one upgrade from an empty database; appends to results.tsv.
run_one() {
    local backend=$1 tool=$2 label=$3 url db="" log="$OUT/logs/$1-$3-$2.log"
    case $backend in
        sqlite) rm -f "$DBDIR/$tool.db"*; url="sqlite:///$DBDIR/$tool.db" ;;
        sqlite-tmpfs) mkdir -p "$SHMDIR"; rm -f "$SHMDIR/$tool.db"*; url="sqlite:///$SHMDIR/$tool.db" ;;
        postgresql*)
            db="retort_bench_${tool}_$$"
            PG_DBS+=("$db")
            pg_admin -c "DROP DATABASE IF EXISTS \"$db\"" -c "CREATE DATABASE \"$db\""
            [ "$backend" != postgresql-async ] || pg_admin -c "ALTER DATABASE \"$db\" SET synchronous_commit = off"
            url="$PG_URL/$db" ;;
    esac
    local cmd script="$OUT/plain/one_transaction.sql"
    [ "$tool" = client-per ] && script="$OUT/plain/per_revision.sql"
    case $tool in
        retort) cmd=("$RETORT" -c "$SQL_PROJECT" upgrade head --url "$url") ;;
        baseline) cmd=(env RETORT_HOME="$OUT/home-baseline" "$BASELINE" -c "$SQL_PROJECT" upgrade head --url "$url") ;;  # an older store schema
        alembic)
            local sa_url=$url
            [[ $url == postgresql://* ]] && sa_url="postgresql+psycopg2://${url#postgresql://}"
            sed -i "s|^sqlalchemy.url = .*|sqlalchemy.url = $sa_url|" "$INI"
            cmd=("$ALEMBIC" -c "$INI" upgrade head) ;;
        client-*)  # the database's own client on the plain script
            if [[ $url == sqlite:///* ]]; then cmd=(sqlite3 -bail "${url#sqlite:///}" ".read $script")
            else cmd=(psql -q -X -v ON_ERROR_STOP=1 -d "$url" -f "$script"); fi ;;
    esac
    local start end rc=0
    start=$(date +%s%N)
    /usr/bin/time -f "%M %U %S" -o "$OUT/rss" "${cmd[@]}" >"$log" 2>&1 </dev/null || rc=$?
    end=$(date +%s%N)
    local secs rss cpu got
    secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", (e - s) / 1e9 }')
    read -r rss cpu < <(tail -n1 "$OUT/rss" | awk '{ printf "%s %.2f\n", $1, $2 + $3 }')
    got=$(state "$url" 2>&1) || true
    [ -z "$db" ] || pg_admin -c "DROP DATABASE \"$db\""
    local want="{\"versions\": [\"$HEAD_REV\"], \"tables\": $REVISIONS, \"indexes\": $REVISIONS, \"rows\": $((3 * REVISIONS))"
    local digest=${got##*\"schema\": \"}; digest=${digest%%\"*}
    local base=${backend%%-*}
    : "${DIGEST[$base]:=$digest}"
    if [ $rc -ne 0 ] || [[ $got != "$want"* ]] || [ "$digest" != "${DIGEST[$base]}" ]; then
        echo "!! $tool on $backend ($label): exit $rc, database $got (want $want, schema ${DIGEST[$base]}); log ${log#"$REPO"/}" >&2
        FAILED+="- \`$tool\` on $backend, $label: exit $rc, database \`$got\`"$'\n'
    fi
    printf '   %-16s %-10s %-7s %6.2f s  CPU %5.2f s  peak RSS %5.1f MiB  %s\n' "$backend" "$tool" "$label" "$secs" \
        "$cpu" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "${got:0:60}"
    [[ $label == warmup* ]] || printf '%s\t%s\t%s\t%s\t%s\n' "$backend" "$tool" "$secs" "$rss" "$cpu" >>"$OUT/results.tsv"
}

# series BACKEND RUNS WARMUP TOOL...: the tools take turns, and which goes first rotates.
series() {
    local backend=$1 runs=$2 warmup=$3 i j; shift 3
    local tools=("$@")
    for ((i = 1; i <= warmup + runs; i++)); do
        local label="run$((i - warmup))"; [ "$i" -le "$warmup" ] && label="warmup$i"
        for ((j = 0; j < ${#tools[@]}; j++)); do
            run_one "$backend" "${tools[(i - 1 + j) % ${#tools[@]}]}" "$label"
        done
    done
}

# How long one small write + fdatasync takes on the SQLite files' disk (the figures depend on it).
sync_latency() {
    python3 - "$DBDIR/synctest" <<'EOF'
import os, statistics, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
times = []
for i in range(200):
    os.pwrite(fd, b"x" * 4096, (i % 8) * 4096)
    t = time.perf_counter(); os.fdatasync(fd); times.append(time.perf_counter() - t)
os.close(fd); os.unlink(sys.argv[1])
print("%.0f" % (statistics.median(times) * 1e6))
EOF
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
SYNC_BEFORE=$(sync_latency)
: >"$OUT/results.tsv"
for backend in $BACKENDS; do
    echo "== $backend: $WARMUP warm-up + $RUNS timed runs per tool, from an empty database each time"
    # shellcheck disable=SC2086
    if [ "$backend" = sqlite ] && [ "$FLOOR" != 0 ]; then series "$backend" "$RUNS" "$WARMUP" $TOOLS client-per
    else series "$backend" "$RUNS" "$WARMUP" $TOOLS; fi
done

SYNC_COUNTS=""
if [ "$DIAGNOSE" != 0 ]; then
    for backend in $BACKENDS; do
        echo "== diagnostic: $backend's own client on the same SQL as a plain script ($DIAG_RUNS runs each)"
        if [ "$backend" = sqlite ] && [ "$FLOOR" != 0 ]; then series "$backend" "$DIAG_RUNS" 0 client-one
        else series "$backend" "$DIAG_RUNS" 0 client-one client-per; fi
        case $backend in
            sqlite) diag=sqlite-tmpfs what="SQLite file on tmpfs (/dev/shm): fsync costs nothing" ;;
            postgresql) diag=postgresql-async what="PostgreSQL, scratch database with synchronous_commit = off" ;;
            *) continue ;;
        esac
        echo "== diagnostic: $what ($DIAG_RUNS runs per tool)"
        # shellcheck disable=SC2086
        series "$diag" "$DIAG_RUNS" 0 $TOOLS
    done
    if [[ " $BACKENDS " == *" sqlite "* ]]; then
        echo "== diagnostic: sync calls of one SQLite run per tool (strace -f -c)"
        for tool in retort alembic; do
            rm -f "$DBDIR/$tool.db"*
            if [ $tool = retort ]; then cmd=("$RETORT" -c "$SQL_PROJECT" upgrade head --url "sqlite:///$DBDIR/$tool.db")
            else sed -i "s|^sqlalchemy.url = .*|sqlalchemy.url = sqlite:///$DBDIR/$tool.db|" "$INI"; cmd=("$ALEMBIC" -c "$INI" upgrade head); fi
            strace -f -c -o "$OUT/strace-$tool.txt" -e trace=fsync,fdatasync,unlink "${cmd[@]}" >/dev/null 2>&1 </dev/null
            counts=$(awk '$NF ~ /^(fsync|fdatasync|unlink)$/ { printf "%s%s %s", sep, $4, $NF; sep=", " }' "$OUT/strace-$tool.txt")
            rm -f "$DBDIR/$tool.db"*
            echo "   $tool: $counts"
            SYNC_COUNTS+="$tool: $counts; "
        done
    fi
fi
SYNC_AFTER=$(sync_latency)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# The Markdown section: printed, and written into docs/benchmarks.md.
MACHINE="$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(
    awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr); load average $LOAD before, $LOAD_AFTER after;
  4 KiB write + \`fdatasync\` on the SQLite files' disk: median ${SYNC_BEFORE} µs before, ${SYNC_AFTER} µs after"
# The SQLite that retort links: the one bundled with the locked libsqlite3-sys.
LIBSQLITE=$(awk '/^name = "libsqlite3-sys"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
SQLITE_BUNDLED=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/libsqlite3-sys-"$LIBSQLITE"/sqlite3/sqlite3.h 2>/dev/null | head -n1)
VERSIONS="retort $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock ||
    echo " + uncommitted changes") (release build; SQLite ${SQLITE_BUNDLED:-?} bundled by libsqlite3-sys $LIBSQLITE), $("$ALEMBIC" --version), $("$PY" -c 'import sqlalchemy, psycopg2, sqlite3, sys
print("SQLAlchemy %s, psycopg2 %s, Python %s (SQLite %s)" % (sqlalchemy.__version__, psycopg2.__version__.split()[0], sys.version.split()[0], sqlite3.sqlite_version))'), PostgreSQL $(
    psql -Atq "$PG_URL/postgres" -c 'SHOW server_version' | cut -d' ' -f1) on 127.0.0.1 (fsync on, synchronous_commit on)"
BASELINE_NAME=${BASELINE_NAME:-$BASELINE}
export REVISIONS SEED RUNS WARMUP DIAG_RUNS MACHINE VERSIONS FAILED SYNC_COUNTS FLOOR BASELINE_NAME
python3 - "$OUT/results.tsv" "$DOC" <<'EOF'
import collections, datetime, os, statistics, sys
e = os.environ
res = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    backend, tool, secs, rss, cpu = line.rstrip("\n").split("\t")
    res[backend][tool].append((float(secs), int(rss) / 1024, float(cpu)))
fmt = lambda s: "%.2f s" % s if s >= 1 else "%.0f ms" % (s * 1000)
med = lambda runs: statistics.median(r[0] for r in runs)
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "sqlite-tmpfs": "SQLite on tmpfs",
         "postgresql-async": "PostgreSQL, `synchronous_commit = off`"}

CLIENT = {"sqlite": "sqlite3", "postgresql": "psql"}
def tool_name(b, tool):
    if tool.startswith("client-"):
        return "`%s`, plain script, %s" % (CLIENT[b], "one transaction" if tool == "client-one"
                                            else "one transaction per revision")
    if tool == "baseline":
        return "`retort upgrade head`, baseline build (%s)" % e["BASELINE_NAME"]
    return "`%s upgrade head`" % tool

def table(rows_wanted):
    rows = ["| Database | Tool | Runs | Median | Min | Max | Client CPU (median) | Peak RSS (median) | alembic median ÷ this median | this median ÷ sqlite3 floor |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for b, tool in rows_wanted:
        runs = res[b][tool]
        if not runs:
            continue
        times = [r[0] for r in runs]
        speed = ""
        if tool != "alembic" and res[b]["alembic"]:
            speed = "%.1f×" % (med(res[b]["alembic"]) / med(runs))
            speed = "**%s**" % speed if tool == "retort" else speed
        floor = ""
        if b == "sqlite" and res[b]["client-per"]:
            floor = "%.2f×" % (med(runs) / med(res[b]["client-per"]))
            floor = "**%s**" % floor if tool == "retort" else floor
        rows.append("| %s | %s | %d | %s | %s | %s | %s | %.1f MiB | %s | %s |" % (
            NAMES.get(b, b), tool_name(b, tool), len(runs), fmt(statistics.median(times)), fmt(min(times)),
            fmt(max(times)), fmt(statistics.median(r[2] for r in runs)), statistics.median(r[1] for r in runs), speed,
            floor))
    return "\n".join(rows)

main = [b for b in res if b in ("sqlite", "postgresql")]
in_main = lambda b, t: b in main and (t in ("retort", "baseline", "alembic") or (b == "sqlite" and t == "client-per" and e["FLOOR"] != "0"))
diag = [(b, t) for b in res for t in ("client-one", "client-per", "retort", "baseline", "alembic")
        if res[b][t] and not in_main(b, t) and (b not in main or t.startswith("client-"))]
verdict = ["| Goal | Result |", "|---|---|"]
if res["sqlite"]["retort"] and res["sqlite"]["client-per"] and e["FLOOR"] != "0":
    r = med(res["sqlite"]["retort"]) / med(res["sqlite"]["client-per"])
    verdict.append("| retort ≤ 1.1× the sqlite3 floor (same statements and version rows, one transaction per revision, same series), SQLite | %.2f×: %s |" % (
        r, "met" if r <= 1.1 else "**NOT met**"))
# (The former goal of 10× alembic was replaced by the floor: the floor itself is ~4.5× alembic.)
for b in main:
    if res[b]["retort"] and res[b]["alembic"]:
        s = med(res[b]["alembic"]) / med(res[b]["retort"])
        verdict.append("| (for information) alembic ÷ retort, %s | %.1f× |" % (NAMES[b], s))
check = ("every run (warm-ups included) ended with the version row at the head, %s tables, %s `ix_` indexes, "
         "%s rows, and the same schema digest for both tools." % (
             format(int(e["REVISIONS"]), ","), format(int(e["REVISIONS"]), ","), format(3 * int(e["REVISIONS"]), ","))
         if not e["FAILED"] else "**FAILED**\n\n" + e["FAILED"])
diag_text = ""
if diag:
    diag_text = f"""
Diagnostics (not goals: they show what the figures above are made of; {e["DIAG_RUNS"]} runs per row, no warm-up, same
correctness check). The plain scripts (`bench-out/execution/plain/*.sql`) are the same statements plus the version
row, run by the database's own client: what the database itself needs, without any migration tool.

{table(diag)}
"""
    if e["SYNC_COUNTS"]:
        diag_text += "\nSync calls of one SQLite run (`strace -f -c`): %s.\n" % e["SYNC_COUNTS"].rstrip("; ")

HEADING = "## Retort vs Alembic: `upgrade head`"
section = f"""{HEADING} of {int(e["REVISIONS"]):,} SQL revisions

- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}
- Machine: {e["MACHINE"]}
- Versions: {e["VERSIONS"]}
- Reproduce: `bash scripts/bench/execution.sh` (rewrites this section only; the projects are generated into
  `bench-out/execution`, the SQLite files go to `bench-out/execution/db`, each PostgreSQL run gets a scratch database
  that is dropped afterwards)
- Projects: `scripts/bench/generate_sql_project.py --revisions {e["REVISIONS"]} --seed {e["SEED"]}` writes the same linear chain
  twice: a native SQL project (`retort.toml` + `versions/*.sql`) and an Alembic project (alembic 1.20.1's generic
  template: `alembic.ini`, the standard online `env.py` — `engine_from_config`, `NullPool`,
  `context.configure(connection=...)`, `begin_transaction`, `run_migrations` — and one `op.execute("...")` per
  statement). Every revision runs the same three statements with both tools: `CREATE TABLE` (integer key, 2–4 typed
  columns, a foreign key to the previous revision's table), `CREATE INDEX`, and an `INSERT` of 3 rows.
- Method: each run starts from an empty database (a new SQLite file; a new PostgreSQL database) and runs
  `upgrade head` (base → head); wall time of the whole process (`date +%s%N` around it, output to a log file);
  client CPU (user + system time of the tool's process, not the server's) and peak RSS from `/usr/bin/time`.
  {e["WARMUP"]} untimed warm-up run per tool (alembic compiles its `__pycache__`), then {e["RUNS"]} timed runs; the tools take
  turns, and which goes first rotates from run to run. Both tools run with their defaults: retort commits each
  revision in its own transaction; alembic's standard `env.py` runs the whole upgrade inside one
  `begin_transaction()`, which is one transaction on PostgreSQL, while on SQLite (DDL not transactional for alembic)
  pysqlite commits as it goes: about three commits per revision (see the sync counts below).

{table([(b, t) for b in main for t in ("retort", "baseline", "alembic", "client-per") if in_main(b, t)])}

Correctness check after every run: {check}

| Goal | Result |
|---|---|
""" + "\n".join(verdict[2:]) + "\n" + diag_text

old = open(sys.argv[2]).read() if os.path.exists(sys.argv[2]) else ""
kept = ""
if HEADING in old:
    start = old.index(HEADING)
    end = old.find("\n## ", start)
    end = len(old) if end < 0 else end + 1
    mine = old[start:end]
    # Hand-written findings (### Findings ...) survive re-runs, as the engine section's Notes do.
    if "\n### Findings" in mine:
        kept = mine[mine.index("\n### Findings") + 1:]
    old = old[:start] + old[end:]
doc = old.rstrip("\n") + "\n\n" + section + ("\n" + kept if kept else "")
open(sys.argv[2], "w").write(doc.rstrip("\n") + "\n")
print("\n" + section)
EOF
echo "(written to ${DOC#"$REPO"/})"
if [ -n "$FAILED" ]; then
    echo "!! some runs failed or ended in the wrong state; see above" >&2
    exit 1
fi
