//! The UI end to end: `retort serve` driven in Debian's Chromium by playwright-core
//! (ui/e2e/serve.mjs), against real SQLite, PostgreSQL and MariaDB databases. Screenshots of
//! each screen go to target/screenshots/. Needs node, ui/node_modules (npm ci) and
//! /usr/bin/chromium; scripts/test.sh installs them and sets RETORT_REQUIRE_ALEMBIC=1, which
//! turns a missing piece into a failure instead of a skip.

mod support;

use support::ui::{
    assert_browser_passed, assert_screenshots, browser_script, copy_demo,
    run_retort_default_home as run_retort, screenshots, tools,
};
use support::{ScratchDb, Server};

struct MariaUser<'a> {
    db: &'a ScratchDb,
    name: String,
}

impl Drop for MariaUser<'_> {
    fn drop(&mut self) {
        self.db
            .admin(&format!("DROP USER IF EXISTS '{}'@'%'", self.name));
    }
}

#[test]
fn the_ui_in_chromium_against_retort_serve() {
    let Some(chromium) = tools() else { return };
    let Some(pg) = ScratchDb::create(Server::Postgres, "ui") else {
        return;
    };
    let Some(my) = ScratchDb::create(Server::MariaDb, "ui") else {
        return;
    };
    let user = MariaUser {
        db: &my,
        name: format!("retort_ui_{}", std::process::id()),
    };
    let password = "Ui-Right-Pw-7";
    my.admin(&format!(
        "CREATE USER '{}'@'%' IDENTIFIED BY '{password}'",
        user.name
    ));
    my.admin(&format!(
        "GRANT ALL ON {}.* TO '{}'@'%'",
        my.name, user.name
    ));

    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    copy_demo(&demo);
    // The project's own SQLite file at 3c44d0e8b915, staging (another file) on the reviews
    // branch, production (PostgreSQL) stamped at the heads (the demo's audit trigger is SQLite's).
    run_retort(&demo, &["upgrade", "3c44d0e8b915"]);
    let staging = dir.path().join("staging.db");
    let staging_url = format!("sqlite:///{}", staging.display());
    run_retort(&demo, &["--url", &staging_url, "upgrade", "4d1f6a92c0b7"]);
    let pg_url = format!("postgresql://postgres@127.0.0.1:5432/{}", pg.name);
    run_retort(&demo, &["--url", &pg_url, "stamp", "heads"]);
    // A project with a missing parent, for the problems list.
    let broken = dir.path().join("broken");
    copy_demo(&broken);
    let file = broken.join("versions/5e83b27f6d4a_add_review_rating.sql");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("down_revision: 4d1f6a92c0b7", "down_revision: ffff00000000");
    std::fs::write(&file, text).unwrap();

    let screenshots = screenshots();
    assert_browser_passed(
        browser_script("serve.mjs", &chromium)
            .env("E2E_DEMO", &demo)
            .env("E2E_BROKEN", &broken)
            .env("E2E_PG_URL", &pg_url)
            .env(
                "E2E_MY_URL_WRONG",
                format!(
                    "mysql://{}:not-the-password@127.0.0.1:3306/{}",
                    user.name, my.name
                ),
            )
            .env("E2E_MY_PASSWORD", password)
            .env("E2E_STAGING_DB", &staging)
            .env("E2E_SCREENSHOTS", &screenshots),
    );
    assert_screenshots(
        &screenshots,
        &[
            "1-workspace",
            "3-connection-test-postgres",
            "6-graph-staging-overlay",
        ],
    );
}
