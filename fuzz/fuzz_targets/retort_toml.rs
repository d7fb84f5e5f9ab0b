//! A native project's `retort.toml`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::project::native_config::parse_native_settings;
use std::path::Path;

fuzz_target!(|text: &str| {
    let _ = parse_native_settings(Path::new("/project/retort.toml"), text);
});
