//! The management screens end to end (ui/e2e/manage.mjs): merge the demo's two heads, a new
//! revision with its naming hint, the checks with a round trip on SQLite, backups created,
//! restored (typed confirmation), verified and deleted on SQLite, PostgreSQL and MariaDB, and
//! the journal of all that. `retort serve` in Debian's Chromium (playwright-core); the saved
//! connections are made with the CLI in the same RETORT_HOME. Screenshots go to
//! target/screenshots/manage-*.png. RETORT_REQUIRE_ALEMBIC=1 turns a missing piece (chromium,
//! node, a database server) into a failure instead of a skip.
//!
//! The connection form's SSH route and password command (ui/e2e/connections_ssh.mjs): the
//! fields, saving and editing, "Test SSH only" and a refused bastion's error on the test card,
//! and with a test sshd of its own in front of PostgreSQL: an unknown host key trusted from
//! the form and from the card, the SSH rows of the working test, a production upgrade from
//! the graph with its backup and the restore, all through the tunnel with the password from a
//! command, and a changed host key refused. Screenshots: target/screenshots/ssh-*.png.

mod support;

use std::process::Command;
use support::sshd::{SshClient, SshKey, Sshd, SshdOptions};
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

#[test]
fn ssh_route_and_password_command_in_the_connection_form() {
    let Some(chromium) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let demo = dir.path().join("demo");
    copy_demo(&demo);
    // An ssh_config and known_hosts of the test's own (RETORT_SSH_CONFIG): nothing reads or
    // writes ~/.ssh, neither the tunnels nor "Trust this host key".
    let client = SshClient::new();
    // The host key part needs PostgreSQL behind a test sshd; without them it is left out (or
    // fails, when RETORT_REQUIRE_ALEMBIC=1 says everything must run).
    let pg = ScratchDb::create(Server::Postgres, "uis");
    let key = pg
        .as_ref()
        .and_then(|_| support::sshd::available().then(SshKey::generate));
    let sshd = key
        .as_ref()
        .and_then(|k| Sshd::start(&[k], SshdOptions::default()));

    let screenshots = screenshots();
    let mut script = browser_script("connections_ssh.mjs", &chromium);
    script
        .envs(client.env())
        // No keychain here: a session bus another test left behind must not stall its probe.
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .env("RETORT_HOME", &home)
        .env("E2E_DEMO", &demo)
        .env("E2E_SCREENSHOTS", &screenshots);
    let mut expected = vec!["ssh-form", "ssh-refused"];
    if let (Some(pg), Some(key), Some(sshd)) = (&pg, &key, &sshd) {
        script
            .env("E2E_PG_DB", &pg.name)
            .env("E2E_SSH_PORT", sshd.port().to_string())
            .env("E2E_SSH_USER", support::sshd::current_user())
            .env("E2E_SSH_KEY", &key.private)
            .env("E2E_SSH_FINGERPRINT", sshd.host_fingerprint())
            .env("E2E_KNOWN_HOSTS", &client.known_hosts);
        expected.extend([
            "ssh-only-unknown",
            "ssh-only-ok",
            "ssh-unknown-host-key",
            "ssh-test-ok",
            "ssh-upgrade-done",
            "ssh-restored",
            "ssh-changed-host-key",
        ]);
    } else {
        eprintln!("no PostgreSQL or no sshd: the host key steps are left out");
    }
    assert_browser_passed(&mut script);

    // Seen from outside: the store has the route (the jump host first) and the command.
    let shown = run_retort(&home, &demo, &["connections", "show", "pg-bastion"]);
    for line in [
        "ssh          me@127.0.0.1:1 → me@127.0.0.1:2",
        "command      printf pw",
        "lifetime     60 s",
    ] {
        assert!(shown.contains(line), "{line:?} in:\n{shown}");
    }
    if let Some(sshd) = &sshd {
        let known = std::fs::read_to_string(&client.known_hosts).unwrap();
        assert!(
            known.contains(&format!("[127.0.0.1]:{}", sshd.port())),
            "the trusted key went to the test's known_hosts: {known}"
        );
    }
    assert_screenshots(&screenshots, &expected);
}
