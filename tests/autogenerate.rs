//! `retort revision --autogenerate` against alembic 1.20.1 itself, on SQLite, PostgreSQL and
//! MariaDB: a project made by `alembic init` with SQLAlchemy models and `target_metadata` set
//! in env.py, at its first revision; the models then change in each common way. Keeping every
//! operation writes the file `alembic revision --autogenerate` writes (the date aside);
//! leaving one out leaves exactly it out, and alembic upgrades and downgrades with the file.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{Rng, ScratchDb, Server, retort, text, venv_bin};

const MODELS_V1: &str = "from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass User(Base):\n    __tablename__ = 'users'\n    id = Column(Integer, primary_key=True)\n    name = Column(String(50), nullable=False)\n    email = Column(String(255), index=True)\n";

/// Every kind of change the review names: a new table with a foreign key and an index (not
/// on the foreign key's column: MySQL refuses the downgrade alembic writes for that), a
/// nullable column with a server default, a NOT NULL column without one, a narrower type,
/// a dropped index, a new unique constraint, a dropped column.
const MODELS_V2: &str = "from sqlalchemy import Column, ForeignKey, Integer, String, Text, UniqueConstraint\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass User(Base):\n    __tablename__ = 'users'\n    id = Column(Integer, primary_key=True)\n    name = Column(String(20), nullable=False)\n    age = Column(Integer, nullable=False)\n    nick = Column(String(30), server_default='x')\n    __table_args__ = (UniqueConstraint('name', name='uq_users_name'),)\n\n\nclass Post(Base):\n    __tablename__ = 'posts'\n    id = Column(Integer, primary_key=True)\n    user_id = Column(Integer, ForeignKey('users.id'))\n    title = Column(String(100), index=True)\n    body = Column(Text)\n";

/// The operations the review lists for V1 → V2, in alembic's order.
const LISTED: &[&str] = &[
    "create table posts (id INTEGER, user_id INTEGER, title VARCHAR(100), body TEXT)",
    "create index ix_posts_title on posts (title)",
    "add column users.age INTEGER NOT NULL",
    "add column users.nick VARCHAR(30) DEFAULT 'x'",
    "alter column users.name: type VARCHAR(50) → VARCHAR(20)",
    "drop index ix_users_email on users",
    "add unique constraint uq_users_name on users (name)",
    "drop column users.email VARCHAR(255)",
];

struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    alembic: PathBuf,
}

