//! `retort serve`: the desktop app's UI and commands in a browser.
//!
//! An axum server on 127.0.0.1 (a random free port unless `--port`): the UI's assets are
//! embedded in the binary, commands are `POST /api/invoke/{command}` (the same command list
//! and JSON as the app's IPC, see `retort_api::with_commands!`), and events come as
//! server-sent events on `GET /api/events`.
//!
//! A command answers 200 with `{"status": "ok", "data"}` or `{"status": "error", "error":
//! ApiError}` (the bindings' `Result`); transport failures (token, Host, Origin, an unknown
//! command, arguments that are not JSON) are 4xx with an `ApiError` body.
//!
//! Every request must carry the random token printed in the URL: `?token=` once (the server
//! answers with an HttpOnly, SameSite=Strict cookie and a redirect that drops it from the
//! address bar), then the cookie, or an `X-Retort-Token` header. The Host header must name
//! the loopback address the server listens on (against DNS rebinding) and an Origin header,
//! when sent, must be the server's own (against cross-site requests). The server binds a
//! non-loopback address only when asked explicitly.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use retort_api::{ApiError, AppCore, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

#[derive(rust_embed::RustEmbed)]
#[folder = "../../ui/dist"]
struct Assets;

pub const COOKIE: &str = "retort_token";
pub const TOKEN_HEADER: &str = "x-retort-token";

/// The UI page's Content-Security-Policy: only the server's own scripts, styles, images and
/// requests; no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "{0} is not a loopback address: the server would be reachable from other machines. Pass --allow-remote to do that on purpose"
    )]
    NotLoopback(IpAddr),
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error("the server stopped: {0}")]
    Serve(String),
    #[error("cannot make a random token: {0}")]
    Random(String),
}

/// Where to listen.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub host: IpAddr,
    /// 0: a random free port.
    pub port: u16,
    /// Allow a non-loopback `host`.
    pub allow_remote: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            allow_remote: false,
        }
    }
}

/// What requests must show to be served.
#[derive(Debug, Clone)]
pub struct Guard {
    pub token: String,
    /// Host header values accepted (`127.0.0.1:PORT`, `localhost:PORT`, …); empty: any
    /// (only with `allow_remote`, where the token alone guards).
    pub hosts: Vec<String>,
    /// Origin header values accepted (`http://` + each host).
    pub origins: Vec<String>,
}

impl Guard {
    /// The guard for a server listening on `addr`.
    pub fn new(token: String, addr: SocketAddr, allow_remote: bool) -> Self {
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        let own = match addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]:{port}"),
            IpAddr::V4(ip) => format!("{ip}:{port}"),
        };
        if !hosts.contains(&own) {
            hosts.push(own);
        }
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Self {
            token,
            hosts: if allow_remote { Vec::new() } else { hosts },
            origins,
        }
    }
}

/// 32 random bytes as hex.
pub fn random_token() -> Result<String, ServeError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ServeError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[derive(Clone)]
struct AppState {
    core: Arc<AppCore>,
    guard: Arc<Guard>,
}

/// The routes, behind the guard.
pub fn router(core: Arc<AppCore>, guard: Guard) -> Router {
    let state = AppState {
        core,
        guard: Arc::new(guard),
    };
    Router::new()
        .route("/api/invoke/{command}", post(invoke))
        .route("/api/commands", get(commands))
        .route("/api/events", get(events))
        .fallback(get(asset))
        .layer(middleware::from_fn_with_state(state.clone(), guard_layer))
        .with_state(state)
}

fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v.to_string())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let error = ApiError::new(ErrorKind::InvalidInput, message)
        .with_hint("open the URL `retort serve` printed (it carries the token)");
    (status, Json(error)).into_response()
}

