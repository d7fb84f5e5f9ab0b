//! What a database's schema looks like: tables, their columns (type and nullability), primary
//! keys, indexes, unique constraints and foreign keys, read from the catalog of SQLite
//! (`sqlite_master` and the `pragma_*` functions), PostgreSQL (`pg_catalog`, the current schema
//! or a given one) or MySQL/MariaDB (`information_schema`, the current database); each
//! engine's file (`sqlite.rs`, `postgres.rs`, `mysql.rs`) reads its own catalog into a `Builder`.
//!
//! Types are normalised per engine so that the same DDL always reads back the same way:
//! PostgreSQL's `format_type` (`character varying(40)`), MySQL's lower-case `COLUMN_TYPE`
//! (`varchar(40)`, `int(11)`), SQLite's declared type in upper case with blanks collapsed. Two
//! schemas are only comparable when they come from the same engine.
//!
//! [`diff`] compares an expected schema (what the revisions build) with an actual one (what a
//! database holds) and lists every [`Difference`].

use super::engine::Engine;
use super::{Backend, Database, DatabaseError, VersionTable};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A database's tables, sorted by name. The version table is not part of it.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schema {
    pub backend: Backend,
    /// PostgreSQL: the schema read; MySQL: the database; SQLite: `main`.
    pub namespace: String,
    pub tables: Vec<Table>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub name: String,
    /// In the table's column order.
    pub columns: Vec<Column>,
    /// The primary key's columns in key order; empty when the table has none.
    pub primary_key: Vec<String>,
    /// Indexes that do not back a primary key or unique constraint, sorted by name.
    pub indexes: Vec<Index>,
    /// Sorted by columns.
    pub unique_constraints: Vec<UniqueConstraint>,
    /// Sorted by columns.
    pub foreign_keys: Vec<ForeignKey>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    /// The engine's normalised spelling of the type.
    pub data_type: String,
    pub nullable: bool,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub name: String,
    /// Column names, or the expression text of an expression column.
    pub columns: Vec<String>,
    pub unique: bool,
    /// PostgreSQL: the `WHERE` of a partial index.
    pub condition: Option<String>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UniqueConstraint {
    /// `None` on SQLite, whose unique constraints have no name of their own.
    pub name: Option<String>,
    pub columns: Vec<String>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// `None` on SQLite, which does not keep the constraint's name.
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub referred_table: String,
    /// Empty when SQLite's `REFERENCES t` names no column (the referred primary key).
    pub referred_columns: Vec<String>,
    /// `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`.
    pub on_update: String,
    pub on_delete: String,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl Column {
    fn describe(&self) -> String {
        format!(
            "{} {}",
            self.data_type,
            if self.nullable { "NULL" } else { "NOT NULL" }
        )
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{} ({})",
            if self.unique {
                "unique index "
            } else {
                "index "
            },
            self.name,
            self.columns.join(", ")
        )?;
        if let Some(c) = &self.condition {
            write!(f, " WHERE {c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for UniqueConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unique ({})", self.columns.join(", "))?;
        if let Some(n) = &self.name {
            write!(f, " [{n}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "foreign key ({}) -> {}",
            self.columns.join(", "),
            self.referred_table
        )?;
        if !self.referred_columns.is_empty() {
            write!(f, " ({})", self.referred_columns.join(", "))?;
        }
        if self.on_update != "NO ACTION" {
            write!(f, " ON UPDATE {}", self.on_update)?;
        }
        if self.on_delete != "NO ACTION" {
            write!(f, " ON DELETE {}", self.on_delete)?;
        }
        if let Some(n) = &self.name {
            write!(f, " [{n}]")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Differences

/// One way an actual schema differs from the expected one.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    MissingTable {
        table: String,
    },
    ExtraTable {
        table: String,
    },
    MissingColumn {
        table: String,
        column: Column,
    },
    ExtraColumn {
        table: String,
        column: Column,
    },
    ColumnType {
        table: String,
        column: String,
        expected: String,
        actual: String,
    },
    ColumnNullable {
        table: String,
        column: String,
        expected: bool,
        actual: bool,
    },
    PrimaryKey {
        table: String,
        expected: Vec<String>,
        actual: Vec<String>,
    },
    MissingIndex {
        table: String,
        index: Index,
    },
    ExtraIndex {
        table: String,
        index: Index,
    },
    /// An index of the expected name whose definition differs.
    IndexDefinition {
        table: String,
        expected: Index,
        actual: Index,
    },
    MissingUnique {
        table: String,
        constraint: UniqueConstraint,
    },
    ExtraUnique {
        table: String,
        constraint: UniqueConstraint,
    },
    MissingForeignKey {
        table: String,
        foreign_key: ForeignKey,
    },
    ExtraForeignKey {
        table: String,
        foreign_key: ForeignKey,
    },
}

impl Difference {
    pub fn table(&self) -> &str {
        match self {
            Difference::MissingTable { table }
            | Difference::ExtraTable { table }
            | Difference::MissingColumn { table, .. }
            | Difference::ExtraColumn { table, .. }
            | Difference::ColumnType { table, .. }
            | Difference::ColumnNullable { table, .. }
            | Difference::PrimaryKey { table, .. }
            | Difference::MissingIndex { table, .. }
            | Difference::ExtraIndex { table, .. }
            | Difference::IndexDefinition { table, .. }
            | Difference::MissingUnique { table, .. }
            | Difference::ExtraUnique { table, .. }
            | Difference::MissingForeignKey { table, .. }
            | Difference::ExtraForeignKey { table, .. } => table,
        }
    }
}

fn nullability(nullable: bool) -> &'static str {
    if nullable { "nullable" } else { "NOT NULL" }
}

fn key(columns: &[String]) -> String {
    if columns.is_empty() {
        "none".to_string()
    } else {
        format!("({})", columns.join(", "))
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::MissingTable { table } => write!(f, "table {table}: missing"),
            Difference::ExtraTable { table } => write!(f, "table {table}: not expected"),
            Difference::MissingColumn { table, column } => write!(
                f,
                "column {table}.{}: missing (expected {})",
                column.name,
                column.describe()
            ),
            Difference::ExtraColumn { table, column } => write!(
                f,
                "column {table}.{}: not expected (found {})",
                column.name,
                column.describe()
            ),
            Difference::ColumnType {
                table,
                column,
                expected,
                actual,
            } => write!(
                f,
                "column {table}.{column}: type {expected} expected, found {actual}"
            ),
            Difference::ColumnNullable {
                table,
                column,
                expected,
                actual,
            } => write!(
                f,
                "column {table}.{column}: {} expected, found {}",
                nullability(*expected),
                nullability(*actual)
            ),
            Difference::PrimaryKey {
                table,
                expected,
                actual,
            } => write!(
                f,
                "table {table}: primary key {} expected, found {}",
                key(expected),
                key(actual)
            ),
            Difference::MissingIndex { table, index } => {
                write!(f, "table {table}: {index} missing")
            }
            Difference::ExtraIndex { table, index } => {
                write!(f, "table {table}: {index} not expected")
            }
            Difference::IndexDefinition {
                table,
                expected,
                actual,
            } => write!(f, "table {table}: {expected} expected, found {actual}"),
            Difference::MissingUnique { table, constraint } => {
                write!(f, "table {table}: {constraint} missing")
            }
            Difference::ExtraUnique { table, constraint } => {
                write!(f, "table {table}: {constraint} not expected")
            }
            Difference::MissingForeignKey { table, foreign_key } => {
                write!(f, "table {table}: {foreign_key} missing")
            }
            Difference::ExtraForeignKey { table, foreign_key } => {
                write!(f, "table {table}: {foreign_key} not expected")
            }
        }
    }
}

/// Everything in which an actual schema differs from an expected one, table by table.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchemaDiff {
    pub differences: Vec<Difference>,
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }
    pub fn len(&self) -> usize {
        self.differences.len()
    }
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.differences {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// What differs in `actual` from `expected`: "missing" is in `expected` only, "not expected"
/// in `actual` only. Indexes are matched by name, unique constraints and foreign keys by
/// their definition (their names are often generated).
pub fn diff(expected: &Schema, actual: &Schema) -> SchemaDiff {
    let mut out = Vec::new();
    let names: BTreeSet<&str> = expected
        .tables
        .iter()
        .chain(&actual.tables)
        .map(|t| t.name.as_str())
        .collect();
    for name in names {
        match (expected.table(name), actual.table(name)) {
            (Some(_), None) => out.push(Difference::MissingTable {
                table: name.to_string(),
            }),
            (None, Some(_)) => out.push(Difference::ExtraTable {
                table: name.to_string(),
            }),
            (Some(e), Some(a)) => diff_table(e, a, &mut out),
            (None, None) => {}
        }
    }
    SchemaDiff { differences: out }
}

fn diff_table(e: &Table, a: &Table, out: &mut Vec<Difference>) {
    let table = || e.name.clone();
    for ec in &e.columns {
        match a.columns.iter().find(|c| c.name == ec.name) {
            None => out.push(Difference::MissingColumn {
                table: table(),
                column: ec.clone(),
            }),
            Some(ac) => {
                if ac.data_type != ec.data_type {
                    out.push(Difference::ColumnType {
                        table: table(),
                        column: ec.name.clone(),
                        expected: ec.data_type.clone(),
                        actual: ac.data_type.clone(),
                    });
                }
                if ac.nullable != ec.nullable {
                    out.push(Difference::ColumnNullable {
                        table: table(),
                        column: ec.name.clone(),
                        expected: ec.nullable,
                        actual: ac.nullable,
                    });
                }
            }
        }
    }
    for ac in &a.columns {
        if !e.columns.iter().any(|c| c.name == ac.name) {
            out.push(Difference::ExtraColumn {
                table: table(),
                column: ac.clone(),
            });
        }
    }
    if e.primary_key != a.primary_key {
        out.push(Difference::PrimaryKey {
            table: table(),
            expected: e.primary_key.clone(),
            actual: a.primary_key.clone(),
        });
    }
    for ei in &e.indexes {
        match a.indexes.iter().find(|i| i.name == ei.name) {
            None => out.push(Difference::MissingIndex {
                table: table(),
                index: ei.clone(),
            }),
            Some(ai) if ai != ei => out.push(Difference::IndexDefinition {
                table: table(),
                expected: ei.clone(),
                actual: ai.clone(),
            }),
            Some(_) => {}
        }
    }
    for ai in &a.indexes {
        if !e.indexes.iter().any(|i| i.name == ai.name) {
            out.push(Difference::ExtraIndex {
                table: table(),
                index: ai.clone(),
            });
        }
    }
    let (missing, extra) = unmatched(&e.unique_constraints, &a.unique_constraints, |u| {
        u.columns.clone()
    });
    out.extend(missing.into_iter().map(|c| Difference::MissingUnique {
        table: table(),
        constraint: c,
    }));
    out.extend(extra.into_iter().map(|c| Difference::ExtraUnique {
        table: table(),
        constraint: c,
    }));
    let (missing, extra) = unmatched(&e.foreign_keys, &a.foreign_keys, |k| {
        (
            k.columns.clone(),
            k.referred_table.clone(),
            k.referred_columns.clone(),
            k.on_update.clone(),
            k.on_delete.clone(),
        )
    });
    out.extend(missing.into_iter().map(|k| Difference::MissingForeignKey {
        table: table(),
        foreign_key: k,
    }));
    out.extend(extra.into_iter().map(|k| Difference::ExtraForeignKey {
        table: table(),
        foreign_key: k,
    }));
}

/// Pairs items of equal signature one to one; returns what is left on either side.
fn unmatched<T: Clone, K: PartialEq>(
    expected: &[T],
    actual: &[T],
    signature: impl Fn(&T) -> K,
) -> (Vec<T>, Vec<T>) {
    let mut left: Vec<Option<&T>> = actual.iter().map(Some).collect();
    let mut missing = Vec::new();
    for e in expected {
        let sig = signature(e);
        match left
            .iter_mut()
            .find(|a| a.is_some_and(|a| signature(a) == sig))
        {
            Some(slot) => *slot = None,
            None => missing.push(e.clone()),
        }
    }
    (missing, left.into_iter().flatten().cloned().collect())
}

// ---------------------------------------------------------------------------------------------
// Reading the catalog

/// Reads the schema of the database `db` is connected to: PostgreSQL's `schema` (default: the
/// current schema), MySQL's current database, SQLite's main database. The version table
/// `version_table` is left out.
pub async fn introspect(
    db: &mut Database,
    schema: Option<&str>,
    version_table: &VersionTable,
) -> Result<Schema, DatabaseError> {
    let url = db.url.clone();
    let fail = |e: sqlx::Error| DatabaseError::Query {
        url: url.redacted(),
        message: url.scrub(&format!("reading the schema: {}", super::error_text(&e))),
    };
    let mut builder = Builder::default();
    let namespace =
        on_conn!(&mut db.conn, c => c.read_schema(schema, &mut builder).await).map_err(fail)?;
    // The version table counts only where the version table lives (SQLite: `main`).
    let version_here = match &version_table.schema {
        None => true,
        Some(s) => *s == namespace,
    };
    if version_here {
        builder.tables.remove(&version_table.name);
    }
    Ok(builder.finish(db.url.backend, namespace))
}

/// The tables an engine's catalog read collects, by name.
#[derive(Default)]
pub(super) struct Builder {
    tables: BTreeMap<String, Table>,
}

impl Builder {
    pub(super) fn add_table(&mut self, name: &str) {
        self.tables
            .entry(name.to_string())
            .or_insert_with(|| Table {
                name: name.to_string(),
                columns: Vec::new(),
                primary_key: Vec::new(),
                indexes: Vec::new(),
                unique_constraints: Vec::new(),
                foreign_keys: Vec::new(),
            });
    }

    /// The table, if it is one being read (views and the like are skipped).
    pub(super) fn table(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.get_mut(name)
    }

    fn finish(self, backend: Backend, namespace: String) -> Schema {
        let tables = self
            .tables
            .into_values()
            .map(|mut t| {
                t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
                t.unique_constraints
                    .sort_by(|a, b| (&a.columns, &a.name).cmp(&(&b.columns, &b.name)));
                t.foreign_keys.sort_by(|a, b| {
                    (&a.columns, &a.referred_table, &a.name).cmp(&(
                        &b.columns,
                        &b.referred_table,
                        &b.name,
                    ))
                });
                t
            })
            .collect();
        Schema {
            backend,
            namespace,
            tables,
        }
    }
}

/// A foreign key's rule as SQLite and MySQL spell it, `NO ACTION` when empty.
pub(super) fn action(rule: &str) -> String {
    match rule.trim().to_ascii_uppercase().as_str() {
        "" => "NO ACTION".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, data_type: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
        }
    }

    fn orders() -> Table {
        Table {
            name: "orders".into(),
            columns: vec![
                column("id", "integer", false),
                column("customer_id", "integer", false),
                column("note", "text", true),
            ],
            primary_key: vec!["id".into()],
            indexes: vec![Index {
                name: "ix_orders_customer".into(),
                columns: vec!["customer_id".into()],
                unique: false,
                condition: None,
            }],
            unique_constraints: vec![],
            foreign_keys: vec![ForeignKey {
                name: Some("orders_customer_id_fkey".into()),
                columns: vec!["customer_id".into()],
                referred_table: "customers".into(),
                referred_columns: vec!["id".into()],
                on_update: "NO ACTION".into(),
                on_delete: "CASCADE".into(),
            }],
        }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema {
            backend: Backend::Postgres,
            namespace: "public".into(),
            tables,
        }
    }

    #[test]
    fn equal_schemas_have_no_difference() {
        let s = schema(vec![orders()]);
        assert!(diff(&s, &s.clone()).is_empty());
    }

    #[test]
    fn every_kind_of_difference_is_named() {
        let expected = schema(vec![orders(), {
            let mut t = orders();
            t.name = "gone".into();
            t
        }]);
        let mut changed = orders();
        changed.columns.remove(2); // note: missing
        changed.columns[1].nullable = true; // customer_id: nullability
        changed.columns[0].data_type = "bigint".into(); // id: type
        changed.columns.push(column("extra", "text", true));
        changed.indexes.clear();
        changed.foreign_keys[0].on_delete = "NO ACTION".into();
        changed.unique_constraints.push(UniqueConstraint {
            name: Some("orders_note_key".into()),
            columns: vec!["note".into()],
        });
        changed.primary_key.clear();
        let actual = schema(vec![changed]);
        let d = diff(&expected, &actual);
        let text = d.to_string();
        for wanted in [
            "table gone: missing",
            "column orders.note: missing (expected text NULL)",
            "column orders.customer_id: NOT NULL expected, found nullable",
            "column orders.id: type integer expected, found bigint",
            "column orders.extra: not expected (found text NULL)",
            "table orders: index ix_orders_customer (customer_id) missing",
            "table orders: foreign key (customer_id) -> customers (id) ON DELETE CASCADE [orders_customer_id_fkey] missing",
            "table orders: foreign key (customer_id) -> customers (id) [orders_customer_id_fkey] not expected",
            "table orders: unique (note) [orders_note_key] not expected",
            "table orders: primary key (id) expected, found none",
        ] {
            assert!(text.contains(wanted), "{wanted:?} not in:\n{text}");
        }
        assert_eq!(d.len(), 10, "{text}");
        // The reverse direction names the same things the other way round.
        let back = diff(&actual, &expected).to_string();
        assert!(back.contains("table gone: not expected"), "{back}");
        assert!(back.contains("column orders.note: not expected"), "{back}");
    }

    #[test]
    fn index_of_the_same_name_with_other_columns_is_one_difference() {
        let expected = schema(vec![orders()]);
        let mut t = orders();
        t.indexes[0].columns = vec!["note".into()];
        t.indexes[0].unique = true;
        let d = diff(&expected, &schema(vec![t]));
        assert_eq!(d.len(), 1);
        assert_eq!(
            d.differences[0].to_string(),
            "table orders: index ix_orders_customer (customer_id) expected, found unique index ix_orders_customer (note)"
        );
    }

    #[test]
    fn unique_constraints_match_by_columns_not_name() {
        let mut a = orders();
        a.unique_constraints.push(UniqueConstraint {
            name: Some("one".into()),
            columns: vec!["note".into()],
        });
        let mut b = orders();
        b.unique_constraints.push(UniqueConstraint {
            name: None,
            columns: vec!["note".into()],
        });
        assert!(diff(&schema(vec![a]), &schema(vec![b])).is_empty());
    }
}
