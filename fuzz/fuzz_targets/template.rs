//! The Mako subset of `script.py.mako`: parsing and rendering with the variables `revision`
//! passes (and a `config.get_main_option` that answers for some names).
#![no_main]

use libfuzzer_sys::fuzz_target;
use retort_core::authoring::template::{Context, Value, render};
use std::collections::BTreeMap;
use std::path::Path;

fuzz_target!(|text: &str| {
    let mut vars = BTreeMap::new();
    vars.insert("up_revision".to_string(), Value::Str("3f2a1b0c9d8e".into()));
    vars.insert("down_revision".to_string(), Value::str_tuple(&["a1", "b2"]));
    vars.insert("branch_labels".to_string(), Value::None);
    vars.insert("depends_on".to_string(), Value::str_list(&["c3"]));
    vars.insert("create_date".to_string(), Value::Date("2026-12-02 06:00:00".into()));
    vars.insert("comma".to_string(), Value::CommaFilter);
    vars.insert("message".to_string(), Value::Str("add 'é' \"table\"\n".into()));
    vars.insert("config".to_string(), Value::Config);
    vars.insert("upgrades".to_string(), Value::Str("op.create_table('t')".into()));
    vars.insert("imports".to_string(), Value::Int(-3));
    vars.insert("flag".to_string(), Value::Bool(true));
    let main_option = |name: &str| -> Result<Option<String>, String> {
        match name {
            "sqlalchemy.url" => Ok(Some("sqlite:///x.db".into())),
            "broken" => Err("bad % reference".into()),
            _ => Ok(None),
        }
    };
    let ctx = Context { vars, main_option: &main_option };
    let _ = render(Path::new("script.py.mako"), text, &ctx);
});
