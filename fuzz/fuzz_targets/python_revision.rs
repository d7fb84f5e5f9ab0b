//! Alembic revision files read statically (the header values: revision, down_revision,
//! branch_labels, depends_on and the docstring). `read_static` turns a parser panic into a
//! diagnostic; libFuzzer's panic hook aborts first, so such a panic is still found.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::project::python_revision::read_static;
use std::path::Path;

fuzz_target!(|source: &str| {
    let _ = read_static(Path::new("versions/fuzz.py"), source);
});
