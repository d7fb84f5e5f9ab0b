//! The real desktop window under Xvfb, driven through WebDriver (tauri-driver when it is on
//! PATH, else WebKitWebDriver directly, which is what tauri-driver starts): the app starts
//! on the demo project, shows its graph, a connection test round-trips through IPC, and an
//! upgrade runs from the graph with its plan and per-step progress; the window's size and
//! position come back after a restart; the real GTK file chooser (driven with xdotool) opens
//! a project folder.
//! Needs Xvfb and WebKitWebDriver (packages xvfb, webkit2gtk-driver); without them the test
//! is skipped, unless RETORT_REQUIRE_ALEMBIC=1 (scripts/test.sh) makes that a failure.

use retort_api::types::{ConnectionInput, Driver, PasswordChoice};
use retort_api::{AppCore, AppMode, NoDialogs};
use retort_core::credentials::Credentials;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn required() -> bool {
    std::env::var("RETORT_REQUIRE_ALEMBIC").as_deref() == Ok("1")
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One W3C WebDriver request.
fn wd(port: u16, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    serde_json::from_str(&payload).unwrap_or(Value::Null)
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<Value>) -> Value {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// An Xvfb display on a number no other server holds.
struct Display {
    name: String,
    _x: Killed,
}

fn start_display(xvfb: &Path) -> Display {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = 100 + (std::process::id() * 7 + NEXT.fetch_add(1, Ordering::SeqCst)) % 800;
        if Path::new(&format!("/tmp/.X{n}-lock")).exists()
            || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        {
            continue;
        }
        let name = format!(":{n}");
        let x = Killed(
            Command::new(xvfb)
                .args([
                    name.as_str(),
                    "-screen",
                    "0",
                    "1400x900x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let start = Instant::now();
        while !socket.exists() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        return Display { name, _x: x };
    }
}

/// The app's own folders, all inside the test's directory: its store (`RETORT_HOME`) and what
/// GTK, WebKit and the window-state plugin use (`HOME`, `XDG_*`; the plugin writes
/// `$XDG_CONFIG_HOME/dev.retort.app/.window-state.json`).
fn app_env(work: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("RETORT_HOME", work.join("home")),
        ("HOME", work.join("user")),
        ("XDG_CONFIG_HOME", work.join("user/.config")),
        ("XDG_DATA_HOME", work.join("user/.local/share")),
        ("XDG_CACHE_HOME", work.join("user/.cache")),
    ]
}

/// A WebDriver server for the app (tauri-driver when it is on PATH, else WebKitWebDriver);
/// the app it starts inherits `env`.
struct WebDriver {
    port: u16,
    tauri_driver: bool,
    _child: Killed,
}

fn start_driver(webkit_driver: &Path, display: &Display, env: &[(&str, PathBuf)]) -> WebDriver {
    let port = free_port();
    let tauri_driver = which("tauri-driver");
    let mut command = match &tauri_driver {
        Some(path) => {
            let mut c = Command::new(path);
            c.args([
                "--port",
                &port.to_string(),
                "--native-port",
                &free_port().to_string(),
            ]);
            c
        }
        None => {
            let mut c = Command::new(webkit_driver);
            c.arg(format!("--port={port}"))
                .env("TAURI_WEBVIEW_AUTOMATION", "true");
            c
        }
    };
    command
        .env("DISPLAY", &display.name)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        std::fs::create_dir_all(v).unwrap();
        command.env(k, v);
    }
    WebDriver {
        port,
        tauri_driver: tauri_driver.is_some(),
        _child: Killed(command.spawn().unwrap()),
    }
}

impl WebDriver {
    /// Starts the app (with `args`) in a new session; returns the session's path.
    fn session(&self, args: &[&Path]) -> String {
        let app = PathBuf::from(env!("CARGO_BIN_EXE_retort-app"));
        let capabilities = if self.tauri_driver {
            json!({"tauri:options": {"application": app, "args": args}})
        } else {
            json!({"webkitgtk:browserOptions": {"binary": app, "args": args}})
        };
        let port = self.port;
        let session = wait_for("the WebDriver session", Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", port)).ok()?;
            let r = wd(
                port,
                "POST",
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": capabilities}})),
            );
            r["value"]["sessionId"].as_str().map(|s| json!(s))
        });
        format!("/session/{}", session.as_str().unwrap())
    }

    fn js(&self, session: &str, script: &str) -> Value {
        wd(
            self.port,
            "POST",
            &format!("{session}/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )["value"]
            .clone()
    }
}

/// Xvfb and WebKitWebDriver, or a skip (a failure under RETORT_REQUIRE_ALEMBIC=1).
fn desktop_tools() -> Option<(PathBuf, PathBuf)> {
    match (which("Xvfb"), which("WebKitWebDriver")) {
        (Some(x), Some(w)) => Some((x, w)),
        _ => {
            assert!(
                !required(),
                "Xvfb and WebKitWebDriver are required (RETORT_REQUIRE_ALEMBIC=1)"
            );
            eprintln!("Xvfb or WebKitWebDriver not found: skipped");
            None
        }
    }
}

/// A copy of the demo project in `dir`.
fn copy_demo(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("versions")).unwrap();
    std::fs::copy(root.join("demo/retort.toml"), dir.join("retort.toml")).unwrap();
    for f in std::fs::read_dir(root.join("demo/versions")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join("versions").join(f.file_name().unwrap())).unwrap();
    }
}

#[test]
fn the_window_comes_back_with_the_size_and_position_it_was_left_with() {
    let Some((xvfb, webkit_driver)) = desktop_tools() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let env = app_env(work.path());
    let state_file = work
        .path()
        .join("user/.config/dev.retort.app/.window-state.json");
    let display = start_display(&xvfb);
    let driver = start_driver(&webkit_driver, &display, &env);
    let port = driver.port;
    let rect = |s: &str| wd(port, "GET", &format!("{s}/window/rect"), None)["value"].clone();
    let ready = |s: &str| {
        wait_for("the workspace screen", Duration::from_secs(60), || {
            driver
                .js(
                    s,
                    "return !!document.querySelector('[data-testid=\"choose-project\"]');",
                )
                .as_bool()
                .filter(|b| *b)
                .map(Value::from)
        })
    };

    // First start: nothing saved, the size of tauri.conf.json.
    let s = driver.session(&[]);
    ready(&s);
    let first = rect(&s);
    assert_eq!(
        (first["width"].as_i64(), first["height"].as_i64()),
        (Some(1280), Some(820)),
        "{first}"
    );
    // Moved and resized through WebDriver (the window rect endpoint).
    let wanted = json!({"x": 60, "y": 40, "width": 1010, "height": 640});
    let set = wd(
        port,
        "POST",
        &format!("{s}/window/rect"),
        Some(wanted.clone()),
    );
    assert!(set["value"].is_object(), "{set}");
    wait_for("the new window rect", Duration::from_secs(10), || {
        let r = rect(&s);
        (r["width"] == wanted["width"] && r["height"] == wanted["height"]).then_some(r)
    });
    // The plugin's file, written a moment after the last move or resize.
    let saved = wait_for("the saved window state", Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&state_file).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        (v["main"]["width"] == json!(1010) && v["main"]["height"] == json!(640)).then_some(v)
    });
    assert_eq!(
        (saved["main"]["x"].as_i64(), saved["main"]["y"].as_i64()),
        (Some(60), Some(40)),
        "{saved}"
    );
    // Ending the WebDriver session ends the app at once (the process is killed within 0.2 s,
    // so the plugin's own save on a clean exit never runs: the save after the resize is what
    // keeps the state). It is started again with the same folders.
    wd(port, "DELETE", &s, None);
    let s = driver.session(&[]);
    ready(&s);
    let again = rect(&s);
    assert_eq!(
        (
            again["x"].as_i64(),
            again["y"].as_i64(),
            again["width"].as_i64(),
            again["height"].as_i64()
        ),
        (Some(60), Some(40), Some(1010), Some(640)),
        "{again}"
    );
    wd(port, "DELETE", &s, None);
}

