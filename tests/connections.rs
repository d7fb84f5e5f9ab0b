//! `retort connections` end to end, with the real kernel session keyring (never the mock
//! store): save a PostgreSQL connection with a known password, migrate through
//! `--connection`, and check the password appears nowhere — not in the store file (nor its
//! -wal/-shm), not on stdout/stderr of any command.

mod support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{ScratchDb, Server, native_layout, required, retort, venv_bin, which};

/// Joins a fresh anonymous session keyring for this thread and the retort processes it
/// starts: what `keyctl session -` does. The inherited session keyring of a headless root
/// may not be writable (`NoStorageAccess(AccessDenied)`).
///
/// When the kernel refuses (some container sandboxes block the keyctl system call) the test
/// skips, except under RETORT_REQUIRE_ALEMBIC=1 on a machine where the `keyctl` program is
/// installed (scripts/lib/setup.sh installs it): there the kernel keyring is expected to work
/// and a refusal fails the test.
fn join_session_keyring() -> bool {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) reads no memory of ours.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if id < 0 {
        let keyctl = Command::new("keyctl").arg("--version").output().is_ok();
        assert!(
            !(required() && keyctl),
            "keyctl is installed but the kernel refused a session keyring"
        );
        eprintln!("kernel keyring not available: skipped");
        return false;
    }
    true
}

fn native_project(dir: &Path) {
    let versions = native_layout(dir, "versions = [\"versions\"]\n");
    fs::write(
        versions.join("a1b2c3d4e5f6_first.sql"),
        "-- revision: a1b2c3d4e5f6\n-- down_revision:\n-- message: first\n\n-- migrate:up\nCREATE TABLE conn_t (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE conn_t;\n",
    )
    .unwrap();
}

struct Session {
    home: tempfile::TempDir,
    project: tempfile::TempDir,
    outputs: Vec<u8>,
    /// Put first on the children's PATH (wrappers that log their argv).
    path_prefix: Option<std::path::PathBuf>,
}

impl Session {
    fn run(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(retort())
            .args(args)
            .current_dir(self.project.path())
            .env("RETORT_HOME", self.home.path())
            .env_remove("DATABASE_URL")
            // No D-Bus: the persistent keychain is absent, as on a headless server.
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .env("PATH", self.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        self.outputs.extend_from_slice(&out.stdout);
        self.outputs.extend_from_slice(&out.stderr);
        out
    }

    fn path(&self) -> std::ffi::OsString {
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<std::path::PathBuf> = self.path_prefix.iter().cloned().collect();
        dirs.extend(std::env::split_paths(&inherited));
        std::env::join_paths(dirs).unwrap()
    }

    fn ok(&mut self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "retort {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_saved_connection_migrates_and_its_password_is_nowhere() {
    if !join_session_keyring() {
        return;
    }
    let Some(db) = ScratchDb::create(Server::Postgres, "conn") else {
        return;
    };
    let password = format!("Pw-{}-kn0wn-s3cret", std::process::id());
    let mut s = Session {
        home: tempfile::tempdir().unwrap(),
        project: tempfile::tempdir().unwrap(),
        outputs: Vec::new(),
        path_prefix: None,
    };
    native_project(s.project.path());

    // Without a keychain, saving a password says so and offers the alternatives.
    let out = s.run(
        &[
            "connections",
            "add",
            "staging",
            "--driver",
            "postgresql",
            "--host",
            "127.0.0.1",
            "--user",
            "postgres",
            "--database",
            &db.name,
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    );
    // A command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        err.contains("no persistent keychain") && err.contains("--session-only"),
        "{err}"
    );

    // This login session only: the kernel keyring.
    let added = s.ok(
        &[
            "connections",
            "add",
            "staging",
            "--driver",
            "postgresql",
            "--host",
            "127.0.0.1",
            "--port",
            "5432",
            "--user",
            "postgres",
            "--database",
            &db.name,
            "--environment",
            "stage",
            "--password-stdin",
            "--session-only",
            "--bind",
        ],
        Some(&format!("{password}\n")),
    );
    assert!(
        added.contains("staging [staging]") && added.contains(":***@"),
        "{added}"
    );

    let list = s.ok(&["connections", "list", "--json"], None);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], "staging");
    assert_eq!(list[0]["password"], "***");
    assert_eq!(list[0]["password_storage"], "session");
    assert_eq!(list[0]["color"], "#e3b341");
    let show = s.ok(&["connections", "show", "staging"], None);
    assert!(show.contains("this login session only"), "{show}");

