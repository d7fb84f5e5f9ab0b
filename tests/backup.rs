//! `retort backup`, `retort backups` and `retort restore` on real SQLite, PostgreSQL and
//! MariaDB databases.
//!
//! Round trips: a native SQL project's first revision creates the tables, they are filled
//! (blobs with zero bytes, unicode, NULLs, empty values), backed up, the project is upgraded
//! (a column, a new table, changed and deleted rows), the backup is restored, and every
//! table's row count and content and the version rows must be as before the upgrade.
//! Then: a backup killed midway leaves nothing complete-looking and nothing in the catalog;
//! restoring into another database; retention; and no password anywhere.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{ScratchDb, Server, native_layout, required, retort};

const R1: &str = "1000aaaa0001";
const R2: &str = "2000bbbb0002";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Sqlite,
    Postgres,
    MariaDb,
}

/// A native SQL project: R1 creates `items` and `people`, R2 changes them and adds `later`.
fn native_project(dir: &Path, kind: Kind) {
    let versions = native_layout(dir, "versions = [\"versions\"]\n");
    let (blob, text, charset) = match kind {
        Kind::Sqlite => ("BLOB", "TEXT", ""),
        Kind::Postgres => ("BYTEA", "TEXT", ""),
        Kind::MariaDb => ("LONGBLOB", "TEXT", " DEFAULT CHARSET=utf8mb4"),
    };
    fs::write(
        versions.join(format!("{R1}_tables.sql")),
        format!(
            "-- revision: {R1}\n-- down_revision:\n-- message: tables\n\n-- migrate:up\n\
             CREATE TABLE items (id INTEGER PRIMARY KEY, name {text}, data {blob}, note VARCHAR(100)){charset};\n\
             CREATE TABLE people (id INTEGER PRIMARY KEY, full_name VARCHAR(200) NOT NULL, photo {blob}){charset};\n\n\
             -- migrate:down\nDROP TABLE people;\nDROP TABLE items;\n"
        ),
    )
    .unwrap();
    fs::write(
        versions.join(format!("{R2}_changes.sql")),
        format!(
            "-- revision: {R2}\n-- down_revision: {R1}\n-- message: changes\n\n-- migrate:up\n\
             ALTER TABLE items ADD COLUMN extra INTEGER;\n\
             UPDATE items SET name = 'changed' WHERE id = 1;\n\
             DELETE FROM items WHERE id = 2;\n\
             INSERT INTO people (id, full_name) VALUES (100000, 'late');\n\
             CREATE TABLE later (id INTEGER PRIMARY KEY);\n\n\
             -- migrate:down\nDROP TABLE later;\n"
        ),
    )
    .unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows with blobs (zero bytes, 16 KB ones, empty, NULL), unicode and NULLs.
fn fill_sql(kind: Kind) -> String {
    let blob = |b: &[u8]| match kind {
        Kind::Postgres => format!("decode('{}', 'hex')", hex(b)),
        _ => format!("X'{}'", hex(b)),
    };
    let mut sql = String::new();
    for i in 1..=300u32 {
        let bytes: Vec<u8> = (0..(i % 17) * 13 + if i % 50 == 0 { 16_384 } else { 0 })
            .map(|j| (j * 7 + i) as u8)
            .collect();
        let data = match i % 10 {
            0 => "NULL".to_string(),
            5 => blob(&[]),
            _ => blob(&bytes),
        };
        let name = match i % 7 {
            0 => "NULL".to_string(),
            3 => "''".to_string(),
            _ => format!("'naïve ☃ 名前 {i} it''s'"),
        };
        let note = if i % 3 == 0 {
            "NULL".to_string()
        } else {
            format!("'n{i}'")
        };
        sql.push_str(&format!(
            "INSERT INTO items (id, name, data, note) VALUES ({i}, {name}, {data}, {note});\n"
        ));
        if i % 4 == 0 {
            let photo = if i % 8 == 0 {
                "NULL".into()
            } else {
                blob(&bytes)
            };
            sql.push_str(&format!(
                "INSERT INTO people (id, full_name, photo) VALUES ({i}, 'Zoë {i} 🙂', {photo});\n"
            ));
        }
    }
    sql
}

/// A database under test, seen through its own client.
enum Db {
    Sqlite(PathBuf),
    Server(ScratchDb),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite(p) => format!("sqlite:///{}", p.display()),
            Db::Server(s) => s.url(),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Db::Sqlite(_) => Kind::Sqlite,
            Db::Server(s) if s.server == Server::Postgres => Kind::Postgres,
            Db::Server(_) => Kind::MariaDb,
        }
    }

    fn exec(&self, sql: &str) -> String {
        match self {
            Db::Sqlite(p) => {
                let out = Command::new("sqlite3")
                    .arg(p)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .and_then(|mut c| {
                        use std::io::Write;
                        c.stdin.take().unwrap().write_all(sql.as_bytes())?;
                        c.wait_with_output()
                    })
                    .expect("sqlite3");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            // One argument may hold at most 128 KB (Linux): long scripts go in pieces.
            Db::Server(s) => {
                // The mariadb client's default here is utf8mb3, which refuses emoji.
                let start = if s.server == Server::MariaDb {
                    "SET NAMES utf8mb4;\n"
                } else {
                    ""
                };
                let mut out = String::new();
                let mut piece = start.to_string();
                for line in sql.lines() {
                    if piece.len() + line.len() > 100_000 {
                        out.push_str(&s.query(&piece));
                        piece = start.to_string();
                    }
                    piece.push_str(line);
                    piece.push('\n');
                }
                if piece.len() > start.len() {
                    out.push_str(&s.query(&piece));
                }
                out
            }
        }
    }

    fn tables(&self) -> Vec<String> {
        let sql = match self.kind() {
            Kind::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            Kind::Postgres => {
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
            }
            Kind::MariaDb => {
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
            }
        };
        self.exec(sql).lines().map(str::to_string).collect()
    }

    /// Every table: its row count and its rows, in key order, as the client prints them
    /// (blobs in hex, NULLs distinct from empty strings).
    fn snapshot(&self) -> BTreeMap<String, (usize, String)> {
        self.tables()
            .into_iter()
            .map(|t| {
                let sql = match self.kind() {
                    Kind::Sqlite => format!(".mode quote\nSELECT * FROM \"{t}\" ORDER BY 1;"),
                    Kind::Postgres => format!(
                        "SELECT CASE WHEN r IS NULL THEN 'NULL' ELSE r::text END FROM \"{t}\" r ORDER BY 1"
                    ),
                    Kind::MariaDb => {
                        let cols = self.exec(&format!(
                            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{t}' ORDER BY ordinal_position"
                        ));
                        let exprs: Vec<String> = cols
                            .lines()
                            .map(|c| format!("IFNULL(HEX(`{c}`), 'NULL')"))
                            .collect();
                        format!("SELECT {} FROM `{t}` ORDER BY 1", exprs.join(", "))
                    }
                };
                let rows = self.exec(&sql);
                (t, (rows.lines().count(), rows))
            })
            .collect()
    }
}

