#!/usr/bin/env bash
# Benchmark: `retort backup` against the bare tools it wraps, on a ~1 GB SQLite database (vs
# `sqlite3 .backup`) and a ~1 GB PostgreSQL database (vs `pg_dump -Fc`). Retort's time is the
# whole command: reading the revisions, the copy, fsync, verification (`PRAGMA integrity_check`
# / `pg_restore --list`), the SHA-256 and the catalog entry. The verification alone is timed
# too, so the cost of the copy and of the check can be told apart. Runs alternate between the
# tools (RUNS each, median reported); the results go to docs/benchmarks.md as its "Backups"
# section (the rest of the file is kept). Not part of the test suite.
#
#   bash scripts/bench/backup.sh
#
# Knobs (environment): SIZE_MB (1024), RUNS (3), BACKENDS ("sqlite postgresql"),
# PG_URL (postgresql://postgres@127.0.0.1:5432, a role that may create databases).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/setup.sh"
REPO=$(repo_root)
cd "$REPO"
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgresql}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432}
OUT=$REPO/bench-out/backup
RETORT=$REPO/target/release/retort
DOC=$REPO/docs/benchmarks.md
PGDB=retort_bench_backup

ensure_rust
ensure_services
ensure_dump_tools
cargo build --release -p retort-cli >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT/home" "$OUT/retort" "$OUT/tool"
export RETORT_HOME=$OUT/home

