//! The server over real TCP: token, Host and Origin checks, the command list, events.

use super::*;
use retort_api::{AppMode, NoDialogs};
use retort_core::credentials::Credentials;
use std::io::{Read, Write};
use std::net::TcpStream;

struct Running {
    addr: SocketAddr,
    token: String,
    url: String,
    _home: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn start() -> Running {
    let home = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let core = Arc::new(AppCore::new(
        AppMode::Browser,
        home.path().join("retort.db"),
        Credentials::with_stores(None, None),
        Arc::new(NoDialogs),
    ));
    let server = rt
        .block_on(Server::bind(core, &ServeOptions::default()))
        .unwrap();
    let (addr, token, url) = (server.addr, server.token.clone(), server.url());
    rt.spawn(server.run(std::future::pending()));
    Running {
        addr,
        token,
        url,
        _home: home,
        _rt: rt,
    }
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

/// One HTTP/1.1 request; `headers` are extra lines (`Name: value`).
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[String], body: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("host:"))
    {
        text.push_str(&format!("Host: 127.0.0.1:{}\r\n", addr.port()));
    }
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(text.as_bytes()).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Reply {
        status: head[9..12].parse().unwrap(),
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn auth(s: &Running) -> String {
    format!("Cookie: {COOKIE}={}", s.token)
}

fn json() -> String {
    "Content-Type: application/json".into()
}

#[test]
fn the_url_token_becomes_a_cookie_and_every_request_needs_it() {
    let s = start();
    assert!(s.url.starts_with("http://127.0.0.1:"));
    assert!(s.url.contains(&format!("?token={}", s.token)));
    assert_eq!(s.token.len(), 64);

    // No token: refused, for the page and for the API.
    let r = request(s.addr, "GET", "/", &[], "");
    assert_eq!(r.status, 401);
    let r = request(s.addr, "POST", "/api/invoke/app_info", &[json()], "{}");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("\"kind\""), "{}", r.body);
    // A wrong token: refused.
    let r = request(s.addr, "GET", "/?token=0123", &[], "");
    assert_eq!(r.status, 401);
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/app_info",
        &[
            json(),
            format!("{COOKIE}: x"),
            format!("Cookie: {COOKIE}=abc"),
        ],
        "{}",
    );
    assert_eq!(r.status, 401);

    // The URL's token: a cookie and a redirect that drops it from the address bar.
    let r = request(s.addr, "GET", &format!("/?token={}", s.token), &[], "");
    assert_eq!(r.status, 303);
    assert!(r.headers.contains("location: /\r\n") || r.headers.ends_with("location: /"));
    assert!(
        r.headers
            .contains(&format!("set-cookie: {COOKIE}={}", s.token))
    );
    assert!(r.headers.contains("httponly") && r.headers.contains("samesite=strict"));

    // With the cookie: the page, with its CSP.
    let r = request(s.addr, "GET", "/", &[auth(&s)], "");
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("<html") || r.body.contains("<!doctype"),
        "{}",
        r.body
    );
    assert!(
        r.headers
            .contains("content-security-policy: default-src 'self'")
    );
    // With the header instead.
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/app_info",
        &[json(), format!("X-Retort-Token: {}", s.token)],
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"mode\":\"browser\""), "{}", r.body);
}

#[test]
fn foreign_hosts_and_origins_are_refused() {
    let s = start();
    let port = s.addr.port();
    // DNS rebinding: a page at evil.example resolving to 127.0.0.1 sends its own Host.
    for host in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        "127.0.0.1:1".to_string(),
    ] {
        let r = request(
            s.addr,
            "POST",
            "/api/invoke/app_info",
            &[json(), auth(&s), format!("Host: {host}")],
            "{}",
        );
        assert_eq!(r.status, 403, "Host {host}");
    }
    // Other loopback names of the same server are fine.
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/app_info",
        &[json(), auth(&s), format!("Host: localhost:{port}")],
        "{}",
    );
    assert_eq!(r.status, 200);
    // A cross-site request, even with the cookie: refused.
    for origin in [
        "http://evil.example".to_string(),
        format!("http://127.0.0.1:{}", port + 1),
        "null".to_string(),
    ] {
        let r = request(
            s.addr,
            "POST",
            "/api/invoke/app_info",
            &[json(), auth(&s), format!("Origin: {origin}")],
            "{}",
        );
        assert_eq!(r.status, 403, "Origin {origin}");
    }
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/app_info",
        &[json(), auth(&s), format!("Origin: http://127.0.0.1:{port}")],
        "{}",
    );
    assert_eq!(r.status, 200);
    // A form post (not JSON) is refused.
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/app_info",
        &[auth(&s), "Content-Type: text/plain".into()],
        "{}",
    );
    assert_eq!(r.status, 415);
}

#[test]
fn a_non_loopback_address_needs_to_be_asked_for() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let core = Arc::new(AppCore::new(
        AppMode::Browser,
        home.path().join("retort.db"),
        Credentials::with_stores(None, None),
        Arc::new(NoDialogs),
    ));
    let options = ServeOptions {
        host: "0.0.0.0".parse().unwrap(),
        ..ServeOptions::default()
    };
    match rt.block_on(Server::bind(core, &options)) {
        Err(ServeError::NotLoopback(_)) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("bound 0.0.0.0 without --allow-remote"),
    }
}

/// The HTTP transport offers exactly the command list, each under its name.
#[test]
fn the_http_transport_exposes_every_command_of_the_list() {
    let s = start();
    let r = request(s.addr, "GET", "/api/commands", &[auth(&s)], "");
    let served: Vec<String> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(served, retort_api::COMMAND_NAMES);
    for name in retort_api::COMMAND_NAMES {
        let r = request(
            s.addr,
            "POST",
            &format!("/api/invoke/{name}"),
            &[json(), auth(&s)],
            "{}",
        );
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            v["status"] == "ok" || v["status"] == "error",
            "{name}: {}",
            r.body
        );
    }
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/nope",
        &[json(), auth(&s)],
        "{}",
    );
    assert_eq!(r.status, 404);
    let e: ApiError = serde_json::from_str(&r.body).unwrap();
    assert_eq!(e.kind, ErrorKind::UnknownCommand);
    // A command's error: the typed error in the Result envelope.
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/graph_layout",
        &[json(), auth(&s)],
        "{}",
    );
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "error");
    let e: ApiError = serde_json::from_value(v["error"].clone()).unwrap();
    assert_eq!(e.kind, ErrorKind::NoWorkspace);
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/app_info",
        &[json(), auth(&s)],
        "{}",
    );
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["data"]["mode"], "browser");
}

#[test]
fn events_arrive_as_server_sent_events() {
    let s = start();
    let mut stream = TcpStream::connect(s.addr).unwrap();
    let text = format!(
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{}\r\n\r\n",
        s.addr.port(),
        auth(&s)
    );
    stream.write_all(text.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    // The stream is open once the headers came; then make an event happen.
    while !seen.contains("\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        seen.to_ascii_lowercase().contains("text/event-stream"),
        "{seen}"
    );
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("versions")).unwrap();
    std::fs::write(
        project.path().join("retort.toml"),
        "versions = [\"versions\"]\n",
    )
    .unwrap();
    let body = serde_json::json!({ "path": project.path().display().to_string() }).to_string();
    let r = request(
        s.addr,
        "POST",
        "/api/invoke/open_workspace",
        &[json(), auth(&s)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    while !seen.contains("workspaceOpened") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("event: retort-event"), "{seen}");
}
