//! `pyproject.toml`'s `[tool.alembic]` table and the settings Retort takes from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::project::alembic_config::AlembicConfig;
use std::path::Path;

fuzz_target!(|text: &str| {
    let Ok(config) = AlembicConfig::parse(None, Some((Path::new("/project/pyproject.toml"), text)), "alembic") else {
        return;
    };
    let _ = config.settings();
});
