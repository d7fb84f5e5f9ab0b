//! The harness shared by the browser end-to-end tests (`support::ui`): the tools they need
//! or why they are skipped, a copy of the demo, the CLI, and the node script in Chromium.

use super::{required, retort, root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the browser test needs (the Chromium to use), or why it is skipped.
pub fn tools() -> Option<PathBuf> {
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    let missing = if !chromium.exists() {
        Some("chromium")
    } else if !root().join("ui/node_modules/playwright-core").exists() {
        Some("ui/node_modules (npm --prefix ui ci)")
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node")
    } else {
        None
    };
    if let Some(what) = missing {
        assert!(!required(), "{what} is required (RETORT_REQUIRE_ALEMBIC=1)");
        eprintln!("{what} not found: skipped");
        return None;
    }
    Some(chromium)
}

/// demo/retort.toml and demo/versions/ copied to `to`.
pub fn copy_demo(to: &Path) {
    std::fs::create_dir_all(to.join("versions")).unwrap();
    std::fs::copy(root().join("demo/retort.toml"), to.join("retort.toml")).unwrap();
    for f in std::fs::read_dir(root().join("demo/versions")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, to.join("versions").join(f.file_name().unwrap())).unwrap();
    }
}

/// `retort -c project args…` in the store `home`, which must succeed; its stdout.
pub fn run_retort(home: &Path, project: &Path, args: &[&str]) -> String {
    succeed(
        Command::new(retort()).env("RETORT_HOME", home),
        project,
        args,
    )
}

/// `retort -c project args…` in the inherited (default) store, which must succeed; its stdout.
pub fn run_retort_default_home(project: &Path, args: &[&str]) -> String {
    succeed(&mut Command::new(retort()), project, args)
}

fn succeed(cmd: &mut Command, project: &Path, args: &[&str]) -> String {
    let out = cmd.arg("-c").arg(project).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "retort {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the scripts save their screenshots.
pub fn screenshots() -> PathBuf {
    root().join("target/screenshots")
}

/// `node ui/e2e/<script>` from ui/, with RETORT_BIN and CHROMIUM set; the test adds its own
/// environment and runs it with [`assert_browser_passed`].
pub fn browser_script(script: &str, chromium: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(root().join("ui/e2e").join(script))
        .current_dir(root().join("ui"))
        .env("RETORT_BIN", retort())
        .env("CHROMIUM", chromium);
    cmd
}

/// Runs the script (its output goes to the test's) and fails the test if it failed.
pub fn assert_browser_passed(cmd: &mut Command) {
    let status = cmd.status().unwrap();
    assert!(
        status.success(),
        "the browser test failed (see its output above)"
    );
}

/// Each `<name>.png` is in `screenshots`.
pub fn assert_screenshots(screenshots: &Path, names: &[&str]) {
    for name in names {
        assert!(
            screenshots.join(format!("{name}.png")).exists(),
            "{name}.png"
        );
    }
}
