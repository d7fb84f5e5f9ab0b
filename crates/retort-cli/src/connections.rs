//! `retort connections add|list|show|edit|remove|test`, and [`resolve_profile`], which turns
//! `--connection NAME` into a URL (password from the keychain, or asked for).
//!
//! Passwords are read from stdin (`--password-stdin`) or a terminal prompt with echo off
//! (`--ask-password`), go straight to the OS keychain or the session keyring, and are never
//! printed, put in the store, or passed to another program's argv.

use crate::{Cli, load};
use retort_core::connections::{self, ConnectionError, PasswordPlan};
use retort_core::credentials::{Credentials, Keeper};
use retort_core::database::{DatabaseUrl, Secret};
use retort_core::graph::RevisionMap;
use retort_core::project::{self, Project, ProjectError};
use retort_core::store::profiles::{self, default_color};
use retort_core::store::{ConnectionProfile, Driver, PasswordStorage, Store};
use serde::Serialize;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum ConnectionsCommand {
    /// Save a connection: from flags, or imported with --from-url / --from-alembic-ini /
    /// --from-env (the flags then override what was imported).
    Add {
        name: String,
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        fields: Fields,
        #[command(flatten)]
        password: PasswordArgs,
        /// Bind the connection to the project (-c, or the current directory's).
        #[arg(long)]
        bind: bool,
    },
    /// List the saved connections.
    List,
    /// Show one connection (the password as ***).
    Show { name: String },
    /// Change a saved connection.
    Edit {
        name: String,
        /// A new name.
        #[arg(long, value_name = "NAME")]
        rename: Option<String>,
        #[command(flatten)]
        fields: Fields,
        #[command(flatten)]
        password: PasswordArgs,
        /// Forget the password: the connection needs none.
        #[arg(long, conflicts_with_all = ["password_stdin", "ask_password", "ask_every_time", "session_only", "password_command"])]
        no_password: bool,
    },
    /// Delete a connection and its password.
    Remove { name: String },
    /// Run the connection check (as check-connection) against a saved connection.
    Test {
        name: String,
        /// Check only the SSH route: the tunnel, the logins, and that the database server
        /// answers through it (no password is fetched, no login to the database).
        #[arg(long)]
        ssh_only: bool,
    },
    /// Trust an SSH hop's host key, once you have compared its fingerprint with the one the
    /// server's administrator gives (`connections test` prints both when the key is unknown).
    TrustHost {
        name: String,
        /// The hop as known_hosts names it (`bastion.example`, `[10.0.0.5]:2222`).
        host: String,
        /// The fingerprint you checked (`SHA256:…`).
        fingerprint: String,
    },
}

