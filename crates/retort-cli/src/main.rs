//! `retort`: the command-line face of Retort's engine. Output of the Alembic-named commands
//! matches alembic 1.20.1 byte for byte; every command also speaks JSON.

mod authoring;
mod backup;
mod check;
mod connections;
mod journal;
mod migrate;
mod output;
mod project_check;
mod schema;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use retort_core::database::{self, DatabaseUrl, VersionTable};
use retort_core::graph::commands::{self, CommandError, HistoryRange};
use retort_core::graph::export::{self, RevisionInfo};
use retort_core::graph::{RevisionMap, format, lanes};
use retort_core::project::{self, Project};
use retort_core::store::ConnectionProfile;
use serde::Serialize;
use std::io::Write;
use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "retort",
    version,
    about = "Retort: a workbench for Alembic-style database migrations"
)]
struct Cli {
    /// The project: an alembic.ini, a pyproject.toml, a retort.toml, or a directory holding
    /// one (default: the current directory).
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON instead of Alembic's text.
    #[arg(long, global = true)]
    json: bool,
    /// The database, as a SQLAlchemy-style URL (default: the project's sqlalchemy.url or
    /// url, then $DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// The database, as a connection saved with `retort connections add` (its password from
    /// the keychain or its command, through its SSH hops if it has them).
    #[arg(long, global = true, value_name = "NAME")]
    connection: Option<String>,
    /// Seconds to wait for the database to answer.
    #[arg(long, global = true, default_value_t = 5, value_name = "SECONDS")]
    connect_timeout: u64,
    /// Alembic projects: the Python that runs the project's alembic and reads revision files
    /// that need Python (default: $RETORT_PYTHON, .venv/bin/python, venv/bin/python, then
    /// python3 and python on PATH).
    #[arg(long, global = true, value_name = "PATH")]
    python: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show current available heads in the script directory.
    Heads {
        #[arg(short, long)]
        verbose: bool,
        /// Treat dependency versions as down revisions.
        #[arg(long)]
        resolve_dependencies: bool,
    },
    /// List changeset scripts in chronological order.
    History {
        /// Specify a revision range; format is [start]:[end].
        #[arg(
            short = 'r',
            long = "rev-range",
            allow_hyphen_values = true,
            value_name = "RANGE"
        )]
        rev_range: Option<String>,
        #[arg(short, long)]
        verbose: bool,
        /// Indicate the current revision (needs a database).
        #[arg(short = 'i', long)]
        indicate_current: bool,
        /// Draw the branches as lanes beside the history.
        #[arg(long)]
        graph: bool,
    },
    /// Show current branch points.
    Branches {
        #[arg(short, long)]
        verbose: bool,
    },
    /// Show the revision(s) denoted by the given symbol.
    Show {
        /// Revision identifier (id, prefix, head, heads, label@rev, ...).
        rev: String,
    },
    /// Display the current revision(s) of the database.
    Current {
        #[arg(short, long)]
        verbose: bool,
        /// Fail unless the database is on every head.
        #[arg(long)]
        check_heads: bool,
    },
    /// Upgrade to a later version.
    Upgrade {
        /// Revision identifier (head, heads, an id or prefix, label@head, +N, ...).
        #[arg(allow_hyphen_values = true)]
        revision: String,
        #[command(flatten)]
        run: migrate::RunArgs,
    },
    /// Revert to a previous version.
    Downgrade {
        /// Revision identifier (base, an id or prefix, -N, label@-N, ...).
        #[arg(allow_hyphen_values = true)]
        revision: String,
        #[command(flatten)]
        run: migrate::RunArgs,
    },
    /// 'stamp' the revision table with the given revision(s); don't run any migrations.
    Stamp {
        #[arg(required = true)]
        revisions: Vec<String>,
        /// Delete all entries in the version table before stamping.
        #[arg(long)]
        purge: bool,
        #[command(flatten)]
        run: migrate::RunArgs,
        #[command(flatten)]
        verify: schema::VerifyArgs,
    },
    /// Upgrade, downgrade and upgrade again every revision, in order, in a scratch database on
    /// the server of --url / --connection (SQLite: a temporary file); report the first whose
    /// downgrade fails or does not restore the schema.
    RoundTrip,
    /// Show the database's schema (tables, columns, keys, indexes) as Retort compares it.
    Schema,
    /// Check the database connection: reachability, login, latency, server version, TLS, the
    /// version table against the heads, privileges, the migration lock and dump tools.
    CheckConnection,
    /// Serve the desktop app's UI to a browser, from this machine's loopback address.
    Serve(serve::ServeArgs),
    /// Saved connections: add, list, show, edit, remove, test.
    Connections {
        #[command(subcommand)]
        command: connections::ConnectionsCommand,
    },
    /// Back up the database (SQLite's backup API, pg_dump, mariadb-dump), verify the copy,
    /// and record it in the catalog.
    Backup {
        #[command(flatten)]
        args: backup::BackupArgs,
    },
    /// The backup catalog: list (the default), delete, prune, reveal, verify.
    Backups {
        #[command(subcommand)]
        command: Option<backup::BackupsCommand>,
    },
    /// Restore a backup into the database it came from or another one, after confirmation.
    Restore {
        #[command(flatten)]
        args: backup::RestoreArgs,
    },
    /// The audit journal: every upgrade, downgrade, stamp, merge, backup and restore, newest
    /// first (`--connection NAME` or `--url` for one database).
    Log {
        #[command(flatten)]
        args: journal::LogArgs,
    },
    /// Where each database stands: current and pending revisions, and applied revisions
    /// whose file changed since it was applied.
    Status {
        #[command(flatten)]
        args: journal::StatusArgs,
    },
    /// Create a new revision file (alembic's `revision`; native projects: a .sql file).
    Revision {
        #[command(flatten)]
        args: authoring::RevisionArgs,
    },
    /// Merge two revisions together; creates a new migration file (`--explain`: show what
    /// the branches change first, write nothing).
    Merge {
        #[command(flatten)]
        args: authoring::MergeArgs,
    },
    /// Check the project: a single head, empty downgrades, naming conventions (exit 1 on
    /// errors; warnings and hints do not fail).
    Check {
        #[command(flatten)]
        args: project_check::CheckArgs,
    },
    /// Export the whole revision graph.
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Json)]
        format: GraphFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Json,
    Dot,
    Mermaid,
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Alembic exits 255 (`sys.exit(-1)`) on a command error; scripts rely on it.
const FAILURE: u8 = 255;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Upgrade { .. } | Command::Downgrade { .. } | Command::Stamp { .. } => {
            return migrate::main(&cli);
        }
        Command::CheckConnection => return check::main(&cli),
        Command::Serve(args) => return serve::main(&cli, args),
        Command::Revision { args } => return authoring::revision(&cli, args),
        Command::Merge { args } => return authoring::merge(&cli, args),
        Command::Check { args } => return project_check::main(&cli, args),
        Command::RoundTrip => return schema::round_trip_main(&cli),
        Command::Schema => return schema::schema_main(&cli),
        Command::Backup { .. } | Command::Backups { .. } | Command::Restore { .. } => {
            return backup::main(&cli);
        }
        Command::Connections { command } => return connections::main(&cli, command),
        Command::Log { args } => return journal::log(&cli, args),
        Command::Status { args } => return journal::status(&cli, args),
        _ => {}
    }
    match run(&cli) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`retort history | head`) is not an error worth reporting.
            let _ = stdout
                .write_all(output.as_bytes())
                .and_then(|_| stdout.flush());
            // The process ends here: freeing a large project's output is wasted time.
            std::mem::forget(output);
            ExitCode::SUCCESS
        }
        Err(message) => fail(&cli, &message),
    }
}

