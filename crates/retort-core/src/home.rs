//! Retort's home folder: `$RETORT_HOME`, else `<data_dir>/retort`. The store, the header
//! caches and the default backup folder live in it. At the bottom of the core, so that
//! reading a project (its cache) does not reach up into the store.

use std::path::PathBuf;

/// The home folder; `None` when `$RETORT_HOME` is unset and the platform has no data folder.
pub fn dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("RETORT_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    dirs::data_dir().map(|d| d.join("retort"))
}
