//! What a backup holds and what a database holds, as one list of objects, so that a restore
//! is checked rather than assumed: the backup's list is read from the file (a SQLite copy's
//! catalog, a custom-format dump's table of contents, a SQL dump's `CREATE` statements), the
//! database's from its catalog after the restore, and [`compare`] names every difference.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The kinds of objects a restore is checked for.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Schema,
    Extension,
    Table,
    View,
    MaterializedView,
    Sequence,
    Index,
    Constraint,
    Trigger,
    Type,
    Function,
    Procedure,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "schema",
            Self::Extension => "extension",
            Self::Table => "table",
            Self::View => "view",
            Self::MaterializedView => "materialized view",
            Self::Sequence => "sequence",
            Self::Index => "index",
            Self::Constraint => "constraint",
            Self::Trigger => "trigger",
            Self::Type => "type",
            Self::Function => "function",
            Self::Procedure => "procedure",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The objects, row counts and version rows of a backup or of a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Each object, with its definition where the format gives it (SQLite: its `CREATE`
    /// text), for telling a changed object from an unchanged one.
    pub objects: BTreeMap<(ObjectKind, String), Option<String>>,
    /// Rows per table, where the format records them (`None`: it does not).
    pub row_counts: Option<BTreeMap<String, u64>>,
    /// The version table's rows, sorted (empty: no rows or no version table).
    pub revisions: Vec<String>,
    /// Where the list was read: `the SQLite copy`, `pg_restore --list`, `the dump's statements`.
    pub source: &'static str,
}

impl Inventory {
    pub fn add(&mut self, kind: ObjectKind, name: impl Into<String>) {
        self.objects.insert((kind, name.into()), None);
    }

    pub fn names(&self, kind: ObjectKind) -> BTreeSet<&str> {
        self.objects
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
            .collect()
    }

    pub fn contains(&self, kind: ObjectKind, name: &str) -> bool {
        self.objects.contains_key(&(kind, name.to_string()))
    }

    pub fn set_revisions(&mut self, mut rows: Vec<String>) {
        rows.sort();
        self.revisions = rows;
    }
}

/// One way the restored database differs from the backup.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "difference", rename_all = "snake_case")]
pub enum RestoreDifference {
    /// In the backup, not in the database.
    Missing { kind: ObjectKind, name: String },
    /// In the database, not in the backup.
    Extra { kind: ObjectKind, name: String },
    /// In both, defined differently.
    Changed { kind: ObjectKind, name: String },
    RowCount {
        table: String,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        backup: u64,
        #[cfg_attr(feature = "specta", specta(type = f64))]
        database: u64,
    },
    VersionRows {
        backup: Vec<String>,
        database: Vec<String>,
    },
}

fn rows_text(rows: &[String]) -> String {
    if rows.is_empty() {
        "none".into()
    } else {
        rows.join(", ")
    }
}

impl fmt::Display for RestoreDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { kind, name } => write!(f, "{kind} {name}: in the backup, missing"),
            Self::Extra { kind, name } => write!(f, "{kind} {name}: not in the backup"),
            Self::Changed { kind, name } => {
                write!(f, "{kind} {name}: defined differently from the backup")
            }
            Self::RowCount {
                table,
                backup,
                database,
            } => write!(f, "table {table}: {database} rows, the backup has {backup}"),
            Self::VersionRows { backup, database } => write!(
                f,
                "version rows: {}, the backup has {}",
                rows_text(database),
                rows_text(backup)
            ),
        }
    }
}

/// What a restore was checked against, when it matched.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreVerification {
    /// Objects of the backup found in the database, as they are in the backup.
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub objects: u64,
    /// Tables whose row counts were compared (`None`: the format records no counts).
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub row_counts: Option<u64>,
    /// The version rows, the same in both.
    pub revisions: Vec<String>,
    /// `SQLite copy`, `pg_restore --list`, `dump's CREATE statements`.
    pub source: String,
}