/// Reports a command error as alembic does: `FAILED: ...` on standard output (alembic's
/// `util.err` prints it there), exit 255. With `--json`, `{"error": ...}` on standard error.
fn fail(cli: &Cli, message: &str) -> ExitCode {
    if cli.json {
        output::errln!("{}", serde_json::json!({ "error": message }));
    } else {
        output::outln!("FAILED: {message}");
    }
    ExitCode::from(FAILURE)
}

fn load(cli: &Cli) -> Result<(Project, RevisionMap), String> {
    let project = read_project(cli)?;
    let map = RevisionMap::from_project(&project).map_err(|e| e.to_string())?;
    print_graph_warnings(&map);
    Ok((project, map))
}

/// The project of `--config` (or the current directory), its warnings printed.
fn read_project(cli: &Cli) -> Result<Project, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let config = project::find_config(cli.config.as_deref(), &cwd).map_err(|e| e.to_string())?;
    let project = project::load_project_with_python(&config, cli.python.as_deref())
        .map_err(|e| e.to_string())?;
    for warning in &project.warnings {
        output::errln!("warning: {warning}");
    }
    Ok(project)
}

/// [`load`] of the project in `dir` (a workspace's folder), its warnings printed.
fn load_from(dir: &std::path::Path) -> Result<(Project, RevisionMap), String> {
    let config = project::find_config(None, dir).map_err(|e| e.to_string())?;
    let project = project::load_project(&config).map_err(|e| e.to_string())?;
    for warning in &project.warnings {
        output::errln!("warning: {warning}");
    }
    let map = RevisionMap::from_project(&project).map_err(|e| e.to_string())?;
    print_graph_warnings(&map);
    Ok((project, map))
}