#[derive(clap::Args)]
#[group(multiple = false)]
pub struct Source {
    /// Import from a SQLAlchemy-style URL (its password goes to the keychain).
    #[arg(long, value_name = "URL")]
    from_url: Option<String>,
    /// Import an alembic.ini's sqlalchemy.url.
    #[arg(long, value_name = "PATH")]
    from_alembic_ini: Option<PathBuf>,
    /// Import a .env file's DATABASE_URL.
    #[arg(long, value_name = "FILE")]
    from_env: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct Fields {
    /// sqlite, postgresql or mysql.
    #[arg(long)]
    driver: Option<String>,
    #[arg(long)]
    host: Option<String>,
    #[arg(long)]
    port: Option<u16>,
    #[arg(long)]
    database: Option<String>,
    #[arg(long)]
    user: Option<String>,
    /// PostgreSQL sslmode (disable … verify-full) or MySQL ssl_mode (DISABLED … VERIFY_IDENTITY).
    #[arg(long, value_name = "MODE")]
    tls_mode: Option<String>,
    /// The CA certificate to verify the server with.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// SQLite: the database file.
    #[arg(long, value_name = "PATH")]
    sqlite_path: Option<PathBuf>,
    /// development, staging, production (dev, stage, prod) or a name of your own.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// A hex colour (#d73a49); default: by environment.
    #[arg(long, value_name = "HEX")]
    color: Option<String>,
    /// Reach the database through this SSH host ([user@]host[:port] or an ~/.ssh/config
    /// alias). Repeat for jump hosts, first hop first: the last one connects to the database.
    #[arg(long = "ssh", value_name = "HOST")]
    ssh: Vec<String>,
    /// A private key file for the SSH hops (besides the agent's and the ssh config's).
    #[arg(long, value_name = "FILE")]
    ssh_identity: Option<PathBuf>,
    /// Reach the database directly again (forget the SSH hops).
    #[arg(long, conflicts_with_all = ["ssh", "ssh_identity"])]
    no_ssh: bool,
}

#[derive(clap::Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of stdin.
    #[arg(long, conflicts_with_all = ["ask_password", "ask_every_time"])]
    password_stdin: bool,
    /// Ask for the password now (terminal, echo off).
    #[arg(long, conflicts_with = "ask_every_time")]
    ask_password: bool,
    /// Keep the password for this login session only (kernel keyring), e.g. where no
    /// persistent keychain exists.
    #[arg(long, conflicts_with = "ask_every_time")]
    session_only: bool,
    /// Keep no password: ask for it on every use.
    #[arg(long)]
    ask_every_time: bool,
    /// Take the password from this command's first line of output, run when needed (e.g.
    /// 'vault kv get -field=password secret/db'); the command is saved, its output never.
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["password_stdin", "ask_password", "session_only", "ask_every_time"])]
    password_command: Option<String>,
    /// Seconds a password from the command is used before it is fetched again (default 600:
    /// short-lived tokens such as AWS RDS IAM ones last 15 minutes).
    #[arg(long, value_name = "SECONDS", requires = "password_command")]
    password_lifetime: Option<u32>,
}

pub fn main(cli: &Cli, command: &ConnectionsCommand) -> ExitCode {
    if let ConnectionsCommand::Test {
        name,
        ssh_only: false,
    } = command
    {
        return crate::check::main_for(cli, Some(name));
    }
    if let ConnectionsCommand::Test {
        name,
        ssh_only: true,
    } = command
    {
        return match test_route(name) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(message) => crate::fail(cli, &message),
        };
    }
    if let ConnectionsCommand::TrustHost {
        name,
        host,
        fingerprint,
    } = command
    {
        return match trust_host(name, host, fingerprint) {
            Ok(file) => {
                println!("Trusted the host key of {host} ({fingerprint}): added to {file}");
                ExitCode::SUCCESS
            }
            Err(message) => crate::fail(cli, &message),
        };
    }
    match run(cli, command) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => crate::fail(cli, &message),
    }
}

