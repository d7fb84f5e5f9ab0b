//! Reaching databases behind SSH bastions, with passwords from a command, end to end through
//! the CLI: real sshd daemons of the test's own (`support::sshd`), the loopback PostgreSQL and
//! MariaDB behind them. What Retort does is checked from the outside: the check's report, the
//! version table, the journal, the backup catalog, and what fails once the bastion is gone.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::sshd::{SshClient, SshKey, Sshd, SshdOptions};
use support::{Announcements, ScratchDb, Server, retort, text};

/// A Retort home, a native project and the client side of SSH (config, known_hosts, agent).
struct Site {
    home: tempfile::TempDir,
    project: tempfile::TempDir,
    client: SshClient,
}

impl Site {
    /// A project of `ups.len()` linear revisions (ids 000000000001, …).
    fn new(ups: &[&str]) -> Self {
        let project = tempfile::tempdir().unwrap();
        let versions = support::native_layout(project.path(), "");
        for (i, up) in ups.iter().enumerate() {
            let n = i + 1;
            let down = if n == 1 {
                String::new()
            } else {
                format!("{:012}", n - 1)
            };
            fs::write(
                versions.join(format!("{n:012}.sql")),
                format!("-- revision: {n:012}\n-- down_revision: {down}\n-- message: step {n}\n\n-- migrate:up\n{up}\n\n-- migrate:down\nDROP TABLE t{n};\n"),
            )
            .unwrap();
        }
        Self {
            home: tempfile::tempdir().unwrap(),
            project,
            client: SshClient::new(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(retort());
        c.args(args)
            .current_dir(self.project.path())
            .env("RETORT_HOME", self.home.path())
            .env_remove("DATABASE_URL")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .stdin(Stdio::null());
        for (k, v) in self.client.env() {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// stdout and stderr of a run that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "retort {args:?} failed:\n{all}");
        all
    }

    /// stdout and stderr of a run that must fail.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "retort {args:?} succeeded:\n{all}");
        all
    }

    /// A script that prints `password` and counts its calls in `<home>/calls`.
    fn password_script(&self, password: &str) -> PathBuf {
        let script = self.home.path().join("password.sh");
        // The password is built at run time, so that finding it in a file means it leaked.
        let (head, tail) = password.split_at(password.len() / 2);
        fs::write(
            &script,
            format!(
                "echo call >> '{}'\nprintf '%s%s\\n' '{head}' '{tail}'\n",
                self.calls_file().display()
            ),
        )
        .unwrap();
        script
    }

    fn calls_file(&self) -> PathBuf {
        self.home.path().join("calls")
    }

    fn calls(&self) -> usize {
        fs::read_to_string(self.calls_file())
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// Saves `name` for `db` reached through `hops`.
    fn add(&self, name: &str, db: &ScratchDb, hops: &[&str], extra: &[&str]) {
        let (driver, port, user) = match db.server {
            Server::Postgres => ("postgresql", "5432", "postgres"),
            Server::MariaDb => ("mysql", "3306", "root"),
        };
        let mut args = vec![
            "connections",
            "add",
            name,
            "--driver",
            driver,
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--database",
            &db.name,
            "--user",
            user,
        ];
        for hop in hops {
            args.extend(["--ssh", hop]);
        }
        args.extend(extra);
        self.ok(&args);
    }
}

/// A daemon for `key`, or `None` (skipped) where OpenSSH is not installed.
fn daemon(key: &SshKey, options: SshdOptions) -> Option<Sshd> {
    Sshd::start(&[key], options)
}

/// PostgreSQL behind one bastion (alias `bastion`, its host key already known) and a site
/// whose connection `name` goes through it; `None` (skipped) without OpenSSH or PostgreSQL.
fn postgres_behind_a_bastion(
    options: SshdOptions,
    ups: &[&str],
    name: &str,
) -> Option<(ScratchDb, Sshd, Site, SshKey)> {
    if !support::sshd::available() {
        return None;
    }
    let db = ScratchDb::create(Server::Postgres, "tunnel")?;
    let key = SshKey::generate();
    let sshd = daemon(&key, options)?;
    let mut site = Site::new(ups);
    site.client.alias("bastion", &sshd, Some(&key), None);
    site.client.trust(&sshd);
    site.add(name, &db, &["bastion"], &[]);
    // The key's files live as long as it: the caller keeps it.
    Some((db, sshd, site, key))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn production_behind_a_bastion_with_a_password_command_is_trusted_tested_backed_up_upgraded_and_restored()
 {
    if !support::sshd::available() {
        return;
    }
    let Some(db) = ScratchDb::create(Server::Postgres, "tunnel") else {
        return;
    };
    let key = SshKey::generate();
    let Some(mut sshd) = daemon(&key, SshdOptions::default()) else {
        return;
    };
    let mut site = Site::new(&[
        "CREATE TABLE t1 (id INTEGER);",
        "CREATE TABLE t2 (id INTEGER);",
        "CREATE TABLE t3 (id INTEGER);",
    ]);
    site.client.alias("bastion", &sshd, Some(&key), None);
    // trust auth ignores the password: it can be followed through everything Retort writes.
    let password = "Tunnel-Pw-from-a-Command-42";
    let script = site.password_script(password);
    let command = format!("sh '{}'", script.display());
    site.add(
        "prod",
        &db,
        &["bastion"],
        &[
            "--environment",
            "production",
            "--password-command",
            &command,
        ],
    );
    let shown = site.ok(&["connections", "show", "prod"]);
    assert!(shown.contains("ssh          bastion"), "{shown}");
    assert!(
        shown.contains(&format!("command      {command}")),
        "{shown}"
    );

    // An unknown host key: refused, with its fingerprint and the command that trusts it.
    let fingerprint = sshd.host_fingerprint();
    let host = format!("[127.0.0.1]:{}", sshd.port());
    let refused = site.fails(&["connections", "test", "prod"]);
    assert!(
        refused.contains(&format!("the host key of {host} is not known")),
        "{refused}"
    );
    assert!(refused.contains(&fingerprint), "{refused}");
    assert!(
        refused.contains(&format!(
            "retort connections trust-host prod '{host}' {fingerprint}"
        )),
        "{refused}"
    );
    // A fingerprint that is not the key's trusts nothing.
    let wrong = site.fails(&[
        "connections",
        "trust-host",
        "prod",
        &host,
        "SHA256:not-this-one",
    ]);
    assert!(wrong.contains("nothing was trusted"), "{wrong}");
    assert_eq!(fs::read_to_string(&site.client.known_hosts).unwrap(), "");
    let trusted = site.ok(&["connections", "trust-host", "prod", &host, &fingerprint]);
    assert!(trusted.contains("Trusted the host key"), "{trusted}");
    assert!(
        fs::read_to_string(&site.client.known_hosts)
            .unwrap()
            .contains(&sshd.known_hosts_line()),
        "the key added is the daemon's"
    );

    // The check reports the hop and the login through it.
    // "Test SSH only": the route and the server behind it, without the password command.
    let calls = site.calls();
    let route = site.ok(&["connections", "test", "prod", "--ssh-only"]);
    assert!(route.contains("SSH via bastion up in"), "{route}");
    assert!(route.contains("by publickey, key"), "{route}");
    assert!(
        route.contains("The database server at 127.0.0.1:5432 answers through the tunnel"),
        "{route}"
    );
    assert_eq!(
        site.calls(),
        calls,
        "no password is fetched to test SSH only"
    );
    let report = site.ok(&["connections", "test", "prod"]);
    assert!(report.contains("SSH via bastion up in"), "{report}");
    assert!(
        report.contains(&format!("host key ED25519 {fingerprint}")),
        "{report}"
    );
    assert!(report.contains("by publickey, key"), "{report}");
    assert!(report.contains("authenticated    as postgres"), "{report}");
    assert_eq!(site.calls(), calls + 1, "the command runs once per use");

    // A production upgrade: backed up first (pg_dump through the tunnel), then run.
    site.ok(&["upgrade", "head", "--connection", "prod"]);
    assert_eq!(
        db.query("SELECT version_num FROM alembic_version").trim(),
        "000000000003"
    );
    let log: serde_json::Value =
        serde_json::from_str(&site.ok(&["log", "--json", "-n", "2"])).unwrap();
    assert_eq!(log[0]["kind"], "upgrade", "{log:#}");
    assert_eq!(log[0]["outcome"], "ok", "{log:#}");
    assert_eq!(log[1]["kind"], "backup", "{log:#}");
    // The journal names the real server, not the tunnel's local end.
    let entry = log[0].to_string();
    assert!(
        entry.contains(&format!("127.0.0.1:5432/{}", db.name)),
        "{log:#}"
    );

    // The restore (pg_restore and psql through the tunnel) takes it back to before the run.
    let restored = site.ok(&["restore", "1", "--to", "prod", "--yes"]);
    assert!(
        restored.contains("Restored and verified backup 1"),
        "{restored}"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .trim(),
        "0"
    );

    // The password went nowhere: not the store, the catalog, the journal, or any output.
    let mut files = Vec::new();
    files_under(site.home.path(), &mut files);
    for file in files {
        let bytes = fs::read(&file).unwrap();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password is in {}",
            file.display()
        );
    }
    assert!(!report.contains(password) && !restored.contains(password));

    // Without the bastion nothing reaches the database: everything above went through it.
    sshd.kill();
    let gone = site.fails(&["connections", "test", "prod"]);
    assert!(gone.contains("the connection was refused"), "{gone}");
    assert!(gone.contains("SSH via bastion"), "{gone}");
}

#[test]
fn mariadb_is_backed_up_and_restored_through_a_jump_host_and_a_bastion_with_an_agent_key() {
    if !support::sshd::available() {
        return;
    }
    let Some(db) = ScratchDb::create(Server::MariaDb, "tunnel") else {
        return;
    };
    // A passphrase-protected key that only the agent can use (ssh runs in batch mode).
    let key = SshKey::generate_with_passphrase("correct horse");
    let (Some(jump), Some(bastion)) = (
        daemon(&key, SshdOptions::default()),
        daemon(&key, SshdOptions::default()),
    ) else {
        return;
    };
    let mut site = Site::new(&[
        "CREATE TABLE t1 (id INTEGER);",
        "CREATE TABLE t2 (id INTEGER);",
    ]);
    site.client.alias("jump", &jump, None, None);
    site.client.alias("bastion", &bastion, None, None);
    site.client.trust(&jump);
    site.client.trust(&bastion);
    site.client.start_agent_with(&key, "correct horse");
    site.add("shop", &db, &["jump", "bastion"], &[]);

    let report = site.ok(&["connections", "test", "shop"]);
    assert!(report.contains("SSH via jump → bastion up in"), "{report}");
    let logins: Vec<&str> = report.lines().filter(|l| l.contains("ssh login")).collect();
    assert_eq!(logins.len(), 2, "one login per hop:\n{report}");
    assert!(logins.iter().all(|l| l.contains("(agent)")), "{report}");
    // MariaDB greets first: its greeting through both hops is the proof.
    let route = site.ok(&["connections", "test", "shop", "--ssh-only"]);
    assert!(
        route.contains("The database server at 127.0.0.1:3306 answers through the tunnel"),
        "{route}"
    );

    site.ok(&["upgrade", "head", "--connection", "shop"]);
    let backup = site.ok(&["backup", "--connection", "shop"]);
    assert!(
        backup.contains("mariadb-dump") || backup.contains("Backup"),
        "{backup}"
    );
    site.ok(&["downgrade", "base", "--connection", "shop"]);
    assert_eq!(db.query("SELECT count(*) FROM alembic_version").trim(), "0");
    site.ok(&["restore", "1", "--to", "shop", "--yes"]);
    assert_eq!(
        db.query("SELECT version_num FROM alembic_version").trim(),
        "000000000002"
    );
}

#[test]
fn a_changed_host_key_is_refused_with_openssh_s_warning() {
    let Some((db, mut sshd, site, _key)) = postgres_behind_a_bastion(
        SshdOptions::default(),
        &["CREATE TABLE t1 (id INTEGER);"],
        "prod",
    ) else {
        return;
    };
    site.ok(&["connections", "test", "prod"]);

    sshd.restart_with_new_host_key();
    let refused = site.fails(&["connections", "test", "prod"]);
    assert!(
        refused.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{refused}"
    );
    assert!(refused.contains(&sshd.host_fingerprint()), "{refused}");
    // Nothing ran: the upgrade stops at the same place.
    site.fails(&["upgrade", "head", "--connection", "prod"]);
    assert!(
        !db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            .contains("t1")
    );
}

#[test]
fn a_bastion_that_refuses_to_forward_is_named() {
    let Some((_db, _sshd, site, _key)) = postgres_behind_a_bastion(
        SshdOptions {
            allow_tcp_forwarding: false,
        },
        &["CREATE TABLE t1 (id INTEGER);"],
        "prod",
    ) else {
        return;
    };
    let refused = site.fails(&["connections", "test", "prod"]);
    assert!(
        refused
            .contains("the SSH server could not open 127.0.0.1:5432: administratively prohibited"),
        "{refused}"
    );
    let refused = site.fails(&["connections", "test", "prod", "--ssh-only"]);
    assert!(
        refused.contains(
            "the SSH server refused to forward to 127.0.0.1:5432 (administratively prohibited)"
        ),
        "{refused}"
    );
}

#[test]
fn a_bastion_lost_mid_upgrade_fails_the_run_and_the_revision_in_flight_rolls_back() {
    // Slow steps: the bastion goes while one of them runs.
    let ups: Vec<String> = (1..=10)
        .map(|i| format!("CREATE TABLE t{i} (id INTEGER);\nSELECT pg_sleep(0.3);"))
        .collect();
    let ups: Vec<&str> = ups.iter().map(String::as_str).collect();
    let Some((db, mut sshd, site, _key)) =
        postgres_behind_a_bastion(SshdOptions::default(), &ups, "stage")
    else {
        return;
    };

    let mut child = site
        .command(&["upgrade", "head", "--connection", "stage"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = Announcements::follow(&mut child);
    assert!(stdout.wait_for("Running ", 3), "{}", stdout.all());
    sshd.kill();
    // It ends by itself (no hang), as failed.
    let out = child.wait_with_output().unwrap();
    let printed = format!("{}{}", stdout.all(), text(&out.stderr));
    assert!(!out.status.success(), "{printed}");
    // Step 3 was in flight: it rolled back; the two before it stay.
    let rows = db.query("SELECT version_num FROM alembic_version");
    assert_eq!(rows.trim(), "000000000002", "{printed}");
    let tables = db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    assert!(!tables.contains("t3"), "{tables}");
    let log: serde_json::Value =
        serde_json::from_str(&site.ok(&["log", "--json", "-n", "1"])).unwrap();
    assert_eq!(log[0]["outcome"], "failed", "{log:#}");
}

#[test]
fn a_password_command_that_fails_is_named_and_its_output_never_shown() {
    let Some(db) = ScratchDb::create(Server::Postgres, "tunnel") else {
        return;
    };
    let site = Site::new(&["CREATE TABLE t1 (id INTEGER);"]);
    // It prints something before failing: that must not appear anywhere.
    let command = "printf 'leak-%s\\n' 7; printf 'err-%s\\n' 8 >&2; exit 4";
    site.add("prod", &db, &[], &["--password-command", command]);
    let failed = site.fails(&["connections", "test", "prod"]);
    assert!(
        failed.contains(&format!(
            "the password command `{command}` failed (exit status: 4)"
        )),
        "{failed}"
    );
    assert!(
        !failed.contains("leak-7") && !failed.contains("err-8"),
        "{failed}"
    );
    // A command that is not one line is refused when saved, and nothing is saved.
    let refused = site.fails(&[
        "connections",
        "add",
        "other",
        "--driver",
        "postgresql",
        "--host",
        "h",
        "--password-command",
        "a\nb",
    ]);
    assert!(
        refused.contains("the password command must be one line"),
        "{refused}"
    );
    assert!(!site.ok(&["connections", "list"]).contains("other"));
}
