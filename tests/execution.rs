//! `retort upgrade / downgrade / stamp` on real SQLite, PostgreSQL and MariaDB databases.
//!
//! The same graph (branches, a merge, labels, a cross-branch dependency, a second root) is
//! written twice: as an Alembic project whose revisions log their id with `op.execute`, run by
//! alembic 1.20.1, and as a native SQL project run by Retort. After every command both
//! databases must hold the same log (the order the migrations ran) and the same version rows.
//! Failures, kills, cancels and concurrent runs are checked on their own databases.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{
    Announcements, ScratchDb, Server, alembic_layout, native_layout, retort, run, text, venv_bin,
};

/// (id, down_revision, branch_labels, depends_on, message)
const GRAPH: &[(&str, &[&str], &[&str], &[&str], &str)] = &[
    ("a1a1a1a1a1a1", &[], &["core"], &[], "core one"),
    ("a2a2a2a2a2a2", &["a1a1a1a1a1a1"], &[], &[], "core two"),
    (
        "b1b1b1b1b1b1",
        &["a2a2a2a2a2a2"],
        &["feature"],
        &[],
        "feature one",
    ),
    ("b2b2b2b2b2b2", &["b1b1b1b1b1b1"], &[], &[], "feature two"),
    (
        "c1c1c1c1c1c1",
        &["a2a2a2a2a2a2"],
        &["billing"],
        &[],
        "billing one",
    ),
    (
        "c2c2c2c2c2c2",
        &["c1c1c1c1c1c1"],
        &[],
        &["b1b1b1b1b1b1"],
        "billing two",
    ),
    (
        "d1d1d1d1d1d1",
        &["b2b2b2b2b2b2", "c2c2c2c2c2c2"],
        &[],
        &[],
        "merge",
    ),
    (
        "e1e1e1e1e1e1",
        &[],
        &["audit"],
        &["a1a1a1a1a1a1"],
        "audit one",
    ),
    ("e2e2e2e2e2e2", &["e1e1e1e1e1e1"], &[], &[], "audit two"),
];

/// The commands both tools run, in order; failures must fail on both sides.
const SCRIPT: &[&[&str]] = &[
    &["upgrade", "b2b2b2b2b2b2"],
    &["upgrade", "billing@head"],
    &["upgrade", "heads"],
    &["downgrade", "c1c1c1c1c1c1"],
    &["downgrade", "-1"],
    &["downgrade", "audit@-1"],
    &["upgrade", "+1"],
    &["downgrade", "base"],
    &["upgrade", "audit@head"],
    &["upgrade", "feature@+1"],
    &["upgrade", "heads"],
    &["stamp", "b2b2b2b2b2b2"],
    &["upgrade", "heads"],
    &["stamp", "e1e1e1e1e1e1"],
    &["stamp", "c1c1c1c1c1c1"],
    &["downgrade", "a1a1a1a1a1a1"],
    &["stamp", "--purge", "heads"],
    &["downgrade", "base"],
    &["stamp", "b1b1b1b1b1b1", "e1e1e1e1e1e1"],
    &["upgrade", "heads"],
    // Alembic's stamp cases: `head` with several heads fails; targets already in the rows
    // change nothing. (After `stamp a2a2a2a2a2a2` here, SQLite hands alembic and Retort the
    // rows in another order, so a following `stamp base` / `stamp heads` lists its steps in
    // another order than alembic: still to be looked at.)
    &["stamp", "head"],
    &["stamp", "heads"],
    // A row naming a revision the project does not have: everything fails until `--purge`.
    &[UNKNOWN_ROW],
    &["upgrade", "heads"],
    &["stamp", "heads"],
    &["stamp", "--purge", "heads"],
    &["downgrade", "base"],
];

/// Not a command: writes the version row `feedfacecafe` into both databases.
const UNKNOWN_ROW: &str = "(insert an unknown version row)";