/// The project a connection check compares the version table with. `check-connection`: the
/// project of -c or the current folder. `connections test NAME` works from any folder: that
/// project when there is one, else the project the connection is bound to (the one opened
/// last), else none.
pub fn project_for_test(
    cli: &Cli,
    saved: Option<&str>,
) -> Result<Option<(Project, RevisionMap)>, String> {
    let Some(name) = saved.filter(|_| cli.config.is_none()) else {
        return load(cli).map(Some);
    };
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    match project::find_config(None, &cwd) {
        Ok(_) => return load(cli).map(Some),
        Err(ProjectError::NotFound { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    let rt = crate::runtime()?;
    let store = open(&rt)?;
    let workspaces = rt.block_on(store.workspaces()).map_err(|e| e.to_string());
    rt.block_on(store.close());
    let bound = workspaces?
        .into_iter()
        .find(|w| w.connections.iter().any(|c| c == name));
    match bound {
        Some(workspace) => crate::load_from(&workspace.project_dir).map(Some),
        None => Ok(None),
    }
}

fn open(rt: &tokio::runtime::Runtime) -> Result<Store, String> {
    rt.block_on(Store::open_default())
        .map_err(|e| e.to_string())
}

/// `--connection NAME`: the saved profile and the URL to connect with (password from the
/// keychain, the command, or asked for; through the SSH route if it has one). The keychain
/// and the command run outside any async runtime (they block). A tunnel stays open until the
/// process ends: a CLI command is one operation.
pub fn resolve_profile(name: &str) -> Result<(ConnectionProfile, DatabaseUrl), String> {
    static TUNNELS: std::sync::Mutex<Vec<retort_core::tunnel::Tunnel>> =
        std::sync::Mutex::new(Vec::new());
    let rt = crate::runtime()?;
    let store = open(&rt)?;
    let profile = rt
        .block_on(store.connection(name))
        .map_err(|e| e.to_string())?;
    rt.block_on(store.close());
    let given = match profile.password_storage {
        PasswordStorage::Ask => Some(prompt(&format!(
            "Password for {} ({}): ",
            profile.name,
            profile.display_url()
        ))?),
        _ => None,
    };
    let reached =
        connections::reach(&Credentials::system(), profile, given).map_err(connection_error)?;
    if let Some(tunnel) = reached.tunnel {
        tunnel_note(&tunnel.report);
        TUNNELS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tunnel);
    }
    Ok((reached.profile, reached.url))
}

/// What the check says about the SSH route, kept for `connections test` to print.
static SSH_REPORT: std::sync::Mutex<Option<retort_core::tunnel::SshReport>> =
    std::sync::Mutex::new(None);

fn tunnel_note(report: &retort_core::tunnel::SshReport) {
    *SSH_REPORT.lock().unwrap_or_else(|e| e.into_inner()) = Some(report.clone());
}

/// The SSH route's report of the last connection resolved here, if it had one.
pub fn ssh_report() -> Option<retort_core::tunnel::SshReport> {
    SSH_REPORT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `connections test NAME --ssh-only`.
fn test_route(name: &str) -> Result<String, String> {
    let rt = crate::runtime()?;
    let store = open(&rt)?;
    let profile = rt.block_on(store.connection(name));
    rt.block_on(store.close());
    let profile = profile.map_err(|e| e.to_string())?;
    let checked = rt
        .block_on(connections::test_route(profile))
        .map_err(connection_error)?;
    let mut out = format!("Checking the SSH route of {name}\n");
    crate::check::render_ssh(&mut out, &checked.ssh);
    out.push_str(&format!(
        "The database server at {} answers through the tunnel (no login tried).\n",
        checked.target
    ));
    Ok(out)
}

fn trust_host(name: &str, host: &str, fingerprint: &str) -> Result<String, String> {
    let rt = crate::runtime()?;
    let store = open(&rt)?;
    let trusted = rt.block_on(connections::trust_host_key(&store, name, host, fingerprint));
    rt.block_on(store.close());
    trusted
        .map(|file| file.display().to_string())
        .map_err(connection_error)
}

fn prompt(text: &str) -> Result<Secret, String> {
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(
            "a password is needed and there is no terminal to ask on: save it with `retort connections edit NAME --password-stdin`"
                .into(),
        );
    }
    rpassword::prompt_password(text)
        .map(Secret::new)
        .map_err(|e| format!("cannot read the password: {e}"))
}

fn read_stdin_line() -> Result<Secret, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        return Err("--password-stdin: stdin gave no password".into());
    }
    Ok(Secret::new(line))
}

