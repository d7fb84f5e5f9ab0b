//! End-to-end tests of the `retort` binary on the bundled demo project and on broken ones.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{native_layout, root};

fn demo() -> PathBuf {
    root().join("demo")
}

/// `retort args…` in the test's own folder.
fn retort(args: &[&str]) -> Output {
    Command::new(support::retort())
        .args(args)
        .output()
        .expect("run retort")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "retort failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A command error: `FAILED: ...` on stdout (as alembic's `util.err` prints it), exit 255.
fn failure(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(255),
        "expected a command failure, got {:?}",
        out.status
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A command error with `--json`: `{"error": ...}` on stderr, exit 255.
fn json_failure(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(255),
        "expected a command failure, got {:?}",
        out.status
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn demo_arg() -> String {
    demo().display().to_string()
}

#[test]
fn demo_heads_and_branches() {
    let d = demo_arg();
    assert_eq!(
        stdout(&retort(&["-c", &d, "heads"])),
        "8b0d3e6f1c58 (pricing, reviews) (head)\na0e7d5c3b861 (audit) (head)\n"
    );
    assert_eq!(
        stdout(&retort(&["-c", &d, "branches"])),
        "3c44d0e8b915 (branchpoint)\n             -> 4d1f6a92c0b7 (reviews)\n             -> 6f29c8d1e7a3 (pricing)\n\n"
    );
}

#[test]
fn demo_history_in_alembic_format_and_with_lanes() {
    let d = demo_arg();
    let history = stdout(&retort(&["-c", &d, "history"]));
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(
        lines[0],
        "7a5be04c9f12 -> 8b0d3e6f1c58 (pricing, reviews) (head), create publishers"
    );
    assert_eq!(
        lines[1],
        "5e83b27f6d4a, 6f29c8d1e7a3 -> 7a5be04c9f12 (pricing, reviews) (mergepoint), merge reviews and pricing"
    );
    assert!(history.contains(
        "9c6a1f4b2e90 (3c44d0e8b915) -> a0e7d5c3b861 (audit) (head), audit book changes\n"
    ));
    assert!(history.ends_with("<base> -> 1a0c5e2b7d01, create authors\n"));
    assert_eq!(lines.len(), 10);

    let graph = stdout(&retort(&["-c", &d, "history", "--graph"]));
    assert!(
        graph.starts_with("◉ 7a5be04c9f12 -> 8b0d3e6f1c58"),
        "{graph}"
    );
    assert!(
        graph.contains("├─╮\n"),
        "a merge splits into two lanes:\n{graph}"
    );
    assert!(
        graph.contains("├─╯\n"),
        "a branch point joins two lanes:\n{graph}"
    );
}

#[test]
fn demo_show_resolves_labels_and_prefixes() {
    let d = demo_arg();
    let show = stdout(&retort(&["-c", &d, "show", "reviews@head"]));
    assert!(
        show.starts_with(
            "Rev: 8b0d3e6f1c58 (head)\nParent: 7a5be04c9f12\nBranch names: pricing, reviews\nPath: "
        ),
        "{show}"
    );
    assert!(
        show.ends_with("8b0d3e6f1c58_create_publishers.sql\n\n    create publishers\n\n"),
        "{show:?}"
    );
    let by_prefix = stdout(&retort(&["-c", &d, "show", "4d1f"]));
    assert!(by_prefix.starts_with("Rev: 4d1f6a92c0b7\n"));
}

#[test]
fn json_outputs_parse() {
    let d = demo_arg();
    let heads: serde_json::Value =
        serde_json::from_str(&stdout(&retort(&["-c", &d, "--json", "heads"]))).unwrap();
    assert_eq!(heads[0]["revision"], "8b0d3e6f1c58");
    assert_eq!(heads[1]["branch_labels"], serde_json::json!(["audit"]));
    let graph: serde_json::Value =
        serde_json::from_str(&stdout(&retort(&["-c", &d, "graph"]))).unwrap();
    assert_eq!(graph["revisions"].as_array().unwrap().len(), 10);
    assert!(
        graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "dependency" && e["to"] == "3c44d0e8b915")
    );
    let dot = stdout(&retort(&["-c", &d, "graph", "--format", "dot"]));
    assert!(
        dot.starts_with("digraph revisions {")
            && dot.contains("\"a0e7d5c3b861\" -> \"3c44d0e8b915\" [style=dashed];")
    );
    let mermaid = stdout(&retort(&["-c", &d, "graph", "--format", "mermaid"]));
    assert!(mermaid.starts_with("flowchart BT\n") && mermaid.contains("-.->"));
}

#[test]
fn errors_are_detailed_and_exit_255() {
    let d = demo_arg();
    let err = failure(&retort(&["-c", &d, "show", "x"]));
    assert_eq!(
        err,
        "FAILED: No such revision or branch 'x'; please ensure at least four characters are present for partial revision identifier matches\n"
    );
    let err = failure(&retort(&["-c", &d, "show", "head"]));
    assert!(
        err.starts_with("FAILED: Multiple head revisions are present for given argument 'head'"),
        "{err}"
    );
    // like alembic, one character is enough when it matches a single id
    assert!(stdout(&retort(&["-c", &d, "show", "9"])).starts_with("Rev: 9c6a1f4b2e90\n"));
    // a prefix is searched within the branch only
    let err = failure(&retort(&["-c", &d, "show", "audit@4d1f"]));
    assert_eq!(err, "FAILED: No such revision or branch '4d1f'\n");
    let err = failure(&retort(&["-c", &d, "show", "audit@4d1f6a92c0b7"]));
    assert_eq!(
        err,
        "FAILED: Revision 4d1f6a92c0b7 is not a member of branch 'audit'\n"
    );
    let err = failure(&retort(&[
        "-c",
        &d,
        "history",
        "-r",
        "4d1f6a92c0b7:6f29c8d1e7a3",
    ]));
    assert!(
        err.contains("does not refer to ancestor/descendant revisions along the same branch"),
        "{err}"
    );
    let err = failure(&retort(&["-c", "/nonexistent/project", "heads"]));
    assert!(err.contains("/nonexistent/project"), "{err}");
    let json_err = json_failure(&retort(&["-c", &d, "--json", "show", "zzzz"]));
    let parsed: serde_json::Value = serde_json::from_str(&json_err).unwrap();
    assert_eq!(parsed["error"], "No such revision or branch 'zzzz'");
}

fn native_project(dir: &Path, files: &[(&str, &str)]) {
    let versions = native_layout(dir, "");
    for (name, text) in files {
        fs::write(versions.join(name), text).unwrap();
    }
}

#[test]
fn broken_projects_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    native_project(
        dir.path(),
        &[
            (
                "a.sql",
                "-- revision: aaaa0001\n-- down_revision:\n\n-- migrate:up\nSELECT 1;\n",
            ),
            (
                "b.sql",
                "-- revision: bbbb0002\n-- down_revision: aaaa0001\n-- colour: blue\n\n-- migrate:up\nSELECT 1;\n",
            ),
        ],
    );
    let err = failure(&retort(&["-c", dir.path().to_str().unwrap(), "heads"]));
    assert!(err.contains("b.sql:3"), "{err}");
    assert!(err.contains("colour"), "{err}");

    let dir = tempfile::tempdir().unwrap();

    native_project(
        dir.path(),
        &[
            (
                "a.sql",
                "-- revision: aaaa0001\n-- down_revision: cccc0003\n\n-- migrate:up\nSELECT 1;\n",
            ),
            (
                "b.sql",
                "-- revision: bbbb0002\n-- down_revision: aaaa0001\n\n-- migrate:up\nSELECT 1;\n",
            ),
            (
                "c.sql",
                "-- revision: cccc0003\n-- down_revision: bbbb0002\n\n-- migrate:up\nSELECT 1;\n",
            ),
        ],
    );
    let err = failure(&retort(&["-c", dir.path().to_str().unwrap(), "heads"]));
    assert_eq!(
        err,
        "FAILED: Cycle is detected in revisions (aaaa0001, bbbb0002, cccc0003)\n"
    );

    let dir = tempfile::tempdir().unwrap();

    native_project(
        dir.path(),
        &[(
            "a.sql",
            "-- revision: aaaa0001\n-- down_revision: missing1\n\n-- migrate:up\nSELECT 1;\n",
        )],
    );
    let err = failure(&retort(&["-c", dir.path().to_str().unwrap(), "history"]));
    assert!(
        err.contains(
            "Revision missing1 referenced from missing1 -> aaaa0001 (head),  is not present"
        ),
        "{err}"
    );
    assert!(err.contains("a.sql"), "{err}");
}

/// Runs retort in `dir` with `envs`; a run still going after a generous bound (a hang, not
/// slowness) is killed and reported as hung. The bound is a safety net, never an assertion.
fn run_bounded(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(support::retort());
    command
        .args(args)
        .current_dir(dir)
        // The journal and store of these runs stay in the test's own folder.
        .env("RETORT_HOME", dir.join(".retort-home"))
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    let child = command.spawn().expect("run retort");
    let pid = child.id() as libc::pid_t;
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(180)) {
        Ok(out) => out.expect("run retort"),
        Err(_) => {
            // SAFETY: `pid` is our child, not yet reaped (its waiter has not returned).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = finished.recv();
            panic!("retort {args:?} hung");
        }
    }
}

