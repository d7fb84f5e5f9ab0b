//! The audit journal and `retort status`, end to end: runs recorded with their steps, file
//! checksums and outcomes; files changed since they were applied (line endings aside); a
//! killed run shown as interrupted; saved connections recorded by name and environment; and
//! no password in the journal.

mod support;

use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{ScratchDb, Server, retort};

struct Env {
    home: tempfile::TempDir,
    project: tempfile::TempDir,
}

impl Env {
    /// A copy of the demo project (a native SQL project with two heads and a merge).
    fn demo() -> Self {
        let project = tempfile::tempdir().unwrap();
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo");
        fs::create_dir(project.path().join("versions")).unwrap();
        fs::copy(demo.join("retort.toml"), project.path().join("retort.toml")).unwrap();
        for f in fs::read_dir(demo.join("versions")).unwrap() {
            let f = f.unwrap();
            fs::copy(
                f.path(),
                project.path().join("versions").join(f.file_name()),
            )
            .unwrap();
        }
        Self {
            home: tempfile::tempdir().unwrap(),
            project,
        }
    }

    /// A native project of one linear revision per `up` (ids 000000000001, ...).
    fn linear(ups: &[&str]) -> Self {
        let project = tempfile::tempdir().unwrap();
        fs::write(project.path().join("retort.toml"), "").unwrap();
        fs::create_dir(project.path().join("versions")).unwrap();
        for (i, up) in ups.iter().enumerate() {
            let down = if i == 0 {
                String::new()
            } else {
                format!("{i:012}")
            };
            fs::write(
                project.path().join(format!("versions/{:012}_step.sql", i + 1)),
                format!(
                    "-- revision: {:012}\n-- down_revision: {down}\n-- message: step {}\n\n-- migrate:up\n{up}\n",
                    i + 1,
                    i + 1
                ),
            )
            .unwrap();
        }
        Self {
            home: tempfile::tempdir().unwrap(),
            project,
        }
    }