fn apply(profile: &mut ConnectionProfile, f: &Fields) -> Result<(), String> {
    if let Some(d) = &f.driver {
        profile.driver = Driver::parse(d).map_err(|e| e.to_string())?;
    }
    let set = |slot: &mut Option<String>, v: &Option<String>| {
        if let Some(v) = v {
            *slot = Some(v.clone());
        }
    };
    set(&mut profile.host, &f.host);
    set(&mut profile.database, &f.database);
    set(&mut profile.user, &f.user);
    set(&mut profile.tls_mode, &f.tls_mode);
    if f.port.is_some() {
        profile.port = f.port;
    }
    if let Some(ca) = &f.tls_ca {
        profile.tls_ca_file = Some(std::path::absolute(ca).unwrap_or(ca.clone()));
    }
    if let Some(p) = &f.sqlite_path {
        profile.sqlite_path = Some(std::path::absolute(p).unwrap_or(p.clone()));
    }
    if let Some(env) = &f.environment {
        let old_default = profile.color == default_color(&profile.environment);
        profile.environment = profiles::normalize_environment(env).map_err(|e| e.to_string())?;
        if old_default {
            profile.color = default_color(&profile.environment).to_string();
        }
    }
    if let Some(c) = &f.color {
        profile.color = profiles::normalize_color(c).map_err(|e| e.to_string())?;
    }
    if f.no_ssh {
        profile.ssh = None;
    }
    if !f.ssh.is_empty() {
        profile.ssh = Some(retort_core::tunnel::SshRoute {
            hops: f.ssh.clone(),
            identity: profile.ssh.as_ref().and_then(|r| r.identity.clone()),
        });
    }
    if let Some(identity) = &f.ssh_identity {
        let identity = std::path::absolute(identity).unwrap_or(identity.clone());
        match profile.ssh.as_mut() {
            Some(route) => route.identity = Some(identity),
            None => return Err("--ssh-identity is for the SSH hops: give them with --ssh".into()),
        }
    }
    Ok(())
}

/// `--password-command`: the plan that takes the password from it.
fn command_plan(p: &PasswordArgs) -> Option<PasswordPlan> {
    p.password_command
        .as_ref()
        .map(|command| PasswordPlan::Command {
            command: command.clone(),
            lifetime: p.password_lifetime,
        })
}

/// The password given on this command line (stdin or prompt), if any.
fn given_password(p: &PasswordArgs, name: &str) -> Result<Option<Secret>, String> {
    if p.password_stdin {
        return read_stdin_line().map(Some);
    }
    if p.ask_password {
        return prompt(&format!("Password for {name}: ")).map(Some);
    }
    Ok(None)
}

fn keeper_for(p: &PasswordArgs) -> Keeper {
    if p.session_only {
        Keeper::Session
    } else {
        Keeper::Keychain
    }
}

/// The core's connection errors, worded with this face's flags.
fn connection_error(e: ConnectionError) -> String {
    match e {
        ConnectionError::NoPasswordToKeep { .. } => {
            "--session-only keeps a password: give it with --password-stdin or --ask-password"
                .into()
        }
        ConnectionError::Tunnel {
            ref connection,
            ref error,
        } => {
            let mut text = format!("{e}\n  {}", error.advice());
            if let retort_core::tunnel::TunnelError::HostKeyUnknown {
                host, fingerprint, ..
            } = error
            {
                let fp = fingerprint.split_whitespace().last().unwrap_or(fingerprint);
                text.push_str(&format!(
                    "\n  Once checked: retort connections trust-host {connection} '{host}' {fp}"
                ));
            }
            text
        }
        e => e.to_string(),
    }
}

#[derive(Serialize)]
struct View<'a> {
    #[serde(flatten)]
    profile: &'a ConnectionProfile,
    url: String,
    password: Option<&'static str>,
    workspaces: Vec<String>,
}

fn view<'a>(
    profile: &'a ConnectionProfile,
    workspaces: &[retort_core::store::Workspace],
) -> View<'a> {
    View {
        profile,
        url: profile.display_url(),
        password: (profile.password_storage != PasswordStorage::None).then_some("***"),
        workspaces: workspaces
            .iter()
            .filter(|w| w.connections.contains(&profile.name))
            .map(|w| w.project_dir.display().to_string())
            .collect(),
    }
}

