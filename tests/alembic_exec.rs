//! `retort upgrade` / `downgrade` on Alembic (Python) projects: the revisions run through the
//! project's own alembic (the test venv's), on SQLite, PostgreSQL and MariaDB, and leave the
//! database exactly as plain `alembic` does.

mod support;

use serde_json::Value;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{ScratchDb, Server, retort, text, venv_bin};

/// env.py as `alembic init` writes it: the URL comes from `sqlalchemy.url`.
const ENV_CONFIG: &str = r#"from logging.config import fileConfig
from sqlalchemy import engine_from_config, pool
from alembic import context

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)
target_metadata = None


def run_migrations_offline():
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"#;

/// env.py of the other common style: the URL comes from `$DATABASE_URL`.
const ENV_DATABASE_URL: &str = r#"import os
from logging.config import fileConfig
from sqlalchemy import create_engine, pool
from alembic import context

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def run_migrations_offline():
    context.configure(url=os.environ["DATABASE_URL"], literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"#;

const INI: &str = r#"[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
URL_LINE

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"#;

/// What a test project holds beyond the six plain revisions.
#[derive(Default, Clone, Copy)]
struct Extras {
    /// env.py reads `$DATABASE_URL` instead of `sqlalchemy.url`.
    database_url_env: bool,
    /// 6000ffffffff: creates a table, logs, then fails on a missing table.
    failing: bool,
    /// 2000bbbbbbbb sleeps this many seconds.
    slow: Option<f64>,
    /// 1000aaaaaaaa prints `$DATABASE_URL` (the password must come out scrubbed).
    print_url: bool,
}

fn revision(id: &str, down: &str, doc: &str, up: &[String], down_body: &[String]) -> String {
    let body = |lines: &[String]| {
        if lines.is_empty() {
            "    pass\n".to_string()
        } else {
            lines.iter().map(|l| format!("    {l}\n")).collect()
        }
    };
    format!(
        "\"\"\"{doc}\n\nRevision ID: {id}\n\"\"\"\nimport os\nimport time\n\nfrom alembic import op\n\nrevision = \"{id}\"\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n{}\n\ndef downgrade():\n{}",
        body(up),
        body(down_body)
    )
}

fn log(rev: &str) -> String {
    format!("op.execute(\"INSERT INTO log (rev) VALUES ('{rev}')\")")
}

fn unlog(rev: &str) -> String {
    format!("op.execute(\"DELETE FROM log WHERE rev = '{rev}'\")")
}

/// Writes the project: alembic.ini (with `url` as sqlalchemy.url, if given), env.py, and
/// revisions 1000 → 2000 → (3000cccc0001 | 3000cccc0002) → 4000 (merge) → 5000.
fn alembic_project(dir: &Path, url: Option<&str>, extras: Extras) {
    let versions = dir.join("migrations").join("versions");
    fs::create_dir_all(&versions).unwrap();
    let url_line = url.map_or(String::new(), |u| format!("sqlalchemy.url = {u}"));
    fs::write(dir.join("alembic.ini"), INI.replace("URL_LINE", &url_line)).unwrap();
    let env = if extras.database_url_env {
        ENV_DATABASE_URL
    } else {
        ENV_CONFIG
    };
    fs::write(dir.join("migrations").join("env.py"), env).unwrap();
    let s = |x: &str| x.to_string();
    let mut first_up = vec![s("op.execute(\"CREATE TABLE log (rev VARCHAR(40))\")")];
    if extras.print_url {
        first_up.push(s("print(\"env.py sees\", os.environ[\"DATABASE_URL\"])"));
    }
    let mut second_up = vec![log("2000")];
    if let Some(seconds) = extras.slow {
        second_up.push(format!("time.sleep({seconds})"));
    }
    let mut revs = vec![
        (
            "1000aaaaaaaa",
            revision(
                "1000aaaaaaaa",
                "None",
                "create log",
                &first_up,
                &[s("op.execute(\"DROP TABLE log\")")],
            ),
        ),
        (
            "2000bbbbbbbb",
            revision(
                "2000bbbbbbbb",
                "\"1000aaaaaaaa\"",
                "second",
                &second_up,
                &[unlog("2000")],
            ),
        ),
        (
            "3000cccc0001",
            revision(
                "3000cccc0001",
                "\"2000bbbbbbbb\"",
                "branch one",
                &[
                    s("op.execute(\"CREATE TABLE one (x INTEGER)\")"),
                    log("3001"),
                ],
                &[s("op.execute(\"DROP TABLE one\")"), unlog("3001")],
            ),
        ),
        (
            "3000cccc0002",
            revision(
                "3000cccc0002",
                "\"2000bbbbbbbb\"",
                "branch two",
                &[log("3002")],
                &[unlog("3002")],
            ),
        ),
        (
            "4000dddddddd",
            revision(
                "4000dddddddd",
                "(\"3000cccc0001\", \"3000cccc0002\")",
                "merge branches",
                &[log("4000")],
                &[unlog("4000")],
            ),
        ),
        (
            "5000eeeeeeee",
            revision(
                "5000eeeeeeee",
                "\"4000dddddddd\"",
                "fifth",
                &[log("5000")],
                &[unlog("5000")],
            ),
        ),
    ];
    if extras.failing {
        revs.push((
            "6000ffffffff",
            revision(
                "6000ffffffff",
                "\"5000eeeeeeee\"",
                "fails",
                &[
                    s("op.execute(\"CREATE TABLE IF NOT EXISTS six (x INTEGER)\")"),
                    log("6000"),
                    s("op.execute(\"INSERT INTO nope (x) VALUES (1)\")"),
                ],
                &[],
            ),
        ));
    }
    for (id, text) in revs {
        fs::write(versions.join(format!("{id}.py")), text).unwrap();
    }
}

fn python() -> Option<PathBuf> {
    venv_bin("python")
}

fn run_retort(dir: &Path, python: &Path, args: &[&str]) -> Output {
    Command::new(retort())
        .arg("-c")
        .arg(dir)
        .arg("--python")
        .arg(python)
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run retort")
}

fn run_alembic(dir: &Path, args: &[&str], database_url: Option<&str>) -> Output {
    let mut command = Command::new(venv_bin("alembic").expect("the venv has alembic"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command.output().expect("run alembic")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The tables, version rows and log rows of a database, through SQLAlchemy.
fn state(url: &str) -> Value {
    const SCRIPT: &str = r#"
import json, sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
with engine.connect() as c:
    tables = sorted(sa.inspect(c).get_table_names())
    def rows(sql, table):
        return sorted(r[0] for r in c.exec_driver_sql(sql)) if table in tables else None
    print(json.dumps({
        "tables": tables,
        "versions": rows("SELECT version_num FROM alembic_version", "alembic_version"),
        "log": rows("SELECT rev FROM log", "log"),
    }))
"#;
    let out = Command::new(python().unwrap())
        .args(["-c", SCRIPT, url])
        .output()
        .expect("run python");
    serde_json::from_str(ok(&out, "reading the database").trim()).unwrap()
}

fn versions(url: &str) -> Value {
    state(url)["versions"].clone()
}

/// Two databases on one backend (one for retort, one for plain alembic), as
/// (guards, retort's URL, alembic's URL, URL to read retort's database, URL to read alembic's).
struct Pair {
    _guards: Vec<ScratchDb>,
    retort_url: String,
    alembic_url: String,
    retort_read: String,
    alembic_read: String,
}

fn pair(server: Option<Server>, retort_dir: &Path, alembic_dir: &Path) -> Option<Pair> {
    match server {
        None => Some(Pair {
            _guards: Vec::new(),
            retort_url: "sqlite:///app.db".into(),
            alembic_url: "sqlite:///app.db".into(),
            retort_read: format!("sqlite:///{}", retort_dir.join("app.db").display()),
            alembic_read: format!("sqlite:///{}", alembic_dir.join("app.db").display()),
        }),
        Some(server) => {
            let a = ScratchDb::create(server, "alx_r")?;
            let b = ScratchDb::create(server, "alx_a")?;
            Some(Pair {
                retort_url: a.url(),
                alembic_url: b.url(),
                retort_read: a.url(),
                alembic_read: b.url(),
                _guards: vec![a, b],
            })
        }
    }
}

/// Runs the same commands through retort and through plain alembic, on two databases of one
/// backend, and compares the databases after each.
fn same_as_alembic(server: Option<Server>) {
    let Some(py) = python() else { return };
    let retort_dir = tempfile::tempdir().unwrap();
    let alembic_dir = tempfile::tempdir().unwrap();
    let Some(dbs) = pair(server, retort_dir.path(), alembic_dir.path()) else {
        return;
    };
    alembic_project(retort_dir.path(), Some(&dbs.retort_url), Extras::default());
    alembic_project(
        alembic_dir.path(),
        Some(&dbs.alembic_url),
        Extras::default(),
    );

    // The first run, with its progress.
    let out = run_retort(retort_dir.path(), &py, &["upgrade", "3000cccc0001"]);
    let stdout = ok(&out, "retort upgrade 3000cccc0001");
    let running: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("Running "))
        .collect();
    assert_eq!(
        running,
        [
            "Running upgrade  -> 1000aaaaaaaa, create log",
            "Running upgrade 1000aaaaaaaa -> 2000bbbbbbbb, second",
            "Running upgrade 2000bbbbbbbb -> 3000cccc0001, branch one",
        ],
        "{stdout}"
    );
    assert!(
        !stdout.contains("INFO  [alembic.runtime.migration] Running"),
        "alembic's own Running lines are replaced by Retort's: {stdout}"
    );
    ok(
        &run_alembic(alembic_dir.path(), &["upgrade", "3000cccc0001"], None),
        "alembic",
    );
    assert_eq!(state(&dbs.retort_read), state(&dbs.alembic_read));
    assert_eq!(
        versions(&dbs.retort_read),
        serde_json::json!(["3000cccc0001"])
    );

    for command in [
        &["upgrade", "+1"][..],
        &["upgrade", "heads"],
        &["downgrade", "-1"],
        &["downgrade", "2000bbbbbbbb"],
        &["upgrade", "3000cccc0002"],
        &["downgrade", "base"],
        &["upgrade", "heads"],
    ] {
        let label = command.join(" ");
        ok(
            &run_retort(retort_dir.path(), &py, command),
            &format!("retort {label}"),
        );
        ok(
            &run_alembic(alembic_dir.path(), command, None),
            &format!("alembic {label}"),
        );
        assert_eq!(
            state(&dbs.retort_read),
            state(&dbs.alembic_read),
            "after {label}"
        );
    }
    assert_eq!(
        versions(&dbs.retort_read),
        serde_json::json!(["5000eeeeeeee"])
    );

    // JSON: step events with alembic's count, then the report.
    let out = run_retort(retort_dir.path(), &py, &["--json", "downgrade", "base"]);
    let stdout = ok(&out, "retort --json downgrade base");
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let planned: Vec<&Value> = events.iter().filter(|e| e["event"] == "planned").collect();
    assert_eq!(planned.len(), 1, "{stdout}");
    assert_eq!(planned[0]["total"], 6);
    let finished: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .collect();
    assert_eq!(finished.len(), 6);
    assert_eq!(
        finished[0]["description"],
        "downgrade 5000eeeeeeee -> 4000dddddddd, fifth"
    );
    assert!(
        finished
            .iter()
            .all(|e| e["total"] == 6 && e["duration_ms"].is_u64())
    );
    let report = &events.last().unwrap()["report"];
    assert_eq!(report["outcome"], "completed");
    assert_eq!(report["heads_before"], serde_json::json!(["5000eeeeeeee"]));
    assert_eq!(report["heads_after"], serde_json::json!([]));
    assert_eq!(report["completed"].as_array().unwrap().len(), 6);
    assert_eq!(versions(&dbs.retort_read), serde_json::json!([]));
}

#[test]
fn sqlite_runs_match_alembic() {
    same_as_alembic(None);
}

#[test]
fn postgres_runs_match_alembic() {
    same_as_alembic(Some(Server::Postgres));
}

#[test]
fn mariadb_runs_match_alembic() {
    same_as_alembic(Some(Server::MariaDb));
}

#[test]
fn database_url_env_py_gets_the_url_and_the_password_stays_hidden() {
    let Some(py) = python() else { return };
    let Some(db) = ScratchDb::create(Server::Postgres, "alx_pw") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // No sqlalchemy.url at all: only $DATABASE_URL, which Retort sets from --url.
    alembic_project(
        dir.path(),
        None,
        Extras {
            database_url_env: true,
            print_url: true,
            ..Extras::default()
        },
    );
    // Trust authentication accepts and ignores the password.
    let password = "S3cr@t:pw%x";
    let encoded = "S3cr%40t%3Apw%25x";
    let url = format!(
        "postgresql+psycopg2://postgres:{encoded}@127.0.0.1:5432/{}",
        db.name
    );
    let hidden = |out: &Output| {
        for stream in [text(&out.stdout), text(&out.stderr)] {
            assert!(
                !stream.contains(password) && !stream.contains(encoded) && !stream.contains("S3cr"),
                "the password leaked: {stream}"
            );
        }
    };
    let out = run_retort(dir.path(), &py, &["--url", &url, "upgrade", "heads"]);
    hidden(&out);
    let stdout = ok(&out, "retort upgrade heads");
    assert!(
        stdout.contains("Running upgrade 4000dddddddd -> 5000eeeeeeee, fifth"),
        "{stdout}"
    );
    // env.py saw the real URL (it connected with it); its print comes out scrubbed.
    assert!(
        stdout.contains(&format!(
            "env.py sees postgresql+psycopg2://postgres:***@127.0.0.1:5432/{}",
            db.name
        )),
        "{stdout}"
    );
    assert_eq!(
        db.query("SELECT version_num FROM alembic_version").trim(),
        "5000eeeeeeee"
    );

    let out = run_retort(
        dir.path(),
        &py,
        &["--url", &url, "--json", "downgrade", "-1"],
    );
    hidden(&out);
    ok(&out, "retort downgrade -1");
    assert_eq!(
        db.query("SELECT version_num FROM alembic_version").trim(),
        "4000dddddddd"
    );
    let out = run_retort(
        dir.path(),
        &py,
        &["--url", &url, "downgrade", "2000bbbbbbbb"],
    );
    hidden(&out);
    ok(&out, "retort downgrade 2000bbbbbbbb");
    assert_eq!(
        db.query("SELECT version_num FROM alembic_version").trim(),
        "2000bbbbbbbb"
    );

    // Errors name the URL without the password too.
    let bad = format!(
        "postgresql+psycopg2://postgres:{encoded}@127.0.0.1:5432/{}_missing",
        db.name
    );
    let out = run_retort(dir.path(), &py, &["--url", &bad, "downgrade", "base"]);
    hidden(&out);
    assert_eq!(out.status.code(), Some(255));

    let out = run_retort(dir.path(), &py, &["--url", &url, "downgrade", "base"]);
    hidden(&out);
    ok(&out, "retort downgrade base");
    assert_eq!(db.query("SELECT count(*) FROM alembic_version").trim(), "0");
}

/// The line of the failing statement in 6000ffffffff.py.
fn failing_line(dir: &Path) -> usize {
    let text = fs::read_to_string(dir.join("migrations/versions/6000ffffffff.py")).unwrap();
    text.lines()
        .position(|l| l.contains("INSERT INTO nope"))
        .unwrap()
        + 1
}

fn failing_revision(server: Option<Server>) {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let scratch = match server {
        Some(s) => match ScratchDb::create(s, "alx_fail") {
            Some(db) => Some(db),
            None => return,
        },
        None => None,
    };
    let (url, read) = match &scratch {
        Some(db) => (db.url(), db.url()),
        None => (
            "sqlite:///app.db".to_string(),
            format!("sqlite:///{}", dir.path().join("app.db").display()),
        ),
    };
    alembic_project(
        dir.path(),
        Some(&url),
        Extras {
            failing: true,
            ..Extras::default()
        },
    );
    let line = failing_line(dir.path());
    let out = run_retort(dir.path(), &py, &["upgrade", "heads"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "FAILED: upgrade 5000eeeeeeee -> 6000ffffffff, fails failed at {}:{line}: ",
            dir.path()
                .join("migrations/versions/6000ffffffff.py")
                .display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("statement: INSERT INTO nope (x) VALUES (1)"),
        "{stderr}"
    );
    assert!(stderr.contains("nope"), "{stderr}");

    // Again with JSON, from where the first run left the database.
    let after_first = state(&read);
    let out = run_retort(dir.path(), &py, &["--json", "upgrade", "heads"]);
    assert_eq!(out.status.code(), Some(255));
    let stdout = text(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let report = &report["report"];
    assert_eq!(report["outcome"], "failed", "{stdout}");
    let failure = &report["failure"];
    assert_eq!(failure["revision"], "6000ffffffff");
    assert_eq!(failure["line"], line);
    assert!(
        failure["path"]
            .as_str()
            .unwrap()
            .ends_with("6000ffffffff.py"),
        "{failure}"
    );
    assert!(stdout.contains("\"event\":\"step_failed\""), "{stdout}");
    let committed: Vec<&str> = failure["committed_statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[1].as_str().unwrap())
        .collect();

    let db = state(&read);
    match server {
        // One transaction for the whole upgrade: nothing of the run is left.
        Some(Server::Postgres) => {
            assert_eq!(after_first["versions"], Value::Null, "{after_first}");
            assert_eq!(failure["rolled_back"], true);
            assert!(committed.is_empty());
            assert_eq!(failure["version_rows"], serde_json::json!([]));
            // Even the version table's creation was rolled back.
            assert_eq!(db["tables"], serde_json::json!([]));
            assert_eq!(report["created_version_table"], false);
        }
        // SQLite runs each migration in its own transaction, and its driver runs DDL outside
        // one; MariaDB commits DDL as it goes. Either way the CREATE TABLE stays.
        _ => {
            assert_eq!(after_first["versions"], serde_json::json!(["5000eeeeeeee"]));
            assert_eq!(failure["rolled_back"], false, "{failure}");
            assert_eq!(
                committed,
                ["CREATE TABLE IF NOT EXISTS six (x INTEGER)"],
                "{failure}"
            );
            assert_eq!(failure["version_rows"], serde_json::json!(["5000eeeeeeee"]));
            assert!(
                db["tables"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!("six"))
            );
            // The INSERT into log after the DDL was rolled back.
            assert!(
                !db["log"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!("6000"))
            );
        }
    }
}

#[test]
fn failing_revision_on_sqlite() {
    failing_revision(None);
}

#[test]
fn failing_revision_on_postgres() {
    failing_revision(Some(Server::Postgres));
}

#[test]
fn failing_revision_on_mariadb() {
    failing_revision(Some(Server::MariaDb));
}

#[test]
fn missing_alembic_is_named() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    alembic_project(dir.path(), Some("sqlite:///app.db"), Extras::default());
    // A Python without alembic: a bare venv made from the test venv's interpreter.
    let bare = tempfile::tempdir().unwrap();
    ok(
        &Command::new(&py)
            .args(["-m", "venv", "--without-pip"])
            .arg(bare.path().join("env"))
            .output()
            .unwrap(),
        "python -m venv",
    );
    let bare_python = bare.path().join("env/bin/python");
    let out = run_retort(dir.path(), &bare_python, &["upgrade", "heads"]);
    assert_eq!(out.status.code(), Some(255));
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "alembic is not installed for {}: run `{} -m pip install alembic`",
            bare_python.display(),
            bare_python.display()
        )),
        "{stdout}"
    );

    let out = run_retort(
        dir.path(),
        Path::new("/nonexistent/python"),
        &["upgrade", "heads"],
    );
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stdout).contains("no Python at /nonexistent/python"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !dir.path().join("app.db").exists()
            || versions(&format!(
                "sqlite:///{}",
                dir.path().join("app.db").display()
            ))
            .is_null()
    );
}

#[test]
fn sql_prints_the_script_without_touching_the_database() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    alembic_project(
        dir.path(),
        Some("postgresql+psycopg2://nobody@127.0.0.1:1/none"),
        Extras::default(),
    );
    let out = run_retort(dir.path(), &py, &["upgrade", "heads", "--sql"]);
    let stdout = ok(&out, "retort upgrade heads --sql");
    for expected in [
        "BEGIN;",
        "CREATE TABLE alembic_version",
        "CREATE TABLE log (rev VARCHAR(40));",
        "INSERT INTO log (rev) VALUES ('4000');",
        "-- Running upgrade 4000dddddddd -> 5000eeeeeeee",
        "UPDATE alembic_version SET version_num='5000eeeeeeee' WHERE alembic_version.version_num = '4000dddddddd';",
        "COMMIT;",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // No step events in the script: every line is SQL or a comment (or the closing summary).
    assert!(
        !stdout.lines().any(|l| l.starts_with("Running ")),
        "{stdout}"
    );
    // Alembic's log lines go to stderr, as alembic writes them: `--sql > file.sql` is the script.
    let stderr = text(&out.stderr);
    assert!(!stdout.contains("INFO"), "{stdout}");
    assert!(
        stderr.contains("INFO  [alembic.runtime.migration] Generating static SQL"),
        "stderr: {stderr}"
    );

    let sqlite = tempfile::tempdir().unwrap();
    alembic_project(sqlite.path(), Some("sqlite:///app.db"), Extras::default());
    let out = run_retort(
        sqlite.path(),
        &py,
        &["downgrade", "5000eeeeeeee:base", "--sql"],
    );
    let stdout = ok(&out, "retort downgrade 5000eeeeeeee:base --sql");
    assert!(stdout.contains("DROP TABLE log;"), "{stdout}");
    assert!(
        !sqlite.path().join("app.db").exists(),
        "--sql must not open the database"
    );
}

/// Starts `retort upgrade heads` on a project whose 2000bbbbbbbb sleeps; returns the child
/// once that step is running.
fn start_slow_upgrade(
    dir: &Path,
    py: &Path,
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(retort())
        .arg("-c")
        .arg(dir)
        .arg("--python")
        .arg(py)
        .args(["upgrade", "heads"])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "retort ended early"
        );
        if line.starts_with("Running upgrade 1000aaaaaaaa -> 2000bbbbbbbb") {
            break;
        }
    }
    (child, stdout)
}