/// Alembic 1.20.1 crashes half-way through this stamp (a `KeyError` after its first row change
/// committed, on SQLite and MySQL); Retort refuses it before changing anything.
#[test]
fn conflicting_stamp_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    native_project(dir.path(), &format!("sqlite:///{}", db.display()));
    fs::write(
        dir.path().join("versions/a1a1a1a1a1a1.sql"),
        fs::read_to_string(dir.path().join("versions/a1a1a1a1a1a1.sql"))
            .unwrap()
            .replace(
                "-- migrate:up\n",
                "-- migrate:up\nCREATE TABLE log (id INTEGER PRIMARY KEY, entry TEXT);\n",
            ),
    )
    .unwrap();
    assert!(
        run(retort(), dir.path(), &["upgrade", "heads"])
            .status
            .success()
    );
    let out = run(
        retort(),
        dir.path(),
        &["stamp", "e1e1e1e1e1e1", "c1c1c1c1c1c1"],
    );
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    let err = text(&out.stdout);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let current = text(&run(retort(), dir.path(), &["current"]).stdout);
    assert!(
        current.contains("d1d1d1d1d1d1") && current.contains("e2e2e2e2e2e2"),
        "{current}"
    );
}

fn python_list(items: &[&str]) -> String {
    match items {
        [] => "None".to_string(),
        [one] => format!("'{one}'"),
        many => format!(
            "({})",
            many.iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

const ENV_PY: &str = "import logging\nlogging.basicConfig(level=logging.INFO, format='%(levelname)-5.5s [%(name)s] %(message)s')\nfrom alembic import context\nfrom sqlalchemy import engine_from_config, pool\n\nconfig = context.config\nengine = engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.', poolclass=pool.NullPool)\nwith engine.connect() as connection:\n    context.configure(connection=connection)\n    with context.begin_transaction():\n        context.run_migrations()\n";

fn alembic_project(dir: &Path, url: &str) {
    let versions = alembic_layout(dir, url, ENV_PY);
    for (id, down, labels, deps, msg) in GRAPH {
        fs::write(
            versions.join(format!("{id}.py")),
            format!(
                "\"\"\"{msg}\"\"\"\nfrom alembic import op\n\nrevision = '{id}'\ndown_revision = {}\nbranch_labels = {}\ndepends_on = {}\n\ndef upgrade():\n    op.execute(\"INSERT INTO log (entry) VALUES ('+{id}')\")\n\ndef downgrade():\n    op.execute(\"INSERT INTO log (entry) VALUES ('-{id}')\")\n",
                python_list(down),
                python_list(labels),
                python_list(deps),
            ),
        )
        .unwrap();
    }
}

fn native_project(dir: &Path, url: &str) {
    let versions = native_layout(dir, &format!("url = \"{url}\"\n"));
    for (id, down, labels, deps, msg) in GRAPH {
        fs::write(
            versions.join(format!("{id}.sql")),
            format!(
                "-- revision: {id}\n-- down_revision: {}\n-- branch_labels: {}\n-- depends_on: {}\n-- message: {msg}\n\n-- migrate:up\nINSERT INTO log (entry) VALUES ('+{id}');\n\n-- migrate:down\nINSERT INTO log (entry) VALUES ('-{id}');\n",
                down.join(", "),
                labels.join(", "),
                deps.join(", "),
            ),
        )
        .unwrap();
    }
}

/// Reads a database the way both tools left it.
trait Inspect {
    fn query(&self, sql: &str) -> String;
    fn create_log(&self) {
        self.query("CREATE TABLE log (id INTEGER PRIMARY KEY AUTO_INCREMENT_PLACEHOLDER, entry VARCHAR(40) NOT NULL)");
    }
    fn log(&self) -> Vec<String> {
        self.query("SELECT entry FROM log ORDER BY id")
            .lines()
            .map(str::to_string)
            .collect()
    }
    fn version_rows(&self) -> Vec<String> {
        let mut rows: Vec<String> = self
            .query("SELECT version_num FROM alembic_version")
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        rows.sort();
        rows
    }
}

struct Sqlite(std::path::PathBuf);

impl Inspect for Sqlite {
    fn query(&self, sql: &str) -> String {
        let sql = sql.replace(" AUTO_INCREMENT_PLACEHOLDER", " AUTOINCREMENT");
        let python = venv_bin("python").expect("venv python");
        let out = Command::new(python)
            .args([
                "-c",
                "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nrows=c.execute(sys.argv[2]).fetchall()\nc.commit()\nprint('\\n'.join('\\t'.join(str(v) for v in r) for r in rows))",
            ])
            .arg(&self.0)
            .arg(&sql)
            .output()
            .unwrap();
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
        text(&out.stdout).trim_end_matches('\n').to_string() + "\n"
    }
}

impl Inspect for ScratchDb {
    fn query(&self, sql: &str) -> String {
        let sql = match self.server {
            Server::Postgres => sql.replace(
                "INTEGER PRIMARY KEY AUTO_INCREMENT_PLACEHOLDER",
                "SERIAL PRIMARY KEY",
            ),
            Server::MariaDb => sql.replace(" AUTO_INCREMENT_PLACEHOLDER", " AUTO_INCREMENT"),
        };
        ScratchDb::query(self, &sql)
    }
}

/// Runs [`SCRIPT`] with alembic on one database and retort on the other, comparing as it goes.
fn compare(alembic_db: &dyn Inspect, alembic_url: &str, retort_db: &dyn Inspect, retort_url: &str) {
    let alembic = venv_bin("alembic").expect("alembic");
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    alembic_project(theirs.path(), alembic_url);
    native_project(ours.path(), retort_url);
    alembic_db.create_log();
    retort_db.create_log();
    for args in SCRIPT {
        if args[0] == UNKNOWN_ROW {
            for db in [alembic_db, retort_db] {
                db.query("INSERT INTO alembic_version (version_num) VALUES ('feedfacecafe')");
            }
            continue;
        }
        let a = Command::new(&alembic)
            .args(*args)
            .current_dir(theirs.path())
            .env("PYTHONHASHSEED", "0")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let r = run(retort(), ours.path(), args);
        let label = format!("{retort_url}: {}", args.join(" "));
        assert_eq!(
            a.status.success(),
            r.status.success(),
            "{label}: alembic said {} / retort said {}{}",
            text(&a.stderr),
            text(&r.stdout),
            text(&r.stderr)
        );
        if !a.status.success() {
            continue;
        }
        assert_eq!(
            alembic_db.log(),
            retort_db.log(),
            "{label}: migrations ran in a different order"
        );
        assert_eq!(
            alembic_db.version_rows(),
            retort_db.version_rows(),
            "{label}: version rows differ"
        );
        // Alembic logs "Running upgrade ..." for every step; Retort prints the same lines.
        let alembic_steps: Vec<String> = text(&a.stderr)
            .lines()
            .filter_map(|l| l.split_once("] Running ").map(|(_, s)| s.to_string()))
            .collect();
        let retort_steps: Vec<String> = text(&r.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Running ").map(str::to_string))
            .collect();
        assert_eq!(alembic_steps, retort_steps, "{label}: step lines differ");
    }
    assert!(alembic_db.log().len() > 30, "the script ran migrations");
}

#[test]
fn sqlite_runs_like_alembic() {
    if venv_bin("alembic").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, r) = (dir.path().join("alembic.db"), dir.path().join("retort.db"));
    compare(
        &Sqlite(a.clone()),
        &format!("sqlite:///{}", a.display()),
        &Sqlite(r.clone()),
        &format!("sqlite:///{}", r.display()),
    );
}

#[test]
fn postgresql_runs_like_alembic() {
    if venv_bin("alembic").is_none() {
        return;
    }
    let (Some(a), Some(r)) = (
        ScratchDb::create(Server::Postgres, "exec_a"),
        ScratchDb::create(Server::Postgres, "exec_r"),
    ) else {
        return;
    };
    compare(&a, &a.url(), &r, &r.url());
}

#[test]
fn mariadb_runs_like_alembic() {
    if venv_bin("alembic").is_none() {
        return;
    }
    let (Some(a), Some(r)) = (
        ScratchDb::create(Server::MariaDb, "exec_a"),
        ScratchDb::create(Server::MariaDb, "exec_r"),
    ) else {
        return;
    };
    compare(&a, &a.url(), &r, &r.url());
}

// ----- failures ------------------------------------------------------------------------------

/// A linear project: revision i creates table t{i}; `bad` makes revision `bad` fail on its
/// second statement, after a first one that creates a table.
fn linear_project(dir: &Path, url: &str, count: usize, bad: Option<usize>, extra: &str) {
    let versions = native_layout(dir, &format!("url = \"{url}\"\n"));
    for i in 1..=count {
        let down = if i == 1 {
            String::new()
        } else {
            format!("{:012}", i - 1)
        };
        let body = if Some(i) == bad {
            format!("CREATE TABLE t{i} (id INTEGER);\nINSERT INTO no_such_table VALUES (1);")
        } else {
            format!("CREATE TABLE t{i} (id INTEGER);{extra}")
        };
        fs::write(
            versions.join(format!("{:012}.sql", i)),
            format!("-- revision: {:012}\n-- down_revision: {down}\n-- message: step {i}\n\n-- migrate:up\n{body}\n\n-- migrate:down\nDROP TABLE t{i};\n", i),
        )
        .unwrap();
    }
}

fn tables_present(db: &dyn Inspect, server: Option<Server>, count: usize) -> Vec<usize> {
    let sql = match server {
        None => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Some(Server::Postgres) => "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        Some(Server::MariaDb) => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
    };
    let names = db.query(sql);
    (1..=count)
        .filter(|i| names.lines().any(|n| n == format!("t{i}")))
        .collect()
}

fn assert_rolled_back_failure(db: &dyn Inspect, server: Option<Server>, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    linear_project(dir.path(), url, 4, Some(3), "");
    let out = run(retort(), dir.path(), &["upgrade", "head"]);
    // A failed run: its report stays on stderr.
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(
        err.contains("000000000003.sql:7"),
        "names the file and line: {err}"
    );
    assert!(err.contains("rolled back completely"), "{err}");
    assert!(
        err.contains("The version table names: 000000000002."),
        "{err}"
    );
    assert!(err.contains("2 earlier step(s)"), "{err}");
    // A SQLite step that failed as one batch runs again statement by statement: still one
    // step, told once.
    let stdout = text(&out.stdout);
    let started: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("Running "))
        .collect();
    assert_eq!(
        started,
        [
            "Running upgrade  -> 000000000001, step 1",
            "Running upgrade 000000000001 -> 000000000002, step 2",
            "Running upgrade 000000000002 -> 000000000003, step 3",
        ],
        "{stdout}"
    );
    assert_eq!(
        tables_present(db, server, 4),
        vec![1, 2],
        "revision 3 left nothing behind"
    );
    assert_eq!(db.version_rows(), vec!["000000000002"]);
}

#[test]
fn sqlite_failure_rolls_the_revision_back() {
    if venv_bin("python").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    assert_rolled_back_failure(
        &Sqlite(path.clone()),
        None,
        &format!("sqlite:///{}", path.display()),
    );
}

#[test]
fn postgresql_failure_rolls_the_revision_back() {
    let Some(db) = ScratchDb::create(Server::Postgres, "fail") else {
        return;
    };
    assert_rolled_back_failure(&db, Some(Server::Postgres), &db.url());
}

#[test]
fn mariadb_failure_reports_the_committed_statements() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "fail") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    linear_project(dir.path(), &db.url(), 4, Some(3), "");
    let out = run(retort(), dir.path(), &["upgrade", "head"]);
    // A failed run: its report stays on stderr.
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("000000000003.sql:7"), "{err}");
    assert!(err.contains("were committed before the failure"), "{err}");
    assert!(
        err.contains("line 6: CREATE TABLE t3 (id INTEGER)"),
        "{err}"
    );
    assert!(
        err.contains("The version table names: 000000000002."),
        "{err}"
    );
    assert!(
        err.contains("retort stamp 000000000003") && err.contains("restore the backup"),
        "{err}"
    );
    // What the report says is what the database holds.
    assert_eq!(tables_present(&db, Some(Server::MariaDb), 4), vec![1, 2, 3]);
    assert_eq!(db.version_rows(), vec!["000000000002"]);
}