fn describe(p: &ConnectionProfile) -> String {
    format!(
        "{} [{}] {} (password: {})",
        p.name,
        p.environment,
        p.display_url(),
        p.password_storage.describe()
    )
}

fn run(cli: &Cli, command: &ConnectionsCommand) -> Result<String, String> {
    let rt = crate::runtime()?;
    let store = open(&rt)?;
    let creds = Arc::new(Credentials::system());
    let out = match command {
        ConnectionsCommand::Add {
            name,
            source,
            fields,
            password,
            bind,
        } => {
            let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
            let imported = if let Some(u) = &source.from_url {
                Some(profiles::import_url(name, u, &cwd))
            } else if let Some(ini) = &source.from_alembic_ini {
                Some(profiles::import_alembic_ini(name, ini))
            } else {
                source
                    .from_env
                    .as_ref()
                    .map(|f| profiles::import_dotenv(name, f))
            };
            let (mut profile, url_password) = match imported {
                Some(r) => r.map_err(|e| e.to_string())?,
                None => {
                    let driver = fields.driver.as_deref().ok_or(
                        "say where the database is: --driver (with --host, --database, … or --sqlite-path), or --from-url / --from-alembic-ini / --from-env",
                    )?;
                    let driver = Driver::parse(driver).map_err(|e| e.to_string())?;
                    (ConnectionProfile::new(name, driver), None)
                }
            };
            apply(&mut profile, fields)?;
            let secret = match given_password(password, name)? {
                Some(s) => Some(s),
                None => url_password,
            };
            let mut note = String::new();
            let plan = if let Some(plan) = command_plan(password) {
                if secret.is_some() {
                    note = "note: the URL's password was not kept (--password-command)\n".into();
                }
                plan
            } else if password.ask_every_time {
                if secret.is_some() {
                    note = "note: the URL's password was not kept (--ask-every-time)\n".into();
                }
                PasswordPlan::Ask
            } else if secret.is_some() || password.session_only {
                PasswordPlan::Kept {
                    keeper: keeper_for(password),
                    secret,
                }
            } else {
                PasswordPlan::None
            };
            let saved = rt
                .block_on(connections::save(&store, &creds, None, profile, plan))
                .map_err(connection_error)?
                .profile;
            if *bind {
                let (project, _) = load(cli)?;
                let dir = project
                    .config_path
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("."));
                rt.block_on(store.bind(&dir, &saved.name))
                    .map_err(|e| e.to_string())?;
            }
            if cli.json {
                let ws = rt.block_on(store.workspaces()).map_err(|e| e.to_string())?;
                crate::json(&view(&saved, &ws))?
            } else {
                format!("{note}Saved connection {}\n", describe(&saved))
            }
        }
        ConnectionsCommand::List => {
            let all = rt
                .block_on(store.connections())
                .map_err(|e| e.to_string())?;
            let ws = rt.block_on(store.workspaces()).map_err(|e| e.to_string())?;
            if cli.json {
                crate::json(&all.iter().map(|p| view(p, &ws)).collect::<Vec<_>>())?
            } else if all.is_empty() {
                format!(
                    "No saved connections (store: {}). Add one with `retort connections add NAME --from-url URL`.\n",
                    store.path().display()
                )
            } else {
                let width = all.iter().map(|p| p.name.len()).max().unwrap_or(4).max(4);
                let env_width = all
                    .iter()
                    .map(|p| p.environment.len())
                    .max()
                    .unwrap_or(11)
                    .max(11);
                let mut out = format!("{:<width$}  {:<env_width$}  URL\n", "NAME", "ENVIRONMENT");
                for p in &all {
                    out.push_str(&format!(
                        "{:<width$}  {:<env_width$}  {}\n",
                        p.name,
                        p.environment,
                        p.display_url()
                    ));
                }
                out
            }
        }
        ConnectionsCommand::Show { name } => {
            let p = rt
                .block_on(store.connection(name))
                .map_err(|e| e.to_string())?;
            let ws = rt.block_on(store.workspaces()).map_err(|e| e.to_string())?;
            let v = view(&p, &ws);
            if cli.json {
                crate::json(&v)?
            } else {
                let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "–".into());
                let path = |o: &Option<PathBuf>| {
                    o.as_ref()
                        .map_or_else(|| "–".into(), |p| p.display().to_string())
                };
                let mut out = String::new();
                let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
                line("name", p.name.clone());
                line("environment", p.environment.clone());
                line("colour", p.color.clone());
                line("url", v.url.clone());
                line("driver", p.driver.as_str().into());
                if p.driver == Driver::Sqlite {
                    line("file", path(&p.sqlite_path));
                } else {
                    line("host", opt(&p.host));
                    line(
                        "port",
                        p.port.map_or_else(|| "default".into(), |p| p.to_string()),
                    );
                    line("database", opt(&p.database));
                    line("user", opt(&p.user));
                    line("tls mode", opt(&p.tls_mode));
                    line("tls ca", path(&p.tls_ca_file));
                }
                line("password", p.password_storage.describe().into());
                if let Some(command) = &p.password_command {
                    line("command", command.clone());
                    line(
                        "lifetime",
                        format!(
                            "{} s",
                            p.password_lifetime.map_or(
                                retort_core::credentials::command::DEFAULT_LIFETIME.as_secs(),
                                u64::from
                            )
                        ),
                    );
                }
                if let Some(route) = &p.ssh {
                    line("ssh", route.hops.join(" → "));
                    line("ssh key", path(&route.identity));
                }
                if !v.workspaces.is_empty() {
                    line("workspaces", v.workspaces.join(", "));
                }
                out
            }
        }
        ConnectionsCommand::Edit {
            name,
            rename,
            fields,
            password,
            no_password,
        } => {
            let old = rt
                .block_on(store.connection(name))
                .map_err(|e| e.to_string())?;
            let mut profile = old.clone();
            if let Some(n) = rename {
                profile.name = n.clone();
            }
            apply(&mut profile, fields)?;
            let plan = if *no_password {
                PasswordPlan::None
            } else if let Some(plan) = command_plan(password) {
                plan
            } else if password.ask_every_time {
                PasswordPlan::Ask
            } else if let Some(s) = given_password(password, &profile.name)? {
                PasswordPlan::Kept {
                    keeper: keeper_for(password),
                    secret: Some(s),
                }
            } else if password.session_only {
                // Into the session keyring: the password kept in the keychain moves there.
                PasswordPlan::Kept {
                    keeper: Keeper::Session,
                    secret: None,
                }
            } else {
                PasswordPlan::Unchanged
            };
            let saved = rt
                .block_on(connections::save(&store, &creds, Some(old), profile, plan))
                .map_err(connection_error)?;
            let note = saved
                .warning
                .map(|w| format!("warning: {w}\n"))
                .unwrap_or_default();
            let saved = saved.profile;
            if cli.json {
                let ws = rt.block_on(store.workspaces()).map_err(|e| e.to_string())?;
                crate::json(&view(&saved, &ws))?
            } else {
                format!("{note}Updated connection {}\n", describe(&saved))
            }
        }
        ConnectionsCommand::Remove { name } => {
            let (removed, warning) = rt
                .block_on(connections::remove(&store, &creds, name))
                .map_err(connection_error)?;
            let mut out = format!("Removed connection {}\n", removed.name);
            if let Some(w) = warning {
                out.push_str(&format!("warning: {w}\n"));
            }
            if cli.json {
                crate::json(&serde_json::json!({ "removed": removed.name }))?
            } else {
                out
            }
        }
        ConnectionsCommand::Test { .. } | ConnectionsCommand::TrustHost { .. } => {
            unreachable!("handled in main")
        }
    };
    rt.block_on(store.close());
    Ok(out)
}