    /// A native project of `n` linear revisions, each creating table `t<i>`, with long
    /// messages (so that a run prints well over a pipe's 64 KiB buffer).
    fn chain(n: usize) -> Self {
        let ups: Vec<String> = (1..=n)
            .map(|i| format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY);"))
            .collect();
        let env = Self::linear(&ups.iter().map(String::as_str).collect::<Vec<_>>());
        let long =
            "a message long enough to make every progress line a few hundred bytes ".repeat(4);
        for f in fs::read_dir(env.project.path().join("versions")).unwrap() {
            let path = f.unwrap().path();
            let text = fs::read_to_string(&path).unwrap();
            let text = text.replacen("-- message: step", &format!("-- message: {long}step"), 1);
            fs::write(&path, text).unwrap();
        }
        env
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(retort());
        c.args(args)
            .current_dir(self.project.path())
            .env("RETORT_HOME", self.home.path())
            .env_remove("DATABASE_URL")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "retort {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    fn version_file(&self, prefix: &str) -> std::path::PathBuf {
        fs::read_dir(self.project.path().join("versions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap()
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn runs_are_journaled_with_steps_checksums_and_outcomes() {
    let env = Env::demo();
    env.ok(&["upgrade", "heads"]);
    env.ok(&["downgrade", "-1"]);

    let log = env.json(&["log"]);
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log:#}");
    let (down, up) = (&entries[0], &entries[1]);
    assert_eq!(up["kind"], "upgrade");
    assert_eq!(up["target"], "heads");
    assert_eq!(up["outcome"], "ok");
    assert_eq!(strings(&up["from_revisions"]), Vec::<String>::new());
    assert_eq!(
        strings(&up["to_revisions"]),
        vec!["8b0d3e6f1c58", "a0e7d5c3b861"]
    );
    assert!(!up["os_user"].as_str().unwrap().is_empty());
    assert_eq!(
        up["workspace_dir"].as_str().unwrap(),
        env.project.path().display().to_string()
    );
    assert_eq!(up["connection"]["url"], "sqlite:///demo.db");
    let steps = up["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 10);
    for s in steps {
        assert_eq!(s["ok"], true);
        assert_eq!(s["file_sha256"].as_str().unwrap().len(), 64, "{s}");
    }
    assert_eq!(steps[0]["revision"], "1a0c5e2b7d01");

    assert_eq!(down["kind"], "downgrade");
    assert_eq!(down["target"], "-1");
    assert_eq!(
        strings(&down["to_revisions"]),
        vec!["7a5be04c9f12", "a0e7d5c3b861"]
    );
    assert_eq!(down["steps"].as_array().unwrap().len(), 1);
    assert!(
        down["steps"][0]["file_sha256"].is_null(),
        "a downgrade applies no file"
    );

    // Text form: who, where, from -> to, the steps.
    let text = env.ok(&["log"]);
    assert!(
        text.contains("#2 ") && text.contains("downgrade -1  OK"),
        "{text}"
    );
    assert!(
        text.contains("base -> 8b0d3e6f1c58, a0e7d5c3b861"),
        "{text}"
    );
    assert!(
        text.contains("1. upgrade  -> 1a0c5e2b7d01, create authors"),
        "{text}"
    );

    // Filters.
    let downs = env.json(&["log", "--kind", "downgrade"]);
    assert_eq!(downs.as_array().unwrap().len(), 1);
    let err = env.run(&["log", "--kind", "teleport"]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("unknown kind 'teleport'"));
}

#[test]
fn status_reports_pending_and_files_changed_since_applied() {
    let env = Env::demo();
    env.ok(&["upgrade", "7a5be04c9f12"]);

    let status = env.json(&["status"]);
    let s = &status[0];
    assert_eq!(s["reachable"], true);
    assert_eq!(s["version"]["status"], "behind");
    assert_eq!(
        strings(&s["version"]["pending"]),
        vec!["9c6a1f4b2e90", "a0e7d5c3b861", "8b0d3e6f1c58"]
    );
    assert!(s["changed"].as_array().unwrap().is_empty());
    assert!(s["unrecorded"].as_array().unwrap().is_empty());

    // A real edit of an applied file is reported; the same file with CRLF line endings is not.
    let edited = env.version_file("2b7e91c4a3f2");
    let text = fs::read_to_string(&edited).unwrap().replace(
        "-- migrate:up\n",
        "-- migrate:up\n-- edited after it was applied\n",
    );
    fs::write(&edited, text).unwrap();
    let crlf = env.version_file("1a0c5e2b7d01");
    let converted = fs::read_to_string(&crlf).unwrap().replace('\n', "\r\n");
    fs::write(&crlf, converted).unwrap();
    // A pending revision's file may change freely.
    let pending = env.version_file("8b0d3e6f1c58");
    let mut text = fs::read_to_string(&pending).unwrap();
    text.push_str("\n-- a note\n");
    fs::write(&pending, text).unwrap();

    let status = env.json(&["status"]);
    let changed = status[0]["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{status:#}");
    assert_eq!(changed[0]["revision"], "2b7e91c4a3f2");
    assert_eq!(changed[0]["applied"]["entry_id"], 1);
    assert_ne!(changed[0]["sha256_now"], changed[0]["applied"]["sha256"]);
    let text = env.ok(&["status"]);
    assert!(
        text.contains("CHANGED: 2b7e91c4a3f2 (versions/2b7e91c4a3f2_create_books.sql) changed since it was applied"),
        "{text}"
    );
    assert!(
        text.contains("pending: 9c6a1f4b2e90, a0e7d5c3b861, 8b0d3e6f1c58"),
        "{text}"
    );

    // `retort check` with a database names it too (as a warning; the demo's two heads are
    // its error).
    let out = env.run(&["check", "--url", "sqlite:///demo.db", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let changed: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "applied_file_changed")
        .collect();
    assert_eq!(changed.len(), 1, "{report:#}");
    assert_eq!(changed[0]["revision"], "2b7e91c4a3f2");
    assert_eq!(changed[0]["level"], "warning");

    // Re-applying the edited revision records the new checksum: no longer a change.
    env.ok(&["downgrade", "1a0c5e2b7d01"]);
    env.ok(&["upgrade", "7a5be04c9f12"]);
    let status = env.json(&["status"]);
    assert!(
        status[0]["changed"].as_array().unwrap().is_empty(),
        "{status:#}"
    );

    // A revision applied without Retort (here: stamped) has no checksum to compare.
    env.ok(&["stamp", "heads"]);
    let status = env.json(&["status"]);
    assert_eq!(status[0]["version"]["status"], "up_to_date");
    let mut unrecorded = strings(&status[0]["unrecorded"]);
    unrecorded.sort();
    assert_eq!(
        unrecorded,
        vec!["8b0d3e6f1c58", "9c6a1f4b2e90", "a0e7d5c3b861"]
    );
}

#[test]
fn a_failed_run_is_recorded_with_its_failing_step_and_error() {
    let env = Env::demo();
    let bad = env.version_file("3c44d0e8b915");
    let text = fs::read_to_string(&bad).unwrap().replace(
        "-- migrate:up\n",
        "-- migrate:up\nALTER TABLE no_such_table ADD COLUMN x INTEGER;\n",
    );
    fs::write(&bad, text).unwrap();
    let out = env.run(&["upgrade", "heads"]);
    assert!(!out.status.success());
    let log = env.json(&["log"]);
    let e = &log[0];
    assert_eq!(e["outcome"], "failed");
    assert_eq!(e["failed_step"], 3);
    assert!(
        e["error"].as_str().unwrap().contains("no_such_table"),
        "{e:#}"
    );
    let steps = e["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[2]["ok"], false);
    assert_eq!(steps[2]["revision"], "3c44d0e8b915");
    assert_eq!(strings(&e["to_revisions"]), vec!["2b7e91c4a3f2"]);
    let text = env.ok(&["log"]);
    assert!(text.contains("FAILED at step 3"), "{text}");

    // A run that cannot even start (no such target) is recorded as failed, with no steps.
    let out = env.run(&["upgrade", "nosuchrev"]);
    assert!(!out.status.success());
    let log = env.json(&["log", "-n", "1"]);
    assert_eq!(log[0]["outcome"], "failed");
    assert!(log[0]["steps"].as_array().unwrap().is_empty());
    assert!(log[0]["error"].as_str().unwrap().contains("nosuchrev"));
}

#[test]
fn saved_connections_are_recorded_by_name_and_environment() {
    let env = Env::demo();
    let db = env.project.path().join("prod.db");
    env.ok(&[
        "connections",
        "add",
        "shop-prod",
        "--driver",
        "sqlite",
        "--sqlite-path",
        db.to_str().unwrap(),
        "--environment",
        "production",
        "--bind",
    ]);
    env.ok(&["upgrade", "heads", "--connection", "shop-prod"]);
    // The same database by URL is the same database for the journal.
    let url = format!("sqlite:///{}", db.display());
    env.ok(&["downgrade", "-1", "--url", &url]);
    env.ok(&["upgrade", "heads"]); // the project's own demo.db: another database

    let entries = env.json(&["log", "--connection", "shop-prod"]);
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(entries[1]["connection"]["name"], "shop-prod");
    assert_eq!(entries[1]["connection"]["environment"], "production");
    assert!(entries[0]["connection"]["name"].is_null());
    let text = env.ok(&["log", "--connection", "shop-prod", "-n", "1"]);
    assert!(text.contains("downgrade -1"), "{text}");

    let all = env.json(&["status", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["connection"]["name"], "shop-prod");
    assert_eq!(all[0]["version"]["behind_by"], 1);
    let text = env.ok(&["status", "--connection", "shop-prod"]);
    assert!(text.starts_with("shop-prod [production]"), "{text}");
}

#[test]
fn a_killed_run_shows_as_interrupted_and_no_password_is_journaled() {
    let Some(db) = ScratchDb::create(Server::Postgres, "journal") else {
        return;
    };
    let env = Env::linear(&[
        "CREATE TABLE journal_one (id INTEGER PRIMARY KEY);",
        "SELECT pg_sleep(60);\nCREATE TABLE journal_two (id INTEGER PRIMARY KEY);",
    ]);
    // trust auth ignores the password, so a made-up one can be followed through the journal.
    let url = db
        .url()
        .replacen("postgres@", "postgres:Jour-nal-s3cret@", 1);
    assert!(url.contains("Jour-nal-s3cret"), "{url}");

    let mut child = env
        .command(&["upgrade", "heads", "--url", &url, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the slow step to start, then kill the process outright.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut line = String::new();
        use std::io::BufRead;
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "retort ended early"
        );
        if line.contains("step_started") && line.contains("000000000002") {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let log = env.json(&["log"]);
    assert_eq!(log[0]["outcome"], "running");
    assert_eq!(log[0]["interrupted"], true, "{log:#}");
    let text = env.ok(&["log"]);
    assert!(text.contains("INTERRUPTED"), "{text}");

    // The password is nowhere in the journal, its store file, or the CLI's output.
    assert!(
        !serde_json::to_string(&log)
            .unwrap()
            .contains("Jour-nal-s3cret")
    );
    assert!(!text.contains("Jour-nal-s3cret"));
    for f in fs::read_dir(env.home.path()).unwrap() {
        let path = f.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        assert!(
            !bytes.windows(15).any(|w| w == b"Jour-nal-s3cret"),
            "the password is in {}",
            path.display()
        );
    }
    // The server side gives up the killed session; the database keeps its first revision.
    let status = env.json(&["status", "--url", &url]);
    assert_eq!(strings(&status[0]["version"]["rows"]), vec!["000000000001"]);
}

#[test]
fn a_killed_run_keeps_its_committed_steps_and_is_reconciled_next_time() {
    let Some(db) = ScratchDb::create(Server::Postgres, "journal_kill") else {
        return;
    };
    const COMMITTED: usize = 12;
    let mut ups: Vec<String> = (1..=COMMITTED)
        .map(|i| format!("CREATE TABLE kill_{i} (id INTEGER PRIMARY KEY);"))
        .collect();
    ups.push("SELECT pg_sleep(3600);\nCREATE TABLE kill_slow (id INTEGER PRIMARY KEY);".into());
    ups.push("CREATE TABLE kill_after (id INTEGER PRIMARY KEY);".into());
    let env = Env::linear(&ups.iter().map(String::as_str).collect::<Vec<_>>());
    let url = db.url();
    let slow = format!("{:012}", COMMITTED + 1);

    let mut child = env
        .command(&["upgrade", "heads", "--url", &url, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The slow step has started, so every step before it has committed; then kill -9.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        use std::io::BufRead;
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "retort ended early"
        );
        if line.contains("step_started") && line.contains(&slow) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server does not notice the dead client while it sleeps: end its session (and with
    // it the migration lock), as an operator would.
    db.query(
        "SELECT pg_terminate_backend(pid, 60000) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    assert_eq!(
        db.query("SELECT version_num FROM alembic_version").trim(),
        format!("{COMMITTED:012}")
    );

    // Every committed step is in the journal, although the run never finished.
    let log = env.json(&["log"]);
    assert_eq!(log[0]["interrupted"], true, "{log:#}");
    let steps = log[0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), COMMITTED, "{log:#}");
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["revision"], format!("{:012}", i + 1));
        assert_eq!(step["file_sha256"].as_str().unwrap().len(), 64, "{step}");
    }

    // The step in flight can commit with its record lost (a kill right after its COMMIT):
    // its effect on the version table is made here by hand, as such a commit would leave it.
    db.query(&format!(
        "UPDATE alembic_version SET version_num = '{slow}'; CREATE TABLE kill_slow (id INTEGER PRIMARY KEY)"
    ));
    // The next command touching the database settles the run from the version table.
    let status = env.json(&["status", "--url", &url]);
    assert_eq!(
        strings(&status[0]["unrecorded"]),
        Vec::<String>::new(),
        "every applied revision went through Retort: {status:#}"
    );
    let log = env.json(&["log"]);
    let entry = &log[0];
    assert_eq!(entry["interrupted"], true, "{log:#}");
    assert_eq!(
        entry["steps"].as_array().unwrap().len(),
        COMMITTED + 1,
        "{log:#}"
    );
    assert_eq!(entry["steps"][COMMITTED]["revision"], slow.as_str());
    let error = entry["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("after {} committed step(s)", COMMITTED + 1))
            && error.contains(&slow)
            && error.contains("1 planned step(s) did not run"),
        "{error}"
    );
    assert_eq!(strings(&entry["to_revisions"]), vec![slow.clone()]);
    let text = env.ok(&["log"]);
    assert!(text.contains("INTERRUPTED"), "{text}");

    // Settled once: a later run neither settles it again nor loses it.
    env.ok(&["upgrade", "heads", "--url", &url]);
    let log = env.json(&["log"]);
    assert_eq!(log[0]["outcome"], "ok");
    assert_eq!(log[0]["steps"].as_array().unwrap().len(), 1);
    assert_eq!(log[1]["steps"].as_array().unwrap().len(), COMMITTED + 1);
}

/// `sqlite3` (the CLI, not Retort) on `db`: one query's output, trimmed.
fn sqlite3(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_closed_stdout_does_not_stop_the_run() {
    const REVISIONS: usize = 300;
    let env = Env::chain(REVISIONS);
    let db = env.project.path().join("chain.db");
    let url = format!("sqlite:///{}", db.display());
    let mut child = env
        .command(&["upgrade", "heads", "--url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    // Read the start of the output, then close the pipe, as `| head -c 100` does. The run
    // prints far more than a pipe holds, so it is still printing when the pipe closes.
    let mut stdout = child.stdout.take().unwrap();
    let mut start = [0u8; 100];
    std::io::Read::read_exact(&mut stdout, &mut start).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("standard output was closed"), "{stderr}");

    // Every revision was applied, as the sqlite3 CLI sees it.
    assert_eq!(
        sqlite3(&db, "SELECT version_num FROM alembic_version"),
        format!("{REVISIONS:012}")
    );
    assert_eq!(
        sqlite3(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 't%'"
        ),
        REVISIONS.to_string()
    );
    // The journal says how the run really ended: done, with every step.
    let log = env.json(&["log"]);
    assert_eq!(log[0]["outcome"], "ok", "{log:#}");
    assert_eq!(log[0]["interrupted"], false);
    assert_eq!(log[0]["steps"].as_array().unwrap().len(), REVISIONS);
}

fn version_rows(db: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(','.join(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute('select version_num from alembic_version'))))",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A production SQLite connection `shop` at revision 3c44d0e8b915.
fn production_shop() -> (Env, std::path::PathBuf) {
    let env = Env::demo();
    let db = env.project.path().join("prod.db");
    env.ok(&[
        "connections",
        "add",
        "shop",
        "--driver",
        "sqlite",
        "--sqlite-path",
        db.to_str().unwrap(),
        "--environment",
        "production",
    ]);
    env.ok(&["upgrade", "3c44d0e8b915", "--connection", "shop"]);
    (env, db)
}

#[test]
fn production_runs_take_a_verified_backup_or_an_explicit_recorded_skip() {
    let (env, db) = production_shop();
    let before = version_rows(&db);

    // The wrong name refuses before anything happens.
    let out = env.run(&[
        "upgrade",
        "heads",
        "--connection",
        "shop",
        "--no-backup",
        "shop",
    ]);
    assert!(!out.status.success());
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("'shop' is not the name of the database (prod.db)"),
        "{err}"
    );
    assert_eq!(version_rows(&db), before);

    // By default a production upgrade is backed up first.
    env.ok(&["upgrade", "4d1f6a92c0b7", "--connection", "shop"]);
    let log = env.json(&["log", "-n", "2"]);
    assert_eq!(log[1]["kind"], "backup");
    assert_eq!(log[1]["outcome"], "ok");
    assert_eq!(strings(&log[1]["to_revisions"]), before);
    assert_eq!(log[0]["kind"], "upgrade");
    let backup_id = log[0]["backup_id"]
        .as_i64()
        .expect("the upgrade names its backup");
    assert_eq!(log[1]["backup_id"].as_i64(), Some(backup_id));
    let backups = env.json(&["backups"]);
    assert_eq!(
        backups["backups"].as_array().unwrap().len(),
        1,
        "{backups:#}"
    );

    // Naming the database skips it, and the journal says who chose that.
    env.ok(&[
        "downgrade",
        "-1",
        "--connection",
        "shop",
        "--no-backup",
        "prod.db",
    ]);
    let log = env.json(&["log", "-n", "1"]);
    assert!(log[0]["backup_id"].is_null());
    assert!(
        log[0]["note"]
            .as_str()
            .unwrap()
            .contains("production backup skipped"),
        "{log:#}"
    );
    assert_eq!(
        env.json(&["backups"])["backups"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_failed_backup_stops_the_run_before_it_starts() {
    let (env, db) = production_shop();
    let before = version_rows(&db);
    let blocker = env.project.path().join("not-a-dir");
    fs::write(&blocker, "a file where the backup folder should go").unwrap();
    let dir = blocker.join("backups");
    let out = env.run(&[
        "upgrade",
        "heads",
        "--connection",
        "shop",
        "--backup-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("the backup before this run failed, so the run did not start"),
        "{err}"
    );
    assert_eq!(version_rows(&db), before, "the database was touched");
    let log = env.json(&["log", "-n", "2"]);
    assert_eq!(
        (log[1]["kind"].as_str(), log[1]["outcome"].as_str()),
        (Some("backup"), Some("failed"))
    );
    assert_eq!(
        (log[0]["kind"].as_str(), log[0]["outcome"].as_str()),
        (Some("upgrade"), Some("failed"))
    );
    assert!(
        log[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("not started: the backup failed")
    );
    assert!(log[0]["steps"].as_array().unwrap().is_empty());
}

#[test]
fn a_failed_production_run_names_the_backup_that_restores_it() {
    let (env, db) = production_shop();
    let before = version_rows(&db);
    let bad = env.version_file("5e83b27f6d4a");
    let text = fs::read_to_string(&bad).unwrap().replace(
        "-- migrate:up\n",
        "-- migrate:up\nALTER TABLE no_such_table ADD COLUMN x INTEGER;\n",
    );
    fs::write(&bad, text).unwrap();
    let out = env.run(&["upgrade", "heads", "--connection", "shop"]);
    assert!(!out.status.success());
    // A failed run: its report, and the way back, stay on stderr.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "To put the database back as it was before this run: retort restore 1 --to shop"
        ),
        "{err}"
    );
    assert_ne!(
        version_rows(&db),
        before,
        "earlier steps of the run stay applied"
    );
    env.ok(&["restore", "1", "--to", "shop", "--yes"]);
    assert_eq!(version_rows(&db), before);
}

/// Another run's lock (here util-linux `flock`, the same advisory lock Retort takes on a
/// SQLite file) is waited for before the backup: no other run can migrate the database
/// between a production backup and the run it protects.
#[test]
fn a_production_backup_is_taken_under_the_migration_lock() {
    let (env, db) = production_shop();
    let before = version_rows(&db);
    // --no-fork: the lock stays with `sleep` alone, which goes when killed.
    let mut holder = Command::new("flock")
        .args(["--no-fork"])
        .arg(&db)
        .args(["sleep", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux flock");
    let held = || {
        !Command::new("flock")
            .args(["-n"])
            .arg(&db)
            .arg("true")
            .status()
            .unwrap()
            .success()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !held() {
        assert!(Instant::now() < deadline, "flock did not take the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = env.run(&[
        "upgrade",
        "heads",
        "--connection",
        "shop",
        "--lock-timeout",
        "1",
    ]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!out.status.success());
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it (stderr
    // has the "Waiting for the migration lock" line, which is not the error).
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("lock"), "{err}");
    assert_eq!(version_rows(&db), before);
    assert!(
        env.json(&["backups"])["backups"]
            .as_array()
            .unwrap()
            .is_empty(),
        "no backup was taken while another run held the lock"
    );
    let log = env.json(&["log", "-n", "1"]);
    assert_eq!(
        (log[0]["kind"].as_str(), log[0]["outcome"].as_str()),
        (Some("upgrade"), Some("failed"))
    );
    assert!(
        log[0]["error"].as_str().unwrap().contains("lock"),
        "{log:#}"
    );

    // With the lock free, the same command backs up and upgrades.
    env.ok(&["upgrade", "heads", "--connection", "shop"]);
    assert_eq!(
        env.json(&["backups"])["backups"].as_array().unwrap().len(),
        1
    );
    assert_ne!(version_rows(&db), before);
}