fn sqlite3_present() -> bool {
    let ok = Command::new("sqlite3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !required(),
            "sqlite3 is required (RETORT_REQUIRE_ALEMBIC=1)"
        );
        eprintln!("sqlite3 not installed: skipped");
    }
    ok
}

/// `retort` with its own store (`RETORT_HOME`).
struct Retort {
    home: PathBuf,
}

impl Retort {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(retort())
            .args(args)
            .env("RETORT_HOME", &self.home)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .expect("retort runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "retort {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("JSON")
    }

    /// Backs up; returns the catalog record.
    fn backup(&self, url: &str, dir: &Path, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["--url", url, "backup", "--dir", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.json(&args)["backup"].clone()
    }

    fn catalog(&self) -> serde_json::Value {
        self.json(&["backups"])
    }
}

fn version_rows(db: &Db) -> Vec<String> {
    let mut rows: Vec<String> = db
        .exec("SELECT version_num FROM alembic_version")
        .lines()
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

/// The whole round trip on one database.
fn round_trip(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    native_project(&proj, db.kind());
    let r = Retort {
        home: dir.path().join("home"),
    };
    let url = db.url();
    let cfg = proj.to_str().unwrap();
    r.ok(&["-c", cfg, "--url", &url, "upgrade", R1]);
    db.exec(&fill_sql(db.kind()));
    let before = db.snapshot();
    assert_eq!(before["items"].0, 300);
    assert_eq!(before["people"].0, 75);
    assert_eq!(version_rows(&db), [R1]);

    let backups = dir.path().join("backups");
    let record = r.backup(&url, &backups, &["-c", cfg]);
    assert_eq!(record["revisions"], serde_json::json!([R1]));
    let path = PathBuf::from(record["path"].as_str().unwrap());
    assert!(path.is_file() && path.starts_with(&backups), "{record}");
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        record["size_bytes"].as_u64().unwrap()
    );
    assert_eq!(record["sha256"].as_str().unwrap().len(), 64);
    let id = record["id"].as_i64().unwrap().to_string();
    let listed = r.catalog();
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1);
    assert_eq!(listed["backups"][0]["id"], record["id"]);
    assert_eq!(
        r.ok(&["backups", "reveal", &id]).trim(),
        path.to_str().unwrap()
    );
    assert!(r.ok(&["backups", "verify", &id]).contains("intact"));

    r.ok(&["-c", cfg, "--url", &url, "upgrade", "heads"]);
    assert_eq!(version_rows(&db), [R2]);
    let upgraded = db.snapshot();
    assert_ne!(upgraded, before);
    assert!(upgraded.contains_key("later"));

    // Without a terminal and without --yes nothing happens.
    let refused = r.run(&["--url", &url, "restore", &id]);
    assert!(!refused.status.success());
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    assert!(String::from_utf8_lossy(&refused.stdout).contains("--yes"));
    assert_eq!(db.snapshot(), upgraded);

    let out = r.ok(&["--url", &url, "restore", &id, "--yes"]);
    assert!(out.contains(&format!("Version rows now: {R1}")), "{out}");
    let after = db.snapshot();
    for (table, (count, rows)) in &before {
        let (c, r) = &after[table];
        assert_eq!(c, count, "{table}: row count");
        assert!(r == rows, "{table}: contents differ after the restore");
    }
    assert_eq!(after, before, "the same tables with the same rows");
    assert_eq!(version_rows(&db), [R1]);
    // The journal has the backup and the restore, both with the backup's id.
    let log = r.json(&["log"]);
    let entry = |kind: &str| {
        log.as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} entry in {log}"))
            .clone()
    };
    let (b, rs) = (entry("backup"), entry("restore"));
    assert_eq!(
        (&b["outcome"], &b["backup_id"]),
        (&"ok".into(), &record["id"])
    );
    assert_eq!(b["to_revisions"], serde_json::json!([R1]));
    assert_eq!(
        (&rs["outcome"], &rs["backup_id"]),
        (&"ok".into(), &record["id"])
    );
    assert_eq!(rs["from_revisions"], serde_json::json!([R2]));
    assert_eq!(rs["to_revisions"], serde_json::json!([R1]));
    // The restored database migrates again.
    r.ok(&["-c", cfg, "--url", &url, "upgrade", "heads"]);
    assert_eq!(db.snapshot(), upgraded);
}

