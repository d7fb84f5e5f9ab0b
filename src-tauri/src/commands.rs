//! The Tauri IPC face of the command layer: one thin wrapper per command of
//! `retort_api::with_commands!`, generated from that list.

use retort_api::{ApiError, AppCore};
use std::sync::Arc;

macro_rules! tauri_commands {
    ($($name:ident($($arg:ident : $ty:ty),*) -> $ret:ty;)*) => {
        $(
            #[tauri::command]
            #[specta::specta]
            pub async fn $name(
                core: tauri::State<'_, Arc<AppCore>>,
                $($arg: $ty),*
            ) -> Result<$ret, ApiError> {
                retort_api::commands::$name(&core, $($arg),*).await
            }
        )*

        /// The commands registered with Tauri, in the list's order.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// The commands and the event type, for the invoke handler and the bindings.
        pub fn specta_builder<R: tauri::Runtime>() -> tauri_specta::Builder<R> {
            // One TypeScript type per Rust type: answers are only serialized and requests
            // only deserialized, so the per-direction copies would say nothing more.
            tauri_specta::Builder::<R>::new()
                .disable_serde_phases()
                .commands(tauri_specta::collect_commands![$($name),*])
                .typ::<retort_api::ApiEvent>()
        }
    };
}

retort_api::with_commands!(tauri_commands);
