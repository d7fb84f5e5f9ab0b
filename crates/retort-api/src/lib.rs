//! Retort's command layer: what the desktop app (Tauri IPC) and `retort serve` (HTTP) expose.
//!
//! Every command is one async function in [`commands`] taking the [`AppCore`] and plain
//! arguments, returning a serde + specta type or the one boundary error [`ApiError`]
//! (`kind` + `message` + optional `hint`). The commands are listed once, in
//! [`with_commands!`]; the HTTP dispatcher ([`invoke_json`]) and the Tauri wrappers are both
//! generated from that list, so the two transports cannot offer different commands.
//!
//! No Tauri or HTTP dependency here: the transports live in the app and in `retort-serve`.

pub mod commands;
mod convert;
mod core;
pub mod dialog;
mod error;
pub mod types;

pub use crate::core::{AppCore, AppMode};
pub use dialog::{EnvPicker, NoDialogs, PathKind, PathPicker, PickOutcome};
pub use error::{ApiError, ErrorKind};
pub use types::ApiEvent;

/// The one list of commands. Calls `$callback! { name(arg: Type, ...) -> Result; ... }` with
/// every command, in this order. Argument names become camelCase keys on both transports.
#[macro_export]
macro_rules! with_commands {
    ($callback:ident) => {
        $callback! {
            app_info() -> $crate::types::AppInfo;
            open_workspace(path: String) -> $crate::types::WorkspaceView;
            current_workspace() -> Option<$crate::types::WorkspaceView>;
            recent_workspaces() -> Vec<$crate::types::RecentWorkspace>;
            graph_layout() -> $crate::types::GraphLayout;
            revision_detail(id: String) -> $crate::types::RevisionDetail;
            read_source(path: String) -> $crate::types::SourceFile;
            list_connections() -> $crate::types::ConnectionList;
            parse_connection_url(url: String) -> $crate::types::ConnectionFields;
            save_connection(input: $crate::types::ConnectionInput) -> $crate::types::ConnectionView;
            delete_connection(name: String) -> ();
            test_ssh(input: $crate::types::ConnectionInput) -> $crate::types::SshCheck;
            trust_host_key(request: $crate::types::TrustHostKey) -> String;
            bind_connection(name: String) -> $crate::types::WorkspaceView;
            test_connection(name: String, password: Option<String>) -> $crate::types::ConnectionReport;
            connection_positions() -> Vec<$crate::types::ConnectionPosition>;
            pick_path(kind: $crate::dialog::PathKind) -> $crate::types::PickedPath;
            plan_operation(connection: Option<String>, password: Option<String>, operation: $crate::types::Operation) -> $crate::types::RunPreview;
            offline_sql(connection: Option<String>, password: Option<String>, operation: $crate::types::Operation) -> String;
            run_operation(request: $crate::types::RunRequest) -> $crate::types::RunResult;
            cancel_run(run_id: String) -> bool;
            active_runs() -> Vec<$crate::types::ActiveRunView>;
            check_stamp(connection: Option<String>, password: Option<String>, targets: Vec<String>, purge: bool) -> $crate::types::StampCheck;
            list_backups(connection: Option<String>) -> $crate::types::BackupList;
            create_backup(run_id: String, connection: Option<String>, password: Option<String>, verify_restore: bool) -> $crate::types::BackupRecord;
            verify_backup(id: u32) -> String;
            restore_backup(run_id: String, id: u32, connection: Option<String>, password: Option<String>, confirm_database: String) -> $crate::types::RestoreReport;
            delete_backup(id: u32) -> ();
            reveal_backup(id: u32) -> $crate::types::Revealed;
            journal_entries(query: $crate::types::JournalQuery) -> Vec<$crate::types::JournalEntry>;
            status_board() -> Vec<$crate::types::StatusRow>;
            preview_revision(input: $crate::types::RevisionInput) -> $crate::types::RevisionPreview;
            create_revision(input: $crate::types::RevisionInput) -> $crate::types::RevisionPreview;
            propose_autogenerate(input: $crate::types::AutogenerateInput) -> $crate::types::AutogenerateProposal;
            preview_autogenerate(choice: $crate::types::AutogenerateChoice) -> $crate::types::AutogeneratePreview;
            create_autogenerate(choice: $crate::types::AutogenerateChoice) -> $crate::types::AutogenerateWritten;
            explain_merge(revisions: Vec<String>) -> $crate::types::MergeExplanation;
            create_merge(revisions: Vec<String>, message: String) -> $crate::types::RevisionPreview;
            project_checks(connection: Option<String>, password: Option<String>) -> $crate::types::CheckReport;
            round_trip_test(run_id: String, connection: Option<String>, password: Option<String>) -> $crate::types::RoundTripReport;
        }
    };
}

macro_rules! json_dispatch {
    ($($name:ident($($arg:ident : $ty:ty),*) -> $ret:ty;)*) => {
        /// Every command's name, in the order of [`with_commands!`].
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// Runs command `name` with its arguments as a JSON object (camelCase keys, as the
        /// Tauri IPC sends them); the result as JSON.
        pub async fn invoke_json(
            core: &AppCore,
            name: &str,
            args: serde_json::Value,
        ) -> Result<serde_json::Value, ApiError> {
            let args = if args.is_null() { serde_json::json!({}) } else { args };
            match name {
                $(stringify!($name) => {
                    #[derive(serde::Deserialize)]
                    #[serde(rename_all = "camelCase")]
                    #[allow(non_camel_case_types, dead_code)]
                    struct Args { $($arg: $ty),* }
                    let Args { $($arg),* } = serde_json::from_value::<Args>(args)
                        .map_err(|e| ApiError::bad_arguments(name, &e))?;
                    let out: $ret = commands::$name(core, $($arg),*).await?;
                    serde_json::to_value(out).map_err(|e| ApiError::internal(e.to_string()))
                })*
                _ => Err(ApiError::unknown_command(name)),
            }
        }
    };
}

with_commands!(json_dispatch);

#[cfg(test)]
mod operation_tests;
#[cfg(test)]
mod tests;
