//! `retort stamp --verify` and `retort round-trip` on real SQLite, PostgreSQL and MariaDB
//! databases, for native SQL projects and (SQLite) an Alembic project run by .venv's alembic.
//!
//! The verified stamp: a database built by hand with real differences from what the revisions
//! build (a missing column, a nullability mismatch, a missing index) is shown and refused, and
//! stamped only with `--accept-mismatch`; a database built by hand exactly as the revisions do is
//! stamped. The round trip: a downgrade that leaves a column behind and a downgrade that fails
//! are reported at the right revision; a correct project with a branch and a merge passes.
//! Every test checks that its scratch database is gone afterwards.

mod support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{
    ENV_PY, ScratchDb, Server, alembic_layout, native_layout, retort_in, text, venv_bin,
};

/// A database a test works on, with a way to run SQL on it outside Retort.
enum Target {
    Sqlite(PathBuf),
    Server(ScratchDb),
}

impl Target {
    fn sqlite(dir: &Path, name: &str) -> Self {
        Target::Sqlite(dir.join(name))
    }

    fn server(server: Server, prefix: &str) -> Option<Self> {
        ScratchDb::create(server, prefix).map(Target::Server)
    }

    fn url(&self) -> String {
        match self {
            Target::Sqlite(path) => format!("sqlite:///{}", path.display()),
            Target::Server(db) => db.url(),
        }
    }

    fn server_kind(&self) -> Option<Server> {
        match self {
            Target::Sqlite(_) => None,
            Target::Server(db) => Some(db.server),
        }
    }

    /// Runs `;`-separated statements.
    fn execute(&self, sql: &str) {
        match self {
            Target::Sqlite(path) => {
                let python = venv_bin("python").unwrap_or_else(|| PathBuf::from("python3"));
                let out = Command::new(python)
                    .args([
                        "-c",
                        "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()",
                    ])
                    .arg(path)
                    .arg(sql)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
            }
            Target::Server(db) => {
                db.query(sql);
            }
        }
    }
}

/// Runs retort in `dir` with a journal of its own under `home`; returns the output and the
/// process id (scratch databases are named after it).
fn retort_with_pid(dir: &Path, home: &Path, args: &[&str]) -> (Output, u32) {
    let child = retort_in(dir, home)
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    (child.wait_with_output().unwrap(), pid)
}

/// No scratch database of process `pid` is left (PostgreSQL, MariaDB) and no scratch file.
fn assert_scratch_gone(target: &Target, pid: u32) {
    let prefix = format!("retort_scratch_{pid}_");
    match target {
        Target::Sqlite(_) => {
            let left: Vec<String> = fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect();
            assert!(left.is_empty(), "scratch files left: {left:?}");
        }
        Target::Server(db) => {
            let sql = match db.server {
                Server::Postgres => {
                    format!("SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'")
                }
                Server::MariaDb => format!("SHOW DATABASES LIKE '{prefix}%'"),
            };
            let left = db.query(&sql);
            assert!(left.trim().is_empty(), "scratch databases left: {left}");
        }
    }
}

/// One revision of a native project: (id, down_revisions, message, up, down).
type Rev<'a> = (&'a str, &'a [&'a str], &'a str, &'a str, &'a str);