const CHAIN: &[(&str, &str)] = &[
    (
        "a.sql",
        "-- revision: aaaa0001\n-- down_revision:\n\n-- migrate:up\nCREATE TABLE t1 (id INTEGER);\n\n-- migrate:down\nDROP TABLE t1;\n",
    ),
    (
        "b.sql",
        "-- revision: aaab0002\n-- down_revision: aaaa0001\n\n-- migrate:up\nCREATE TABLE t2 (id INTEGER);\n\n-- migrate:down\nDROP TABLE t2;\n",
    ),
];

#[test]
fn refused_runs_leave_no_sqlite_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), CHAIN);
    let d = dir.path();
    fs::write(d.join("retort.toml"), "url = \"sqlite:///app.db\"\n").unwrap();
    let db = d.join("app.db");
    for args in [
        &["upgrade", "nope1234"][..],
        &["upgrade", "aaa"],
        &["upgrade", "heads", "--plan"],
        &["downgrade", "-1"],
        &["current"],
        &["stamp", "zzzz9999"],
        &["check-connection"],
    ] {
        run_bounded(d, args, &[]);
        assert!(!db.exists(), "retort {args:?} created {}", db.display());
    }
    // A revision refused when the run is planned (BEGIN in a native revision).
    fs::write(
        d.join("versions/b.sql"),
        "-- revision: aaab0002\n-- down_revision: aaaa0001\n\n-- migrate:up\nBEGIN;\nCREATE TABLE t2 (id INTEGER);\n",
    )
    .unwrap();
    let out = run_bounded(d, &["upgrade", "heads"], &[]);
    let err = failure(&out);
    assert!(err.contains("b.sql"), "{err}");
    assert!(!db.exists(), "a refused upgrade created {}", db.display());
    // A run that really starts creates it, as SQLAlchemy does.
    let out = run_bounded(d, &["upgrade", "aaaa0001"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
}

#[cfg(unix)]
#[test]
fn a_fifo_or_socket_in_versions_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), CHAIN);
    let d = dir.path();
    let fifo = d.join("versions/c.sql");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
    let _socket = std::os::unix::net::UnixListener::bind(d.join("versions/d.sql")).unwrap();
    // A symlink to a regular file is read as the file.
    fs::write(
        d.join("elsewhere.sql"),
        "-- revision: eeee0003\n-- down_revision: aaab0002\n\n-- migrate:up\nSELECT 1;\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(d.join("elsewhere.sql"), d.join("versions/e.sql")).unwrap();
    let out = run_bounded(d, &["heads"], &[]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "eeee0003 (head)\n");
    assert!(
        err.contains(&format!("{}", fifo.display())) && err.contains("not a regular file"),
        "{err}"
    );
    assert!(err.contains("d.sql") && err.contains("socket"), "{err}");
}