/// `xdotool` on the test's display.
fn xdotool(display: &Display, args: &[&str]) -> String {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", &display.name)
        .output()
        .expect("xdotool");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn open_project_folder_through_the_real_gtk_file_chooser() {
    let Some((xvfb, webkit_driver)) = desktop_tools() else {
        return;
    };
    if which("xdotool").is_none() {
        assert!(
            !required(),
            "xdotool is required (RETORT_REQUIRE_ALEMBIC=1)"
        );
        eprintln!("xdotool not found: skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let demo = work.path().join("picked-demo");
    copy_demo(&demo);
    let display = start_display(&xvfb);
    // No RETORT_PICK_* variable: the app shows its native dialog.
    let driver = start_driver(&webkit_driver, &display, &app_env(work.path()));
    let s = driver.session(&[]);
    wait_for("the workspace screen", Duration::from_secs(60), || {
        driver
            .js(&s, "const b = document.querySelector('[data-testid=\"choose-project\"]'); if (!b) return false; b.click(); return true;")
            .as_bool()
            .filter(|b| *b)
            .map(Value::from)
    });
    // The GTK file chooser, found by its title.
    let dialog = wait_for("the file chooser", Duration::from_secs(30), || {
        let ids = xdotool(
            &display,
            &["search", "--name", "Open a migration project folder"],
        );
        ids.lines().last().map(|id| json!(id))
    });
    let dialog = dialog.as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));
    // No window manager under Xvfb: focus the dialog, then type as a user would (XTEST).
    // The chooser starts in "Recent", where a typed path selects nothing: Alt+Home goes to
    // the home folder first. Ctrl+L opens the location field; the path's inline completion
    // (its only subfolder, selected) is deleted before Enter accepts the folder.
    xdotool(&display, &["windowfocus", "--sync", &dialog]);
    xdotool(&display, &["key", "alt+Home"]);
    std::thread::sleep(Duration::from_millis(700));
    xdotool(&display, &["key", "ctrl+l"]);
    std::thread::sleep(Duration::from_millis(300));
    xdotool(
        &display,
        &["type", "--delay", "20", &demo.display().to_string()],
    );
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&display, &["key", "Delete"]);
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&display, &["key", "Return"]);
    let card = wait_for("the opened workspace", Duration::from_secs(30), || {
        let t = driver.js(
            &s,
            "const c = document.querySelector('[data-testid=\"workspace-card\"]'); return c ? c.innerText : null;",
        );
        t.as_str().map(Value::from)
    });
    let card = card.as_str().unwrap();
    assert!(card.contains(&demo.display().to_string()), "{card}");
    assert!(card.contains("Native SQL project"), "{card}");
    // The chooser is gone (GTK hides and destroys it a moment after its answer).
    wait_for("the file chooser to close", Duration::from_secs(10), || {
        xdotool(
            &display,
            &[
                "search",
                "--onlyvisible",
                "--name",
                "Open a migration project folder",
            ],
        )
        .is_empty()
        .then_some(Value::Null)
    });
    wd(driver.port, "DELETE", &s, None);
}

