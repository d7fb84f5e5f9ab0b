//! The statement splitter of every dialect: no panic, and every statement is a piece of the
//! text, in order, starting on the line it reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::database::Backend;
use retort_core::execution::statements::split;

fuzz_target!(|text: &str| {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let mut from = 0;
        for statement in split(text, backend) {
            let _ = statement.summary();
            let _ = statement.is_transaction_control();
            let at = text
                .get(from..)
                .and_then(|rest| rest.find(&statement.sql))
                .map(|i| from + i);
            let Some(at) = at else {
                panic!("{:?} is not a piece of the text after byte {from}", statement.sql);
            };
            assert!(
                statement.line >= 1 + text[..from].matches('\n').count(),
                "line {} is before the previous statement's end",
                statement.line
            );
            from = at + statement.sql.len();
        }
    }
});
