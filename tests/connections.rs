//! `retort connections` end to end, with the real kernel session keyring (never the mock
//! store): save a PostgreSQL connection with a known password, migrate through
//! `--connection`, and check the password appears nowhere — not in the store file (nor its
//! -wal/-shm), not on stdout/stderr of any command.

#[path = "support/databases.rs"]
mod databases;

use databases::{ScratchDb, Server, required, retort};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

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

fn project(dir: &Path) {
    fs::write(dir.join("retort.toml"), "versions = [\"versions\"]\n").unwrap();
    fs::create_dir(dir.join("versions")).unwrap();
    fs::write(
        dir.join("versions/a1b2c3d4e5f6_first.sql"),
        "-- revision: a1b2c3d4e5f6\n-- down_revision:\n-- message: first\n\n-- migrate:up\nCREATE TABLE conn_t (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE conn_t;\n",
    )
    .unwrap();
}

struct Session {
    home: tempfile::TempDir,
    project: tempfile::TempDir,
    outputs: Vec<u8>,
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
    };
    project(s.project.path());

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
    let err = String::from_utf8_lossy(&out.stderr);
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

    // Edit, then remove (which deletes the keyring entry too).
    s.ok(&["connections", "edit", "staging", "--color", "#123"], None);
    let shown = s.ok(&["connections", "show", "staging", "--json"], None);
    assert!(shown.contains("#112233"), "{shown}");

    for suffix in ["", "-wal", "-shm"] {
        let file = s.home.path().join(format!("retort.db{suffix}"));
        if let Ok(bytes) = fs::read(&file) {
            assert!(
                !contains(&bytes, &password),
                "the password is in {}",
                file.display()
            );
        }
    }
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
    };
    project(s.project.path());
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("either --url or --connection"));
    let out = s.run(
        &["connections", "add", "local", "--from-url", "sqlite://"],
        None,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    // A corrupt store is named and left alone.
    let home = s.home.path().join("retort.db");
    for extra in ["-wal", "-shm"] {
        let _ = fs::remove_file(s.home.path().join(format!("retort.db{extra}")));
    }
    fs::write(&home, b"garbage, not a database").unwrap();
    let out = s.run(&["connections", "list"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&home.display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read(&home).unwrap(), b"garbage, not a database");
}
