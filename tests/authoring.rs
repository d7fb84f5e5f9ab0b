//! `retort revision` / `retort merge` against alembic 1.20.1: for each of alembic's own
//! templates, the same commands (fixed rev ids) give byte-identical files (only the
//! `Create Date:` value differs, and only in its digits), file names follow `file_template`
//! / `truncate_slug_length`, and alembic loads Retort's files exactly like its own
//! (`alembic heads` and `alembic history` equal). Also: alembic's errors, refusals that leave
//! the project untouched, native `.sql` revisions read back by the loader, the guided merge
//! and `retort check`.
//!
//! Needs the alembic venv (`RETORT_ALEMBIC_PYTHON` or `.venv/bin/python`); with
//! `RETORT_REQUIRE_ALEMBIC=1` a missing venv fails instead of skipping.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{native_layout, retort_in, venv_bin};

struct Run {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end; its exit and decoded output.
fn capture(cmd: &mut Command) -> Run {
    let out: Output = cmd.output().expect("the program starts");
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn alembic(alembic: &Path, dir: &Path, args: &[&str]) -> Run {
    // A fixed hash seed: alembic lists a branch point's children in set order.
    capture(
        Command::new(alembic)
            .args(args)
            .current_dir(dir)
            .env("PYTHONHASHSEED", "0"),
    )
}

fn retort_captured(dir: &Path, home: &Path, args: &[&str]) -> Run {
    capture(retort_in(dir, home).args(args))
}

/// Every file under `dir`, relative path → text.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().unwrap() != "__pycache__" {
                    walk(base, &p, out);
                }
            } else {
                out.insert(
                    p.strip_prefix(base).unwrap().display().to_string(),
                    fs::read_to_string(&p).unwrap(),
                );
            }
        }
    }
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// The `Create Date:` value with its digits blanked (the moment differs between runs).
fn normalize(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("Create Date: ") {
            Some(v) => format!(
                "Create Date: {}",
                v.chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .collect::<String>()
            ),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

fn set_option(path: &Path, section: &str, lines: &str) {
    let text = fs::read_to_string(path).unwrap();
    let header = format!("[{section}]\n");
    let at = text.find(&header).expect("the section") + header.len();
    let new = format!("{}{}\n{}", &text[..at], lines, &text[at..]);
    fs::write(path, new).unwrap();
}

/// The scenario both tools run: revisions on two branches, a splice, dependencies by id,
/// prefix and label, a merge of `heads`, a new root without a message, a final merge of
/// explicit revisions with a label.
const SCENARIO: &[&[&str]] = &[
    &[
        "revision",
        "-m",
        "Add users table!",
        "--rev-id",
        "aaaa00000001",
    ],
    &[
        "revision",
        "-m",
        "Second: with punctuation, and a rather long message that gets cut",
        "--rev-id",
        "bbbb00000002",
        "--branch-label",
        "lbl",
    ],
    &[
        "revision",
        "-m",
        "splice",
        "--head",
        "aaaa00000001",
        "--splice",
        "--rev-id",
        "cccc00000003",
        "--depends-on",
        "bbbb",
    ],
    &[
        "revision",
        "-m",
        "deps two",
        "--head",
        "cccc00000003",
        "--depends-on",
        "aaaa",
        "--depends-on",
        "lbl",
        "--rev-id",
        "eeee00000005",
    ],
    &[
        "merge",
        "heads",
        "-m",
        "merge it",
        "--rev-id",
        "dddd00000004",
    ],
    &["revision", "--head", "base", "--rev-id", "ffff00000006"],
    &[
        "merge",
        "ffff00000006",
        "dddd00000004",
        "-m",
        "Final merge",
        "--branch-label",
        "fin",
        "--rev-id",
        "999900000007",
    ],
];

#[test]
fn every_standard_template_gives_alembics_files() {
    let Some(alembic_bin) = venv_bin("alembic") else {
        return;
    };
    for template in [
        "generic",
        "async",
        "multidb",
        "pyproject",
        "pyproject_async",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("alembic");
        let r = tmp.path().join("retort");
        let home = tmp.path().join("home");
        for dir in [&a, &r] {
            fs::create_dir_all(dir).unwrap();
            let init = alembic(&alembic_bin, dir, &["init", "-t", template, "migrations"]);
            assert!(init.ok, "{template}: alembic init: {}", init.stderr);
            // A file_template and a slug length, set where the template keeps its options.
            let (config, section) = if template.starts_with("pyproject") {
                (dir.join("pyproject.toml"), "tool.alembic")
            } else {
                (dir.join("alembic.ini"), "alembic")
            };
            let options = match (template, section) {
                ("async", _) => "file_template = %%(year)d_%%(rev)s_%%(slug)s\ntruncate_slug_length = 12\ntimezone = UTC".to_string(),
                (_, "tool.alembic") => "file_template = \"%%(rev)s-%%(slug)s\"\ntruncate_slug_length = 20".to_string(),
                _ => "truncate_slug_length = 20".to_string(),
            };
            set_option(&config, section, &options);
        }
        for args in SCENARIO {
            let x = alembic(&alembic_bin, &a, args);
            assert!(x.ok, "{template}: alembic {args:?}: {}", x.stderr);
            let y = retort_captured(&r, &home, args);
            assert!(y.ok, "{template}: retort {args:?}: {}", y.stderr);
            // The same status line, path aside.
            assert_eq!(
                y.stdout.replace(r.to_str().unwrap(), "<dir>"),
                x.stdout.replace(a.to_str().unwrap(), "<dir>"),
                "{template}: {args:?}"
            );
        }
        let fa = files(&a.join("migrations/versions"));
        let fr = files(&r.join("migrations/versions"));
        assert_eq!(
            fa.keys().collect::<Vec<_>>(),
            fr.keys().collect::<Vec<_>>(),
            "{template}: file names"
        );
        assert_eq!(fa.len(), SCENARIO.len(), "{template}");
        for (name, text) in &fa {
            assert_eq!(normalize(&fr[name]), normalize(text), "{template}: {name}");
            assert_ne!(
                normalize(text),
                *text,
                "{template}: {name} has a Create Date"
            );
        }
        // alembic treats Retort's files exactly like its own.
        for cmd in [
            &["heads"][..],
            &["history"],
            &["branches"],
            &["heads", "--resolve-dependencies"],
        ] {
            let x = alembic(&alembic_bin, &a, cmd);
            let y = alembic(&alembic_bin, &r, cmd);
            assert!(
                x.ok && y.ok,
                "{template}: {cmd:?}: {} {}",
                x.stderr,
                y.stderr
            );
            assert_eq!(y.stdout, x.stdout, "{template}: alembic {cmd:?}");
        }
        assert_eq!(
            alembic(&alembic_bin, &r, &["heads"]).stdout,
            "999900000007 (fin) (head)\nbbbb00000002 (lbl) (effective head)\n",
            "{template}"
        );
        // And Retort reads them as alembic does.
        assert_eq!(
            retort_captured(&r, &home, &["history"]).stdout,
            alembic(&alembic_bin, &a, &["history"]).stdout,
            "{template}"
        );
    }
}

#[test]
fn errors_are_alembics_and_nothing_is_written() {
    let Some(alembic_bin) = venv_bin("alembic") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("alembic");
    let r = tmp.path().join("retort");
    let home = tmp.path().join("home");
    for dir in [&a, &r] {
        fs::create_dir_all(dir).unwrap();
        assert!(alembic(&alembic_bin, dir, &["init", "migrations"]).ok);
        for args in [
            &["revision", "-m", "a", "--rev-id", "aaaa00000001"][..],
            &["revision", "-m", "b", "--rev-id", "bbbb00000002"],
            &[
                "revision",
                "-m",
                "c",
                "--head",
                "aaaa00000001",
                "--splice",
                "--rev-id",
                "cccc00000003",
            ],
        ] {
            assert!(alembic(&alembic_bin, dir, args).ok);
        }
    }
    let cases: &[&[&str]] = &[
        &["revision", "-m", "x"],
        &["revision", "-m", "x", "--head", "aaaa00000001"],
        &["merge", "bbbb", "bbbb"],
        &[
            "revision",
            "-m",
            "x",
            "--head",
            "bbbb00000002",
            "--rev-id",
            "a-b",
        ],
        &[
            "revision",
            "-m",
            "x",
            "--head",
            "bbbb00000002",
            "--version-path",
            "/nowhere",
        ],
        &["merge", "aaaa00000001", "bbbb00000002"],
    ];
    for args in cases {
        let before = files(&r.join("migrations/versions"));
        let x = alembic(&alembic_bin, &a, args);
        let y = retort_captured(&r, &home, args);
        assert!(!x.ok && !y.ok, "{args:?}");
        assert_eq!(y.code, Some(255), "{args:?}");
        // alembic prints FAILED on stdout, and so does Retort.
        assert_eq!(y.stdout, format!("{}{}", x.stdout, x.stderr), "{args:?}");
        assert_eq!(files(&r.join("migrations/versions")), before, "{args:?}");
    }
    // Where alembic only says "Can't locate", Retort gives the reason.
    let y = retort_captured(&r, &home, &["revision", "-m", "x", "--head", "nop"]);
    assert_eq!(
        y.stdout,
        "FAILED: No such revision or branch 'nop'; please ensure at least four characters are present for partial revision identifier matches\n"
    );
    // An existing id: alembic writes a file that breaks the project; Retort refuses.
    let before = files(&r.join("migrations/versions"));
    let y = retort_captured(
        &r,
        &home,
        &[
            "revision",
            "-m",
            "dup",
            "--head",
            "bbbb00000002",
            "--rev-id",
            "cccc00000003",
        ],
    );
    assert!(
        y.stdout
            .starts_with("FAILED: Revision cccc00000003 already exists ("),
        "{}",
        y.stdout
    );
    // A label that is already taken: alembic fails after writing; Retort before.
    let y = retort_captured(
        &r,
        &home,
        &[
            "revision",
            "-m",
            "l",
            "--head",
            "bbbb00000002",
            "--branch-label",
            "aaaa00000001",
        ],
    );
    assert!(
        y.stdout.contains("Branch name 'aaaa00000001'"),
        "{}",
        y.stdout
    );
    assert_eq!(files(&r.join("migrations/versions")), before);
    // A message that would end the docstring early: alembic writes a file Python cannot
    // read; Retort reads the text back first and refuses.
    let y = retort_captured(
        &r,
        &home,
        &["revision", "-m", "say \"\"\"hi", "--head", "bbbb00000002"],
    );
    assert!(
        y.stdout
            .contains("script.py.mako: the rendered revision does not read back"),
        "{}",
        y.stdout
    );
    assert_eq!(files(&r.join("migrations/versions")), before);
    // JSON errors.
    let y = retort_captured(&r, &home, &["--json", "revision", "-m", "x"]);
    assert!(
        y.stderr.contains("\"error\":\"Multiple heads are present"),
        "{}",
        y.stderr
    );
}

#[test]
fn a_template_retort_cannot_render_is_reported_not_written() {
    let Some(alembic_bin) = venv_bin("alembic") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    assert!(alembic(&alembic_bin, dir, &["init", "migrations"]).ok);
    let mako = dir.join("migrations/script.py.mako");
    let original = fs::read_to_string(&mako).unwrap();
    for (line, needle) in [
        (1, "${message | h}"),
        (10, "<%namespace name=\"x\" file=\"y\"/>"),
        (13, "% while True:"),
        (18, "${unknown_variable}"),
        (20, "<%\nimport os\n%>"),
    ] {
        let mut lines: Vec<&str> = original.split('\n').collect();
        lines.insert(line - 1, needle);
        fs::write(&mako, lines.join("\n")).unwrap();
        let y = retort_captured(
            dir,
            &home,
            &["revision", "-m", "x", "--rev-id", "aaaa00000001"],
        );
        assert_eq!(y.code, Some(255), "{needle}");
        let line = if needle.starts_with("<%\n") {
            line + 1
        } else {
            line
        };
        let expected = format!("FAILED: {}:{line}: ", mako.display());
        assert!(y.stdout.starts_with(&expected), "{needle}: {}", y.stdout);
        assert!(
            files(&dir.join("migrations/versions")).is_empty(),
            "{needle}"
        );
    }
    // A template that drops the branch_labels line: alembic's complaint, before writing.
    fs::write(
        &mako,
        original.replace(
            "branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}\n",
            "",
        ),
    )
    .unwrap();
    let y = retort_captured(dir, &home, &["revision", "-m", "x", "--branch-label", "l"]);
    assert!(
        y.stdout.contains("script.py.mako") && y.stdout.contains("branch_labels"),
        "{}",
        y.stdout
    );
    assert!(files(&dir.join("migrations/versions")).is_empty());
}

fn native_project(dir: &Path, extra: &str) {
    native_layout(
        dir,
        &format!("url = \"sqlite:///app.db\"\ntruncate_slug_length = 12\n{extra}"),
    );
}

fn write_sql(
    dir: &Path,
    name: &str,
    id: &str,
    down: &str,
    message: &str,
    up: &str,
    down_sql: &str,
) {
    fs::write(
        dir.join("versions").join(name),
        format!(
            "-- revision: {id}\n-- down_revision: {down}\n-- message: {message}\n\n-- migrate:up\n{up}\n\n-- migrate:down\n{down_sql}\n"
        ),
    )
    .unwrap();
}

#[test]
fn native_revisions_and_merges_are_sql_files_the_loader_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    native_project(dir, "");
    let y = retort_captured(
        dir,
        &home,
        &["revision", "-m", "Create the users table", "--rev-id", "a1"],
    );
    assert!(y.ok, "{}", y.stderr);
    let path = dir.join("versions/a1_create_the_.sql");
    assert_eq!(
        y.stdout,
        format!("Generating {} ...  done\n", path.display())
    );
    let text = fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("-- revision: a1"));
    assert_eq!(lines.next(), Some("-- down_revision:"));
    assert!(text.contains("-- message: Create the users table\n-- create_date: "));
    assert!(
        text.ends_with("\n-- migrate:up\n\n-- migrate:down\n"),
        "{text}"
    );
    assert!(retort_captured(dir, &home, &["revision", "-m", "b", "--rev-id", "b2"]).ok);
    assert!(
        retort_captured(
            dir,
            &home,
            &[
                "revision",
                "-m",
                "c",
                "--head",
                "a1",
                "--splice",
                "--rev-id",
                "c3",
                "--branch-label",
                "side"
            ]
        )
        .ok
    );
    let y = retort_captured(
        dir,
        &home,
        &["--json", "merge", "heads", "-m", "join", "--rev-id", "d4"],
    );
    assert!(y.ok, "{}", y.stderr);
    let new: serde_json::Value = serde_json::from_str(&y.stdout).unwrap();
    assert_eq!(new["down_revision"], serde_json::json!(["b2", "c3"]));
    let merge = fs::read_to_string(dir.join("versions/d4_join.sql")).unwrap();
    assert!(merge.starts_with("-- revision: d4\n-- down_revision: b2, c3\n-- branch_labels:\n-- depends_on:\n-- message: join\n"), "{merge}");
    let side = fs::read_to_string(dir.join("versions/c3_c.sql")).unwrap();
    assert!(
        side.contains("-- branch_labels: side\n-- depends_on:\n"),
        "{side}"
    );
    // The loader reads them all back: one head, the merge.
    assert_eq!(
        retort_captured(dir, &home, &["heads"]).stdout,
        "d4 (side) (head)\n"
    );
    let history = retort_captured(dir, &home, &["history"]).stdout;
    assert_eq!(
        history,
        "b2, c3 -> d4 (side) (head) (mergepoint), join\na1 -> b2, b\na1 -> c3 (side), c\n<base> -> a1 (branchpoint), Create the users table\n"
    );
    assert_eq!(retort_captured(dir, &home, &["check"]).code, Some(0));
    // Dependencies: a label stays a label, a prefix becomes the id.
    let y = retort_captured(
        dir,
        &home,
        &[
            "revision",
            "-m",
            "e",
            "--rev-id",
            "e5",
            "--depends-on",
            "side",
            "--depends-on",
            "b2",
        ],
    );
    assert!(y.ok, "{}", y.stderr);
    let e = fs::read_to_string(dir.join("versions/e5_e.sql")).unwrap();
    assert!(
        e.contains("-- down_revision: d4\n-- branch_labels:\n-- depends_on: side, b2\n"),
        "{e}"
    );
    assert_eq!(
        retort_captured(dir, &home, &["heads"]).stdout,
        "e5 (side) (head)\n"
    );
}