#[test]
fn sqlite_round_trip() {
    if !sqlite3_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    round_trip(Db::Sqlite(dir.path().join("app.db")));
}

#[test]
fn postgres_round_trip() {
    if let Some(db) = ScratchDb::create(Server::Postgres, "backup_rt") {
        round_trip(Db::Server(db));
    }
}

#[test]
fn mariadb_round_trip() {
    if let Some(db) = ScratchDb::create(Server::MariaDb, "backup_rt") {
        round_trip(Db::Server(db));
    }
}

/// A backup restored into another database (a saved connection, `--to NAME`), with the restore
/// test into a scratch database.
fn into_another(server: Server) {
    let (Some(a), Some(b)) = (
        ScratchDb::create(server, "backup_a"),
        ScratchDb::create(server, "backup_b"),
    ) else {
        return;
    };
    let kind = if server == Server::Postgres {
        Kind::Postgres
    } else {
        Kind::MariaDb
    };
    let (a, b) = (Db::Server(a), Db::Server(b));
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    native_project(&proj, kind);
    let r = Retort {
        home: dir.path().join("home"),
    };
    let cfg = proj.to_str().unwrap();
    r.ok(&["-c", cfg, "--url", &a.url(), "upgrade", R1]);
    a.exec(&fill_sql(kind));
    b.exec("CREATE TABLE unrelated (x INTEGER)");
    r.ok(&["connections", "add", "source-db", "--from-url", &a.url()]);
    r.ok(&["connections", "add", "other-db", "--from-url", &b.url()]);

    let record = r.json(&[
        "--connection",
        "source-db",
        "backup",
        "--dir",
        dir.path().join("bk").to_str().unwrap(),
        "--verify-restore",
    ])["backup"]
        .clone();
    assert_eq!(record["connection"], "source-db");
    assert_eq!(record["restore_tested"], true);
    let id = record["id"].as_i64().unwrap().to_string();
    let report = r.json(&["restore", &id, "--to", "other-db", "--yes"]);
    assert_eq!(report["revisions"], serde_json::json!([R1]));
    assert_eq!(
        report["dropped_tables"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(b.snapshot(), a.snapshot());
    // No scratch database of the restore test is left.
    let probe = match server {
        Server::Postgres => {
            "SELECT datname FROM pg_database WHERE datname LIKE 'retort_restore_test%'"
        }
        Server::MariaDb => {
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'retort_restore_test%'"
        }
    };
    assert_eq!(a.exec(probe).trim(), "");
}

#[test]
fn postgres_restore_into_another_database() {
    into_another(Server::Postgres);
}

#[test]
fn mariadb_restore_into_another_database() {
    into_another(Server::MariaDb);
}

/// SIGKILL while the backup runs: only a `.partial` file remains, the catalog stays empty,
/// `retort backups` shows the leftover as such, and the next backup removes it.
#[test]
fn a_killed_backup_leaves_nothing_that_looks_complete() {
    if !sqlite3_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("big.db"));
    db.exec(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, payload BLOB);
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
         INSERT INTO big SELECT x, randomblob(1000) FROM c;",
    );
    let r = Retort {
        home: dir.path().join("home"),
    };
    let backups = dir.path().join("backups");
    let url = db.url();
    let mut child = Command::new(retort())
        .args(["--url", &url, "backup", "--dir", backups.to_str().unwrap()])
        .env("RETORT_HOME", &r.home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let partial = loop {
        let found = fs::read_dir(&backups).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.to_string_lossy().ends_with(".partial")
                    && fs::metadata(p).is_ok_and(|m| m.len() > 4 << 20)
            })
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup finished before it could be killed midway"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no partial file appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running when killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let names: Vec<String> = fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| n.contains(".partial")),
        "a complete-looking file was left: {names:?}"
    );
    let catalog = r.json(&["backups", "list", "--dir", backups.to_str().unwrap()]);
    assert_eq!(catalog["backups"], serde_json::json!([]));
    let partials = catalog["partial_files"].as_array().unwrap();
    assert_eq!(partials.len(), 1, "{catalog}");
    assert_eq!(partials[0]["path"], partial.to_str().unwrap());
    assert_eq!(partials[0]["in_progress"], false);
    let text = r.ok(&["backups", "list", "--dir", backups.to_str().unwrap()]);
    assert!(
        text.contains("No backups.") && text.contains("partial file, not a backup"),
        "{text}"
    );

    // The next backup removes the leftover and succeeds.
    let record = r.backup(&url, &backups, &[]);
    let names: Vec<String> = fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [PathBuf::from(record["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()]
    );
    assert_eq!(r.catalog()["backups"].as_array().unwrap().len(), 1);
}

/// Retention keeps the newest N per connection; delete removes the row and the file.
#[test]
fn retention_and_delete() {
    if !sqlite3_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let one = Db::Sqlite(dir.path().join("one.db"));
    let two = Db::Sqlite(dir.path().join("two.db"));
    one.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    two.exec("CREATE TABLE t (x); INSERT INTO t VALUES (2);");
    let r = Retort {
        home: dir.path().join("home"),
    };
    let bk = dir.path().join("bk");
    let mut ones = Vec::new();
    for _ in 0..3 {
        ones.push(r.backup(&one.url(), &bk, &[]));
        std::thread::sleep(Duration::from_millis(5));
    }
    let twos = [
        r.backup(&two.url(), &bk, &[]),
        r.backup(&two.url(), &bk, &[]),
    ];
    assert_eq!(r.catalog()["backups"].as_array().unwrap().len(), 5);

    let deleted = r.json(&["backups", "prune", "--keep", "1"]);
    let gone: Vec<&serde_json::Value> = deleted
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["id"])
        .collect();
    assert_eq!(gone, [&twos[0]["id"], &ones[1]["id"], &ones[0]["id"]]);
    for d in [&ones[0], &ones[1], &twos[0]] {
        assert!(!Path::new(d["path"].as_str().unwrap()).exists());
    }
    let left: Vec<serde_json::Value> = r.catalog()["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].clone())
        .collect();
    assert_eq!(left, [twos[1]["id"].clone(), ones[2]["id"].clone()]);

    // --keep on backup prunes that connection only.
    let newest = r.backup(&one.url(), &bk, &["--keep", "1"]);
    assert!(!Path::new(ones[2]["path"].as_str().unwrap()).exists());
    assert_eq!(r.catalog()["backups"].as_array().unwrap().len(), 2);

    let id = newest["id"].as_i64().unwrap().to_string();
    r.ok(&["backups", "delete", &id]);
    assert!(!Path::new(newest["path"].as_str().unwrap()).exists());
    assert_eq!(r.catalog()["backups"].as_array().unwrap().len(), 1);
    assert!(!r.run(&["backups", "delete", &id]).status.success());
}

/// A password in the URL reaches pg_dump (trust accepts any) but nothing Retort writes or
/// prints: not the catalog, not the file name, not the output.
#[test]
fn no_password_is_kept_or_shown() {
    let Some(db) = ScratchDb::create(Server::Postgres, "backup_pw") else {
        return;
    };
    db.query("CREATE TABLE t (x INTEGER)");
    let dir = tempfile::tempdir().unwrap();
    let r = Retort {
        home: dir.path().join("home"),
    };
    let secret = "s3cr3t-Pw-98231";
    let url = format!("postgresql://postgres:{secret}@127.0.0.1:5432/{}", db.name);
    let bk = dir.path().join("bk");
    let text = r.ok(&["--url", &url, "backup", "--dir", bk.to_str().unwrap()]);
    assert!(!text.contains(secret) && text.contains(":***@"), "{text}");
    let listed = r.ok(&["--json", "backups"]);
    assert!(!listed.contains(secret));
    let store = fs::read(dir.path().join("home/retort.db")).unwrap();
    assert!(!String::from_utf8_lossy(&store).contains(secret));
    for entry in fs::read_dir(&bk).unwrap() {
        assert!(
            !entry
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(secret)
        );
    }
    // The backup's URL had a password Retort did not keep: a restore must name the target.
    let id = serde_json::from_str::<serde_json::Value>(&listed).unwrap()["backups"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = r.run(&["restore", &id, "--yes"]);
    assert!(!out.status.success());
    // The error (`FAILED: ...`) is on stdout; the password is on neither stream.
    let (err, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(err.contains("--to NAME") && !err.contains(secret), "{err}");
    assert!(!stderr.contains(secret), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Restores are proven: the matrix of an empty database, one with data, and one with extra
// schemas, views, sequences and types, restored into the same and into another database, each
// compared before and after by the engine's own client.

/// What the source holds before the backup.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Content {
    /// Nothing at all: no table, not even the version table.
    Empty,
    /// The project's first revision and its rows.
    Data,
    /// That, and objects of other kinds (PostgreSQL: a schema of its own with a table, an enum
    /// type, a view, a sequence and a function; MariaDB: a view, a sequence and a procedure;
    /// SQLite: a view, an index and a trigger).
    Extras,
}

fn extras_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => {
            "CREATE SCHEMA extra;
             CREATE TYPE extra.mood AS ENUM ('calm', 'busy');
             CREATE TABLE extra.moods (id INTEGER PRIMARY KEY, mood extra.mood NOT NULL);
             INSERT INTO extra.moods VALUES (1, 'calm'), (2, 'busy');
             CREATE VIEW extra.busy AS SELECT id FROM extra.moods WHERE mood = 'busy';
             CREATE SEQUENCE public.tickets START 40;
             CREATE VIEW public.named AS SELECT id, name FROM items WHERE name IS NOT NULL;
             CREATE INDEX ix_items_note ON items (note);
             CREATE FUNCTION public.double_it(n INTEGER) RETURNS INTEGER LANGUAGE sql AS 'SELECT n * 2';"
        }
        Kind::MariaDb => {
            "CREATE VIEW named AS SELECT id, name FROM items WHERE name IS NOT NULL;
             CREATE SEQUENCE tickets START WITH 40;
             CREATE INDEX ix_items_note ON items (note);
             CREATE PROCEDURE count_items() SELECT COUNT(*) FROM items;"
        }
        Kind::Sqlite => {
            "CREATE VIEW named AS SELECT id, name FROM items WHERE name IS NOT NULL;
             CREATE INDEX ix_items_note ON items (note);
             CREATE TRIGGER items_note AFTER INSERT ON items BEGIN SELECT 1; END;"
        }
    }
}

/// Objects of every kind a migration might create after the backup, in the project's schema:
/// the restore must remove them all.
fn later_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => {
            "CREATE VIEW later_view AS SELECT id FROM later;
             CREATE SEQUENCE later_seq;
             CREATE TYPE later_mood AS ENUM ('x', 'y');
             CREATE TABLE later_typed (m later_mood);
             CREATE FUNCTION later_fn() RETURNS INTEGER LANGUAGE sql AS 'SELECT 1';
             CREATE INDEX ix_people_name ON people (full_name);"
        }
        Kind::MariaDb => {
            "CREATE VIEW later_view AS SELECT id FROM later;
             CREATE SEQUENCE later_seq;
             CREATE PROCEDURE later_proc() SELECT 1;
             CREATE INDEX ix_people_name ON people (full_name);"
        }
        Kind::Sqlite => {
            "CREATE VIEW later_view AS SELECT id FROM later;
             CREATE INDEX ix_people_name ON people (full_name);"
        }
    }
}

