//! Native `.sql` revision files: the header, the section markers, and the statement splitter
//! of every dialect over the sections that parse. A file that parses renders back to one that
//! parses to the same revision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::database::Backend;
use retort_core::execution::statements::split;
use retort_core::project::sql_revision::{parse_sql_revision, render_sql_revision};
use std::path::Path;

fuzz_target!(|text: &str| {
    let path = Path::new("versions/fuzz.sql");
    let Ok(revision) = parse_sql_revision(path, text) else {
        return;
    };
    if let Some(body) = &revision.sql {
        for section in std::iter::once(&body.upgrade).chain(&body.downgrade) {
            for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
                let _ = split(&section.sql, backend);
            }
        }
    }
    let rendered = render_sql_revision(&revision);
    if let Ok(again) = parse_sql_revision(path, &rendered) {
        assert_eq!(again.revision, revision.revision);
        assert_eq!(again.down_revision, revision.down_revision);
    }
});