now() { date +%s.%N; }
# seconds a command takes (its output discarded); fails the script if the command fails. Dirty
# pages left by the run before are written out first, so no run pays for another's writeback.
timed() { local t0 t1; sync; t0=$(now); "$@" >/dev/null 2>"$OUT/last.err" || { cat "$OUT/last.err" >&2; exit 1; }; t1=$(now); echo "$t1 - $t0" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.2f–%.2f", lo, hi}'; }
mb() { echo "scale=0; $1 / 1000000" | bc; }

results=()
note() { results+=("$1"); echo "$1"; }

if [[ " $BACKENDS " == *" sqlite "* ]]; then
  DB=$OUT/bench.db
  rows=$(( SIZE_MB * 1024 * 1024 / 1100 ))
  echo "==> generating a ${SIZE_MB} MB SQLite database ($rows rows)"
  sqlite3 "$DB" "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;
    CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
    INSERT INTO alembic_version VALUES ('1000aaaa0001');
    CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, at TEXT, payload BLOB, note TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
    INSERT INTO events SELECT i, 'kind-' || (i % 97), datetime(1700000000 + i, 'unixepoch'),
      randomblob(700), CASE WHEN i % 5 = 0 THEN NULL ELSE printf('%.300c', char(65 + i % 26)) END FROM n;
    CREATE INDEX events_kind ON events (kind);
    PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
  size=$(stat -c %s "$DB")
  echo "    $(mb "$size") MB"
  t_tool=(); t_retort=(); t_check=()
  for i in $(seq 1 "$RUNS"); do
    rm -f "$OUT/tool/copy.db"
    t_tool+=("$(timed sqlite3 "$DB" ".backup '$OUT/tool/copy.db'")")
    rm -f "$OUT"/retort/*
    t_retort+=("$(timed "$RETORT" --url "sqlite:///$DB" backup --dir "$OUT/retort")")
    t_check+=("$(timed sqlite3 "$OUT/tool/copy.db" "PRAGMA integrity_check")")
    echo "    run $i: sqlite3 .backup ${t_tool[-1]} s, retort backup ${t_retort[-1]} s, integrity_check alone ${t_check[-1]} s"
  done
  copy_size=$(stat -c %s "$(ls "$OUT"/retort/*.sqlite)")
  [ "$copy_size" -ge "$size" ] || [ "$copy_size" -ge $(( size * 9 / 10 )) ] || { echo "copy is too small" >&2; exit 1; }
  mt=$(median "${t_tool[@]}"); mr=$(median "${t_retort[@]}"); mc=$(median "${t_check[@]}")
  note "| SQLite, $(mb "$size") MB | \`sqlite3 .backup\` | $mt s ($(range "${t_tool[@]}")) | $mr s ($(range "${t_retort[@]}")) | $(echo "scale=2; $mr / $mt" | bc) × | $mc s |"
  rm -f "$DB" "$DB"-wal "$DB"-shm "$OUT"/tool/* "$OUT"/retort/*
fi

if [[ " $BACKENDS " == *" postgresql "* ]]; then
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null
  psql "$PG_URL/postgres" -qc "CREATE DATABASE $PGDB" >/dev/null
  rows=$(( SIZE_MB * 1024 * 1024 / 480 ))
  echo "==> generating a ~${SIZE_MB} MB PostgreSQL database ($rows rows)"
  psql "$PG_URL/$PGDB" -q >/dev/null <<SQL
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('1000aaaa0001');
CREATE TABLE events (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, at TIMESTAMPTZ, payload BYTEA, note TEXT);
INSERT INTO events SELECT i, 'kind-' || (i % 97), to_timestamp(1700000000 + i),
  decode(md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text), 'hex'),
  CASE WHEN i % 5 = 0 THEN NULL ELSE repeat(md5(i::text), 10) END
FROM generate_series(1, $rows) AS i;
CREATE INDEX events_kind ON events (kind);
VACUUM ANALYZE events;
SQL
  size=$(psql "$PG_URL/$PGDB" -Atc "SELECT pg_database_size(current_database())")
  echo "    $(mb "$size") MB (pg_database_size)"
  t_tool=(); t_retort=(); t_check=()
  for i in $(seq 1 "$RUNS"); do
    rm -f "$OUT/tool/bench.dump"
    t_tool+=("$(timed pg_dump -h 127.0.0.1 -U postgres -Fc -f "$OUT/tool/bench.dump" "$PGDB")")
    rm -f "$OUT"/retort/*
    t_retort+=("$(timed "$RETORT" --url "$PG_URL/$PGDB" backup --dir "$OUT/retort")")
    t_check+=("$(timed pg_restore --list "$OUT/tool/bench.dump")")
    echo "    run $i: pg_dump -Fc ${t_tool[-1]} s, retort backup ${t_retort[-1]} s, pg_restore --list alone ${t_check[-1]} s"
  done
  dump_size=$(stat -c %s "$OUT/tool/bench.dump")
  mt=$(median "${t_tool[@]}"); mr=$(median "${t_retort[@]}"); mc=$(median "${t_check[@]}")
  note "| PostgreSQL, $(mb "$size") MB (dump $(mb "$dump_size") MB) | \`pg_dump -Fc\` | $mt s ($(range "${t_tool[@]}")) | $mr s ($(range "${t_retort[@]}")) | $(echo "scale=2; $mr / $mt" | bc) × | $mc s |"
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null
  rm -f "$OUT"/tool/* "$OUT"/retort/*
fi

# The section in docs/benchmarks.md: replaced if present, appended otherwise.
section=$(mktemp)
{
  echo "## Backups: \`retort backup\` vs \`sqlite3 .backup\` and \`pg_dump -Fc\`"
  echo
  echo "Generated by \`scripts/bench/backup.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg) at the end;"
  echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1), pg_dump $(pg_dump --version | cut -d' ' -f3)). Median of $RUNS runs, alternating, page cache warm."
  echo "Retort's time is the whole command (revisions, copy, fsync, verification, SHA-256, catalog entry);"
  echo "the last column times the verification step alone, run by the bare tool on the bare tool's copy."
  echo
  echo "| database | bare tool | tool | retort backup | ratio | verification alone |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${results[@]}"
} > "$section"
python3 - "$DOC" "$section" <<'PY'
import sys, re
doc, sec = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
head = "## Backups: `retort backup`"
if head in text:
    start = text.index(head)
    nxt = text.find("\n## ", start + 1)
    rest = text[nxt + 1:] if nxt != -1 else ""
    # keep a hand-written "### Findings" subsection of this section
    old = text[start:nxt + 1 if nxt != -1 else len(text)]
    findings = old[old.index("### Findings"):] if "### Findings" in old else ""
    text = text[:start] + sec + ("\n" + findings if findings else "") + ("\n" + rest if rest else "")
else:
    text = text.rstrip("\n") + "\n\n" + sec
open(doc, "w").write(text.rstrip("\n") + "\n")
PY
rm -f "$section"
echo "==> written to docs/benchmarks.md"