impl Project {
    /// `alembic init`, the URL in alembic.ini, env.py's target_metadata set to the models'
    /// (`metadata = false`: left as `alembic init` writes it, None), the first revision
    /// written by alembic and applied.
    fn new(url: &str, batch: bool, metadata: bool) -> Option<Self> {
        let alembic = venv_bin("alembic")?;
        let dir = tempfile::tempdir().unwrap();
        let out = support::run(&alembic, dir.path(), &["init", "migrations"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let ini = dir.path().join("alembic.ini");
        let config = fs::read_to_string(&ini).unwrap().replace(
            "sqlalchemy.url = driver://user:pass@localhost/dbname",
            &format!("sqlalchemy.url = {url}"),
        );
        fs::write(&ini, config).unwrap();
        let env_py = dir.path().join("migrations/env.py");
        let mut env = fs::read_to_string(&env_py).unwrap();
        if metadata {
            env = env.replace(
                "target_metadata = None",
                "import models\ntarget_metadata = models.Base.metadata",
            );
        }
        if batch {
            // SQLite alters tables by rebuilding them: alembic's batch mode.
            env = env.replace(
                "target_metadata=target_metadata",
                "target_metadata=target_metadata, render_as_batch=True",
            );
        }
        fs::write(&env_py, env).unwrap();
        fs::write(dir.path().join("models.py"), MODELS_V1).unwrap();
        let project = Project {
            dir,
            home: tempfile::tempdir().unwrap(),
            alembic,
        };
        if metadata {
            project.alembic_ok(&[
                "revision",
                "--autogenerate",
                "-m",
                "init",
                "--rev-id",
                "000000000001",
            ]);
            project.alembic_ok(&["upgrade", "head"]);
        }
        Some(project)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn alembic_ok(&self, args: &[&str]) -> String {
        let out = support::run(&self.alembic, self.path(), args);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "alembic {args:?}:\n{all}");
        all
    }

    fn retort(&self, args: &[&str]) -> Output {
        Command::new(retort())
            .args(args)
            .current_dir(self.path())
            .env("RETORT_HOME", self.home.path())
            .env("RETORT_PYTHON", venv_bin("python").unwrap())
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn retort_ok(&self, args: &[&str]) -> String {
        let out = self.retort(args);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "retort {args:?}:\n{all}");
        all
    }

    fn retort_fails(&self, args: &[&str]) -> String {
        let out = self.retort(args);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "retort {args:?} succeeded:\n{all}");
        all
    }

    fn versions(&self) -> PathBuf {
        self.path().join("migrations/versions")
    }

    /// How many revision files there are (alembic leaves a `__pycache__` there too).
    fn revision_files(&self) -> usize {
        fs::read_dir(self.versions())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "py")
            })
            .count()
    }

    /// The revision file `id`'s text without its Create Date line; the file is moved out of
    /// the project.
    fn take(&self, id: &str, message: &str) -> String {
        let path = self.versions().join(format!("{id}_{message}.py"));
        let source =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        fs::remove_file(&path).unwrap();
        source
            .lines()
            .filter(|l| !l.starts_with("Create Date: "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The body of function `name` in a revision file.
fn function<'a>(source: &'a str, name: &str) -> &'a str {
    let start = source
        .find(&format!("def {name}()"))
        .unwrap_or_else(|| panic!("no {name}() in:\n{source}"));
    let rest = &source[start..];
    let end = rest[1..].find("\ndef ").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// The whole comparison on one database.
fn autogenerate_matches_alembic(url: &str, batch: bool) {
    let Some(p) = Project::new(url, batch, true) else {
        return;
    };
    fs::write(p.path().join("models.py"), MODELS_V2).unwrap();

    // The review: every change, numbered, with its risks; nothing written.
    let listed = p.retort_ok(&["revision", "--autogenerate", "-m", "change", "--dry-run"]);
    for (i, op) in LISTED.iter().enumerate() {
        let line = format!("{:>4}. {op}", i + 1);
        assert!(listed.contains(&line), "no {line:?} in:\n{listed}");
    }
    for risk in [
        "! fails if users has rows: NOT NULL without a server default",
        "! may lose data or fail: the new type is narrower",
        "! fails if users has duplicates",
        "! loses data: the column's values",
    ] {
        assert!(listed.contains(risk), "no {risk:?} in:\n{listed}");
    }
    assert!(
        !listed.contains("! locks writes to posts"),
        "a new table's index locks nothing:\n{listed}"
    );
    assert_eq!(p.revision_files(), 1, "--dry-run wrote a file");
    let json: serde_json::Value = serde_json::from_str(&p.retort_ok(&[
        "--json",
        "revision",
        "--autogenerate",
        "-m",
        "change",
        "--dry-run",
    ]))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), LISTED.len(), "{json:#}");
    assert_eq!(json[7]["kind"], "drop_column", "{json:#}");

    // Without a choice and no terminal to ask on: refused, nothing written.
    let refused = p.retort_fails(&["revision", "--autogenerate", "-m", "change"]);
    assert!(refused.contains("--yes keeps them all"), "{refused}");
    assert_eq!(p.revision_files(), 1);

    // Everything kept: alembic's own file.
    let written = p.retort_ok(&[
        "revision",
        "--autogenerate",
        "-m",
        "change",
        "--rev-id",
        "000000000002",
        "--yes",
    ]);
    assert!(
        written.contains("000000000002_change.py ...  done"),
        "{written}"
    );
    let ours = p.take("000000000002", "change");
    p.alembic_ok(&[
        "revision",
        "--autogenerate",
        "-m",
        "change",
        "--rev-id",
        "000000000002",
    ]);
    let theirs = p.take("000000000002", "change");
    assert_eq!(ours, theirs);

    // The dropped column left out: exactly that operation and its reverse are missing.
    let written = p.retort_ok(&[
        "revision",
        "--autogenerate",
        "-m",
        "change",
        "--rev-id",
        "000000000003",
        "--skip",
        "8",
    ]);
    assert!(
        written.contains("Kept 7 of 8 operations (left out: 8)."),
        "{written}"
    );
    let path = p.versions().join("000000000003_change.py");
    let partial = fs::read_to_string(&path).unwrap();
    let full_up = function(&theirs, "upgrade");
    let full_down = function(&theirs, "downgrade");
    let up = function(&partial, "upgrade");
    let down = function(&partial, "downgrade");
    let missing_up: Vec<&str> = full_up.lines().filter(|l| !up.contains(l)).collect();
    let missing_down: Vec<&str> = full_down.lines().filter(|l| !down.contains(l)).collect();
    assert_eq!(missing_up.len(), 1, "{missing_up:?}\n{partial}");
    assert!(
        missing_up[0].contains("drop_column(") && missing_up[0].contains("'email'"),
        "{missing_up:?}"
    );
    assert_eq!(missing_down.len(), 1, "{missing_down:?}\n{partial}");
    assert!(
        missing_down[0].contains("add_column(") && missing_down[0].contains("'email'"),
        "{missing_down:?}"
    );
    assert!(
        up.lines().all(|l| full_up.contains(l)),
        "a line alembic would not write:\n{up}"
    );

    // alembic runs it both ways; the column left out is still there.
    p.alembic_ok(&["upgrade", "head"]);
    p.alembic_ok(&["downgrade", "-1"]);
    p.alembic_ok(&["upgrade", "head"]);
    let now = p.retort_ok(&["revision", "--autogenerate", "-m", "again", "--dry-run"]);
    assert_eq!(
        now.trim_end().lines().count(),
        3,
        "only the column left out is proposed:\n{now}"
    );
    assert!(now.contains("   1. drop column users.email"), "{now}");

    // The journal has it, with what was kept.
    let log = p.retort_ok(&["log", "--json", "-n", "1"]);
    assert!(
        log.contains("autogenerate: kept 7 of 8 operations"),
        "{log}"
    );
}

