//! Moving a database between revisions. For now: how each step changes the version table.

pub mod rows;
