//! `retort check-connection` against the loopback PostgreSQL and MariaDB servers and SQLite
//! files: what it reports on a working connection (version table against the heads, TLS,
//! create privilege, the migration lock, dump tools) and how it classifies failures — with
//! the password never printed.
//!
//! A server that is down skips its tests (`RETORT_REQUIRE_ALEMBIC=1` fails them instead).

mod support;

use serde_json::Value;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{ScratchDb, Server, native_layout, retort, run};

const REVS: [&str; 3] = ["c0ffee000001", "c0ffee000002", "c0ffee000003"];

/// A native project of three revisions in a row (`url` in retort.toml when given).
fn native_project(dir: &Path, url: Option<&str>) {
    let config = match url {
        Some(u) => format!("versions = [\"versions\"]\nurl = \"{u}\"\n"),
        None => "versions = [\"versions\"]\n".to_string(),
    };
    let versions = native_layout(dir, &config);
    for (i, rev) in REVS.iter().enumerate() {
        let down = if i == 0 { "" } else { REVS[i - 1] };
        fs::write(
            versions.join(format!("{rev}_step_{i}.sql")),
            format!(
                "-- revision: {rev}\n-- down_revision: {down}\n-- message: step {i}\n\n-- migrate:up\nCREATE TABLE check_t{i} (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE check_t{i};\n"
            ),
        )
        .unwrap();
    }
}

struct Checked {
    code: Option<i32>,
    json: Value,
    /// The text report (a second run without `--json`) and both runs' stderr.
    text: String,
}

