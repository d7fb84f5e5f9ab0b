//! The store's `.env` import.
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::store::dotenv::{lookup, parse};

fuzz_target!(|text: &str| {
    let pairs = parse(text);
    if let Some((key, value)) = pairs.last() {
        assert_eq!(lookup(text, key).as_ref(), Some(value));
    }
});