#[test]
fn guided_merge_names_tables_both_branches_touch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    native_project(dir, "");
    write_sql(
        dir,
        "a.sql",
        "a1",
        "",
        "base",
        "CREATE TABLE users (id INTEGER);",
        "DROP TABLE users;",
    );
    write_sql(
        dir,
        "b.sql",
        "b2",
        "a1",
        "add email",
        "ALTER TABLE users ADD COLUMN email TEXT;",
        "",
    );
    write_sql(
        dir,
        "b3.sql",
        "b3",
        "b2",
        "orders",
        "CREATE TABLE orders (id INTEGER);",
        "DROP TABLE orders;",
    );
    write_sql(
        dir,
        "c.sql",
        "c3",
        "a1",
        "add name",
        "ALTER TABLE \"users\" ADD COLUMN name TEXT;\nINSERT INTO audit VALUES (1);",
        "SELECT 1;",
    );
    let y = retort_captured(
        dir,
        &home,
        &["--json", "merge", "heads", "--explain", "--rev-id", "m9"],
    );
    assert!(y.ok, "{}", y.stderr);
    let e: serde_json::Value = serde_json::from_str(&y.stdout).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["revision"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&e["heads"]), ["b3", "c3"]);
    assert_eq!(ids(&e["common_ancestors"]), ["a1"]);
    assert_eq!(ids(&e["branches"][0]["revisions"]), ["b2", "b3"]);
    assert_eq!(ids(&e["branches"][1]["revisions"]), ["c3"]);
    assert_eq!(
        e["branches"][0]["tables"],
        serde_json::json!({"orders": ["create"], "users": ["alter"]})
    );
    assert_eq!(
        e["branches"][1]["tables"],
        serde_json::json!({"audit": ["data"], "users": ["alter"]})
    );
    assert_eq!(e["shared_tables"].as_array().unwrap().len(), 1);
    assert_eq!(e["shared_tables"][0]["table"], "users");
    assert_eq!(
        e["shared_tables"][0]["revisions"],
        serde_json::json!(["c3", "b2"])
    );
    assert_eq!(
        e["upgrade_order"],
        serde_json::json!(["a1", "c3", "b2", "b3", "m9"])
    );
    // Nothing written; the text form says the same.
    assert!(!dir.join("versions/m9_.sql").exists());
    let text = retort_captured(
        dir,
        &home,
        &["merge", "heads", "--explain", "--rev-id", "m9"],
    )
    .stdout;
    assert!(
        text.contains("warning: table users is changed on 2 branches"),
        "{text}"
    );
    assert!(text.contains("  b2  add email  [alter users]\n"), "{text}");
    // The merge's upgrade order is the one `upgrade` then runs.
    assert!(retort_captured(dir, &home, &["merge", "heads", "--rev-id", "m9", "-m", "m"]).ok);
    let plan = retort_captured(
        dir,
        &home,
        &[
            "--url",
            &format!("sqlite:///{}", dir.join("x.db").display()),
            "upgrade",
            "heads",
            "--sql",
        ],
    );
    assert!(plan.ok, "{}", plan.stderr);
    let order: Vec<&str> = ["a1", "c3", "b2", "b3", "m9"].to_vec();
    let positions: Vec<usize> = order
        .iter()
        .map(|id| {
            plan.stdout
                .find(&format!("-> {id}"))
                .unwrap_or_else(|| panic!("{id} in {}", plan.stdout))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", plan.stdout);
}

#[test]
fn guided_merge_reads_alembic_ops_statically() {
    let Some(alembic_bin) = venv_bin("alembic") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    assert!(alembic(&alembic_bin, dir, &["init", "migrations"]).ok);
    for args in [
        &["revision", "-m", "a", "--rev-id", "aaaa00000001"][..],
        &["revision", "-m", "b", "--rev-id", "bbbb00000002"],
        &[
            "revision",
            "-m",
            "c",
            "--head",
            "aaaa00000001",
            "--splice",
            "--rev-id",
            "cccc00000003",
        ],
    ] {
        assert!(alembic(&alembic_bin, dir, args).ok);
    }
    let set_upgrade = |id: &str, body: &str| {
        let versions = dir.join("migrations/versions");
        let file = fs::read_dir(&versions)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(id))
            .unwrap();
        let text = fs::read_to_string(&file).unwrap();
        let text = text.replacen(
            "    \"\"\"Upgrade schema.\"\"\"\n    pass",
            &format!("    \"\"\"Upgrade schema.\"\"\"\n{body}"),
            1,
        );
        fs::write(&file, text).unwrap();
    };
    set_upgrade(
        "bbbb",
        "    op.add_column('users', sa.Column('email', sa.String()))\n    op.execute(sql)",
    );
    set_upgrade(
        "cccc",
        "    op.create_index('ix', 'users', ['name'])\n    with op.batch_alter_table('orders') as b:\n        b.drop_column('x')",
    );
    let y = retort_captured(dir, &home, &["--json", "merge", "heads", "--explain"]);
    assert!(y.ok, "{}", y.stderr);
    let e: serde_json::Value = serde_json::from_str(&y.stdout).unwrap();
    assert_eq!(
        e["branches"][0]["tables"],
        serde_json::json!({"users": ["alter"]})
    );
    assert_eq!(
        e["branches"][1]["tables"],
        serde_json::json!({"orders": ["alter"], "users": ["index"]})
    );
    assert_eq!(e["shared_tables"][0]["table"], "users");
    assert_eq!(e["branches"][0]["unknown"][0][1]["line"], 24);
    assert!(
        e["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("cannot be known"))
    );
}

#[test]
fn check_reports_heads_empty_downgrades_and_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    native_project(dir, "[checks]\nnaming_conventions = true\n");
    write_sql(
        dir,
        "a.sql",
        "a1",
        "",
        "add_users",
        "CREATE TABLE users (id INTEGER);",
        "DROP TABLE users;",
    );
    write_sql(
        dir,
        "b.sql",
        "b2",
        "a1",
        "Add email to users",
        "ALTER TABLE users ADD COLUMN email TEXT;",
        "-- nothing",
    );
    write_sql(
        dir,
        "c.sql",
        "c3",
        "a1",
        "misc fixes",
        "CREATE INDEX ix ON users (id);",
        "DROP INDEX ix;",
    );
    let y = retort_captured(dir, &home, &["--json", "check"]);
    assert_eq!(y.code, Some(1), "{}", y.stderr);
    let report: serde_json::Value = serde_json::from_str(&y.stdout).unwrap();
    let found: Vec<(String, String, Option<String>)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                f["revision"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("single_head".into(), "error".into(), None),
            (
                "empty_downgrade".into(),
                "warning".into(),
                Some("b2".into())
            ),
            ("naming".into(), "hint".into(), Some("c3".into())),
        ]
    );
    assert!(
        report["findings"][0]["suggestion"]
            .as_str()
            .unwrap()
            .starts_with("retort merge b2 c3")
    );
    assert_eq!(report["findings"][1]["line"], 8);
    // --no-naming drops the hint; merging fixes the error; hints and warnings do not fail.
    let text = retort_captured(dir, &home, &["check", "--no-naming"]).stdout;
    assert!(!text.contains("hint["), "{text}");
    assert!(
        retort_captured(
            dir,
            &home,
            &["merge", "heads", "-m", "merge heads", "--rev-id", "m4"]
        )
        .ok
    );
    let y = retort_captured(dir, &home, &["check"]);
    assert_eq!(y.code, Some(0), "{}", y.stdout);
    assert!(
        y.stdout.ends_with("0 error(s), 1 warning(s), 1 hint(s)\n"),
        "{}",
        y.stdout
    );
    // A bad setting is an error that names the file.
    native_project(dir, "[checks]\nnaming_conventions = \"yes\"\n");
    let y = retort_captured(dir, &home, &["check"]);
    assert_eq!(y.code, Some(1));
    assert!(
        y.stdout
            .contains("retort.toml: [checks] naming_conventions must be true or false"),
        "{}",
        y.stdout
    );
}