#[test]
fn autogenerate_on_sqlite_writes_what_alembic_writes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("app.db").display());
    autogenerate_matches_alembic(&url, true);
}

#[test]
fn autogenerate_on_postgresql_writes_what_alembic_writes() {
    let Some(db) = ScratchDb::create(Server::Postgres, "autogen") else {
        return;
    };
    autogenerate_matches_alembic(&db.url(), false);
}

#[test]
fn autogenerate_on_mariadb_writes_what_alembic_writes() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "autogen") else {
        return;
    };
    autogenerate_matches_alembic(&db.url(), false);
}

#[test]
fn autogenerate_errors_say_what_to_do_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("app.db").display());
    // env.py as `alembic init` writes it: no target_metadata.
    let Some(p) = Project::new(&url, false, false) else {
        return;
    };
    let failed = p.retort_fails(&["revision", "--autogenerate", "-m", "x", "--dry-run"]);
    assert!(
        failed.contains("FAILED: Can't proceed with --autogenerate option; environment script"),
        "{failed}"
    );
    assert!(
        failed.contains("set target_metadata = Base.metadata"),
        "{failed}"
    );

    // Models that do not import: the error, and where in the project it came from.
    let env_py = p.path().join("migrations/env.py");
    let env = fs::read_to_string(&env_py).unwrap().replace(
        "target_metadata = None",
        "import models\ntarget_metadata = models.Base.metadata",
    );
    fs::write(&env_py, env).unwrap();
    fs::write(p.path().join("models.py"), "import no_such_module\n").unwrap();
    let failed = p.retort_fails(&["revision", "--autogenerate", "-m", "x", "--dry-run"]);
    assert!(
        failed.contains("ModuleNotFoundError: No module named 'no_such_module' (at models.py:1)"),
        "{failed}"
    );

    // A database behind the heads.
    fs::write(p.path().join("models.py"), MODELS_V1).unwrap();
    p.alembic_ok(&["revision", "-m", "empty", "--rev-id", "000000000001"]);
    let failed = p.retort_fails(&["revision", "--autogenerate", "-m", "x", "--dry-run"]);
    assert!(
        failed.contains("Target database is not up to date."),
        "{failed}"
    );
    assert!(failed.contains("upgrade it first"), "{failed}");
    // An operation number that is not in the list.
    p.alembic_ok(&["upgrade", "head"]);
    let failed = p.retort_fails(&["revision", "--autogenerate", "-m", "x", "--skip", "9"]);
    assert!(
        failed.contains("--skip 9: the operations are numbered 1 to 2"),
        "{failed}"
    );
    assert_eq!(p.revision_files(), 1);
}

