//! retort.toml (helper B writes this).