impl Db {
    /// Every object with its definition where the client shows one, and every table's row
    /// count, as the engine's own client lists them (database names replaced by `DB`).
    fn objects(&self) -> Vec<String> {
        let sql = match self.kind() {
            Kind::Sqlite => {
                "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY 1;"
                    .to_string()
            }
            Kind::Postgres => r#"
                WITH ns AS (SELECT oid, nspname FROM pg_namespace
                            WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema')
                SELECT 'schema ' || nspname FROM ns
                UNION ALL
                SELECT 'relation ' || c.relkind::text || ' ' || ns.nspname || '.' || c.relname
                  || CASE WHEN c.relkind = 'r' THEN ' rows=' || (xpath('/row/n/text()',
                       query_to_xml(format('SELECT count(*) AS n FROM %I.%I', ns.nspname, c.relname),
                       false, true, '')))[1]::text ELSE '' END
                  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i')
                UNION ALL
                SELECT 'view ' || schemaname || '.' || viewname || ' ' || definition FROM pg_views
                  WHERE schemaname NOT LIKE 'pg\_%' AND schemaname <> 'information_schema'
                UNION ALL
                SELECT 'index ' || schemaname || '.' || indexname || ' ' || indexdef FROM pg_indexes
                  WHERE schemaname NOT LIKE 'pg\_%' AND schemaname <> 'information_schema'
                UNION ALL
                SELECT 'type ' || ns.nspname || '.' || t.typname || ' ' || t.typtype::text || ' '
                  || coalesce((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder)
                               FROM pg_enum e WHERE e.enumtypid = t.oid), '')
                  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'r')
                UNION ALL
                SELECT 'function ' || ns.nspname || '.' || p.proname || '('
                  || pg_get_function_identity_arguments(p.oid) || ') ' || p.prosrc
                  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
                UNION ALL
                SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || start_value
                  FROM pg_sequences WHERE schemaname NOT LIKE 'pg\_%'
                ORDER BY 1"#
                .to_string(),
            Kind::MariaDb => "SELECT CONCAT(table_type, ' ', table_name) FROM information_schema.tables
                    WHERE table_schema = DATABASE()
                UNION ALL SELECT DISTINCT CONCAT('index ', table_name, '.', index_name, ' ', column_name)
                    FROM information_schema.statistics WHERE table_schema = DATABASE()
                UNION ALL SELECT CONCAT(routine_type, ' ', routine_name, ' ', routine_definition)
                    FROM information_schema.routines WHERE routine_schema = DATABASE()
                UNION ALL SELECT CONCAT('view ', table_name, ' ', view_definition)
                    FROM information_schema.views WHERE table_schema = DATABASE()
                ORDER BY 1"
                .to_string(),
        };
        let text = self.exec(&sql);
        let text = match self {
            Db::Server(s) => text.replace(&s.name, "DB"),
            Db::Sqlite(_) => text,
        };
        text.lines().map(str::to_string).collect()
    }

    /// The objects and every row, as the client sees them.
    fn state(&self) -> (Vec<String>, BTreeMap<String, (usize, String)>) {
        (self.objects(), self.snapshot())
    }
}