#[test]
fn autogenerate_in_the_app_reviews_previews_and_writes() {
    let Some(chromium) = support::ui::tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("app.db").display());
    let Some(p) = Project::new(&url, true, true) else {
        return;
    };
    fs::write(p.path().join("models.py"), MODELS_V2).unwrap();
    // A production connection at the first revision, bound to the project.
    let prod = dir.path().join("prod.db");
    let prod_url = format!("sqlite:///{}", prod.display());
    p.retort_ok(&[
        "connections",
        "add",
        "prod",
        "--from-url",
        &prod_url,
        "--environment",
        "production",
        "--bind",
    ]);
    p.retort_ok(&["--connection", "prod", "upgrade", "head"]);

    // A native project whose database gained a table and a column by hand.
    let native = dir.path().join("native");
    let versions = support::native_layout(
        &native,
        &format!("url = \"sqlite:///{}\"\n", native.join("dev.db").display()),
    );
    fs::write(
        versions.join("000000000001_users.sql"),
        "-- revision: 000000000001\n-- down_revision:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);\n\n-- migrate:down\nDROP TABLE users;\n",
    )
    .unwrap();
    support::ui::run_retort(p.home.path(), &native, &["upgrade", "head"]);
    let out = Command::new("sqlite3")
        .arg(native.join("dev.db"))
        .arg("CREATE TABLE posts (id INTEGER PRIMARY KEY, title VARCHAR(100)); ALTER TABLE users ADD COLUMN age INTEGER;")
        .output()
        .expect("sqlite3");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let screenshots = support::ui::screenshots();
    support::ui::assert_browser_passed(
        support::ui::browser_script("autogenerate.mjs", &chromium)
            .env("E2E_NATIVE_PROJECT", &native)
            .env("RETORT_HOME", p.home.path())
            // No keychain here: a session bus another test left behind must not stall its probe.
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .env("RETORT_PYTHON", venv_bin("python").unwrap())
            .env("E2E_PROJECT", p.path())
            .env("E2E_PROD_DB", "prod.db")
            .env("E2E_SCREENSHOTS", &screenshots),
    );
    support::ui::assert_screenshots(
        &screenshots,
        &[
            "autogen-review",
            "autogen-unchecked",
            "autogen-written",
            "autogen-production",
        ],
    );
    // alembic upgrades with the file the app had written.
    p.alembic_ok(&["upgrade", "head"]);
}

// ----- native SQL projects -----------------------------------------------------------------