#[allow(dead_code)]
fn unused(_: PathBuf) {}

#[test]
fn version_locations_and_folders_follow_alembic() {
    let Some(alembic_bin) = venv_bin("alembic") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("alembic");
    let r = tmp.path().join("retort");
    let home = tmp.path().join("home");
    for dir in [&a, &r] {
        fs::create_dir_all(dir).unwrap();
        assert!(alembic(&alembic_bin, dir, &["init", "migrations"]).ok);
        set_option(
            &dir.join("alembic.ini"),
            "alembic",
            "version_locations = %(here)s/v1:%(here)s/v2\nrecursive_version_locations = true\nfile_template = %%(rev)s_%%(slug)s_%%(year)d",
        );
    }
    let steps: &[&[&str]] = &[
        &["revision", "-m", "a", "--rev-id", "aaaa00000001"],
        &[
            "revision",
            "-m",
            "a",
            "--rev-id",
            "aaaa00000001",
            "--version-path",
            "v1",
        ],
        &["revision", "-m", "b", "--rev-id", "bbbb00000002"],
        &[
            "revision",
            "-m",
            "c",
            "--head",
            "base",
            "--rev-id",
            "cccc00000003",
            "--version-path",
            "v2",
            "--branch-label",
            "two",
        ],
        &[
            "revision",
            "-m",
            "d",
            "--head",
            "two@head",
            "--rev-id",
            "dddd00000004",
        ],
        &[
            "revision",
            "-m",
            "x",
            "--head",
            "bbbb00000002",
            "--version-path",
            "migrations/versions",
        ],
        &[
            "merge",
            "heads",
            "-m",
            "merge both",
            "--rev-id",
            "eeee00000005",
        ],
        &[
            "merge",
            "dddd00000004",
            "-m",
            "again",
            "--rev-id",
            "ffff00000006",
            "--splice",
        ],
    ];
    for args in steps {
        let x = alembic(&alembic_bin, &a, args);
        let y = retort_captured(&r, &home, args);
        assert_eq!(y.ok, x.ok, "{args:?}: {} / {}", x.stdout, y.stderr);
        let said_a = format!("{}{}", x.stdout, x.stderr).replace(a.to_str().unwrap(), "<dir>");
        let said_r = format!("{}{}", y.stdout, y.stderr).replace(r.to_str().unwrap(), "<dir>");
        assert_eq!(said_r, said_a, "{args:?}");
    }
    for sub in ["v1", "v2"] {
        let fa = files(&a.join(sub));
        let fr = files(&r.join(sub));
        assert_eq!(
            fa.keys().collect::<Vec<_>>(),
            fr.keys().collect::<Vec<_>>(),
            "{sub}"
        );
        for (name, text) in &fa {
            assert_eq!(normalize(&fr[name]), normalize(text), "{name}");
        }
    }
    let x = alembic(&alembic_bin, &a, &["history"]);
    let y = alembic(&alembic_bin, &r, &["history"]);
    assert!(x.ok && y.ok);
    assert_eq!(y.stdout, x.stdout);
}