fn print_graph_warnings(map: &RevisionMap) {
    for warning in &map.warnings {
        output::errln!("warning: {}", warning.message);
    }
}

/// The database a command works on, resolved in one place: `--connection NAME` (a saved
/// profile, password from the keychain), else `--url`, the project's URL, `$DATABASE_URL`.
/// `connection` is `--connection`, or the profile `retort connections test NAME` names.
fn database_url(
    cli: &Cli,
    connection: Option<&str>,
    project: &Project,
) -> Result<DatabaseUrl, String> {
    database_target(cli, connection, project).map(|(url, _)| url)
}

/// [`database_url`], with the saved profile when the database came from one.
fn database_target(
    cli: &Cli,
    connection: Option<&str>,
    project: &Project,
) -> Result<(DatabaseUrl, Option<ConnectionProfile>), String> {
    match connection {
        Some(_) if cli.url.is_some() => Err("give either --url or --connection, not both".into()),
        Some(name) => connections::resolve_profile(name).map(|(p, url)| (url, Some(p))),
        None => database::resolve_url(cli.url.as_deref(), project)
            .map(|url| (url, None))
            .map_err(|e| e.to_string()),
    }
}

/// The database's version-table rows (empty when there is no table yet).
fn db_heads(cli: &Cli, project: &Project) -> Result<(DatabaseUrl, Vec<String>), String> {
    let url = database_url(cli, cli.connection.as_deref(), project)?;
    let timeout = Duration::from_secs(cli.connect_timeout);
    let rows = runtime()?
        .block_on(database::read_version_rows(
            &url,
            &VersionTable::of(project),
            timeout,
        ))
        .map_err(|e| e.to_string())?;
    Ok((url, rows))
}

/// The async runtime a command's database work runs on.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn json<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

fn infos(map: &RevisionMap, revisions: &[usize]) -> Vec<RevisionInfo> {
    revisions
        .iter()
        .map(|&i| RevisionInfo::of(map, i))
        .collect()
}

/// [`load`] for the commands of [`run`], which read the project's settings but not its
/// revision files: those are moved into the graph, not copied (`project.revisions` is left
/// empty). Neither is ever dropped: the process ends right after the command, and freeing a
/// large graph (10,000 revisions and their strings) would only cost time.
fn load_graph(cli: &Cli) -> Result<(ManuallyDrop<Project>, ManuallyDrop<RevisionMap>), String> {
    let mut project = read_project(cli)?;
    let map = RevisionMap::take_from_project(&mut project).map_err(|e| e.to_string())?;
    print_graph_warnings(&map);
    Ok((ManuallyDrop::new(project), ManuallyDrop::new(map)))
}