/// A native project at `url` whose one revision makes `users`, upgraded; the database is then
/// changed by hand with `by_hand`. `revision --autogenerate` must list `expected` (in order),
/// write a revision that `stamp head --verify` finds matching the changed database, and that
/// the round trip (up, down, up in a scratch database) passes.
fn native_autogenerate_follows_a_database_changed_by_hand(
    url: &str,
    run_sql: &dyn Fn(&str),
    by_hand: &[&str],
    expected: &[&str],
) {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let versions = support::native_layout(dir.path(), &format!("url = \"{url}\"\n"));
    fs::write(
        versions.join("000000000001_users.sql"),
        "-- revision: 000000000001\n-- down_revision:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(255));\nCREATE INDEX ix_users_email ON users (email);\n\n-- migrate:down\nDROP TABLE users;\n",
    )
    .unwrap();
    let retort_in = |args: &[&str]| {
        let out = Command::new(retort())
            .args(args)
            .current_dir(dir.path())
            .env("RETORT_HOME", home.path())
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.success(),
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        )
    };
    let ok = |args: &[&str]| {
        let (success, all) = retort_in(args);
        assert!(success, "retort {args:?}:\n{all}");
        all
    };
    ok(&["upgrade", "head"]);
    // Nothing changed yet: nothing to generate.
    let none = ok(&["revision", "--autogenerate", "-m", "nothing", "--dry-run"]);
    assert!(none.contains("No changes:"), "{none}");
    for sql in by_hand {
        run_sql(sql);
    }

    let listed = ok(&["revision", "--autogenerate", "-m", "by hand", "--dry-run"]);
    for (i, op) in expected.iter().enumerate() {
        let line = format!("{:>4}. {op}", i + 1);
        assert!(listed.contains(&line), "no {line:?} in:\n{listed}");
    }
    assert!(
        listed
            .lines()
            .filter(|l| l.len() > 5 && l[..4].trim().parse::<usize>().is_ok())
            .count()
            == expected.len(),
        "more operations than expected:\n{listed}"
    );
    assert!(listed.contains("Proven on "), "{listed}");
    assert!(
        listed.contains("-- migrate:up\n") && listed.contains("-- migrate:down\n"),
        "{listed}"
    );
    let py_or_sql = |d: &Path| {
        fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count()
    };
    assert_eq!(py_or_sql(&versions), 1, "--dry-run wrote a file");

    let written = ok(&[
        "revision",
        "--autogenerate",
        "-m",
        "by hand",
        "--rev-id",
        "000000000002",
        "--yes",
    ]);
    assert!(
        written.contains("000000000002_by_hand.sql ...  done"),
        "{written}"
    );
    // The database already has the schema: a verified stamp finds it matching the new head.
    ok(&["stamp", "head", "--verify"]);
    // And the revision goes down and up again cleanly in a scratch database.
    let round = ok(&["round-trip"]);
    assert!(round.contains("Round trip passed"), "{round}");
}

#[test]
fn native_autogenerate_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dev.db");
    let url = format!("sqlite:///{}", file.display());
    let run_sql = |sql: &str| {
        let out = Command::new("sqlite3")
            .arg(&file)
            .arg(sql)
            .output()
            .expect("sqlite3");
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    };
    native_autogenerate_follows_a_database_changed_by_hand(
        &url,
        &run_sql,
        &[
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), title VARCHAR(100))",
            "CREATE INDEX ix_posts_title ON posts (title)",
            "ALTER TABLE users ADD COLUMN age INTEGER",
            "DROP INDEX ix_users_email",
            "ALTER TABLE users DROP COLUMN email",
        ],
        &[
            "drop index ix_users_email on users",
            "create table posts (id INTEGER, user_id INTEGER, title VARCHAR(100))",
            "add column users.age INTEGER",
            "drop column users.email VARCHAR(255)",
            "create index ix_posts_title on posts (title)",
        ],
    );
}

#[test]
fn native_autogenerate_on_postgresql() {
    let Some(db) = ScratchDb::create(Server::Postgres, "nautogen") else {
        return;
    };
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", db.name);
    native_autogenerate_follows_a_database_changed_by_hand(
        &url,
        &|sql| {
            db.query(sql);
        },
        &[
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER CONSTRAINT posts_user_fk REFERENCES users (id) ON DELETE CASCADE, title VARCHAR(100) CONSTRAINT posts_title_uq UNIQUE)",
            "ALTER TABLE users ADD COLUMN age INTEGER",
            "ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(20)",
            "ALTER TABLE users ALTER COLUMN name DROP NOT NULL",
            "DROP INDEX ix_users_email",
            "ALTER TABLE users DROP COLUMN email",
            "CREATE INDEX ix_users_name ON users (name)",
        ],
        &[
            "drop index ix_users_email on users",
            "create table posts (id integer NOT NULL, user_id integer, title character varying(100))",
            "alter column users.name: type character varying(50) → character varying(20)",
            "alter column users.name: NOT NULL → NULL",
            "add column users.age integer",
            "drop column users.email character varying(255)",
            "create index ix_users_name on users (name)",
            "add foreign key posts_user_fk on posts (user_id) → users (id)",
        ],
    );
}

