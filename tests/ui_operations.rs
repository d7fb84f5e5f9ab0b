//! The run, stamp and status-board screens end to end: `retort serve` driven in Debian's
//! Chromium by playwright-core (ui/e2e/operations.mjs) against real PostgreSQL, MariaDB and
//! SQLite databases. (a) a production upgrade with a backup and the typed confirmation,
//! (b) a failing revision on MariaDB with the backup restored from the failure report,
//! (c) a verified stamp with a real schema mismatch, (d) the status board. Screenshots go to
//! target/screenshots/ops-*.png. Needs node, ui/node_modules and /usr/bin/chromium;
//! RETORT_REQUIRE_ALEMBIC=1 turns a missing piece into a failure instead of a skip.

#[path = "support/databases.rs"]
mod databases;

use databases::{ScratchDb, Server, required, retort};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tools() -> Option<PathBuf> {
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    let missing = if !chromium.exists() {
        Some("chromium")
    } else if !root().join("ui/node_modules/playwright-core").exists() {
        Some("ui/node_modules (npm --prefix ui ci)")
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node")
    } else {
        None
    };
    if let Some(what) = missing {
        assert!(!required(), "{what} is required (RETORT_REQUIRE_ALEMBIC=1)");
        eprintln!("{what} not found: skipped");
        return None;
    }
    Some(chromium)
}

fn copy_demo(to: &Path) {
    std::fs::create_dir_all(to.join("versions")).unwrap();
    std::fs::copy(root().join("demo/retort.toml"), to.join("retort.toml")).unwrap();
    for f in std::fs::read_dir(root().join("demo/versions")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, to.join("versions").join(f.file_name().unwrap())).unwrap();
    }
}

fn run_retort(home: &Path, project: &Path, args: &[&str]) -> String {
    let out = Command::new(retort())
        .env("RETORT_HOME", home)
        .arg("-c")
        .arg(project)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "retort {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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

    let screenshots = root().join("target/screenshots");
    let status = Command::new("node")
        .arg(root().join("ui/e2e/operations.mjs"))
        .current_dir(root().join("ui"))
        .env("RETORT_BIN", retort())
        .env("CHROMIUM", &chromium)
        .env("E2E_HOME", &home)
        .env("E2E_DEMO", &demo)
        .env("E2E_FAILING", &failing)
        .env("E2E_PG_DB", &pg.name)
        .env("E2E_MY_DB", &my.name)
        .env("E2E_SCREENSHOTS", &screenshots)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the browser test failed (see its output above)"
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
    for name in [
        "ops-1-plan",
        "ops-3-upgrade-done",
        "ops-4-status",
        "ops-5-failure",
        "ops-6-restored",
        "ops-7-stamp-mismatch",
        "ops-8-stamped",
    ] {
        assert!(
            screenshots.join(format!("{name}.png")).exists(),
            "{name}.png"
        );
    }
}