/// Runs the check twice, with and without `--json`.
fn check(dir: &Path, url: &str, extra: &[&str]) -> Checked {
    let mut args = vec!["check-connection", "--url", url];
    args.extend_from_slice(extra);
    let json_args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    let out = run(retort(), dir, &json_args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let text_out = run(retort(), dir, &args);
    assert_eq!(
        out.status.code(),
        text_out.status.code(),
        "the text and JSON runs exit alike"
    );
    let text = format!(
        "{}{}{}",
        String::from_utf8_lossy(&text_out.stdout),
        String::from_utf8_lossy(&text_out.stderr),
        String::from_utf8_lossy(&out.stderr)
    );
    Checked {
        code: out.status.code(),
        json,
        text,
    }
}

fn kind(c: &Checked) -> &str {
    c.json["failure"]["kind"].as_str().unwrap_or("<none>")
}

#[test]
fn postgres_fresh_database() {
    let Some(db) = ScratchDb::create(Server::Postgres, "chk") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    let c = check(dir.path(), &db.url(), &[]);
    assert_eq!(c.code, Some(0), "{}", c.text);
    let j = &c.json;
    assert_eq!(j["ok"], true);
    assert_eq!(j["reachable"], true);
    assert_eq!(j["authenticated"], true);
    assert_eq!(j["user"], "postgres");
    assert_eq!(j["target"], "127.0.0.1:5432");
    assert!(j["connect_ms"].as_f64().unwrap() > 0.0);
    assert!(j["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(j["server_product"], "PostgreSQL");
    let version = j["server_version"].as_str().unwrap();
    assert!(
        version.chars().next().unwrap().is_ascii_digit(),
        "{version}"
    );
    assert!(
        j["server_description"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL")
    );
    assert_eq!(j["database"], db.name.as_str());
    assert_eq!(j["database_exists"], true);
    assert_eq!(j["version_table"]["status"], "no_table");
    assert_eq!(j["version_table"]["behind_by"], 3);
    assert_eq!(j["version_table"]["heads"], serde_json::json!([REVS[2]]));
    assert_eq!(j["can_create_tables"], true);
    assert_eq!(j["lock_free"], true);
    assert_eq!(j["failure"], Value::Null);
    assert_eq!(j["warnings"], serde_json::json!([]));
    // The probe table was rolled back.
    assert_eq!(
        db.query("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'retort_probe%'")
            .trim(),
        "0"
    );
    // pg_dump: found here (the PostgreSQL client is installed with the server), and as new
    // as the server.
    let dump = &j["dump_tool"];
    assert_eq!(dump["name"], "pg_dump");
    if dump["found"] == true {
        assert_eq!(dump["compatible"], true, "{dump}");
        assert!(dump["version"].as_str().is_some());
    }
    for expected in [
        "✓ reachable        127.0.0.1:5432, connected in",
        "✓ authenticated    as postgres",
        "✓ latency",
        "✓ server           PostgreSQL",
        "no version table yet: 3 revisions to apply",
        "✓ create tables    allowed",
        "✓ migration lock   free",
    ] {
        assert!(c.text.contains(expected), "{expected}\n{}", c.text);
    }
}

#[test]
fn postgres_behind_up_to_date_and_unknown_revision() {
    let Some(db) = ScratchDb::create(Server::Postgres, "chk") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), Some(&db.url()));
    let up = run(retort(), dir.path(), &["upgrade", REVS[0]]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    // The URL comes from retort.toml here.
    let c = check(dir.path(), &db.url(), &[]);
    assert_eq!(c.code, Some(0), "behind is no failure: {}", c.text);
    let v = &c.json["version_table"];
    assert_eq!(v["status"], "behind");
    assert_eq!(v["behind_by"], 2);
    assert_eq!(v["rows"], serde_json::json!([REVS[0]]));
    assert_eq!(v["pending"], serde_json::json!([REVS[1], REVS[2]]));
    assert!(
        c.text
            .contains("! version table    alembic_version: behind by 2 revisions"),
        "{}",
        c.text
    );

    let up = run(retort(), dir.path(), &["upgrade", "head"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let c = check(dir.path(), &db.url(), &[]);
    assert_eq!(c.json["version_table"]["status"], "up_to_date");
    assert_eq!(c.json["version_table"]["behind_by"], 0);
    assert!(c.text.contains("✓ version table"), "{}", c.text);

    db.query("INSERT INTO alembic_version VALUES ('0badc0de0000')");
    let c = check(dir.path(), &db.url(), &[]);
    assert_eq!(c.code, Some(0));
    let v = &c.json["version_table"];
    assert_eq!(v["status"], "unknown_revision");
    assert_eq!(v["unknown"], serde_json::json!(["0badc0de0000"]));
    assert_eq!(v["behind_by"], Value::Null);
    assert!(c.text.contains("0badc0de0000"), "{}", c.text);
}

#[test]
fn postgres_missing_database_and_the_password_stays_hidden() {
    if ScratchDb::create(Server::Postgres, "chk").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    let url = format!(
        "postgresql://postgres:Sekr3tPw@127.0.0.1:5432/retort_missing_{}",
        std::process::id()
    );
    let c = check(dir.path(), &url, &[]);
    assert_eq!(c.code, Some(255), "{}", c.text);
    assert_eq!(kind(&c), "database_missing");
    assert_eq!(c.json["failure"]["code"], "3D000");
    assert_eq!(c.json["reachable"], true);
    assert_eq!(c.json["authenticated"], true);
    assert_eq!(c.json["database_exists"], false);
    assert_eq!(
        c.json["version_table"],
        Value::Null,
        "nothing checked after a failure"
    );
    assert!(c.text.contains("✗ database missing"), "{}", c.text);
    assert!(c.text.contains("CREATE DATABASE"), "advice: {}", c.text);
    assert!(c.text.contains("postgres:***@"), "{}", c.text);
    let all = format!("{}{}", c.json, c.text);
    assert!(!all.contains("Sekr3tPw"), "{all}");
}

#[test]
fn mariadb_fresh_and_missing_database() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "chk") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    let c = check(dir.path(), &db.url(), &[]);
    assert_eq!(c.code, Some(0), "{}", c.text);
    let j = &c.json;
    assert_eq!(j["server_product"], "MariaDB");
    assert_eq!(j["database_exists"], true);
    assert_eq!(j["version_table"]["status"], "no_table");
    assert_eq!(j["can_create_tables"], true, "root has every grant");
    assert_eq!(j["lock_free"], true);
    let dump = &j["dump_tool"];
    assert!(
        ["mariadb-dump", "mysqldump"].contains(&dump["name"].as_str().unwrap()),
        "{dump}"
    );

    let missing = format!(
        "mysql+pymysql://root@127.0.0.1:3306/retort_missing_{}",
        std::process::id()
    );
    let c = check(dir.path(), &missing, &[]);
    assert_eq!(c.code, Some(255), "{}", c.text);
    assert_eq!(kind(&c), "database_missing");
    assert_eq!(c.json["failure"]["code"], "1049");
    assert!(
        c.text.contains("✗ database missing: Unknown database"),
        "{}",
        c.text
    );
}

/// A MariaDB user made for one test, dropped after it.
struct MariaUser {
    db: ScratchDb,
    name: String,
}

impl Drop for MariaUser {
    fn drop(&mut self) {
        self.db
            .admin(&format!("DROP USER IF EXISTS '{}'@'%'", self.name));
    }
}

#[test]
fn mariadb_wrong_password_is_an_authentication_failure() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "chk") else {
        return;
    };
    let name = format!("retort_t_{}", std::process::id());
    db.admin(&format!(
        "CREATE USER '{name}'@'%' IDENTIFIED BY 'Right-Pw-4'"
    ));
    let user = MariaUser { db, name };
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    let wrong = format!(
        "mysql://{}:Wr0ngSecretPw@127.0.0.1:3306/{}",
        user.name, user.db.name
    );
    let c = check(dir.path(), &wrong, &[]);
    assert_eq!(c.code, Some(255), "{}", c.text);
    assert_eq!(kind(&c), "authentication_failed");
    assert_eq!(c.json["failure"]["code"], "1045");
    assert_eq!(c.json["reachable"], true);
    assert_eq!(c.json["authenticated"], false);
    assert!(c.text.contains("✗ authentication failed"), "{}", c.text);
    assert!(
        c.text.contains("check the user name and password"),
        "{}",
        c.text
    );
    let all = format!("{}{}", c.json, c.text);
    assert!(!all.contains("Wr0ngSecretPw"), "{all}");
    assert!(all.contains(":***@"), "{all}");

    // The right password, but no privilege on the database: MariaDB refuses it (1044).
    let right = format!(
        "mysql://{}:Right-Pw-4@127.0.0.1:3306/{}",
        user.name, user.db.name
    );
    let c = check(dir.path(), &right, &[]);
    assert_eq!(c.code, Some(255), "{}", c.text);
    assert_eq!(kind(&c), "permission");
    assert_eq!(c.json["failure"]["code"], "1044");
    assert_eq!(c.json["authenticated"], true);
    assert!(c.text.contains("✗ permission denied"), "{}", c.text);

    // SELECT only: in, but no CREATE.
    user.db.admin(&format!(
        "GRANT SELECT ON {}.* TO '{}'@'%'",
        user.db.name, user.name
    ));
    let c = check(dir.path(), &right, &[]);
    assert_eq!(c.code, Some(0), "{}", c.text);
    assert_eq!(c.json["authenticated"], true);
    assert_eq!(c.json["can_create_tables"], false, "{}", c.json);
    assert!(
        c.text.contains("! create tables    no CREATE grant"),
        "{}",
        c.text
    );
    assert!(!format!("{}{}", c.json, c.text).contains("Right-Pw-4"));

    user.db.admin(&format!(
        "GRANT ALL ON {}.* TO '{}'@'%'",
        user.db.name, user.name
    ));
    let c = check(dir.path(), &right, &[]);
    assert_eq!(c.json["can_create_tables"], true, "{}", c.json);
}

#[test]
fn postgres_user_without_connect_or_create_privilege() {
    let Some(db) = ScratchDb::create(Server::Postgres, "chk") else {
        return;
    };
    let role = format!("retort_t_{}_pg", std::process::id());
    db.admin(&format!("CREATE ROLE {role} LOGIN"));
    struct DropRole<'a>(&'a ScratchDb, String);
    impl Drop for DropRole<'_> {
        fn drop(&mut self) {
            // The scratch database goes after this guard: end the role's sessions first.
            self.0.admin(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
                self.1
            ));
            self.0.admin(&format!("DROP ROLE IF EXISTS {}", self.1));
        }
    }
    let _guard = DropRole(&db, role.clone());
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    let url = format!("postgresql://{role}@127.0.0.1:5432/{}", db.name);

    // PostgreSQL 15 gives PUBLIC no CREATE on schema public: in, but no tables.
    let c = check(dir.path(), &url, &[]);
    assert_eq!(c.code, Some(0), "{}", c.text);
    assert_eq!(c.json["user"], role.as_str());
    let version: u32 = c.json["server_version"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    if version >= 15 {
        assert_eq!(c.json["can_create_tables"], false, "{}", c.json);
        assert!(
            c.json["create_tables_detail"]
                .as_str()
                .unwrap()
                .contains("42501"),
            "{}",
            c.json
        );
    }

    db.admin(&format!(
        "REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
        db.name
    ));
    let c = check(dir.path(), &url, &[]);
    assert_eq!(c.code, Some(255), "{}", c.text);
    assert_eq!(kind(&c), "permission");
    assert_eq!(c.json["failure"]["code"], "42501");
    assert!(c.text.contains("GRANT CONNECT"), "{}", c.text);
}