/// The path of a Python 3 on PATH (`python3`, else `python`), as it reports it.
fn python3() -> Option<String> {
    ["python3", "python"].iter().find_map(|p| {
        let out = Command::new(p)
            .args([
                "-c",
                "import sys; assert sys.version_info[0] == 3; print(sys.executable)",
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
}

#[test]
fn a_python_revision_that_never_returns_times_out_naming_the_file() {
    let Some(python) = python3() else {
        eprintln!("no Python 3: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\n",
    )
    .unwrap();
    fs::create_dir_all(d.join("migrations/versions")).unwrap();
    fs::write(
        d.join("migrations/versions/a1_first.py"),
        "revision = 'a1a1a1a1'\ndown_revision = None\n",
    )
    .unwrap();
    let stuck = d.join("migrations/versions/b2_stuck.py");
    fs::write(
        &stuck,
        "revision = 'b2' + 'b2b2b2'\ndown_revision = 'a1a1a1a1'\nwhile True:\n    pass\n",
    )
    .unwrap();
    let out = run_bounded(
        d,
        &["heads"],
        &[
            ("RETORT_PYTHON", python.as_str()),
            ("RETORT_PYTHON_TIMEOUT", "2"),
        ],
    );
    let err = failure(&out);
    assert!(err.contains(&stuck.display().to_string()), "{err}");
    assert!(
        err.contains("RETORT_PYTHON_TIMEOUT") && err.contains("2 s"),
        "{err}"
    );
}

#[test]
fn a_bad_url_error_names_where_the_url_came_from() {
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), CHAIN);
    let d = dir.path();
    let out = run_bounded(d, &["current"], &[("DATABASE_URL", "bogus://x/y")]);
    let err = failure(&out);
    assert!(err.contains("DATABASE_URL"), "{err}");

    let out = run_bounded(d, &["current", "--url", "bogus://x/y"], &[]);
    let err = failure(&out);
    assert!(err.contains("--url"), "{err}");

    fs::write(
        d.join("retort.toml"),
        "versions = [\"versions\"]\nurl = \"bogus://x/y\"\n",
    )
    .unwrap();
    let out = run_bounded(d, &["current"], &[]);
    let err = failure(&out);
    assert!(
        err.contains(&format!("{}:2", d.join("retort.toml").display())) && err.contains("url"),
        "{err}"
    );

    let alembic = tempfile::tempdir().unwrap();
    let a = alembic.path();
    fs::create_dir_all(a.join("migrations/versions")).unwrap();
    fs::write(
        a.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\n\nsqlalchemy.url = bogus://x/y\n",
    )
    .unwrap();
    let out = run_bounded(a, &["current"], &[]);
    let err = failure(&out);
    assert!(
        err.contains(&format!("{}:4", a.join("alembic.ini").display()))
            && err.contains("sqlalchemy.url"),
        "{err}"
    );
}

/// A revision whose ids only Python can compute is read by the project's own `.venv` Python,
/// found as a run finds it, without the venv activated and with no Python on PATH.
#[test]
fn computed_revisions_are_read_with_the_projects_venv_python() {
    let Some(python) = python3() else {
        eprintln!("no Python 3: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\n",
    )
    .unwrap();
    fs::create_dir_all(d.join("migrations/versions")).unwrap();
    fs::write(
        d.join("migrations/versions/a1_first.py"),
        "revision = 'a1' + 'a1a1a1'\ndown_revision = None\n",
    )
    .unwrap();
    // The venv's python: a wrapper that runs the machine's Python (a venv's is a symlink).
    let venv_bin = d.join(".venv/bin");
    fs::create_dir_all(&venv_bin).unwrap();
    let wrapper = venv_bin.join("python");
    fs::write(&wrapper, format!("#!/bin/sh\nexec '{python}' \"$@\"\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let empty = tempfile::tempdir().unwrap();
    let path_var = empty.path().display().to_string();
    let out = run_bounded(
        d,
        &["heads"],
        &[("PATH", path_var.as_str()), ("RETORT_PYTHON", "")],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a1a1a1a1 (head)\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the venv there is no Python to read it with: the error names the file.
    fs::remove_file(&wrapper).unwrap();
    let out = run_bounded(
        d,
        &["heads"],
        &[("PATH", path_var.as_str()), ("RETORT_PYTHON", "")],
    );
    let err = failure(&out);
    assert!(err.contains("a1_first.py"), "{err}");
}

/// `history -r -3:`: alembic's argparse refuses a value starting with `-` given as its own
/// argument; Retort takes it as the range, the same as `-r-3:` and `--rev-range=-3:`.
#[test]
fn history_ranges_starting_with_a_dash_are_ranges() {
    let chain: Vec<(String, String)> = (1..=5)
        .map(|n| {
            let down = if n == 1 { String::new() } else { format!("{:04}", n - 1) };
            (
                format!("{n}.sql"),
                format!("-- revision: {n:04}\n-- down_revision: {down}\n-- message: rev {n:04}\n\n-- migrate:up\nSELECT 1;\n\n-- migrate:down\nSELECT 2;\n"),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = chain
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    native_project(dir.path(), &files);
    let d = dir.path();
    let forms = [
        vec!["history", "-r", "-3:"],
        vec!["history", "-r-3:"],
        vec!["history", "--rev-range=-3:"],
        vec!["history", "--rev-range", "-3:"],
    ];
    let expected = "0004 -> 0005 (head), rev 0005\n0003 -> 0004, rev 0004\n0002 -> 0003, rev 0003\n0001 -> 0002, rev 0002\n";
    for args in forms {
        let out = run_bounded(d, &args, &[]);
        assert_eq!(stdout(&out), expected, "{args:?}");
    }
}
