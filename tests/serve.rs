//! `retort serve` opens the browser without the session's token in any process's argv
//! (which every local user can read): the browser gets a file only the user can read,
//! which redirects with the token, and the file goes when the server stops.

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{mode, retort};

#[test]
fn the_browser_gets_a_private_page_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("run");
    fs::create_dir(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    // The fake browser records its argv and the page it was given, as the browser sees it.
    let argv = dir.path().join("argv");
    let browser = dir.path().join("browser");
    fs::write(
        &browser,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" > '{argv}.tmp'\nmv '{argv}.tmp' '{argv}'\n",
            argv = argv.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&browser, fs::Permissions::from_mode(0o755)).unwrap();

    let mut serve = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(retort())
        .args(["serve", "--port", "0"])
        .env("RETORT_HOME", dir.path().join("home"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("BROWSER", &browser)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(serve.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("Retort is served at ")
        .unwrap_or_else(|| panic!("no URL printed: {line}"))
        .to_string();
    let token = url.split_once("token=").unwrap().1.to_string();
    assert!(token.len() >= 16, "{url}");

    // Wait for the browser to be started (a condition, not a duration: the bound only
    // stops a broken build from hanging the suite).
    let started = Instant::now();
    while !argv.exists() {
        assert!(
            serve.try_wait().unwrap().is_none(),
            "retort serve exited before opening a browser"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no browser was started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let args = fs::read_to_string(&argv).unwrap();
    assert!(
        !args.contains(&token),
        "the token is in the browser's argv: {args}"
    );
    let page = args
        .lines()
        .nth(1)
        .and_then(|a| a.strip_prefix("file://"))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("the browser was not given a file: {args}"));
    assert!(page.starts_with(&runtime), "{}", page.display());
    assert_eq!(mode(&page), 0o600, "{}", page.display());
    assert_eq!(mode(page.parent().unwrap()), 0o700);
    let html = fs::read_to_string(&page).unwrap();
    assert!(html.contains(&url.replace('&', "&amp;")), "{html}");

    // Ctrl-C: the server stops and the page goes.
    // SAFETY: a signal to the child we started.
    assert_eq!(
        unsafe { libc::kill(serve.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    assert!(serve.wait().unwrap().success());
    assert!(!page.exists(), "{} is left behind", page.display());
    assert!(!page.parent().unwrap().exists());
}