#[test]
fn native_autogenerate_on_mariadb() {
    let Some(db) = ScratchDb::create(Server::MariaDb, "nautogen") else {
        return;
    };
    let url = format!("mysql://root@127.0.0.1:3306/{}", db.name);
    native_autogenerate_follows_a_database_changed_by_hand(
        &url,
        &|sql| {
            db.query(sql);
        },
        &[
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, title VARCHAR(100), CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES users (id))",
            "ALTER TABLE users ADD COLUMN age INTEGER",
            "ALTER TABLE users MODIFY COLUMN name VARCHAR(20) NULL",
            "DROP INDEX ix_users_email ON users",
            "ALTER TABLE users DROP COLUMN email",
        ],
        &[
            "drop index ix_users_email on users",
            "create table posts (id int(11) NOT NULL, user_id int(11), title varchar(100))",
            "alter column users.name: type varchar(50) → varchar(20)",
            "alter column users.name: NOT NULL → NULL",
            "add column users.age int(11)",
            "drop column users.email varchar(255)",
            "create index posts_user_fk on posts (user_id)",
            "add foreign key posts_user_fk on posts (user_id) → users (id)",
        ],
    );
}

// ----- native: random schema pairs ----------------------------------------------------------

#[derive(Clone, Debug)]
struct GenColumn {
    name: String,
    ty: &'static str,
    nullable: bool,
}

#[derive(Clone, Debug)]
struct GenTable {
    name: String,
    columns: Vec<GenColumn>,
    /// Indexed columns (one index each, `ix_<table>_<column>`).
    indexes: Vec<String>,
    /// Unique columns (`uq_<table>_<column>`; PostgreSQL and MariaDB).
    uniques: Vec<String>,
    /// `(column, referred table)`: integer columns referring to another table's id.
    keys: Vec<(String, String)>,
}

/// The engine's types a column may have, and whether changes of type and nullability,
/// uniques and foreign keys of existing tables are generated there (not on SQLite).
fn types_of(server: Option<Server>) -> (&'static [&'static str], bool) {
    match server {
        None => (&["INTEGER", "TEXT", "VARCHAR(20)", "REAL"], false),
        Some(Server::Postgres) => (
            &["integer", "bigint", "text", "varchar(20)", "varchar(50)"],
            true,
        ),
        Some(Server::MariaDb) => (&["int", "bigint", "varchar(20)", "varchar(50)"], true),
    }
}

fn indexable(ty: &str) -> bool {
    !ty.eq_ignore_ascii_case("text")
}