fn native_project(dir: &Path, url: &str, revisions: &[Rev<'_>]) {
    let _ = fs::remove_dir_all(dir.join("versions"));
    let versions = native_layout(dir, &format!("url = \"{url}\"\n"));
    for (id, down, message, up, down_sql) in revisions {
        fs::write(
            versions.join(format!("{id}.sql")),
            format!(
                "-- revision: {id}\n-- down_revision: {}\n-- message: {message}\n\n-- migrate:up\n{up}\n\n-- migrate:down\n{down_sql}\n",
                down.join(", ")
            ),
        )
        .unwrap();
    }
}

const CUSTOMERS: &str = "CREATE TABLE customers (id INTEGER NOT NULL, name VARCHAR(40) NOT NULL, email VARCHAR(80), PRIMARY KEY (id), UNIQUE (email));";
const ORDERS: &str = "CREATE TABLE orders (id INTEGER NOT NULL, customer_id INTEGER NOT NULL, note VARCHAR(200), PRIMARY KEY (id), FOREIGN KEY (customer_id) REFERENCES customers (id));\nCREATE INDEX ix_orders_customer ON orders (customer_id);";

const SHOP: &[Rev<'static>] = &[
    (
        "1000aaaaaaaa",
        &[],
        "customers",
        CUSTOMERS,
        "DROP TABLE customers;",
    ),
    (
        "2000bbbbbbbb",
        &["1000aaaaaaaa"],
        "orders",
        ORDERS,
        "DROP TABLE orders;",
    ),
];

/// The orders table as someone built it by hand: no `note`, `customer_id` nullable, no index.
const ORDERS_BY_HAND: &str = "CREATE TABLE orders (id INTEGER NOT NULL, customer_id INTEGER, PRIMARY KEY (id), FOREIGN KEY (customer_id) REFERENCES customers (id));";

fn verified_stamp(mismatched: Target, matching: Target) {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    native_project(dir.path(), &mismatched.url(), SHOP);
    mismatched.execute(CUSTOMERS);
    mismatched.execute(ORDERS_BY_HAND);
    let label = mismatched.url();

    // MariaDB gives a foreign key without an index of its own one (named after the column);
    // the revisions' own index makes that unnecessary, so there it is one more difference.
    let mariadb = mismatched.server_kind() == Some(Server::MariaDb);
    let count = if mariadb { 4 } else { 3 };

    // Refused, with the differences named; nothing written.
    let (out, pid) = retort_with_pid(dir.path(), home.path(), &["stamp", "heads", "--verify"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(255), "{label}: {stdout}{stderr}");
    if mariadb {
        assert!(
            stdout.contains("index customer_id (customer_id) not expected"),
            "{stdout}"
        );
    }
    for wanted in [
        &format!("{count} difference(s)") as &str,
        "column orders.note: missing",
        "column orders.customer_id: NOT NULL expected, found nullable",
        "index ix_orders_customer (customer_id) missing",
    ] {
        assert!(
            stdout.contains(wanted),
            "{label}: {wanted:?} not in\n{stdout}"
        );
    }
    // The refusal is a command error: `FAILED: ...` on stdout, as alembic's `util.err` prints it.
    assert!(
        stdout.contains("not stamped") && stdout.contains("--accept-mismatch"),
        "{label}: {stdout}{stderr}"
    );
    assert_scratch_gone(&mismatched, pid);
    let (current, _) = retort_with_pid(dir.path(), home.path(), &["current"]);
    assert_eq!(text(&current.stdout), "", "{label}: the stamp wrote");

    // The same as JSON, for the UI.
    let (out, _) = retort_with_pid(
        dir.path(),
        home.path(),
        &["stamp", "heads", "--verify", "--json"],
    );
    assert_eq!(out.status.code(), Some(255));
    let first: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["matches"], Value::Bool(false));
    let kinds: Vec<&str> = first["verification"]["diff"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    let mut expected_kinds = vec!["column_nullable", "missing_column", "missing_index"];
    if mariadb {
        expected_kinds.push("extra_index");
    }
    assert_eq!(kinds, expected_kinds, "{label}");
    assert_eq!(
        first["verification"]["resulting_heads"],
        serde_json::json!(["2000bbbbbbbb"])
    );

    // Accepted explicitly: stamped, and the journal says so.
    let (out, pid) = retort_with_pid(
        dir.path(),
        home.path(),
        &["stamp", "heads", "--verify", "--accept-mismatch"],
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{label}: {stdout}{}",
        text(&out.stderr)
    );
    assert!(stdout.contains(&format!(
        "Stamping anyway (--accept-mismatch): {count} difference(s) accepted"
    )));
    assert_scratch_gone(&mismatched, pid);
    let (current, _) = retort_with_pid(dir.path(), home.path(), &["current"]);
    assert!(text(&current.stdout).contains("2000bbbbbbbb"), "{label}");
    let (log, _) = retort_with_pid(dir.path(), home.path(), &["log", "--json"]);
    assert!(
        text(&log.stdout).contains(&format!(
            "{count} schema difference(s) accepted with --accept-mismatch"
        )),
        "{label}: the journal does not record the accepted mismatch: {}",
        text(&log.stdout)
    );

    // A database built by hand exactly as the revisions build it: verified and stamped.
    native_project(dir.path(), &matching.url(), SHOP);
    matching.execute(CUSTOMERS);
    matching.execute(ORDERS);
    let (out, pid) = retort_with_pid(dir.path(), home.path(), &["stamp", "heads", "--verify"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{label}: {stdout}{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("matches the schema of 2000bbbbbbbb (2 table(s))"),
        "{stdout}"
    );
    assert_scratch_gone(&matching, pid);
    let (current, _) = retort_with_pid(dir.path(), home.path(), &["current"]);
    assert!(text(&current.stdout).contains("2000bbbbbbbb"));
    let (log, _) = retort_with_pid(dir.path(), home.path(), &["log", "--json"]);
    assert!(
        text(&log.stdout).contains("verified: the schema matches"),
        "{}",
        text(&log.stdout)
    );

    // Stamping back to the first revision compares with that revision's schema: orders is
    // then a table the revisions do not know.
    let (out, _) = retort_with_pid(
        dir.path(),
        home.path(),
        &["stamp", "1000aaaaaaaa", "--verify"],
    );
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stdout).contains("table orders: not expected"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn sqlite_verified_stamp() {
    let dir = tempfile::tempdir().unwrap();
    verified_stamp(
        Target::sqlite(dir.path(), "hand.db"),
        Target::sqlite(dir.path(), "same.db"),
    );
}

#[test]
fn postgresql_verified_stamp() {
    let (Some(a), Some(b)) = (
        Target::server(Server::Postgres, "vstamp"),
        Target::server(Server::Postgres, "vstamp"),
    ) else {
        return;
    };
    verified_stamp(a, b);
}

#[test]
fn mariadb_verified_stamp() {
    let (Some(a), Some(b)) = (
        Target::server(Server::MariaDb, "vstamp"),
        Target::server(Server::MariaDb, "vstamp"),
    ) else {
        return;
    };
    verified_stamp(a, b);
}

/// `retort schema` reads the same DDL the same way every time, and each engine's types as
/// that engine spells them.
#[test]
fn schema_reads_types_keys_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut targets = vec![Target::sqlite(dir.path(), "s.db")];
    targets.extend(Target::server(Server::Postgres, "schema"));
    targets.extend(Target::server(Server::MariaDb, "schema"));
    for target in targets {
        native_project(dir.path(), &target.url(), SHOP);
        let (out, _) = retort_with_pid(dir.path(), home.path(), &["upgrade", "heads"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (out, _) = retort_with_pid(dir.path(), home.path(), &["schema"]);
        let shown = text(&out.stdout);
        let (name_type, fk) = match target.server_kind() {
            None => (
                "name VARCHAR(40) NOT NULL",
                "foreign key (customer_id) -> customers (id)\n",
            ),
            Some(Server::Postgres) => (
                "name character varying(40) NOT NULL",
                "foreign key (customer_id) -> customers (id) [orders_customer_id_fkey]\n",
            ),
            Some(Server::MariaDb) => (
                "name varchar(40) NOT NULL",
                "foreign key (customer_id) -> customers (id) ON UPDATE RESTRICT ON DELETE RESTRICT [orders_ibfk_1]\n",
            ),
        };
        for wanted in [
            "table customers\n",
            name_type,
            "primary key (id)",
            "unique (email)",
            "index ix_orders_customer (customer_id)",
            fk,
        ] {
            assert!(
                shown.contains(wanted),
                "{}: {wanted:?} not in\n{shown}",
                target.url()
            );
        }
        assert!(!shown.contains("alembic_version"), "{shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// The round trip

/// A correct project with a branch and a merge, then the same with a broken revision added.
fn round_trip_project(broken: Option<&str>) -> Vec<Rev<'static>> {
    let mut revs: Vec<Rev<'static>> = vec![
        SHOP[0],
        SHOP[1],
        (
            "3000cccc0001",
            &["2000bbbbbbbb"],
            "products",
            "CREATE TABLE products (id INTEGER NOT NULL, title VARCHAR(60) NOT NULL, PRIMARY KEY (id));",
            "DROP TABLE products;",
        ),
        (
            "3000cccc0002",
            &["2000bbbbbbbb"],
            "order status",
            "ALTER TABLE orders ADD COLUMN status VARCHAR(10);",
            "ALTER TABLE orders DROP COLUMN status;",
        ),
        (
            "4000dddddddd",
            &["3000cccc0001", "3000cccc0002"],
            "merge",
            "CREATE INDEX ix_products_title ON products (title);",
            "DROP INDEX ix_products_title ON products;",
        ),
    ];
    match broken {
        Some("leaves a column") => revs.push((
            "5000eeeeeeee",
            &["4000dddddddd"],
            "add discount",
            "ALTER TABLE orders ADD COLUMN discount INTEGER;",
            "SELECT 1;",
        )),
        Some("fails") => revs.push((
            "5000eeeeeeee",
            &["4000dddddddd"],
            "add coupons",
            "CREATE TABLE coupons (code VARCHAR(20) NOT NULL, PRIMARY KEY (code));",
            "DROP TABLE coupon;",
        )),
        _ => {}
    }
    revs
}

fn round_trip(target: Target) {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = target.url();
    // `DROP INDEX name ON table` is MySQL's; PostgreSQL and SQLite drop an index by name.
    let fix = |revs: Vec<Rev<'static>>| -> Vec<Rev<'static>> {
        revs.into_iter()
            .map(|mut r| {
                if target.server_kind() != Some(Server::MariaDb) && r.4.contains(" ON products") {
                    r.4 = "DROP INDEX ix_products_title;";
                }
                r
            })
            .collect()
    };

    native_project(dir.path(), &url, &fix(round_trip_project(None)));
    let (out, pid) = retort_with_pid(dir.path(), home.path(), &["round-trip"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{url}: {stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("[5/5] upgrade 3000cccc0001, 3000cccc0002 -> 4000dddddddd, merge"),
        "{stdout}"
    );
    assert!(stdout.contains("Round trip passed"), "{stdout}");
    assert_scratch_gone(&target, pid);

    native_project(
        dir.path(),
        &url,
        &fix(round_trip_project(Some("leaves a column"))),
    );
    let (out, pid) = retort_with_pid(dir.path(), home.path(), &["round-trip", "--json"]);
    assert_eq!(out.status.code(), Some(255), "{url}: {}", text(&out.stderr));
    let last = text(&out.stdout);
    let report: Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    let failure = &report["report"]["failure"];
    assert_eq!(failure["revision"], "5000eeeeeeee", "{url}: {last}");
    assert_eq!(failure["phase"], "downgrade");
    assert_eq!(failure["problem"]["kind"], "schema_not_restored");
    let difference = &failure["problem"]["diff"]["differences"][0];
    assert_eq!(difference["kind"], "extra_column", "{url}: {last}");
    assert_eq!(difference["column"]["name"], "discount");
    assert_eq!(report["report"]["passed"].as_array().unwrap().len(), 5);
    assert_scratch_gone(&target, pid);
    let (out, _) = retort_with_pid(dir.path(), home.path(), &["round-trip"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("revision 5000eeeeeeee")
            && stdout.contains("its downgrade does not restore the schema")
            && stdout.contains("column orders.discount: not expected"),
        "{url}: {stdout}"
    );

    native_project(dir.path(), &url, &fix(round_trip_project(Some("fails"))));
    let (out, pid) = retort_with_pid(dir.path(), home.path(), &["round-trip"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(255), "{url}: {stdout}");
    assert!(
        stdout.contains("FAILED: revision 5000eeeeeeee")
            && stdout.contains("its downgrade failed")
            && stdout.contains("DROP TABLE coupon")
            && stdout.contains("5000eeeeeeee.sql:"),
        "{url}: {stdout}"
    );
    assert!(
        stdout.contains("5 revision(s) before it passed"),
        "{stdout}"
    );
    assert_scratch_gone(&target, pid);

    // The database the URL names is not touched (no version table, no tables).
    if let Target::Sqlite(path) = &target {
        assert!(!path.exists(), "the round trip created {}", path.display());
    }
}

#[test]
fn sqlite_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(Target::sqlite(dir.path(), "never.db"));
}

#[test]
fn postgresql_round_trip() {
    if let Some(t) = Target::server(Server::Postgres, "rtrip") {
        round_trip(t);
    }
}

#[test]
fn mariadb_round_trip() {
    if let Some(t) = Target::server(Server::MariaDb, "rtrip") {
        round_trip(t);
    }
}

// ---------------------------------------------------------------------------------------------
// Alembic projects

fn alembic_project(dir: &Path, url: &str, broken_downgrade: bool) {
    let versions = alembic_layout(dir, url, ENV_PY);
    fs::write(
        versions.join("1000aaaaaaaa.py"),
        "\"\"\"customers\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = '1000aaaaaaaa'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n\ndef upgrade():\n    op.create_table('customers', sa.Column('id', sa.Integer, primary_key=True), sa.Column('name', sa.String(40), nullable=False), sa.Column('email', sa.String(80), unique=True))\n\ndef downgrade():\n    op.drop_table('customers')\n",
    )
    .unwrap();
    let down = if broken_downgrade {
        "    pass"
    } else {
        "    op.drop_index('ix_orders_customer', 'orders')\n    op.drop_table('orders')"
    };
    fs::write(
        versions.join("2000bbbbbbbb.py"),
        format!("\"\"\"orders\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = '2000bbbbbbbb'\ndown_revision = '1000aaaaaaaa'\nbranch_labels = None\ndepends_on = None\n\ndef upgrade():\n    op.create_table('orders', sa.Column('id', sa.Integer, primary_key=True), sa.Column('customer_id', sa.Integer, sa.ForeignKey('customers.id'), nullable=False), sa.Column('note', sa.String(200)))\n    op.create_index('ix_orders_customer', 'orders', ['customer_id'])\n\ndef downgrade():\n{down}\n"),
    )
    .unwrap();
}

#[test]
fn alembic_project_verified_stamp_and_round_trip_on_sqlite() {
    let Some(python) = venv_bin("python") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let python = python.to_string_lossy().into_owned();
    // The database alembic itself builds is the reference a hand-built one is compared with.
    let by_alembic = dir.path().join("by_alembic.db");
    alembic_project(
        dir.path(),
        &format!("sqlite:///{}", by_alembic.display()),
        false,
    );
    let (out, _) = retort_with_pid(
        dir.path(),
        home.path(),
        &["--python", &python, "upgrade", "head"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let hand = Target::sqlite(dir.path(), "hand.db");
    hand.execute(CUSTOMERS);
    hand.execute(ORDERS_BY_HAND);
    let url = hand.url();
    let (out, pid) = retort_with_pid(
        dir.path(),
        home.path(),
        &[
            "--python", &python, "--url", &url, "stamp", "head", "--verify",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(255),
        "{stdout}{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("column orders.note: missing")
            && stdout.contains("column orders.customer_id: NOT NULL expected, found nullable")
            && stdout.contains("index ix_orders_customer (customer_id) missing"),
        "{stdout}"
    );
    assert_scratch_gone(&hand, pid);

    // A copy of alembic's own database, without its version rows, matches.
    let copy = Target::sqlite(dir.path(), "copy.db");
    fs::copy(&by_alembic, dir.path().join("copy.db")).unwrap();
    copy.execute("DROP TABLE alembic_version;");
    let (out, _) = retort_with_pid(
        dir.path(),
        home.path(),
        &[
            "--python",
            &python,
            "--url",
            &copy.url(),
            "stamp",
            "head",
            "--verify",
        ],
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("matches the schema of 2000bbbbbbbb"));

    // The round trip through alembic: the correct project passes, a `pass` downgrade fails.
    let (out, _) = retort_with_pid(
        dir.path(),
        home.path(),
        &["--python", &python, "round-trip"],
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    alembic_project(
        dir.path(),
        &format!("sqlite:///{}", by_alembic.display()),
        true,
    );
    let (out, _) = retort_with_pid(
        dir.path(),
        home.path(),
        &["--python", &python, "round-trip"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(255),
        "{stdout}{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("revision 2000bbbbbbbb") && stdout.contains("table orders: not expected"),
        "{stdout}"
    );
}