fn cancel_between_steps(server: Option<Server>) {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let scratch = match server {
        Some(s) => match ScratchDb::create(s, "alx_cancel") {
            Some(db) => Some(db),
            None => return,
        },
        None => None,
    };
    let (url, read) = match &scratch {
        Some(db) => (db.url(), db.url()),
        None => (
            "sqlite:///app.db".to_string(),
            format!("sqlite:///{}", dir.path().join("app.db").display()),
        ),
    };
    alembic_project(
        dir.path(),
        Some(&url),
        Extras {
            slow: Some(1.5),
            ..Extras::default()
        },
    );
    let (mut child, mut stdout) = start_slow_upgrade(dir.path(), &py);
    // SIGINT to retort alone (as a GUI's cancel would be): the running step finishes, the
    // next ones do not start.
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}\n{stderr}");
    assert!(
        !rest.contains("Running "),
        "no step starts after the cancel: {rest}"
    );
    assert!(
        stderr.contains(
            "Cancelled after 2 step(s); 4 not run. The version table names 2000bbbbbbbb."
        ),
        "{stderr}"
    );
    let db = state(&read);
    assert_eq!(db["versions"], serde_json::json!(["2000bbbbbbbb"]));
    assert_eq!(db["log"], serde_json::json!(["2000"]));
}