fn gen_table(rng: &mut Rng, name: &str, types: &[&'static str]) -> GenTable {
    let mut columns = Vec::new();
    for c in 0..1 + rng.below(4) {
        columns.push(GenColumn {
            name: format!("c{c}"),
            ty: types[rng.below(types.len())],
            nullable: rng.chance(60),
        });
    }
    let indexes = columns
        .iter()
        .filter(|c| indexable(c.ty))
        .filter(|_| rng.chance(30))
        .map(|c| c.name.clone())
        .collect();
    GenTable {
        name: name.to_string(),
        columns,
        indexes,
        uniques: Vec::new(),
        keys: Vec::new(),
    }
}

/// The DDL that creates `tables` (keys last, so that any order of tables works).
fn ddl(tables: &[GenTable], server: Option<Server>) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        let mut parts = vec!["id INTEGER PRIMARY KEY".to_string()];
        for c in &t.columns {
            parts.push(format!(
                "{} {}{}",
                c.name,
                c.ty,
                if c.nullable { "" } else { " NOT NULL" }
            ));
        }
        for (column, referred) in &t.keys {
            parts.push(format!("{column} INTEGER"));
            if server.is_none() {
                parts.push(format!("FOREIGN KEY ({column}) REFERENCES {referred} (id)"));
            }
        }
        for u in &t.uniques {
            parts.push(format!("CONSTRAINT uq_{}_{u} UNIQUE ({u})", t.name));
        }
        out.push(format!("CREATE TABLE {} ({})", t.name, parts.join(", ")));
        for i in &t.indexes {
            out.push(format!(
                "CREATE INDEX ix_{}_{i} ON {} ({i})",
                t.name, t.name
            ));
        }
    }
    if server.is_some() {
        for t in tables {
            for (column, referred) in &t.keys {
                out.push(format!(
                    "ALTER TABLE {} ADD CONSTRAINT fk_{}_{column} FOREIGN KEY ({column}) REFERENCES {referred} (id)",
                    t.name, t.name
                ));
            }
        }
    }
    out
}