/// A fresh database of the kind: a SQLite file in `dir`, or a scratch database.
fn fresh(kind: Kind, dir: &Path, name: &str) -> Option<Db> {
    match kind {
        Kind::Sqlite => Some(Db::Sqlite(dir.join(format!("{name}.db")))),
        Kind::Postgres => ScratchDb::create(Server::Postgres, name).map(Db::Server),
        Kind::MariaDb => ScratchDb::create(Server::MariaDb, name).map(Db::Server),
    }
}

/// Backs up a database holding `content`, upgrades it and adds more, then restores the backup
/// into it and into another database (which holds an unrelated table); each must be as the
/// source was, by its own client.
fn restore_matrix(kind: Kind, content: Content) {
    if kind == Kind::Sqlite && !sqlite3_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (Some(source), Some(other)) = (
        fresh(kind, dir.path(), "matrix_src"),
        fresh(kind, dir.path(), "matrix_other"),
    ) else {
        return;
    };
    let proj = dir.path().join("proj");
    native_project(&proj, kind);
    let cfg = proj.to_str().unwrap();
    let r = Retort {
        home: dir.path().join("home"),
    };
    let url = source.url();
    match content {
        Content::Empty => {
            if kind == Kind::Sqlite {
                source.exec("PRAGMA user_version = 0;");
            }
        }
        Content::Data | Content::Extras => {
            r.ok(&["-c", cfg, "--url", &url, "upgrade", R1]);
            source.exec(&fill_sql(kind));
            if content == Content::Extras {
                source.exec(extras_sql(kind));
            }
        }
    }
    let before = source.state();
    let record = r.backup(&url, &dir.path().join("backups"), &["-c", cfg]);
    let id = record["id"].as_i64().unwrap().to_string();

    r.ok(&["-c", cfg, "--url", &url, "upgrade", "heads"]);
    source.exec(later_sql(kind));
    assert_ne!(source.state(), before, "the upgrade changed the database");

    let out = r.ok(&["--url", &url, "restore", &id, "--yes"]);
    assert!(out.contains("Restored and verified"), "{out}");
    let after = source.state();
    assert_eq!(
        after.0, before.0,
        "{content:?}: the objects after the restore"
    );
    assert_eq!(after.1, before.1, "{content:?}: the rows after the restore");

    other.exec("CREATE TABLE unrelated (x INTEGER);");
    let report = r.json(&["--url", &other.url(), "restore", &id, "--yes"]);
    assert_eq!(
        report["verification"]["revisions"], record["revisions"],
        "{report}"
    );
    let copied = other.state();
    assert_eq!(
        copied.0, before.0,
        "{content:?}: the objects of the other database"
    );
    assert_eq!(
        copied.1, before.1,
        "{content:?}: the rows of the other database"
    );
}