    // Use it.
    let up = s.ok(&["--connection", "staging", "upgrade", "head"], None);
    assert!(up.contains("a1b2c3d4e5f6"), "{up}");
    assert_eq!(
        db.query("SELECT version_num FROM alembic_version").trim(),
        "a1b2c3d4e5f6"
    );
    let current = s.ok(&["--connection", "staging", "current"], None);
    assert!(current.contains("a1b2c3d4e5f6"), "{current}");
    let test = s.ok(&["connections", "test", "staging"], None);
    assert!(test.contains("127.0.0.1"), "{test}");
    // A failing command's error text too.
    s.run(
        &["--connection", "staging", "downgrade", "nonexistent"],
        None,
    );
    s.run(&["--connection", "nosuch", "current"], None);

    // The rest of a day's work: a backup and a restore (pg_dump, pg_restore), an Alembic
    // project run through its Python, the journal and the status. Wrappers first on PATH
    // (and as --python) log the argv of every child process Retort starts.
    let tools = tempfile::tempdir().unwrap();
    let argv_log = tools.path().join("argv.log");
    let python = venv_bin("python");
    for (name, real) in [
        ("pg_dump", which("pg_dump")),
        ("pg_restore", which("pg_restore")),
        ("python", python.clone()),
    ] {
        let Some(real) = real else { continue };
        let wrapper = tools.path().join(name);
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> '{}'\nexec '{}' \"$@\"\n",
                argv_log.display(),
                real.display()
            ),
        )
        .unwrap();
        fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    s.path_prefix = Some(tools.path().to_path_buf());
    let backup = s.ok(&["--connection", "staging", "backup", "--json"], None);
    let backup: serde_json::Value = serde_json::Deserializer::from_str(&backup)
        .into_iter::<serde_json::Value>()
        .filter_map(Result::ok)
        .last()
        .unwrap_or_else(|| panic!("no JSON from retort backup: {backup}"));
    let id = backup["backup"]["id"]
        .as_i64()
        .or_else(|| backup["id"].as_i64())
        .unwrap_or_else(|| panic!("no backup id in {backup}"));
    s.ok(
        &["restore", &id.to_string(), "--to", "staging", "--yes"],
        None,
    );
    s.ok(&["--connection", "staging", "downgrade", "base"], None);
    if python.is_some() {
        let alembic = tempfile::tempdir().unwrap();
        alembic_project(alembic.path());
        let wrapper = tools.path().join("python");
        let dir = alembic.path().to_str().unwrap();
        let python = wrapper.to_str().unwrap();
        let up = s.ok(
            &[
                "-c",
                dir,
                "--connection",
                "staging",
                "--python",
                python,
                "upgrade",
                "head",
            ],
            None,
        );
        assert!(up.contains("b0b0b0b0b0b0"), "{up}");
        s.ok(
            &[
                "-c",
                dir,
                "--connection",
                "staging",
                "--python",
                python,
                "downgrade",
                "base",
            ],
            None,
        );
    }
    s.ok(&["--connection", "staging", "log"], None);
    s.ok(&["--connection", "staging", "status"], None);
    let argv = fs::read_to_string(&argv_log).unwrap_or_default();
    assert!(argv.contains("pg_dump "), "pg_dump did not run: {argv}");
    assert!(
        argv.contains("pg_restore "),
        "pg_restore did not run: {argv}"
    );
    assert!(
        python.is_none() || argv.contains("python "),
        "the project's python did not run: {argv}"
    );
    assert!(
        !argv.contains(&password),
        "a child process got the password in its argv: {argv}"
    );

    // Edit, then remove (which deletes the keyring entry too).
    s.ok(&["connections", "edit", "staging", "--color", "#123"], None);
    let shown = s.ok(&["connections", "show", "staging", "--json"], None);
    assert!(shown.contains("#112233"), "{shown}");

    // Every file Retort keeps: the store (and its -wal/-shm), the backups.
    let mut files = vec![s.home.path().to_path_buf()];
    let mut seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        seen += 1;
        let bytes = fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, &password),
            "the password is in {}",
            path.display()
        );
    }
    assert!(seen >= 2, "the store and a backup were searched");
    assert!(s.home.path().join("retort.db").exists());

    s.ok(&["connections", "remove", "staging"], None);
    let out = s.run(&["--connection", "staging", "current"], None);
    assert!(!out.status.success());
    assert!(
        !contains(&s.outputs, &password),
        "the password was printed: {}",
        String::from_utf8_lossy(&s.outputs)
    );
}

