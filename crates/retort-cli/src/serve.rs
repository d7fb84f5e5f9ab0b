//! `retort serve`: the desktop app's UI in a browser, served from this machine's loopback.

use crate::{Cli, fail};
use retort_api::{AppCore, AppMode, EnvPicker, NoDialogs, commands};
use retort_core::credentials::Credentials;
use retort_serve::{ServeOptions, Server};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The migration project to open (default: -c, else none: choose one in the UI).
    path: Option<PathBuf>,
    /// The port (default: a random free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The address to listen on. Anything but a loopback address needs --allow-remote.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    host: IpAddr,
    /// Listen on a non-loopback address: other machines can then reach the server (the
    /// token still guards every request).
    #[arg(long)]
    allow_remote: bool,
    /// Do not open a browser; only print the URL.
    #[arg(long)]
    no_open: bool,
}

pub fn main(cli: &Cli, args: &ServeArgs) -> ExitCode {
    match run(cli, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(cli, &message),
    }
}

fn run(cli: &Cli, args: &ServeArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let store_path = retort_core::store::default_path().map_err(|e| e.to_string())?;
    let page_parent = launch_page_parent(&store_path);
    let core = Arc::new(
        AppCore::new(
            AppMode::Browser,
            store_path,
            Credentials::system(),
            Arc::new(EnvPicker {
                fallback: NoDialogs,
            }),
        )
        .with_timeout(Duration::from_secs(cli.connect_timeout)),
    );
    runtime.block_on(async {
        if let Some(path) = args.path.clone().or_else(|| cli.config.clone()) {
            commands::open_workspace(&core, path.display().to_string())
                .await
                .map_err(|e| match e.hint {
                    Some(h) => format!("{}: {h}", e.message),
                    None => e.message,
                })?;
        }
        let options = ServeOptions {
            host: args.host,
            port: args.port,
            allow_remote: args.allow_remote,
        };
        let server = Server::bind(core, &options)
            .await
            .map_err(|e| e.to_string())?;
        let url = server.url();
        println!("Retort is served at {url}");
        println!("(the token in the URL is needed to use it; Ctrl-C stops the server)");
        // Kept until the server stops, then removed (on drop).
        let _page = if args.no_open {
            None
        } else {
            match LaunchPage::create(&page_parent, &url) {
                Ok(page) => {
                    if !open_browser(&page.file_url()) {
                        eprintln!("(no browser could be opened: open the URL above yourself)");
                    }
                    Some(page)
                }
                Err(e) => {
                    eprintln!("(no browser opened: {e}; open the URL above yourself)");
                    None
                }
            }
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        server.run(shutdown).await.map_err(|e| e.to_string())
    })
}

/// Where the launch page goes: the user's runtime folder (`$XDG_RUNTIME_DIR`, in memory and
/// the user's alone), else the store's folder.
fn launch_page_parent(store_path: &Path) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() && dir.is_dir() => dir.join("retort"),
        _ => store_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    }
}

/// A page that sends the browser on to the server's URL, token included, written 0600 in a
/// 0700 folder. The browser is opened on this file, as Jupyter does: a process's argv is
/// readable by every local user, and the token opens the session (and the saved
/// connections behind it). Removed when `retort serve` stops.
struct LaunchPage {
    dir: PathBuf,
    file: PathBuf,
}

impl LaunchPage {
    fn create(parent: &Path, url: &str) -> Result<Self, String> {
        let failed =
            |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
        let dir = parent.join(format!("serve-{}", std::process::id()));
        // A folder of an earlier process with this id is stale: its mode is not trusted.
        let _ = std::fs::remove_dir_all(&dir);
        retort_core::private::create_dir_all(&dir).map_err(|e| failed(&dir, e))?;
        let page = Self {
            file: dir.join("open.html"),
            dir,
        };
        let mut file =
            retort_core::private::create_new_file(&page.file).map_err(|e| failed(&page.file, e))?;
        file.write_all(redirect_page(url).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| failed(&page.file, e))?;
        Ok(page)
    }

    /// `file:///…/open.html`: all a browser's argv shows.
    fn file_url(&self) -> String {
        let mut url = String::from("file://");
        for byte in self.file.to_string_lossy().bytes() {
            if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
                url.push(byte as char);
            } else {
                url.push_str(&format!("%{byte:02X}"));
            }
        }
        url
    }
}

impl Drop for LaunchPage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A meta refresh and a script, for browsers that run either; a link otherwise.
fn redirect_page(url: &str) -> String {
    let html = url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let js = serde_json::to_string(url)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<meta http-equiv=\"refresh\" content=\"0;url={html}\">\n<title>Retort</title></head>\n<body><p>Opening <a href=\"{html}\">Retort</a>…</p>\n<script>window.location.replace({js});</script></body></html>\n"
    )
}

/// Opens `target` (the launch page) in the desktop's browser: `$BROWSER` first (a
/// `:`-separated list of commands, `%s` standing for the address, as xdg-open and Python
/// read it), else the platform's opener. False when none could be started.
fn open_browser(target: &str) -> bool {
    let mut commands: Vec<Vec<String>> = Vec::new();
    if let Some(list) = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        for entry in list.split(':').filter(|e| !e.trim().is_empty()) {
            let mut words: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
            if words.iter().any(|w| w.contains("%s")) {
                for word in &mut words {
                    *word = word.replace("%s", target);
                }
            } else {
                words.push(target.to_string());
            }
            commands.push(words);
        }
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    commands.push(vec![opener.to_string(), target.to_string()]);
    commands.iter().any(|words| {
        let spawned = std::process::Command::new(&words[0])
            .args(&words[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match spawned {
            Ok(mut child) => {
                // Reaped when it exits, so no zombie stays for the server's lifetime.
                std::thread::spawn(move || child.wait());
                true
            }
            Err(_) => false,
        }
    })
}