#[test]
fn closed_port_is_host_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    for url in [
        "postgresql://postgres:Pw0rd-x@127.0.0.1:1/app",
        "mysql://root:Pw0rd-x@127.0.0.1:1/app",
    ] {
        let c = check(dir.path(), url, &[]);
        assert_eq!(c.code, Some(255), "{}", c.text);
        assert_eq!(kind(&c), "host_unreachable", "{}", c.json);
        assert_eq!(c.json["reachable"], false);
        assert_eq!(c.json["authenticated"], Value::Null);
        assert!(c.text.contains("✗ host unreachable"), "{}", c.text);
        assert!(!format!("{}{}", c.json, c.text).contains("Pw0rd-x"));
    }
    let c = check(dir.path(), "postgresql://u@no-such-host.invalid/app", &[]);
    assert_eq!(kind(&c), "host_unreachable", "{}", c.json);
}

/// A server that accepts the TCP connection and then says nothing: only our timeout ends the
/// wait. (A blackhole address such as 10.255.255.1 would do too, but not on every network —
/// where this suite was written, every outbound TCP connection is answered by a proxy.)
#[test]
fn silent_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    for scheme in ["postgresql", "mysql"] {
        let url = format!("{scheme}://u:Pw0rd-y@127.0.0.1:{port}/app");
        let started = Instant::now();
        let c = check(dir.path(), &url, &["--connect-timeout", "1"]);
        let took = started.elapsed();
        assert_eq!(c.code, Some(255), "{}", c.text);
        assert_eq!(kind(&c), "timeout", "{}", c.json);
        assert_eq!(c.json["timeout_ms"], 1000);
        assert!(c.text.contains("✗ timeout"), "{}", c.text);
        assert!(c.text.contains("--connect-timeout"), "advice: {}", c.text);
        // Two runs (JSON and text) of about a second each.
        assert!(took < Duration::from_secs(6), "{took:?}");
        assert!(!format!("{}{}", c.json, c.text).contains("Pw0rd-y"));
    }
    drop(listener);
}