fn run(cli: &Cli) -> Result<String, String> {
    let (project, map) = load_graph(cli)?;
    let failed = |e: CommandError| e.message;
    match &cli.command {
        Command::Heads {
            verbose,
            resolve_dependencies,
        } => {
            let heads = commands::heads(&map, *resolve_dependencies);
            if cli.json {
                json(&infos(&map, &heads))
            } else {
                Ok(format::heads_output(&map, &heads, *verbose))
            }
        }
        Command::History {
            rev_range,
            verbose,
            indicate_current,
            graph,
        } => {
            let range = rev_range
                .as_deref()
                .map(HistoryRange::parse)
                .transpose()
                .map_err(failed)?;
            let needs_db =
                *indicate_current || range.as_ref().is_some_and(HistoryRange::mentions_current);
            let db_rows = if needs_db {
                Some(db_heads(cli, &project)?.1)
            } else {
                None
            };
            let revisions =
                commands::history(&map, range.as_ref(), db_rows.as_deref()).map_err(failed)?;
            let currents = if *indicate_current {
                db_rows.as_deref()
            } else {
                None
            };
            if cli.json {
                json(&infos(&map, &revisions))
            } else if *graph {
                let rows = lanes::layout(&map, &revisions);
                Ok(lanes::render(&map, &rows, |i| {
                    format::history_line(&map, i, false, currents)
                }))
            } else {
                Ok(format::history_output(&map, &revisions, *verbose, currents))
            }
        }
        Command::Branches { verbose } => {
            let points = commands::branches(&map).map_err(failed)?;
            if cli.json {
                #[derive(Serialize)]
                struct BranchPoint {
                    branchpoint: RevisionInfo,
                    children: Vec<RevisionInfo>,
                }
                let list: Vec<BranchPoint> = points
                    .iter()
                    .map(|&i| BranchPoint {
                        branchpoint: RevisionInfo::of(&map, i),
                        children: infos(&map, map.rev(i).children()),
                    })
                    .collect();
                json(&list)
            } else {
                Ok(format::branches_output(&map, &points, *verbose))
            }
        }
        Command::Show { rev } => {
            let revisions = commands::show(&map, rev).map_err(failed)?;
            if cli.json {
                json(&infos(&map, &revisions))
            } else {
                Ok(format::show_output(&map, &revisions))
            }
        }
        Command::Current {
            verbose,
            check_heads,
        } => {
            let (url, rows) = db_heads(cli, &project)?;
            let current = commands::current(&map, &rows, *check_heads).map_err(failed)?;
            if cli.json {
                #[derive(Serialize)]
                struct Current {
                    url: String,
                    version_table_rows: Vec<String>,
                    current: Vec<RevisionInfo>,
                }
                return json(&Current {
                    url: url.redacted(),
                    version_table_rows: rows,
                    current: infos(&map, &current),
                });
            }
            let mut out = String::new();
            if *verbose {
                out.push_str(&format!("Current revision(s) for {url}:\n"));
            }
            out.push_str(&format::current_output(&map, &current, *verbose));
            Ok(out)
        }
        Command::Upgrade { .. }
        | Command::Downgrade { .. }
        | Command::Stamp { .. }
        | Command::CheckConnection
        | Command::Serve(_)
        | Command::Revision { .. }
        | Command::Merge { .. }
        | Command::Check { .. }
        | Command::RoundTrip
        | Command::Schema
        | Command::Backup { .. }
        | Command::Backups { .. }
        | Command::Restore { .. }
        | Command::Connections { .. }
        | Command::Log { .. }
        | Command::Status { .. } => unreachable!("handled in main"),
        Command::Graph {
            format: graph_format,
        } => {
            let order = commands::history(&map, None, None).map_err(failed)?;
            let graph = export::export(&map, &order);
            match (graph_format, cli.json) {
                (GraphFormat::Json, _) | (_, true) => json(&graph),
                (GraphFormat::Dot, false) => Ok(export::to_dot(&graph)),
                (GraphFormat::Mermaid, false) => Ok(export::to_mermaid(&graph)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The top-level tests/ are registered by hand (`autotests = false` at the root): a file
    /// that is in neither list would never run, silently.
    #[test]
    fn every_top_level_test_file_is_registered() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cli = std::fs::read_to_string(root.join("crates/retort-cli/Cargo.toml")).unwrap();
        let app = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(root.join("tests"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rs"))
            .collect();
        files.sort();
        assert!(files.len() > 10, "{files:?}");
        let unregistered: Vec<&String> = files
            .iter()
            .filter(|f| {
                !cli.contains(&format!("path = \"../../tests/{f}\""))
                    && !app.contains(&format!("path = \"tests/{f}\""))
            })
            .collect();
        assert!(
            unregistered.is_empty(),
            "tests/ files registered in neither crates/retort-cli/Cargo.toml nor the root Cargo.toml: {unregistered:?}"
        );
    }
}