#[test]
fn sqlite_restore_of_an_empty_database() {
    restore_matrix(Kind::Sqlite, Content::Empty);
}

#[test]
fn sqlite_restore_of_a_database_with_data() {
    restore_matrix(Kind::Sqlite, Content::Data);
}

#[test]
fn sqlite_restore_of_a_database_with_views_indexes_triggers() {
    restore_matrix(Kind::Sqlite, Content::Extras);
}

#[test]
fn postgres_restore_of_an_empty_database() {
    restore_matrix(Kind::Postgres, Content::Empty);
}

#[test]
fn postgres_restore_of_a_database_with_data() {
    restore_matrix(Kind::Postgres, Content::Data);
}

#[test]
fn postgres_restore_of_a_database_with_schemas_views_sequences_types() {
    restore_matrix(Kind::Postgres, Content::Extras);
}

#[test]
fn mariadb_restore_of_an_empty_database() {
    restore_matrix(Kind::MariaDb, Content::Empty);
}

#[test]
fn mariadb_restore_of_a_database_with_data() {
    restore_matrix(Kind::MariaDb, Content::Data);
}

#[test]
fn mariadb_restore_of_a_database_with_views_sequences_routines() {
    restore_matrix(Kind::MariaDb, Content::Extras);
}

/// An object the restore does not clear (a schema outside the project's, made after the
/// backup) is named as a difference: the restore fails as not verified, and the journal says
/// so, instead of reporting success.
#[test]
fn postgres_restore_names_what_does_not_match_the_backup() {
    let Some(db) = ScratchDb::create(Server::Postgres, "backup_diff") else {
        return;
    };
    let db = Db::Server(db);
    let dir = tempfile::tempdir().unwrap();
    let r = Retort {
        home: dir.path().join("home"),
    };
    db.exec("CREATE TABLE kept (x INTEGER); INSERT INTO kept VALUES (1);");
    let record = r.backup(&db.url(), &dir.path().join("bk"), &[]);
    let id = record["id"].as_i64().unwrap().to_string();
    db.exec("CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.made_later (x INTEGER);");

    let out = r.run(&["--url", &db.url(), "restore", &id, "--yes"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains("Restored"), "{stdout}");
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    assert!(
        stdout.contains("does not match the backup (2 differences)")
            && stdout.contains("schema elsewhere: not in the backup")
            && stdout.contains("table elsewhere.made_later: not in the backup"),
        "{stdout}{stderr}"
    );
    let log = r.json(&["log"]);
    let entry = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "restore")
        .unwrap_or_else(|| panic!("no restore entry in {log}"));
    assert_eq!(entry["outcome"], "failed", "{entry}");
    assert!(
        entry["error"]
            .as_str()
            .unwrap()
            .contains("table elsewhere.made_later: not in the backup"),
        "{entry}"
    );
}