#[test]
fn check_on_an_alembic_project_reads_its_settings() {
    let Some(alembic_bin) = venv_bin("alembic") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    assert!(alembic(&alembic_bin, dir, &["init", "migrations"]).ok);
    for args in [
        &["revision", "-m", "add users", "--rev-id", "aaaa00000001"][..],
        &["revision", "-m", "fix stuff", "--rev-id", "bbbb00000002"],
    ] {
        assert!(retort_captured(dir, &home, args).ok);
    }
    // Off by default: nothing to say about names, and `pass` on both sides is no warning.
    let y = retort_captured(dir, &home, &["check"]);
    assert_eq!(y.code, Some(0), "{}", y.stdout);
    assert!(
        y.stdout
            .starts_with("0 error(s), 0 warning(s), 0 hint(s) (naming conventions not checked"),
        "{}",
        y.stdout
    );
    fs::write(
        dir.join("alembic.ini"),
        fs::read_to_string(dir.join("alembic.ini")).unwrap()
            + "\n[retort]\nnaming_conventions = true\n",
    )
    .unwrap();
    // An upgrade without a downgrade.
    let file = dir.join("migrations/versions/aaaa00000001_add_users.py");
    let text = fs::read_to_string(&file).unwrap().replacen(
        "    \"\"\"Upgrade schema.\"\"\"\n    pass",
        "    \"\"\"Upgrade schema.\"\"\"\n    op.create_table('users')",
        1,
    );
    fs::write(&file, text).unwrap();
    let y = retort_captured(dir, &home, &["--json", "check"]);
    assert_eq!(y.code, Some(0), "{}", y.stdout);
    let report: serde_json::Value = serde_json::from_str(&y.stdout).unwrap();
    assert_eq!(report["naming_conventions"], true);
    let found: Vec<(&str, &str, i64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap(),
                f["revision"].as_str().unwrap(),
                f["line"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("empty_downgrade", "aaaa00000001", 26),
            ("naming", "bbbb00000002", 0)
        ]
    );
}

#[test]
fn check_with_round_trip_reports_a_downgrade_that_leaves_a_table_behind() {
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = project.path();
    native_project(dir, "");
    write_sql(
        dir,
        "a1_one.sql",
        "a1",
        "",
        "create users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);",
        "DROP TABLE users;",
    );
    let good = retort_captured(dir, home.path(), &["check", "--no-naming", "--round-trip"]);
    assert_eq!(good.code, Some(0), "{}{}", good.stdout, good.stderr);
    write_sql(
        dir,
        "b2_two.sql",
        "b2",
        "a1",
        "create orders",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);",
        "SELECT 1;",
    );
    let bad = retort_captured(dir, home.path(), &["check", "--no-naming", "--round-trip"]);
    assert_eq!(bad.code, Some(1), "{}{}", bad.stdout, bad.stderr);
    assert!(
        bad.stdout.contains("error[round_trip]: b2 ")
            && bad.stdout.contains("orders")
            && bad.stdout.contains("b2_two.sql"),
        "{}",
        bad.stdout
    );
    // The project's own database was not touched.
    assert!(!dir.join("app.db").exists());
}