#[test]
fn cancel_stops_between_steps_on_sqlite() {
    cancel_between_steps(None);
}

#[test]
fn cancel_stops_between_steps_on_postgres() {
    cancel_between_steps(Some(Server::Postgres));
}

#[test]
fn retort_holds_its_lock_around_the_alembic_run() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    alembic_project(
        dir.path(),
        Some("sqlite:///app.db"),
        Extras {
            slow: Some(1.5),
            ..Extras::default()
        },
    );
    let (mut child, _stdout) = start_slow_upgrade(dir.path(), &py);
    // A stamp runs natively and takes the same lock.
    let out = run_retort(dir.path(), &py, &["stamp", "base", "--lock-timeout", "0"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stdout));
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    assert!(
        text(&out.stdout).contains("holds the lock"),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(
        versions(&format!(
            "sqlite:///{}",
            dir.path().join("app.db").display()
        )),
        serde_json::json!(["5000eeeeeeee"])
    );
}

#[test]
fn pyproject_only_projects_run_too() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    alembic_project(dir.path(), None, Extras::default());
    fs::remove_file(dir.path().join("alembic.ini")).unwrap();
    fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.alembic]\nscript_location = \"%(here)s/migrations\"\nprepend_sys_path = [\".\"]\n",
    )
    .unwrap();
    let out = run_retort(
        dir.path(),
        &py,
        &["--url", "sqlite:///app.db", "upgrade", "heads"],
    );
    let stdout = ok(&out, "retort upgrade heads (pyproject.toml)");
    assert!(
        stdout.contains("Running upgrade 4000dddddddd -> 5000eeeeeeee, fifth"),
        "{stdout}"
    );
    let read = format!("sqlite:///{}", dir.path().join("app.db").display());
    assert_eq!(versions(&read), serde_json::json!(["5000eeeeeeee"]));
}
