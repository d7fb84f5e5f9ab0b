//! `alembic.ini`: ConfigParser's syntax, `%` interpolation, and the settings Retort takes
//! from the `[alembic]` section.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::project::alembic_config::AlembicConfig;
use std::path::Path;

fuzz_target!(|text: &str| {
    let Ok(config) = AlembicConfig::parse(Some((Path::new("/project/alembic.ini"), text)), None, "alembic") else {
        return;
    };
    let _ = config.settings();
});
