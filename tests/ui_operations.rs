//! The run, stamp and status-board screens end to end: `retort serve` driven in Debian's
//! Chromium by playwright-core (ui/e2e/operations.mjs) against real PostgreSQL, MariaDB and
//! SQLite databases. (a) a production upgrade with a backup and the typed confirmation,
//! (b) a failing revision on MariaDB with the backup restored from the failure report,
//! (c) a verified stamp with a real schema mismatch, (d) the status board. Screenshots go to
//! target/screenshots/ops-*.png. Needs node, ui/node_modules and /usr/bin/chromium;
//! RETORT_REQUIRE_ALEMBIC=1 turns a missing piece into a failure instead of a skip.

mod support;

use std::path::Path;
use support::ui::{
    assert_browser_passed, assert_screenshots, browser_script, copy_demo, run_retort, screenshots,
    tools,
};
use support::{ScratchDb, Server};

const FAILING: &str = "f00dbad00001";

#[test]
fn runs_stamps_and_the_status_board_in_chromium() {
    let Some(chromium) = tools() else { return };
    let Some(pg) = ScratchDb::create(Server::Postgres, "uiops") else {
        return;
    };
    let Some(my) = ScratchDb::create(Server::MariaDb, "uiops") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    // The demo: its own SQLite file at 3c44d0e8b915 (for the stamp), `prod` (PostgreSQL,
    // production, empty) and `stage` (SQLite, at the heads) bound to it.
    let demo = dir.path().join("demo");
    copy_demo(&demo);
    run_retort(&home, &demo, &["upgrade", "3c44d0e8b915"]);
    let pg_url = format!("postgresql://postgres@127.0.0.1:5432/{}", pg.name);
    run_retort(
        &home,
        &demo,
        &[
            "connections",
            "add",
            "prod",
            "--from-url",
            &pg_url,
            "--environment",
            "production",
            "--bind",
        ],
    );
    let stage_url = format!("sqlite:///{}", dir.path().join("stage.db").display());
    run_retort(
        &home,
        &demo,
        &[
            "connections",
            "add",
            "stage",
            "--from-url",
            &stage_url,
            "--environment",
            "staging",
            "--bind",
        ],
    );
    run_retort(&home, &demo, &["--connection", "stage", "upgrade", "heads"]);

    // A copy with a revision that fails half-way (MariaDB commits the CREATE TABLE before
    // the INSERT fails), and `maria` at 3c44d0e8b915 bound to it.
    let failing = dir.path().join("failing");
    copy_demo(&failing);
    std::fs::write(
        failing.join(format!("versions/{FAILING}_fill_coupons.sql")),
        format!(
            "-- revision: {FAILING}\n-- down_revision: 4d1f6a92c0b7\n-- message: fill coupons\n\n\
             -- migrate:up\nCREATE TABLE coupons (id INTEGER PRIMARY KEY);\n\
             INSERT INTO no_such_table (id) VALUES (1);\n\n-- migrate:down\nDROP TABLE coupons;\n"
        ),
    )
    .unwrap();
    let my_url = format!("mysql://root@127.0.0.1:3306/{}", my.name);
    run_retort(
        &home,
        &failing,
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
    run_retort(
        &home,
        &failing,
        &["--connection", "maria", "upgrade", "3c44d0e8b915"],
    );

    let screenshots = screenshots();
    assert_browser_passed(
        browser_script("operations.mjs", &chromium)
            .env("E2E_HOME", &home)
            .env("E2E_DEMO", &demo)
            .env("E2E_FAILING", &failing)
            .env("E2E_PG_DB", &pg.name)
            .env("E2E_MY_DB", &my.name)
            .env("E2E_STAGE_DB", dir.path().join("stage.db"))
            .env("E2E_SCREENSHOTS", &screenshots),
    );

    // What the UI did, read back outside it.
    let current = |project: &Path, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["current"]);
        run_retort(&home, project, &all)
    };
    let prod = current(&demo, &["--connection", "prod"]);
    assert!(
        prod.contains("8b0d3e6f1c58"),
        "prod after the upgrade: {prod}"
    );
    let maria = current(&failing, &["--connection", "maria"]);
    assert!(
        maria.contains("3c44d0e8b915"),
        "maria after the restore: {maria}"
    );
    assert!(
        !maria.contains("4d1f6a92c0b7"),
        "maria after the restore: {maria}"
    );
    let tables = my.query("SHOW TABLES");
    assert!(
        !tables.contains("coupons") && !tables.contains("reviews"),
        "tables after the restore: {tables}"
    );
    assert!(
        tables.contains("books"),
        "tables after the restore: {tables}"
    );
    let own = current(&demo, &[]);
    assert!(
        own.contains("8b0d3e6f1c58"),
        "the project's file after the stamp: {own}"
    );
    assert_screenshots(
        &screenshots,
        &[
            "ops-1-plan",
            "ops-3-upgrade-done",
            "ops-4-status",
            "ops-5-failure",
            "ops-6-restored",
            "ops-7-stamp-mismatch",
            "ops-8-stamped",
        ],
    );
}