#[test]
fn postgres_sslmode_require_follows_the_server() {
    let Some(db) = ScratchDb::create(Server::Postgres, "chk") else {
        return;
    };
    let ssl_on = db.query("SHOW ssl").trim() == "on";
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    let url = format!("{}?sslmode=require", db.url());
    let c = check(dir.path(), &url, &[]);
    if ssl_on {
        assert_eq!(c.code, Some(0), "{}", c.text);
        assert_eq!(c.json["tls"], "on");
        assert!(
            c.json["tls_version"].as_str().unwrap().starts_with("TLS"),
            "{}",
            c.json
        );
        assert!(
            c.text.contains("✓ TLS              in use (TLS"),
            "{}",
            c.text
        );
    } else {
        assert_eq!(c.code, Some(255), "{}", c.text);
        assert_eq!(kind(&c), "tls_refused");
    }
    // Without TLS the report says so.
    let c = check(dir.path(), &format!("{}?sslmode=disable", db.url()), &[]);
    assert_eq!(c.code, Some(0), "{}", c.text);
    assert_eq!(c.json["tls"], "off");
    assert!(
        c.text.contains("– TLS              not in use"),
        "{}",
        c.text
    );
    // An sslmode the driver does not know.
    let c = check(dir.path(), &format!("{}?sslmode=sometimes", db.url()), &[]);
    assert_eq!(c.code, Some(255));
    assert_eq!(kind(&c), "invalid_url");
}

#[test]
fn mariadb_ssl_mode_required_follows_the_server() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "chk") else {
        return;
    };
    let have_ssl = db.query("SELECT @@have_ssl").trim() == "YES";
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), None);
    let c = check(dir.path(), &format!("{}?ssl_mode=REQUIRED", db.url()), &[]);
    if have_ssl {
        assert_eq!(c.code, Some(0), "{}", c.text);
        assert_eq!(c.json["tls"], "on");
    } else {
        assert_eq!(c.code, Some(255), "{}", c.text);
        assert_eq!(kind(&c), "tls_refused");
        assert!(
            c.text.contains("✗ TLS not offered by the server"),
            "{}",
            c.text
        );
    }
}

