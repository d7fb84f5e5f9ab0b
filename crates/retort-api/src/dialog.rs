//! Choosing a path: a native dialog in the desktop app, the UI's own text field in
//! `retort serve`, and paths given in advance in tests.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the path is for; decides the dialog's kind (folder, open file, save file) and filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum PathKind {
    /// A migration project folder.
    ProjectFolder,
    /// An SQLite database file.
    SqliteFile,
    /// A CA certificate (PEM) to verify a server with.
    CaFile,
    /// Where to write a backup.
    BackupDestination,
}

impl PathKind {
    pub const ALL: [PathKind; 4] = [
        PathKind::ProjectFolder,
        PathKind::SqliteFile,
        PathKind::CaFile,
        PathKind::BackupDestination,
    ];

    /// The dialog's title.
    pub fn title(self) -> &'static str {
        match self {
            PathKind::ProjectFolder => "Open a migration project folder",
            PathKind::SqliteFile => "Choose an SQLite database file",
            PathKind::CaFile => "Choose a CA certificate",
            PathKind::BackupDestination => "Save the backup as",
        }
    }

    /// `RETORT_PICK_PROJECT_FOLDER`, … : the variable [`EnvPicker`] reads.
    pub fn env_var(self) -> &'static str {
        match self {
            PathKind::ProjectFolder => "RETORT_PICK_PROJECT_FOLDER",
            PathKind::SqliteFile => "RETORT_PICK_SQLITE_FILE",
            PathKind::CaFile => "RETORT_PICK_CA_FILE",
            PathKind::BackupDestination => "RETORT_PICK_BACKUP_DESTINATION",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickOutcome {
    Picked(PathBuf),
    /// The user closed the dialog.
    Cancelled,
    /// No dialog can be shown here: the UI asks for the path itself.
    Unavailable,
}

/// Shows a dialog and waits for it. Called from a blocking thread, never from the UI thread.
pub trait PathPicker: Send + Sync {
    fn pick(&self, kind: PathKind) -> PickOutcome;
}

/// `retort serve`: the browser cannot show the server's file dialogs.
pub struct NoDialogs;

impl PathPicker for NoDialogs {
    fn pick(&self, _kind: PathKind) -> PickOutcome {
        PickOutcome::Unavailable
    }
}

/// Paths given in advance through `RETORT_PICK_*` variables (end-to-end tests, where no
/// native dialog can be driven); a kind without a variable falls back to `fallback`.
pub struct EnvPicker<P> {
    pub fallback: P,
}

impl<P: PathPicker> PathPicker for EnvPicker<P> {
    fn pick(&self, kind: PathKind) -> PickOutcome {
        match std::env::var_os(kind.env_var()).filter(|v| !v.is_empty()) {
            Some(path) => PickOutcome::Picked(PathBuf::from(path)),
            None => self.fallback.pick(kind),
        }
    }
}
