//! Database URLs as the user writes them (SQLAlchemy forms included), and everything that
//! prints one: the redacted form, the location, and scrubbing the URL's secrets from text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::database::DatabaseUrl;
use std::path::Path;

fuzz_target!(|text: &str| {
    let Ok(url) = DatabaseUrl::parse(text, Path::new("/project")) else {
        return;
    };
    let _ = url.redacted();
    let _ = url.location();
    let _ = url.scrub(text);
    let _ = url.query_value("sslmode");
});