/// A random schema, and a changed copy of it.
fn schema_pair(rng: &mut Rng, server: Option<Server>) -> (Vec<GenTable>, Vec<GenTable>) {
    let (types, alters) = types_of(server);
    let mut a: Vec<GenTable> = (0..1 + rng.below(3))
        .map(|i| gen_table(rng, &format!("t{i}"), types))
        .collect();
    // Some keys from the start (not to t0 from t0).
    for t in a.iter_mut().skip(1) {
        if rng.chance(40) {
            t.keys.push(("ref0".into(), "t0".into()));
        }
    }
    let mut b = a.clone();
    for _ in 0..1 + rng.below(4) {
        match rng.below(8) {
            0 => {
                let n = b.len() + 3;
                let mut t = gen_table(rng, &format!("t{n}"), types);
                if alters && rng.chance(50) {
                    t.keys.push(("ref0".into(), "t0".into()));
                }
                if alters && rng.chance(40) && indexable(t.columns[0].ty) {
                    t.uniques.push(t.columns[0].name.clone());
                }
                b.push(t);
            }
            1 if b.len() > 1 => {
                // Drop a table no other table refers to (t0 is referred to).
                let i = 1 + rng.below(b.len() - 1);
                b.remove(i);
            }
            2 => {
                let t = rng.below(b.len());
                let n = b[t].columns.len() + 5;
                b[t].columns.push(GenColumn {
                    name: format!("c{n}"),
                    ty: types[rng.below(types.len())],
                    nullable: true,
                });
            }
            3 => {
                let t = rng.below(b.len());
                if b[t].columns.len() > 1 {
                    let c = rng.below(b[t].columns.len());
                    let name = b[t].columns.remove(c).name;
                    b[t].indexes.retain(|i| *i != name);
                    b[t].uniques.retain(|u| *u != name);
                }
            }
            4 => {
                let t = rng.below(b.len());
                let c = rng.below(b[t].columns.len());
                let name = b[t].columns[c].name.clone();
                if b[t].indexes.contains(&name) {
                    b[t].indexes.retain(|i| *i != name);
                } else if indexable(b[t].columns[c].ty) {
                    b[t].indexes.push(name);
                }
            }
            5 if alters => {
                let t = rng.below(b.len());
                let c = rng.below(b[t].columns.len());
                let name = b[t].columns[c].name.clone();
                if !b[t].indexes.contains(&name) && !b[t].uniques.contains(&name) {
                    b[t].columns[c].ty = types[rng.below(types.len())];
                }
            }
            6 if alters => {
                let t = rng.below(b.len());
                let c = rng.below(b[t].columns.len());
                b[t].columns[c].nullable = !b[t].columns[c].nullable;
            }
            7 if alters => {
                let t = rng.below(b.len());
                if b[t].name != "t0" {
                    if b[t].keys.is_empty() {
                        b[t].keys.push(("ref0".into(), "t0".into()));
                    } else {
                        // The key goes, its column stays.
                        b[t].keys.clear();
                        b[t].columns.push(GenColumn {
                            name: "ref0".into(),
                            ty: if server == Some(Server::MariaDb) {
                                "int"
                            } else {
                                "integer"
                            },
                            nullable: true,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    (a, b)
}

/// Random pairs on one engine: the revisions build `a`, the database holds `b`;
/// autogenerate must find a revision that is proven both ways, and the written revision
/// must make `stamp head --verify` agree with the database.
fn random_pairs(server: Option<Server>, cases: u64) {
    let mut generated = 0;
    for seed in 1..=cases {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let (a, b) = schema_pair(&mut rng, server);
        let dir = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let db = server.and_then(|s| ScratchDb::create(s, "nprop"));
        let url = match (server, &db) {
            (None, _) => format!("sqlite:///{}", dir.path().join("dev.db").display()),
            (Some(Server::Postgres), Some(db)) => {
                format!("postgresql://postgres@127.0.0.1:5432/{}", db.name)
            }
            (Some(Server::MariaDb), Some(db)) => format!("mysql://root@127.0.0.1:3306/{}", db.name),
            _ => return,
        };
        let versions = support::native_layout(dir.path(), &format!("url = \"{url}\"\n"));
        let up = ddl(&a, server)
            .iter()
            .map(|s| format!("{s};\n"))
            .collect::<String>();
        // Tables that refer to t0 come after it: dropped in reverse.
        let down = a
            .iter()
            .rev()
            .map(|t| format!("DROP TABLE {};\n", t.name))
            .collect::<String>();
        fs::write(
            versions.join("000000000001_a.sql"),
            format!("-- revision: 000000000001\n-- down_revision:\n-- message: a\n\n-- migrate:up\n{up}\n-- migrate:down\n{down}"),
        )
        .unwrap();
        let run = |args: &[&str]| {
            let out = Command::new(retort())
                .args(args)
                .current_dir(dir.path())
                .env("RETORT_HOME", home.path())
                .env_remove("DATABASE_URL")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            (
                out.status.success(),
                format!("{}{}", text(&out.stdout), text(&out.stderr)),
            )
        };
        // The database holds `b`: made by hand, with the version table at the revision.
        let (ok, all) = run(&["stamp", "000000000001"]);
        assert!(ok, "seed {seed}: {all}");
        for statement in ddl(&b, server) {
            match (&db, server) {
                (Some(db), _) => {
                    db.query(&statement);
                }
                (None, _) => {
                    let out = Command::new("sqlite3")
                        .arg(dir.path().join("dev.db"))
                        .arg(&statement)
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "seed {seed}: {statement}: {}",
                        text(&out.stderr)
                    );
                }
            }
        }
        let (ok, all) = run(&[
            "revision",
            "--autogenerate",
            "-m",
            "b",
            "--rev-id",
            "000000000002",
            "--yes",
        ]);
        let context = format!("seed {seed}\na: {a:?}\nb: {b:?}\n{all}");
        assert!(ok, "{context}");
        if all.contains("No changes") {
            continue;
        }
        generated += 1;
        let (ok, verified) = run(&["stamp", "head", "--verify"]);
        assert!(ok, "{context}\nstamp --verify:\n{verified}");
        let (ok, round) = run(&["round-trip"]);
        assert!(ok, "{context}\nround-trip:\n{round}");
    }
    // The generator is meant to change something most of the time.
    assert!(
        generated * 4 >= cases * 3,
        "only {generated} of {cases} pairs differed"
    );
}

#[test]
fn native_autogenerate_converges_on_random_schema_pairs_on_sqlite() {
    random_pairs(None, 40);
}

#[test]
fn native_autogenerate_converges_on_random_schema_pairs_on_postgresql() {
    random_pairs(Some(Server::Postgres), 8);
}

#[test]
fn native_autogenerate_converges_on_random_schema_pairs_on_mariadb() {
    random_pairs(Some(Server::MariaDb), 16);
}
