//! Files Retort writes that hold data or secrets are private whatever the umask: the store
//! (its folder 0700, its file and SQLite's -wal/-shm 0600), the backup folder (0700) and
//! every backup (0600), on SQLite, PostgreSQL and MariaDB. Each command runs under the
//! usual umask 022, which would make them 0755/0644.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{ScratchDb, Server, mode, retort};

struct Home {
    root: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("project");
        fs::create_dir_all(project.join("versions")).unwrap();
        fs::write(project.join("retort.toml"), "versions = [\"versions\"]\n").unwrap();
        fs::write(
            project.join("versions/a1b2c3d4e5f6_first.sql"),
            "-- revision: a1b2c3d4e5f6\n-- down_revision:\n-- message: first\n\n-- migrate:up\nCREATE TABLE private_t (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE private_t;\n",
        )
        .unwrap();
        Self { root }
    }

    /// `$RETORT_HOME`: not there until Retort makes it.
    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn project(&self) -> PathBuf {
        self.root.path().join("project")
    }

    /// Runs `retort ARGS` under umask 022; returns stdout and stderr.
    fn run(&self, args: &[&str]) -> (String, String) {
        let out = Command::new("sh")
            .arg("-c")
            .arg("umask 022; exec \"$0\" \"$@\"")
            .arg(retort())
            .args(args)
            .current_dir(self.project())
            .env("RETORT_HOME", self.home())
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "retort {args:?}: {stdout}{stderr}");
        (stdout, stderr)
    }

    /// Upgrades and backs up `url`; returns the backup's path and what the command printed.
    fn backup(&self, url: &str, extra: &[&str]) -> (PathBuf, String) {
        self.run(&["--url", url, "upgrade", "head"]);
        let mut args = vec!["--url", url, "--json", "backup"];
        args.extend_from_slice(extra);
        let (stdout, stderr) = self.run(&args);
        let record: serde_json::Value = serde_json::Deserializer::from_str(&stdout)
            .into_iter::<serde_json::Value>()
            .filter_map(Result::ok)
            .last()
            .unwrap_or_else(|| panic!("no JSON from retort backup: {stdout}"));
        let path = record["backup"]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("no backup path in {record}"));
        (PathBuf::from(path), format!("{stdout}{stderr}"))
    }

    fn assert_private(&self, backup: &Path) {
        let home = self.home();
        assert_eq!(mode(&home), 0o700, "{}", home.display());
        for name in ["retort.db", "retort.db-wal", "retort.db-shm"] {
            let file = home.join(name);
            if name == "retort.db" || file.exists() {
                assert_eq!(mode(&file), 0o600, "{}", file.display());
            }
        }
        let folder = backup.parent().unwrap();
        assert_eq!(mode(folder), 0o700, "{}", folder.display());
        assert_eq!(mode(backup), 0o600, "{}", backup.display());
        for entry in fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path) & 0o077, 0, "{}", path.display());
        }
    }
}

#[test]
fn sqlite_store_and_backups_are_private() {
    let home = Home::new();
    let (backup, _) = home.backup("sqlite:///app.db", &["--verify-restore"]);
    home.assert_private(&backup);

    // A folder of the user's own that others can read is used as it is, with a warning.
    let shared = home.root.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
    let (backup, output) = home.backup("sqlite:///app.db", &["--dir", shared.to_str().unwrap()]);
    assert_eq!(mode(&shared), 0o755);
    assert_eq!(mode(&backup), 0o600);
    assert!(
        output.contains("warning:") && output.contains("readable by other users"),
        "{output}"
    );
    assert!(
        output.contains("\"warnings\""),
        "the JSON report carries it: {output}"
    );
}

#[test]
fn postgresql_backups_are_private() {
    let Some(db) = ScratchDb::create(Server::Postgres, "private") else {
        return;
    };
    let home = Home::new();
    let (backup, _) = home.backup(&db.url(), &[]);
    home.assert_private(&backup);
}

#[test]
fn mariadb_backups_are_private() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "private") else {
        return;
    };
    let home = Home::new();
    let (backup, _) = home.backup(&db.url(), &[]);
    home.assert_private(&backup);
}
