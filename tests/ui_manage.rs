//! The management screens end to end (ui/e2e/manage.mjs): merge the demo's two heads, a new
//! revision with its naming hint, the checks with a round trip on SQLite, backups created,
//! restored (typed confirmation), verified and deleted on SQLite, PostgreSQL and MariaDB, and
//! the journal of all that. `retort serve` in Debian's Chromium (playwright-core); the saved
//! connections are made with the CLI in the same RETORT_HOME. Screenshots go to
//! target/screenshots/manage-*.png. RETORT_REQUIRE_ALEMBIC=1 turns a missing piece (chromium,
//! node, a database server) into a failure instead of a skip.

mod support;

use std::process::Command;
use support::ui::{
    assert_browser_passed, assert_screenshots, browser_script, copy_demo, run_retort, screenshots,
    tools,
};
use support::{ScratchDb, Server, retort};

#[test]
fn merge_revision_checks_backups_and_journal_in_chromium() {
    let Some(chromium) = tools() else { return };
    let Some(pg) = ScratchDb::create(Server::Postgres, "uim") else {
        return;
    };
    let Some(my) = ScratchDb::create(Server::MariaDb, "uim") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let demo = dir.path().join("demo");
    copy_demo(&demo);
    let lite = dir.path().join("lite.db");

    // Saved connections, bound to the demo: SQLite at both heads; PostgreSQL and MariaDB on
    // the reviews/pricing head (the audit branch's trigger is SQLite's).
    let lite_path = lite.display().to_string();
    let pg_url = format!("postgresql://postgres@127.0.0.1:5432/{}", pg.name);
    let my_url = format!("mysql://root@127.0.0.1:3306/{}", my.name);
    run_retort(
        &home,
        &demo,
        &[
            "connections",
            "add",
            "lite",
            "--driver",
            "sqlite",
            "--sqlite-path",
            &lite_path,
            "--environment",
            "staging",
            "--bind",
        ],
    );
    run_retort(
        &home,
        &demo,
        &[
            "connections",
            "add",
            "pg",
            "--from-url",
            &pg_url,
            "--environment",
            "development",
            "--bind",
        ],
    );
    run_retort(
        &home,
        &demo,
        &[
            "connections",
            "add",
            "maria",
            "--from-url",
            &my_url,
            "--environment",
            "development",
            "--bind",
        ],
    );
    run_retort(&home, &demo, &["--connection", "lite", "upgrade", "heads"]);
    run_retort(
        &home,
        &demo,
        &["--connection", "pg", "upgrade", "8b0d3e6f1c58"],
    );
    run_retort(
        &home,
        &demo,
        &["--connection", "maria", "upgrade", "8b0d3e6f1c58"],
    );
    run_retort(&home, &demo, &["upgrade", "3c44d0e8b915"]);

    let screenshots = screenshots();
    assert_browser_passed(
        browser_script("manage.mjs", &chromium)
            .env("RETORT_HOME", &home)
            .env("E2E_DEMO", &demo)
            .env("E2E_PG_DB", &pg.name)
            .env("E2E_MY_DB", &my.name)
            .env("E2E_SCREENSHOTS", &screenshots),
    );

    // What the browser did, seen from outside: one head, the merge and the new revision on disk,
    // every database back where its backup was.
    let heads = Command::new(retort())
        .arg("-c")
        .arg(&demo)
        .arg("heads")
        .output()
        .unwrap();
    let heads = String::from_utf8_lossy(&heads.stdout).into_owned();
    assert_eq!(
        heads.lines().count(),
        1,
        "one head after the merge and the new revision: {heads}"
    );
    assert_eq!(pg.query("SELECT count(*) FROM authors").trim(), "0");
    assert_eq!(my.query("SELECT count(*) FROM authors").trim(), "0");
    assert_eq!(
        pg.query("SELECT version_num FROM alembic_version").trim(),
        "8b0d3e6f1c58"
    );
    assert_eq!(
        my.query("SELECT version_num FROM alembic_version").trim(),
        "8b0d3e6f1c58"
    );
    assert_screenshots(
        &screenshots,
        &[
            "manage-merge-explained",
            "manage-merge-written",
            "manage-revision",
            "manage-checks",
            "manage-backups-pg",
            "manage-restore",
            "manage-journal",
        ],
    );
}