#[test]
fn the_desktop_window_shows_the_demo_graph_and_tests_a_connection_over_ipc() {
    let Some((xvfb, webkit_driver)) = desktop_tools() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let demo = work.path().join("demo");
    copy_demo(&demo);
    // A saved SQLite connection in the app's store, bound to the demo workspace.
    let staging = work.path().join("staging.db");
    std::fs::write(&staging, b"").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let core = AppCore::new(
            AppMode::Desktop,
            home.join("retort.db"),
            Credentials::with_stores(None, None),
            Arc::new(NoDialogs),
        );
        retort_api::commands::open_workspace(&core, demo.display().to_string())
            .await
            .unwrap();
        retort_api::commands::save_connection(
            &core,
            ConnectionInput {
                original_name: None,
                name: "staging".into(),
                driver: Driver::Sqlite,
                host: None,
                port: None,
                database: None,
                user: None,
                tls_mode: None,
                tls_ca_file: None,
                sqlite_path: Some(staging.display().to_string()),
                environment: "staging".into(),
                color: None,
                password_choice: PasswordChoice::None,
                password: None,
                password_command: None,
                password_lifetime: None,
                ssh_hops: Vec::new(),
                ssh_identity: None,
                bind: true,
            },
        )
        .await
        .unwrap();
    });

    let display = start_display(&xvfb);
    let driver = start_driver(&webkit_driver, &display, &app_env(work.path()));
    let port = driver.port;
    let s = driver.session(&[&demo]);
    let find = |css: &str| -> Option<String> {
        let r = wd(
            port,
            "POST",
            &format!("{s}/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        r["value"]
            .as_object()?
            .values()
            .next()?
            .as_str()
            .map(str::to_string)
    };

    // The app opened the demo project given on its command line, on the graph.
    wait_for("the demo graph", Duration::from_secs(60), || {
        find(".row[data-id=\"a0e7d5c3b861\"]").map(Value::from)
    });
    wait_for("the staging chip", Duration::from_secs(30), || {
        find(".legend [data-chip=\"staging\"]").map(Value::from)
    });
    let shots = root.join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let save_shot = |name: &str| {
        let png = wd(port, "GET", &format!("{s}/screenshot"), None);
        if let Some(b64) = png["value"].as_str() {
            std::fs::write(shots.join(name), decode_base64(b64)).unwrap();
        }
    };
    save_shot("desktop-graph.png");

    // IPC straight from the page: the desktop transport, not HTTP.
    let info = wd(
        port,
        "POST",
        &format!("{s}/execute/async"),
        Some(
            json!({"script": "const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke('app_info', {}).then(done, (e) => done({error: e}));", "args": []}),
        ),
    );
    assert_eq!(info["value"]["mode"], "desktop", "{info}");

    // The UI's Test button: a connection test through IPC, its card on screen.
    let tab = find("#tab-connections").expect("the Connections tab");
    wd(
        port,
        "POST",
        &format!("{s}/element/{tab}/click"),
        Some(json!({})),
    );
    wait_for("the Test button", Duration::from_secs(20), || {
        find("[data-testid=\"test-staging\"]").map(Value::from)
    });
    // Clicked in the page: the list may re-render between finding and clicking.
    wd(
        port,
        "POST",
        &format!("{s}/execute/sync"),
        Some(
            json!({"script": "document.querySelector('[data-testid=\"test-staging\"]').click(); return true;", "args": []}),
        ),
    );
    // The card's text, read in the page (WebKit's element text can lag a re-render).
    let card_text = || {
        let r = wd(
            port,
            "POST",
            &format!("{s}/execute/sync"),
            Some(
                json!({"script": "const c = document.querySelector('[data-testid=\"test-result\"]'); return c ? c.innerText : '';", "args": []}),
            ),
        );
        r["value"].as_str().unwrap_or("").to_string()
    };
    let start = Instant::now();
    let mut clicked_again = false;
    let card = loop {
        let t = card_text();
        if t.contains("connection works") || start.elapsed() > Duration::from_secs(30) {
            break t;
        }
        // A list re-rendered by an event can swallow the first click: click once more.
        if t.is_empty() && !clicked_again && start.elapsed() > Duration::from_secs(5) {
            clicked_again = true;
            wd(
                port,
                "POST",
                &format!("{s}/execute/sync"),
                Some(
                    json!({"script": "document.querySelector('[data-testid=\"test-staging\"]').click(); return true;", "args": []}),
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    save_shot("desktop-connection-test.png");
    assert!(card.contains("staging: connection works"), "{card}");
    assert!(card.contains("no version table yet"), "{card}");

    // An upgrade through the window: the plan, then the run with per-step progress.
    let js = |script: &str| -> Value {
        wd(
            port,
            "POST",
            &format!("{s}/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )["value"]
            .clone()
    };
    js("document.querySelector('#tab-graph').click(); return true;");
    wait_for("the head's row", Duration::from_secs(20), || {
        find(".row[data-id=\"a0e7d5c3b861\"]").map(Value::from)
    });
    js("document.querySelector('.row[data-id=\"a0e7d5c3b861\"]').click(); return true;");
    wait_for("Upgrade to here", Duration::from_secs(20), || {
        let clicked = js(
            "const b = document.querySelector('[data-testid=\"detail\"] [data-testid=\"node-upgrade\"]'); if (!b) return null; b.click(); return true;",
        );
        clicked.as_bool().map(Value::from)
    });
    let planned = wait_for("the plan", Duration::from_secs(60), || {
        let n = js(
            "const d = document.querySelector('[data-testid=\"run-dialog\"]'); return d ? d.querySelectorAll('[data-testid=\"plan-steps\"] > li').length : 0;",
        );
        (n.as_u64().unwrap_or(0) > 0).then_some(n)
    });
    // a0e7d5c3b861 (the audit branch) needs 9c6a1f4b2e90 and, through depends_on,
    // 1a0c5e2b7d01, 2b7e91c4a3f2 and 3c44d0e8b915: five steps from an empty database.
    assert_eq!(planned, json!(5));
    assert_eq!(
        js("return document.querySelector('[data-testid=\"run-connection\"]').value;"),
        json!("staging")
    );
    save_shot("desktop-upgrade-plan.png");
    js("document.querySelector('[data-testid=\"run-start\"]').click(); return true;");
    let outcome = wait_for("the run's outcome", Duration::from_secs(120), || {
        let o = js(
            "const o = document.querySelector('[data-testid=\"run-outcome\"]'); return o ? o.dataset.outcome : null;",
        );
        o.as_str().map(Value::from)
    });
    js("document.querySelector('[data-testid=\"run-outcome\"]').scrollIntoView(); return true;");
    std::thread::sleep(Duration::from_millis(500));
    save_shot("desktop-upgrade-done.png");
    let steps = js("return document.querySelector('[data-testid=\"run-steps\"]').innerText;");
    assert_eq!(outcome, json!("completed"), "{steps}");
    let steps = steps.as_str().unwrap_or("");
    assert!(
        steps.contains("a0e7d5c3b861") && steps.contains("ms"),
        "every step with its duration: {steps}"
    );
    // The database itself is at the head.
    let rows = std::process::Command::new("sqlite3")
        .arg(&staging)
        .arg("SELECT version_num FROM alembic_version")
        .output()
        .expect("sqlite3 (installed by scripts/lib/setup.sh)");
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "a0e7d5c3b861");
    wd(port, "DELETE", &s, None);
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !b"=\r\n".contains(c)).collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| u32::from(value(c))).collect();
        let n = v.iter().fold(0u32, |acc, x| (acc << 6) | x) << (6 * (4 - v.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..v.len().saturating_sub(1)]);
    }
    out
}