#[test]
fn sqlite_file_present_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), Some("sqlite:///app.db"));
    let file = dir.path().join("app.db");

    let c = check(dir.path(), "sqlite:///app.db", &[]);
    assert_eq!(c.code, Some(255), "{}", c.text);
    assert_eq!(kind(&c), "database_missing");
    assert_eq!(c.json["database_exists"], false);
    assert!(c.text.contains("✗ database missing"), "{}", c.text);
    assert!(!file.exists(), "the check must not create the file");

    let up = run(retort(), dir.path(), &["upgrade", REVS[1]]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let c = check(dir.path(), "sqlite:///app.db", &[]);
    assert_eq!(c.code, Some(0), "{}", c.text);
    let j = &c.json;
    assert_eq!(j["backend"], "sqlite");
    assert_eq!(j["target"], file.display().to_string());
    assert_eq!(j["server_product"], "SQLite");
    assert_eq!(j["authenticated"], Value::Null);
    assert_eq!(j["tls"], "not_applicable");
    assert_eq!(j["database_exists"], true);
    assert_eq!(j["version_table"]["status"], "behind");
    assert_eq!(j["version_table"]["behind_by"], 1);
    assert_eq!(j["can_create_tables"], true);
    assert_eq!(j["lock_free"], true);
    assert_eq!(j["dump_tool"], Value::Null);
    assert!(
        c.text.contains("– dump tool        not needed"),
        "{}",
        c.text
    );

    // A file that is no database.
    fs::write(
        dir.path().join("junk.db"),
        "not a database at all, just some words ".repeat(40),
    )
    .unwrap();
    let c = check(dir.path(), "sqlite:///junk.db", &[]);
    assert_eq!(c.code, Some(255), "{}", c.text);
    assert_eq!(kind(&c), "other");
    assert!(c.text.contains("file is not a database"), "{}", c.text);
}

/// FNV-1a 64 of the lock name, as `database/lock.rs` computes PostgreSQL's advisory key.
fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash as i64
}

#[test]
fn postgres_lock_holder_is_named() {
    let Some(db) = ScratchDb::create(Server::Postgres, "chk") else {
        return;
    };
    let key = advisory_key("retort:alembic_version");
    let mut holder = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-X",
            "-q",
            "-d",
            &db.name,
        ])
        .env("PGAPPNAME", "retort-lock-test")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    let mut stdin = holder.stdin.take().unwrap();
    writeln!(stdin, "SELECT pg_advisory_lock({key});").unwrap();
    stdin.flush().unwrap();
    let started = Instant::now();
    while db
        .query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        .trim()
        == "0"
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "psql took no lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let dir = tempfile::tempdir().unwrap();

    native_project(dir.path(), None);
    let c = check(dir.path(), &db.url(), &[]);
    drop(stdin);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(c.code, Some(0), "a held lock is no failure: {}", c.text);
    assert_eq!(c.json["lock_free"], false, "{}", c.json);
    assert_eq!(c.json["lock_holder"]["application"], "retort-lock-test");
    assert_eq!(c.json["lock_holder"]["user"], "postgres");
    assert!(c.json["lock_holder"]["pid"].as_i64().is_some());
    assert!(
        c.text.contains("! migration lock   held by pid ")
            && c.text.contains("application 'retort-lock-test'"),
        "{}",
        c.text
    );
}

/// `retort connections …` with a store of its own, run from a folder that holds no project.
fn saved(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(retort())
        .args(args)
        .current_dir(cwd)
        .env("RETORT_HOME", home)
        .env_remove("DATABASE_URL")
        // No D-Bus: no keychain is needed for connections without a password.
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn connections_test_works_outside_a_project_and_fails_when_the_database_is_missing() {
    let Some(db) = ScratchDb::create(Server::Postgres, "conntest") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let nowhere = tempfile::tempdir().unwrap();
    let (h, n) = (home.path(), nowhere.path());
    let gone = format!("{}_gone", db.name);
    for (name, database) in [("good", db.name.as_str()), ("gone", gone.as_str())] {
        let out = saved(
            h,
            n,
            &[
                "connections",
                "add",
                name,
                "--driver",
                "postgresql",
                "--host",
                "127.0.0.1",
                "--port",
                "5432",
                "--user",
                "postgres",
                "--database",
                database,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = |out: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };

    let out = saved(h, n, &["connections", "test", "good"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("✓ authenticated"), "{}", text(&out));

    let out = saved(h, n, &["connections", "test", "gone"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    assert!(text(&out).contains("database missing"), "{}", text(&out));
    let out = saved(h, n, &["--json", "connections", "test", "gone"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["database_exists"], false);

    // A SQLite connection to a file that is not there: missing, and not created.
    let file = n.join("absent.db");
    let out = saved(
        h,
        n,
        &[
            "connections",
            "add",
            "file",
            "--driver",
            "sqlite",
            "--sqlite-path",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = saved(h, n, &["connections", "test", "file"]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    assert!(!file.exists());
}