impl fmt::Display for RestoreVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} objects", self.objects)?;
        if let Some(n) = self.row_counts {
            write!(f, ", the row counts of {n} tables")?;
        }
        write!(
            f,
            " and the version rows ({}) match the backup ({})",
            rows_text(&self.revisions),
            self.source
        )
    }
}

/// Every difference between the backup (`expected`) and the database (`actual`). Row counts
/// are compared where both sides have them.
pub fn compare(expected: &Inventory, actual: &Inventory) -> Vec<RestoreDifference> {
    let mut out = Vec::new();
    for ((kind, name), definition) in &expected.objects {
        match actual.objects.get(&(*kind, name.clone())) {
            None => out.push(RestoreDifference::Missing {
                kind: *kind,
                name: name.clone(),
            }),
            Some(found) if definition.is_some() && found.is_some() && found != definition => out
                .push(RestoreDifference::Changed {
                    kind: *kind,
                    name: name.clone(),
                }),
            Some(_) => {}
        }
    }
    for (kind, name) in actual.objects.keys() {
        if !expected.objects.contains_key(&(*kind, name.clone())) {
            out.push(RestoreDifference::Extra {
                kind: *kind,
                name: name.clone(),
            });
        }
    }
    if let (Some(backup), Some(database)) = (&expected.row_counts, &actual.row_counts) {
        for (table, &b) in backup {
            let d = database.get(table).copied().unwrap_or(0);
            if b != d && actual.contains(ObjectKind::Table, table) {
                out.push(RestoreDifference::RowCount {
                    table: table.clone(),
                    backup: b,
                    database: d,
                });
            }
        }
    }
    if expected.revisions != actual.revisions {
        out.push(RestoreDifference::VersionRows {
            backup: expected.revisions.clone(),
            database: actual.revisions.clone(),
        });
    }
    out
}

/// The summary of a comparison that found nothing.
pub(super) fn verified(expected: &Inventory) -> RestoreVerification {
    RestoreVerification {
        objects: expected.objects.len() as u64,
        row_counts: expected.row_counts.as_ref().map(|c| c.len() as u64),
        revisions: expected.revisions.clone(),
        source: expected.source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(objects: &[(ObjectKind, &str)], rows: &[&str]) -> Inventory {
        let mut i = Inventory::default();
        for (k, n) in objects {
            i.add(*k, *n);
        }
        i.set_revisions(rows.iter().map(|r| r.to_string()).collect());
        i
    }

    #[test]
    fn the_same_inventory_has_no_difference() {
        let a = inventory(&[(ObjectKind::Table, "public.t")], &["b", "a"]);
        assert!(compare(&a, &a.clone()).is_empty());
        assert_eq!(a.revisions, ["a", "b"]);
    }

    #[test]
    fn every_difference_is_named() {
        let mut backup = inventory(
            &[
                (ObjectKind::Table, "t"),
                (ObjectKind::View, "v"),
                (ObjectKind::Index, "t.ix"),
            ],
            &["r1"],
        );
        backup.objects.insert(
            (ObjectKind::Table, "d".into()),
            Some("CREATE TABLE d (x)".into()),
        );
        backup.row_counts = Some([("t".to_string(), 3), ("d".to_string(), 0)].into());
        let mut db = inventory(
            &[
                (ObjectKind::Table, "t"),
                (ObjectKind::Index, "t.ix"),
                (ObjectKind::Table, "later"),
            ],
            &["r2"],
        );
        db.objects.insert(
            (ObjectKind::Table, "d".into()),
            Some("CREATE TABLE d (x, y)".into()),
        );
        db.row_counts = Some([("t".to_string(), 2)].into());
        let text: Vec<String> = compare(&backup, &db)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            text,
            [
                "table d: defined differently from the backup",
                "view v: in the backup, missing",
                "table later: not in the backup",
                "table t: 2 rows, the backup has 3",
                "version rows: r2, the backup has r1",
            ]
        );
    }
}
