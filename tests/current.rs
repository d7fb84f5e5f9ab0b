//! `retort current` and `history -i` read real databases that alembic 1.20.1 migrated, on
//! SQLite, PostgreSQL and MariaDB, and print what `alembic current` / `history -i` print.
//!
//! Needs the `.venv` from `scripts/test.sh` (alembic, psycopg2, pymysql) and the loopback
//! servers; `RETORT_REQUIRE_ALEMBIC=1` turns a missing piece into a failure.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use support::{ENV_PY, ScratchDb, Server, alembic_layout, retort, run, venv_bin};

const REVISIONS: &[(&str, &str, &str)] = &[
    ("1000aaaaaaaa", "None", "create a"),
    ("2000bbbbbbbb", "'1000aaaaaaaa'", "add b"),
    ("9000cccc0001", "'2000bbbbbbbb'", "branch one"),
    ("3000cccc0002", "'2000bbbbbbbb'", "branch two"),
    (
        "4000dddddddd",
        "('3000cccc0002', '9000cccc0001')",
        "merge branches",
    ),
];

fn alembic_project(dir: &Path, url: &str) {
    let versions = alembic_layout(dir, url, ENV_PY);
    for (id, down, msg) in REVISIONS {
        fs::write(
            versions.join(format!("{id}_{}.py", msg.replace(' ', "_"))),
            format!("\"\"\"{msg}\"\"\"\nrevision = '{id}'\ndown_revision = {down}\n\ndef upgrade():\n    pass\n\ndef downgrade():\n    pass\n"),
        )
        .unwrap();
    }
}

fn lines_sorted(text: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(text)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Moves the database with alembic through a few states and compares after each.
fn compare_on(url: &str) {
    let alembic = venv_bin("alembic").expect("alembic in the venv");
    let retort = retort();
    let dir = tempfile::tempdir().unwrap();
    alembic_project(dir.path(), url);
    let d = dir.path();
    for target in [
        None,
        Some("9000cccc0001"),
        Some("3000cccc0002"),
        Some("heads"),
        Some("base"),
    ] {
        if let Some(t) = target {
            let cmd = if t == "base" { "downgrade" } else { "upgrade" };
            let out = run(&alembic, d, &[cmd, t]);
            assert!(
                out.status.success(),
                "alembic {cmd} {t}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for args in [
            &["current"][..],
            &["current", "-v"],
            &["current", "--check-heads"],
            &["history", "-i"],
            &["history", "-r", "current:"],
        ] {
            let theirs = run(&alembic, d, args);
            let ours = run(retort, d, args);
            let label = format!("{url} after {target:?}: {}", args.join(" "));
            assert_eq!(
                theirs.status.success(),
                ours.status.success(),
                "{label}: exit status differs; retort said {}",
                String::from_utf8_lossy(&ours.stderr)
            );
            if !theirs.status.success() {
                continue;
            }
            if args[0] == "current" {
                // alembic prints the current revisions from a set: compare them as a set
                assert_eq!(
                    lines_sorted(&theirs.stdout),
                    lines_sorted(&ours.stdout),
                    "{label}"
                );
            } else {
                assert_eq!(
                    String::from_utf8_lossy(&theirs.stdout),
                    String::from_utf8_lossy(&ours.stdout),
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn sqlite_current_matches_alembic() {
    if venv_bin("alembic").is_none() {
        return;
    }
    compare_on("sqlite:///db.sqlite");
}

#[test]
fn postgresql_current_matches_alembic() {
    if venv_bin("alembic").is_none() {
        return;
    }
    if let Some(db) = ScratchDb::create(Server::Postgres, "current") {
        compare_on(&db.url());
    }
}

#[test]
fn mariadb_current_matches_alembic() {
    if venv_bin("alembic").is_none() {
        return;
    }
    if let Some(db) = ScratchDb::create(Server::MariaDb, "current") {
        compare_on(&db.url());
    }
}

#[test]
fn unreachable_database_fails_without_leaking_the_password() {
    let dir = tempfile::tempdir().unwrap();
    alembic_project(
        dir.path(),
        "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere",
    );
    let out = run(retort(), dir.path(), &["current"]);
    assert_eq!(out.status.code(), Some(255));
    // The error (`FAILED: ...`) is on stdout, as alembic's `util.err` prints it; the password
    // is on neither stream.
    let err = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("someone:***@127.0.0.1:1/nowhere"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// Whether `text` has PostgreSQL's own source location (`... at line 768`).
fn has_server_source_line(text: &str) -> bool {
    text.match_indices("at line ").any(|(i, m)| {
        text[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn postgresql_errors_keep_detail_and_code_but_not_the_servers_source_line() {
    let Some(db) = ScratchDb::create(Server::Postgres, "pgerr") else {
        return;
    };
    let retort = retort();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("retort.toml"), "versions = [\"versions\"]\n").unwrap();
    fs::create_dir(d.join("versions")).unwrap();
    fs::write(
        d.join("versions/a.sql"),
        "-- revision: aaaa0001\n-- down_revision:\n\n-- migrate:up\nCREATE TABLE dup (id INTEGER PRIMARY KEY);\nINSERT INTO dup VALUES (1);\nINSERT INTO dup VALUES (1);\n",
    )
    .unwrap();

    // A connection refused by the server (no such database).
    let missing = format!("{}_missing", db.url());
    let out = run(retort, d, &["current", "--url", &missing]);
    assert_eq!(out.status.code(), Some(255));
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("3D000"), "{err}");
    assert!(!has_server_source_line(&err), "{err}");

    // A statement refused: the message, its DETAIL and SQLSTATE, no server source line.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(retort)
        .args(["upgrade", "head", "--url", &db.url()])
        .current_dir(d)
        .env("RETORT_HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    // A failed run: its report stays on stderr.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("duplicate key value"), "{err}");
    assert!(err.contains("Key (id)=(1) already exists"), "{err}");
    assert!(err.contains("23505"), "{err}");
    assert!(!has_server_source_line(&err), "{err}");
}