/// A native MySQL revision with non-ASCII text in a comment, a string and a name.
fn non_ascii_project(dir: &Path, url: &str) {
    native_layout(dir, &format!("url = \"{url}\"\n"));
    fs::write(
        dir.join("versions/0000000000e1.sql"),
        "-- revision: 0000000000e1\n-- down_revision:\n-- message: Größe\n\n-- migrate:up\n\
         CREATE TABLE t (name VARCHAR(20)); -- Größe ändern\nINSERT INTO t VALUES ('é');\nSELECT 'é';\n\n\
         -- migrate:down\nDROP TABLE t;\n",
    )
    .unwrap();
}

/// Issue 15: the MySQL splitter sliced a byte index inside `é`/`ß` and panicked on `upgrade`,
/// `--plan` and `--sql`.
#[test]
fn mysql_revision_with_non_ascii_text_prints_plans_and_runs() {
    // `--sql` is offline: the database is never opened.
    let dir = tempfile::tempdir().unwrap();
    non_ascii_project(
        dir.path(),
        "mysql+pymysql://root@127.0.0.1:3306/never_opened",
    );
    let out = run(retort(), dir.path(), &["upgrade", "head", "--sql"]);
    let sql = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        sql.contains("INSERT INTO t VALUES ('é');") && sql.contains("SELECT 'é';"),
        "{sql}"
    );

    let Some(db) = ScratchDb::create(Server::MariaDb, "nonascii") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    non_ascii_project(dir.path(), &db.url());
    let out = run(retort(), dir.path(), &["upgrade", "head", "--plan"]);
    let plan = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(plan.contains("INSERT INTO t VALUES ('é')"), "{plan}");
    let out = run(retort(), dir.path(), &["upgrade", "head"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // One character, not the two bytes of its UTF-8 form read as Latin-1.
    assert_eq!(db.query("SELECT CHAR_LENGTH(name) FROM t"), "1\n");
    assert_eq!(db.version_rows(), vec!["0000000000e1"]);
}

#[test]
fn plan_shows_steps_and_sql_without_touching_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("p.db").display());
    linear_project(dir.path(), &url, 3, None, "");
    let out = run(retort(), dir.path(), &["upgrade", "head", "--plan"]);
    let plan = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(plan.contains("no alembic_version table yet"), "{plan}");
    assert!(
        plan.contains("2. upgrade 000000000001 -> 000000000002, step 2"),
        "{plan}"
    );
    assert!(plan.contains("CREATE TABLE t3 (id INTEGER)"), "{plan}");
    assert!(plan.contains("Version table after: 000000000003"), "{plan}");
    assert!(
        !dir.path().join("p.db").exists(),
        "--plan created the database"
    );
    // From the real state: after two steps, the plan holds only the third.
    assert!(
        run(retort(), dir.path(), &["upgrade", "000000000002"])
            .status
            .success()
    );
    let plan = text(&run(retort(), dir.path(), &["upgrade", "head", "--plan"]).stdout);
    assert!(
        plan.contains("Version table now: 000000000002") && !plan.contains("t2"),
        "{plan}"
    );
    let sql = text(&run(retort(), dir.path(), &["upgrade", "head", "--sql"]).stdout);
    assert!(sql.starts_with("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));"), "{sql}");
    assert!(sql.contains("BEGIN;\n\n-- Running upgrade  -> 000000000001, step 1\n\nCREATE TABLE t1 (id INTEGER);\n\nINSERT INTO alembic_version (version_num) VALUES ('000000000001');\n\nCOMMIT;"), "{sql}");
    let out = run(retort(), dir.path(), &["downgrade", "base", "--sql"]);
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    assert_eq!(
        text(&out.stdout),
        "FAILED: downgrade with --sql requires <fromrev>:<torev>\n"
    );
}