async fn guard_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let guard = &state.guard;
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !guard.hosts.is_empty() && !guard.hosts.iter().any(|h| h == host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "this server answers only to its own address (Host header refused)",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let own = format!("http://{host}");
        let allowed = if guard.hosts.is_empty() {
            origin == own
        } else {
            guard.origins.iter().any(|o| o == origin)
        };
        if !allowed {
            return refuse(
                StatusCode::FORBIDDEN,
                "cross-site request refused (Origin header)",
            );
        }
    }
    let token = guard.token.as_bytes();
    let matches =
        |t: Option<String>| t.is_some_and(|t| equal_in_constant_time(t.as_bytes(), token));
    // The URL's token, once: set the cookie and drop the token from the address bar.
    if request.method() == Method::GET && matches(query_token(request.uri().query())) {
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            guard.token
        );
        return Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, request.uri().path())
            .header(header::SET_COOKIE, cookie)
            .header(header::REFERRER_POLICY, "no-referrer")
            .body(Body::empty())
            .expect("a valid response");
    }
    let header_token = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !matches(cookie_token(headers)) && !matches(header_token) {
        return refuse(StatusCode::UNAUTHORIZED, "a valid token is required");
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn invoke(
    State(state): State<AppState>,
    Path(command): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        let e = ApiError::new(
            ErrorKind::BadArguments,
            "send the arguments as application/json",
        );
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(e)).into_response();
    }
    let args: serde_json::Value = if body.is_empty() {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                let e = ApiError::bad_arguments(&command, &e);
                return (StatusCode::BAD_REQUEST, Json(e)).into_response();
            }
        }
    };
    // A command's own failure is an answer, not a transport error: 200 with the error (a
    // browser logs every 4xx/5xx as a console error). Only an unknown command is a 404.
    let mut response = match retort_api::invoke_json(&state.core, &command, args).await {
        Ok(data) => Json(serde_json::json!({ "status": "ok", "data": data })).into_response(),
        Err(e) if e.kind == ErrorKind::UnknownCommand => {
            (StatusCode::NOT_FOUND, Json(e)).into_response()
        }
        Err(error) => {
            Json(serde_json::json!({ "status": "error", "error": error })).into_response()
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn commands() -> Json<&'static [&'static str]> {
    Json(retort_api::COMMAND_NAMES)
}

async fn events(State(state): State<AppState>) -> impl IntoResponse {
    let receiver = state.core.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    let sse = Event::default().event("retort-event").data(data);
                    return Some((Ok::<_, std::convert::Infallible>(sse), rx));
                }
                // A slow reader missed some events; carry on with the next.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

async fn asset(request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let (path, file) = match Assets::get(path) {
        Some(f) if !path.is_empty() => (path.to_string(), f),
        // The UI is one page: every other path gets index.html.
        _ => match Assets::get("index.html") {
            Some(f) => ("index.html".to_string(), f),
            None => return (StatusCode::NOT_FOUND, "the UI was not built").into_response(),
        },
    };
    let mut response = Response::new(Body::from(file.data.into_owned()));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    if path == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A bound server, ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
    pub token: String,
    router: Router,
}

impl Server {
    /// Binds the address (refusing a non-loopback one unless allowed) and makes the token.
    pub async fn bind(core: Arc<AppCore>, options: &ServeOptions) -> Result<Self, ServeError> {
        if !options.host.is_loopback() && !options.allow_remote {
            return Err(ServeError::NotLoopback(options.host));
        }
        let addr = SocketAddr::new(options.host, options.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ServeError::Bind {
                addr,
                message: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| ServeError::Bind {
            addr,
            message: e.to_string(),
        })?;
        let token = random_token()?;
        let router = router(core, Guard::new(token.clone(), addr, options.allow_remote));
        Ok(Self {
            listener,
            addr,
            token,
            router,
        })
    }

    /// The URL to open: it carries the token.
    pub fn url(&self) -> String {
        let host = match self.addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!("http://{host}:{}/?token={}", self.addr.port(), self.token)
    }

    /// Serves until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| ServeError::Serve(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
