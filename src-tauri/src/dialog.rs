//! Native dialogs (GTK on Linux) through tauri-plugin-dialog, behind the command layer's
//! `PathPicker` so that tests can give paths instead (`RETORT_PICK_*`, see `EnvPicker`).

use retort_api::{PathKind, PathPicker, PickOutcome};
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

pub struct NativePicker {
    app: AppHandle,
}

impl NativePicker {
    pub fn new(app: AppHandle) -> Self {
        Self { app }
    }
}

impl PathPicker for NativePicker {
    /// Blocks until the dialog closes: called from a blocking worker, never the UI thread.
    fn pick(&self, kind: PathKind) -> PickOutcome {
        let dialog = self.app.dialog().file().set_title(kind.title());
        let picked = match kind {
            PathKind::ProjectFolder => dialog.blocking_pick_folder(),
            PathKind::SqliteFile => dialog
                .add_filter("SQLite database", &["db", "sqlite", "sqlite3"])
                .add_filter("Any file", &["*"])
                .blocking_pick_file(),
            PathKind::CaFile => dialog
                .add_filter("Certificate", &["pem", "crt", "cer"])
                .add_filter("Any file", &["*"])
                .blocking_pick_file(),
            PathKind::BackupDestination => dialog.blocking_save_file(),
        };
        match picked.and_then(|p| p.into_path().ok()) {
            Some(path) => PickOutcome::Picked(path),
            None => PickOutcome::Cancelled,
        }
    }
}