// ----- kills, cancels and concurrent runs ------------------------------------------------------

/// A pseudo-random sequence without a dependency: xorshift seeded from the clock.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("random seed {seed}");
        Self(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Each kill leaves the version table naming exactly the revisions whose tables exist.
fn assert_consistent(db: &dyn Inspect, server: Option<Server>, count: usize) -> usize {
    let present = tables_present(db, server, count);
    let has_table = db
        .query(match server {
            None => "SELECT name FROM sqlite_master WHERE name = 'alembic_version'",
            Some(Server::Postgres) => "SELECT tablename FROM pg_tables WHERE tablename = 'alembic_version'",
            Some(Server::MariaDb) => "SELECT table_name FROM information_schema.tables WHERE table_name = 'alembic_version' AND table_schema = DATABASE()",
        })
        .contains("alembic_version");
    let rows = if has_table {
        db.version_rows()
    } else {
        Vec::new()
    };
    let applied = rows.first().map_or(0, |r| r.parse::<usize>().unwrap());
    assert!(rows.len() <= 1, "{rows:?}");
    assert_eq!(present, (1..=applied).collect::<Vec<_>>(), "rows {rows:?}");
    applied
}

/// A server finishes what a killed client already sent (a COMMIT in flight commits): wait
/// until its session is gone, so that the tables and the version row are read in one state.
fn wait_for_the_killed_session(db: &dyn Inspect, server: Option<Server>) {
    let sql = match server {
        None => return,
        Some(Server::Postgres) => {
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        }
        Some(Server::MariaDb) => {
            "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        }
    };
    let start = std::time::Instant::now();
    while db.query(sql).trim() != "0" && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills `retort upgrade head` at random points of a 30-step run, each kill once the run has
/// announced a randomly chosen step of its first half (its stdout, line-buffered, says
/// "Running …" as a step starts), plus a random pause of up to 1 ms: the kill lands mid-run
/// whatever the machine's speed or load, at a different point of a step each time.
fn kill_repeatedly(db: &dyn Inspect, server: Option<Server>, url: &str, slow: &str) {
    const COUNT: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    linear_project(dir.path(), url, COUNT, None, slow);
    let mut rng = Rng::new();
    let mut kills_mid_run = 0;
    for round in 0..8 {
        let mut child = Command::new(retort())
            .args(["upgrade", "head"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let step = 1 + rng.below(COUNT as u64 / 2) as usize;
        let mut stdout = Announcements::follow(&mut child);
        stdout.wait_for("Running ", step);
        std::thread::sleep(Duration::from_micros(rng.below(1000)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        drop(stdout);
        wait_for_the_killed_session(db, server);
        let applied = assert_consistent(db, server, COUNT);
        eprintln!("round {round}: killed at step {step} ({status}) with {applied} applied");
        if applied < COUNT && status.code().is_none() {
            kills_mid_run += 1;
        }
        if applied == COUNT {
            // Start over so the next kill lands mid-run again.
            assert!(
                run(retort(), dir.path(), &["downgrade", "base"])
                    .status
                    .success()
            );
        }
    }
    // Each kill follows a step's start with at least fifteen steps to go.
    assert!(kills_mid_run > 0, "no kill landed during a run");
    let out = run(retort(), dir.path(), &["upgrade", "head"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(assert_consistent(db, server, COUNT), COUNT);
}

#[test]
fn sqlite_survives_kills() {
    if venv_bin("python").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    // Some work per revision so that a kill often lands inside a transaction.
    let slow = "\nCREATE TABLE IF NOT EXISTS filler (n INTEGER);\nWITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000) INSERT INTO filler SELECT n FROM c;";
    kill_repeatedly(
        &Sqlite(path.clone()),
        None,
        &format!("sqlite:///{}", path.display()),
        slow,
    );
}

#[test]
fn postgresql_survives_kills() {
    let Some(db) = ScratchDb::create(Server::Postgres, "kill") else {
        return;
    };
    kill_repeatedly(
        &db,
        Some(Server::Postgres),
        &db.url(),
        "\nSELECT pg_sleep(0.02);",
    );
}

#[test]
fn ctrl_c_stops_between_steps() {
    let Some(db) = ScratchDb::create(Server::Postgres, "cancel") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    linear_project(dir.path(), &db.url(), 20, None, "\nSELECT pg_sleep(0.1);");
    let mut child = Command::new(retort())
        .args(["upgrade", "head"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-run: the fourth step has started, so three have committed and sixteen are to go.
    let mut stdout = Announcements::follow(&mut child);
    assert!(stdout.wait_for("Running ", 4), "{}", stdout.all());
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    stdout.all().lines().for_each(|l| eprintln!("stdout: {l}"));
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("Cancelled after"), "{err}");
    let applied = assert_consistent(&db, Some(Server::Postgres), 20);
    assert!(applied > 0 && applied < 20, "{applied}");
    assert!(
        err.contains(&format!("The version table names {applied:012}.")),
        "{err}"
    );
}

fn two_at_once(db: &dyn Inspect, url: &str, slow: &str) {
    let dir = tempfile::tempdir().unwrap();
    linear_project(dir.path(), url, 10, None, slow);
    db.create_log();
    // Every revision logs itself, so a revision run twice would show.
    for i in 1..=10 {
        let file = dir.path().join(format!("versions/{i:012}.sql"));
        let text = fs::read_to_string(&file).unwrap().replace(
            "\n\n-- migrate:down",
            &format!("\nINSERT INTO log (entry) VALUES ('{i}');\n\n-- migrate:down"),
        );
        fs::write(&file, text).unwrap();
    }
    let start = |timeout: &str| {
        Command::new(retort())
            .args(["upgrade", "head", "--lock-timeout", timeout])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // A waiting second run: it gets the lock after the first and finds nothing to do. The
    // first holds the lock once it has announced a step.
    let mut first = start("30");
    let mut first_stdout = Announcements::follow(&mut first);
    assert!(first_stdout.wait_for("Running ", 1));
    let second = start("30");
    let (a, b) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    let a_stdout = first_stdout.all();
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        text(&a.stderr),
        text(&b.stderr)
    );
    assert!(a_stdout.contains("Done: 10 step(s)"), "{a_stdout}");
    assert!(
        text(&b.stdout).contains("Nothing to do"),
        "{}",
        text(&b.stdout)
    );
    assert!(
        text(&b.stderr).contains("Waiting for the migration lock"),
        "{}",
        text(&b.stderr)
    );
    assert_eq!(db.log().len(), 10, "each revision ran once");

    // An impatient second run: it gives up naming the holder.
    assert!(
        run(retort(), dir.path(), &["downgrade", "base"])
            .status
            .success()
    );
    let mut first = start("30");
    let mut first_stdout = Announcements::follow(&mut first);
    assert!(first_stdout.wait_for("Running ", 1));
    let second = start("0");
    let b = second.wait_with_output().unwrap();
    let a = first.wait_with_output().unwrap();
    drop(first_stdout.all());
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(b.status.code(), Some(255));
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    let (err, stderr) = (text(&b.stdout), text(&b.stderr));
    assert!(
        err.contains("another migration holds the lock"),
        "{err}{stderr}"
    );
    assert_eq!(db.log().len(), 20, "the impatient run ran nothing");
    assert!(
        !err.contains("Running upgrade") && !stderr.contains("Running upgrade"),
        "{err}{stderr}"
    );
    err.lines()
        .chain(stderr.lines())
        .for_each(|l| eprintln!("second run: {l}"));
}

#[test]
fn postgresql_runs_one_at_a_time() {
    let Some(db) = ScratchDb::create(Server::Postgres, "lock") else {
        return;
    };
    two_at_once(&db, &db.url(), "\nSELECT pg_sleep(0.1);");
    // PostgreSQL tells who holds the lock.
}

#[test]
fn mariadb_runs_one_at_a_time() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "lock") else {
        return;
    };
    two_at_once(&db, &db.url(), "\nSELECT SLEEP(0.1);");
}

#[test]
fn sqlite_runs_one_at_a_time() {
    if venv_bin("python").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let slow = "\nCREATE TABLE IF NOT EXISTS filler (n INTEGER);\nWITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 400000) INSERT INTO filler SELECT n FROM c;";
    two_at_once(
        &Sqlite(path.clone()),
        &format!("sqlite:///{}", path.display()),
        slow,
    );
}

#[test]
fn postgresql_runs_transaction_false_sections_outside_a_transaction() {
    let Some(db) = ScratchDb::create(Server::Postgres, "concurrently") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    linear_project(dir.path(), &db.url(), 2, None, "");
    fs::write(
        dir.path().join("versions/000000000003.sql"),
        "-- revision: 000000000003\n-- down_revision: 000000000002\n-- message: index concurrently\n\n-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY ix_t2_id ON t2 (id);\n\n-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY ix_t2_id;\n",
    )
    .unwrap();
    let out = run(retort(), dir.path(), &["upgrade", "head"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("Running upgrade 000000000002 -> 000000000003, index concurrently\n  (runs outside a transaction: its section is marked transaction:false)"),
        "{stdout}"
    );
    assert_eq!(
        db.query("SELECT indexname FROM pg_indexes WHERE indexname = 'ix_t2_id'"),
        "ix_t2_id\n"
    );
    assert_eq!(db.version_rows(), vec!["000000000003"]);
    let plan = text(&run(retort(), dir.path(), &["downgrade", "-1", "--plan"]).stdout);
    assert!(
        plan.contains("runs outside a transaction (transaction:false)"),
        "{plan}"
    );
    assert!(
        run(retort(), dir.path(), &["downgrade", "-1"])
            .status
            .success()
    );
    assert_eq!(
        db.query("SELECT indexname FROM pg_indexes WHERE indexname = 'ix_t2_id'"),
        ""
    );
}

/// `downgrade -1` from several heads: alembic warns that it is ambiguous (on stderr) and steps
/// down from the version table's first row, on that row's branch only. Retort does the same,
/// says so in the plan, and gives the warning where alembic does.
#[test]
fn downgrade_minus_one_from_several_heads_warns_and_steps_down_the_first_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    fs::create_dir_all(dir.path().join("versions")).unwrap();
    fs::write(
        dir.path().join("retort.toml"),
        format!("url = \"sqlite:///{}\"\n", path.display()),
    )
    .unwrap();
    for (id, down) in [("aaaa", ""), ("bbbb", "aaaa"), ("cccc", "aaaa")] {
        fs::write(
            dir.path().join(format!("versions/{id}.sql")),
            format!("-- revision: {id}\n-- down_revision: {down}\n\n-- migrate:up\nSELECT 1;\n\n-- migrate:down\nSELECT 2;\n"),
        )
        .unwrap();
    }
    let db = Sqlite(path);
    let up = run(retort(), dir.path(), &["upgrade", "heads"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    // The rows as a SELECT without ORDER BY returns them (rowid order), read by Python.
    let rows: Vec<String> = db
        .query("SELECT version_num FROM alembic_version")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (first, other) = (&rows[0], &rows[1]);
    let warning = "UserWarning: downgrade -1 from multiple heads is ambiguous; this usage will be disallowed in a future release.";

    let plan = run(retort(), dir.path(), &["downgrade", "-1", "--plan"]);
    let plan_text = text(&plan.stdout);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    assert!(plan_text.contains(warning), "{plan_text}");
    assert!(
        plan_text.contains(&format!("Only {first}'s branch steps down")),
        "{plan_text}"
    );

    let out = run(retort(), dir.path(), &["downgrade", "-1"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(warning),
        "stderr: {stderr}\nstdout: {stdout}"
    );
    assert!(!stdout.contains("UserWarning"), "{stdout}");
    let after = db.version_rows();
    assert!(after.contains(other), "{other} stays: {after:?}");
    assert!(!after.contains(first), "{first} stepped down: {after:?}");
    // From one head there is nothing to warn about.
    let single = format!("sqlite:///{}", dir.path().join("one.db").display());
    let up = run(retort(), dir.path(), &["upgrade", "bbbb", "--url", &single]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    let out = run(retort(), dir.path(), &["downgrade", "-1", "--url", &single]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("UserWarning"),
        "{}",
        text(&out.stderr)
    );
}
