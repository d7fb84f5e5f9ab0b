//! `retort serve`: the desktop app's UI in a browser, served from this machine's loopback.

use crate::{Cli, fail};
use retort_api::{AppCore, AppMode, EnvPicker, NoDialogs, commands};
use retort_core::credentials::Credentials;
use retort_serve::{ServeOptions, Server};
use std::net::IpAddr;
use std::path::PathBuf;
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
        if !args.no_open {
            open_browser(&url);
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        server.run(shutdown).await.map_err(|e| e.to_string())
    })
}

/// Opens the URL in the desktop's browser, if there is one; the URL is printed anyway.
/// The URL goes in argv: it holds only the session's token, never a password.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        eprintln!("(no browser could be opened: open the URL above yourself)");
    }
}