#[test]
fn imports_and_plain_errors_without_a_password() {
    let mut s = Session {
        home: tempfile::tempdir().unwrap(),
        project: tempfile::tempdir().unwrap(),
        outputs: Vec::new(),
        path_prefix: None,
    };
    native_project(s.project.path());
    fs::write(
        s.project.path().join(".env"),
        "# local\nexport DATABASE_URL='sqlite:///local.db'\n",
    )
    .unwrap();
    s.ok(
        &[
            "connections",
            "add",
            "local",
            "--from-env",
            ".env",
            "--environment",
            "dev",
        ],
        None,
    );
    let show = s.ok(&["connections", "show", "local", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    let expected = s.project.path().join("local.db");
    assert_eq!(v["sqlite_path"], expected.display().to_string());
    assert_eq!(v["password"], serde_json::Value::Null);
    s.ok(&["--connection", "local", "upgrade", "head"], None);
    assert!(expected.exists());
    let out = s.run(
        &["--connection", "local", "--url", "sqlite://", "current"],
        None,
    );
    // Command errors: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    assert!(String::from_utf8_lossy(&out.stdout).contains("either --url or --connection"));
    let out = s.run(
        &["connections", "add", "local", "--from-url", "sqlite://"],
        None,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("already exists"));

    // A corrupt store is named and left alone.
    let home = s.home.path().join("retort.db");
    for extra in ["-wal", "-shm"] {
        let _ = fs::remove_file(s.home.path().join(format!("retort.db{extra}")));
    }
    fs::write(&home, b"garbage, not a database").unwrap();
    let out = s.run(&["connections", "list"], None);
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && err.contains(&home.display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read(&home).unwrap(), b"garbage, not a database");
}

/// A password as a query option (`?password=`, which SQLAlchemy accepts) and in URLs that
/// do not split: it is in no output and no error, not in `retort log`, not in the store
/// (read with the sqlite3 CLI, and byte by byte with its -wal), and `--from-url` takes it
/// as the connection's password.
#[test]
fn passwords_in_query_options_and_broken_urls_are_never_shown() {
    let Some(db) = ScratchDb::create(Server::Postgres, "qpw") else {
        return;
    };
    let password = format!("Qp-{}-s3cr3t", std::process::id());
    let mut s = Session {
        home: tempfile::tempdir().unwrap(),
        project: tempfile::tempdir().unwrap(),
        outputs: Vec::new(),
        path_prefix: None,
    };
    native_project(s.project.path());
    // Trust authentication: the server ignores the password, so every command connects.
    let url = format!(
        "postgresql://postgres@127.0.0.1:5432/{}?sslmode=disable&password={password}",
        db.name
    );
    let up = s.ok(&["--url", &url, "upgrade", "head"], None);
    assert!(up.contains("a1b2c3d4e5f6"), "{up}");
    s.ok(&["--url", &url, "current"], None);
    s.ok(&["--url", &url, "--json", "current"], None);
    let log = s.ok(&["--url", &url, "log"], None);
    assert!(log.contains("127.0.0.1"), "{log}");
    s.ok(&["--url", &url, "--json", "log"], None);
    s.ok(&["--url", &url, "status"], None);
    let out = s.run(&["--url", &url, "downgrade", "nonexistent"], None);
    assert!(!out.status.success());
    let wrong_mode = url.replace("sslmode=disable", "sslmode=bogus");
    let passwd = format!("mysql://root@127.0.0.1:1/x?PASSWD={password}");
    for bad in [
        // No '@': the password would be the port.
        format!("postgresql://postgres:{password}/x"),
        format!("postgresql://postgres:{password}@127.0.0.1@x/d"),
        format!("postgres ql://postgres:{password}@h/d"),
        wrong_mode,
        passwd,
    ] {
        let out = s.run(&["--url", &bad, "current"], None);
        assert!(!out.status.success(), "{bad}");
        let out = s.run(&["--url", &bad, "--json", "upgrade", "head"], None);
        assert!(!out.status.success(), "{bad}");
    }
    let out = s.run(
        &[
            "connections",
            "add",
            "broken",
            "--from-url",
            &format!("postgresql://u:{password}/x"),
        ],
        None,
    );
    assert!(!out.status.success());

    // The store, as the sqlite3 CLI reads it, and every byte of its files.
    let store = s.home.path().join("retort.db");
    let dump = Command::new("sqlite3")
        .arg(&store)
        .arg(".dump")
        .output()
        .expect("the sqlite3 CLI");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump_text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump_text.contains("127.0.0.1"),
        "the journal was read: {dump_text}"
    );
    assert!(
        !contains(&dump.stdout, &password),
        "the password is in the store: {dump_text}"
    );
    for entry in fs::read_dir(s.home.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert!(
                !contains(&fs::read(&path).unwrap(), &password),
                "the password is in {}",
                path.display()
            );
        }
    }

    // `--from-url` takes the option as the password (into the session keyring) and keeps
    // it out of the saved URL.
    if join_session_keyring() {
        let added = s.ok(
            &[
                "connections",
                "add",
                "q",
                "--from-url",
                &url,
                "--session-only",
            ],
            None,
        );
        assert!(added.contains(":***@"), "{added}");
        let shown = s.ok(&["connections", "show", "q", "--json"], None);
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(v["password"], "***", "{shown}");
        assert_eq!(v["password_storage"], "session", "{shown}");
        assert_eq!(v["tls_mode"], "disable", "{shown}");
        s.ok(&["--connection", "q", "current"], None);
        let dump = Command::new("sqlite3")
            .arg(&store)
            .arg(".dump")
            .output()
            .unwrap();
        assert!(
            !contains(&dump.stdout, &password),
            "the password is in the store"
        );
    }
    assert!(
        !contains(&s.outputs, &password),
        "the password was printed: {}",
        String::from_utf8_lossy(&s.outputs)
    );
}

/// The smallest Alembic project: one revision creating a table.
fn alembic_project(dir: &Path) {
    fs::write(
        dir.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\n",
    )
    .unwrap();
    fs::create_dir_all(dir.join("migrations/versions")).unwrap();
    fs::write(
        dir.join("migrations/env.py"),
        "from sqlalchemy import engine_from_config, pool\nfrom alembic import context\n\nconfig = context.config\nengine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix=\"sqlalchemy.\", poolclass=pool.NullPool)\nwith engine.connect() as connection:\n    context.configure(connection=connection)\n    with context.begin_transaction():\n        context.run_migrations()\n",
    )
    .unwrap();
    fs::write(
        dir.join("migrations/versions/b0b0b0b0b0b0_py.py"),
        "\"\"\"py\n\"\"\"\nfrom alembic import op\n\nrevision = \"b0b0b0b0b0b0\"\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    op.execute(\"CREATE TABLE conn_py (id INTEGER)\")\n\n\ndef downgrade():\n    op.execute(\"DROP TABLE conn_py\")\n",
    )
    .unwrap();
}
