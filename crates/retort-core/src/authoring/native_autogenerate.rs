//! Autogenerate for native SQL projects: a `.sql` revision that turns the schema the
//! revisions build at the heads into the schema of a source database (a development database
//! someone changed by hand or with another tool), and back.
//!
//! The heads' schema is built in a scratch database of the source's engine (verified stamp's
//! machinery), both are read with the same catalog reader, and their [`schema::diff`] becomes
//! DDL, one operation per difference, in an order each engine can run (foreign keys and
//! indexes that go are dropped first, new tables and columns come before the indexes and
//! foreign keys that use them). The downgrade is the same made from the reverse diff.
//!
//! **Proof:** before anything is written, the upgrade is run on the scratch database (still at
//! the heads) and the schema read again must equal the source's; then the downgrade must bring
//! back the heads' schema. A revision that fails either is not offered; the error names what
//! did not converge.
//!
//! Not generated yet (refused with the object's name): primary-key changes of existing
//! tables, and on SQLite what `ALTER TABLE` cannot do (a type, nullability, unique or foreign
//! key change of an existing table needs the table rebuilt). Renames read as a drop and an add.
//! What the catalog reader does not read yet (server defaults, CHECK constraints, enum types,
//! sequences, views, comments) is not compared, so not generated.

use super::{AuthoringError, Body, NewRevision, RevisionRequest};
use crate::authoring::autogenerate::ProposedOperation;
use crate::database::schema::{self, Column, Difference, ForeignKey, Index, Schema, Table};
use crate::database::scratch::ScratchDatabase;
use crate::database::{Backend, Database, DatabaseError, DatabaseUrl, VersionTable, quoted};
use crate::execution::verify::{ScratchError, build_schema};
use crate::execution::{ProgressSink, RunOptions};
use crate::graph::RevisionMap;
use crate::project::Project;
use std::path::Path;

/// A change the diff found, as DDL.
#[derive(Debug, Clone)]
struct Change {
    op: ProposedOperation,
    sql: Vec<String>,
}

/// What native autogenerate proposes, proven on a scratch database.
#[derive(Debug, Clone)]
pub struct NativeProposal {
    pub operations: Vec<ProposedOperation>,
    /// The `-- migrate:up` section.
    pub up_sql: String,
    /// The `-- migrate:down` section.
    pub down_sql: String,
    /// The scratch database the proof ran on (redacted).
    pub scratch: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NativeAutogenerateError {
    #[error(transparent)]
    Scratch(#[from] ScratchError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("{0}: not generated yet; write this part of the revision by hand")]
    Unsupported(String),
    #[error("the generated {stage} failed on the scratch database at `{statement}`: {error}")]
    Failed {
        stage: &'static str,
        statement: String,
        error: String,
    },
    #[error(
        "the generated {stage} did not converge on the scratch database; nothing was written:\n{differences}"
    )]
    NotConverged {
        stage: &'static str,
        differences: String,
    },
    #[error("a native revision is written whole: it was proven with every operation")]
    Partial,
    #[error(
        "the operations are no longer the ones reviewed (the database or the revisions changed): review again"
    )]
    Changed,
    #[error("no changes: nothing to write")]
    NoChanges,
}

/// The revision that turns the heads' schema into `source`'s, proven on a scratch database.
pub async fn propose(
    project: &Project,
    map: &RevisionMap,
    source: &DatabaseUrl,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<NativeProposal, NativeAutogenerateError> {
    let table = VersionTable::of(project);
    let wanted = {
        let mut db = Database::connect(source, options.connect_timeout).await?;
        schema::introspect(&mut db, None, &table).await?
    };
    let heads: Vec<String> = map
        .heads()
        .iter()
        .map(|&i| map.rev(i).revision.clone())
        .collect();
    let scratch = ScratchDatabase::create(source, options.connect_timeout).await?;
    let proved = prove(
        project, map, &scratch, &heads, &wanted, &table, options, sink,
    )
    .await;
    let scratch_url = scratch.url().redacted();
    let removed = scratch.remove().await;
    let (operations, up, down) = proved?;
    removed?;
    Ok(NativeProposal {
        operations,
        up_sql: script(&up),
        down_sql: script(&down),
        scratch: scratch_url,
    })
}

/// [`propose`] again for a choice made on an earlier proposal: refused unless every
/// operation of `reviewed` is kept and they are still the ones proposed now.
pub async fn propose_again(
    project: &Project,
    map: &RevisionMap,
    source: &DatabaseUrl,
    options: &RunOptions,
    sink: ProgressSink<'_>,
    reviewed: &[ProposedOperation],
    keep: &[usize],
) -> Result<NativeProposal, NativeAutogenerateError> {
    if keep.len() != reviewed.len() {
        return Err(NativeAutogenerateError::Partial);
    }
    let proposal = propose(project, map, source, options, sink).await?;
    let texts = |ops: &[ProposedOperation]| ops.iter().map(|o| o.text.clone()).collect::<Vec<_>>();
    if texts(&proposal.operations) != texts(reviewed) {
        return Err(NativeAutogenerateError::Changed);
    }
    if proposal.operations.is_empty() {
        return Err(NativeAutogenerateError::NoChanges);
    }
    Ok(proposal)
}

/// Writes `proposal` as a new revision with `request`'s identifiers and its SQL as the two
/// sections (read back before it is kept, as every new revision).
pub fn write(
    project: &Project,
    map: &RevisionMap,
    proposal: &NativeProposal,
    request: RevisionRequest,
    cwd: &Path,
) -> Result<NewRevision, AuthoringError> {
    let request = RevisionRequest {
        body: Body {
            up_sql: Some(proposal.up_sql.clone()),
            down_sql: Some(proposal.down_sql.clone()),
            ..Body::default()
        },
        ..request
    };
    super::create_revision(project, map, &request, cwd)
}

#[allow(clippy::too_many_arguments)]
async fn prove(
    project: &Project,
    map: &RevisionMap,
    scratch: &ScratchDatabase,
    heads: &[String],
    wanted: &Schema,
    table: &VersionTable,
    options: &RunOptions,
    sink: ProgressSink<'_>,
) -> Result<(Vec<ProposedOperation>, Vec<String>, Vec<String>), NativeAutogenerateError> {
    let built = build_schema(project, map, scratch.url(), heads, options, sink).await?;
    let backend = scratch.url().backend;
    let up = changes(&built, wanted, backend)?;
    let down = changes(wanted, &built, backend)?;
    let up_sql: Vec<String> = up.iter().flat_map(|c| c.sql.clone()).collect();
    let down_sql: Vec<String> = down.iter().flat_map(|c| c.sql.clone()).collect();
    if up.is_empty() {
        return Ok((Vec::new(), up_sql, down_sql));
    }
    let mut db = Database::connect(scratch.url(), options.connect_timeout).await?;
    run(&mut db, "upgrade", &up_sql).await?;
    converged(&mut db, "upgrade", wanted, table).await?;
    run(&mut db, "downgrade", &down_sql).await?;
    converged(&mut db, "downgrade", &built, table).await?;
    Ok((up.into_iter().map(|c| c.op).collect(), up_sql, down_sql))
}

async fn run(
    db: &mut Database,
    stage: &'static str,
    sql: &[String],
) -> Result<(), NativeAutogenerateError> {
    for statement in sql {
        if let Err(e) = db.execute(statement).await {
            return Err(NativeAutogenerateError::Failed {
                stage,
                statement: statement.clone(),
                error: e.to_string(),
            });
        }
    }
    Ok(())
}

async fn converged(
    db: &mut Database,
    stage: &'static str,
    wanted: &Schema,
    table: &VersionTable,
) -> Result<(), NativeAutogenerateError> {
    let now = schema::introspect(db, None, table).await?;
    let left = schema::diff(wanted, &now);
    if left.is_empty() {
        Ok(())
    } else {
        Err(NativeAutogenerateError::NotConverged {
            stage,
            differences: left.to_string(),
        })
    }
}

/// The statements as a section of a `.sql` revision.
fn script(statements: &[String]) -> String {
    statements
        .iter()
        .map(|s| format!("{s};\n"))
        .collect::<String>()
}

// ---------------------------------------------------------------------------------------------
// From a diff to DDL

/// The changes that turn `from` into `to`, in an order the engine can run.
fn changes(
    from: &Schema,
    to: &Schema,
    backend: Backend,
) -> Result<Vec<Change>, NativeAutogenerateError> {
    let diff = schema::diff(from, to);
    let q = |name: &str| quoted(name, backend);
    let unsupported = |what: String| Err(NativeAutogenerateError::Unsupported(what));
    // Phases: what goes first, then tables and columns, then what uses them.
    let mut drop_keys = Vec::new();
    let mut drop_indexes = Vec::new();
    let mut create_tables = Vec::new();
    let mut columns = Vec::new();
    let mut drop_columns = Vec::new();
    let mut drop_tables = Vec::new();
    let mut create_indexes = Vec::new();
    let mut add_keys = Vec::new();
    let sqlite = backend == Backend::Sqlite;
    // Columns that already have a MODIFY (MySQL), by (table, column).
    let mut modified = std::collections::BTreeSet::new();
    for d in &diff.differences {
        let t = d.table();
        let op = |kind: &str, text: String, risks: Vec<String>| ProposedOperation {
            kind: kind.into(),
            table: t.to_string(),
            text,
            risks,
        };
        match d {
            // "not expected": in `to` only, so made; "missing": in `from` only, so removed.
            Difference::ExtraTable { table } => {
                let def = to.table(table).expect("the diff names tables of `to`");
                create_tables.push(Change {
                    op: op(
                        "create_table",
                        format!("create table {table} ({})", column_list(def)),
                        vec![],
                    ),
                    sql: vec![create_table(def, backend)],
                });
                for index in &def.indexes {
                    create_indexes.push(Change {
                        op: op("create_index", index_text(table, index), vec![]),
                        sql: vec![create_index(table, index, backend)],
                    });
                }
                if !sqlite {
                    for key in &def.foreign_keys {
                        add_keys.push(Change {
                            op: op("add_foreign_key", key_text(table, key), vec![]),
                            sql: vec![add_key(table, key, backend)],
                        });
                    }
                }
            }
            Difference::MissingTable { table } => {
                drop_tables.push(Change {
                    op: op(
                        "drop_table",
                        format!("drop table {table}"),
                        vec![format!("loses data: every row of {table}")],
                    ),
                    sql: vec![format!("DROP TABLE {}", q(table))],
                });
            }
            Difference::ExtraColumn { table, column } => {
                let mut risks = Vec::new();
                if !column.nullable {
                    risks.push(format!(
                        "fails if {table} has rows: NOT NULL without a default"
                    ));
                }
                columns.push(Change {
                    op: op(
                        "add_column",
                        format!("add column {table}.{}", column_text(column)),
                        risks,
                    ),
                    sql: vec![format!(
                        "ALTER TABLE {} ADD COLUMN {}",
                        q(table),
                        column_sql(column, backend)
                    )],
                });
            }
            Difference::MissingColumn { table, column } => {
                drop_columns.push(Change {
                    op: op(
                        "drop_column",
                        format!("drop column {table}.{}", column_text(column)),
                        vec!["loses data: the column's values".into()],
                    ),
                    sql: vec![format!(
                        "ALTER TABLE {} DROP COLUMN {}",
                        q(table),
                        q(&column.name)
                    )],
                });
            }
            Difference::ColumnType {
                table,
                column,
                expected,
                actual,
            } => {
                if sqlite {
                    return unsupported(format!(
                        "the type of {table}.{column} on SQLite (the table must be rebuilt)"
                    ));
                }
                let target = to_column(to, table, column);
                modified.insert((table.clone(), column.clone()));
                let sql = match backend {
                    Backend::Postgres => format!(
                        "ALTER TABLE {} ALTER COLUMN {} TYPE {actual} USING {}::{actual}",
                        q(table),
                        q(column),
                        q(column)
                    ),
                    _ => format!(
                        "ALTER TABLE {} MODIFY COLUMN {}",
                        q(table),
                        column_sql(&target, backend)
                    ),
                };
                columns.push(Change {
                    op: op(
                        "alter_column",
                        format!("alter column {table}.{column}: type {expected} → {actual}"),
                        vec!["converts every value (the table may be rewritten and locked); may fail or lose data".into()],
                    ),
                    sql: vec![sql],
                });
            }
            Difference::ColumnNullable {
                table,
                column,
                actual,
                ..
            } => {
                if sqlite {
                    return unsupported(format!(
                        "the nullability of {table}.{column} on SQLite (the table must be rebuilt)"
                    ));
                }
                let target = to_column(to, table, column);
                let sql = match backend {
                    Backend::Postgres => format!(
                        "ALTER TABLE {} ALTER COLUMN {} {} NOT NULL",
                        q(table),
                        q(column),
                        if *actual { "DROP" } else { "SET" }
                    ),
                    _ => format!(
                        "ALTER TABLE {} MODIFY COLUMN {}",
                        q(table),
                        column_sql(&target, backend)
                    ),
                };
                let risks = if *actual {
                    Vec::new()
                } else {
                    vec![format!("fails if a row has NULL in {column}")]
                };
                // MySQL's MODIFY sets type and nullability together: one statement is enough.
                let duplicate =
                    backend == Backend::MySql && !modified.insert((table.clone(), column.clone()));
                columns.push(Change {
                    op: op(
                        "alter_column",
                        format!(
                            "alter column {table}.{column}: {}",
                            if *actual {
                                "NOT NULL → NULL"
                            } else {
                                "NULL → NOT NULL"
                            }
                        ),
                        risks,
                    ),
                    sql: if duplicate { Vec::new() } else { vec![sql] },
                });
            }
            Difference::PrimaryKey { table, .. } => {
                return unsupported(format!("the primary key of {table}"));
            }
            Difference::ExtraIndex { table, index } => create_indexes.push(Change {
                op: op(
                    "create_index",
                    index_text(table, index),
                    vec![format!("locks writes to {table} while it builds")],
                ),
                sql: vec![create_index(table, index, backend)],
            }),
            Difference::MissingIndex { table, index } => drop_indexes.push(Change {
                op: op(
                    "drop_index",
                    format!("drop index {} on {table}", index.name),
                    vec![],
                ),
                sql: vec![drop_index(table, &index.name, backend)],
            }),
            Difference::IndexDefinition {
                table,
                expected,
                actual,
            } => {
                drop_indexes.push(Change {
                    op: op(
                        "drop_index",
                        format!("drop index {} on {table} (to make it again)", expected.name),
                        vec![],
                    ),
                    sql: vec![drop_index(table, &expected.name, backend)],
                });
                create_indexes.push(Change {
                    op: op(
                        "create_index",
                        index_text(table, actual),
                        vec![format!("locks writes to {table} while it builds")],
                    ),
                    sql: vec![create_index(table, actual, backend)],
                });
            }
            Difference::ExtraUnique { table, constraint } => {
                let Some(name) = constraint.name.as_deref().filter(|_| !sqlite) else {
                    return unsupported(format!(
                        "a unique constraint on {table} ({}) on SQLite",
                        constraint.columns.join(", ")
                    ));
                };
                create_indexes.push(Change {
                    op: op(
                        "add_unique",
                        format!(
                            "add unique constraint {name} on {table} ({})",
                            constraint.columns.join(", ")
                        ),
                        vec![format!("fails if {table} has duplicates")],
                    ),
                    sql: vec![format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
                        q(table),
                        q(name),
                        names(&constraint.columns, backend)
                    )],
                });
            }
            Difference::MissingUnique { table, constraint } => {
                let Some(name) = constraint.name.as_deref().filter(|_| !sqlite) else {
                    return unsupported(format!(
                        "dropping a unique constraint on {table} ({}) on SQLite",
                        constraint.columns.join(", ")
                    ));
                };
                drop_indexes.push(Change {
                    op: op(
                        "drop_unique",
                        format!("drop unique constraint {name} on {table}"),
                        vec![],
                    ),
                    sql: vec![match backend {
                        Backend::MySql => {
                            format!("ALTER TABLE {} DROP INDEX {}", q(table), q(name))
                        }
                        _ => format!("ALTER TABLE {} DROP CONSTRAINT {}", q(table), q(name)),
                    }],
                });
            }
            Difference::ExtraForeignKey { table, foreign_key } => {
                if sqlite {
                    return unsupported(format!(
                        "a foreign key of {table} on SQLite (the table must be rebuilt)"
                    ));
                }
                add_keys.push(Change {
                    op: op(
                        "add_foreign_key",
                        key_text(table, foreign_key),
                        vec![format!("checks every row of {table} (and locks it)")],
                    ),
                    sql: vec![add_key(table, foreign_key, backend)],
                });
            }
            Difference::MissingForeignKey { table, foreign_key } => {
                let Some(name) = foreign_key.name.as_deref().filter(|_| !sqlite) else {
                    return unsupported(format!(
                        "dropping a foreign key of {table} on SQLite (the table must be rebuilt)"
                    ));
                };
                drop_keys.push(Change {
                    op: op(
                        "drop_foreign_key",
                        format!("drop foreign key {name} on {table}"),
                        vec![],
                    ),
                    sql: vec![match backend {
                        Backend::MySql => {
                            format!("ALTER TABLE {} DROP FOREIGN KEY {}", q(table), q(name))
                        }
                        _ => format!("ALTER TABLE {} DROP CONSTRAINT {}", q(table), q(name)),
                    }],
                });
            }
        }
    }
    // Tables that go are dropped after the keys that point at them; a table's own keys go
    // with it. Keys of tables that are dropped are not dropped one by one.
    let drop_tables = referenced_last(drop_tables, from);
    let mut out = Vec::new();
    out.extend(drop_keys);
    out.extend(drop_indexes);
    out.extend(create_tables);
    out.extend(columns);
    out.extend(drop_columns);
    out.extend(drop_tables);
    out.extend(create_indexes);
    out.extend(add_keys);
    Ok(out)
}

/// Dropped tables in an order the engine accepts: a table another dropped table refers to
/// goes after it.
fn referenced_last(mut drops: Vec<Change>, from: &Schema) -> Vec<Change> {
    let mut out = Vec::new();
    while !drops.is_empty() {
        let referred = |name: &str, others: &[Change]| {
            others.iter().any(|o| {
                o.op.table != name
                    && from
                        .table(&o.op.table)
                        .is_some_and(|t| t.foreign_keys.iter().any(|k| k.referred_table == name))
            })
        };
        let next = (0..drops.len())
            .find(|&i| !referred(&drops[i].op.table, &drops))
            .unwrap_or(0); // a cycle of keys: any order fails the proof, which says so
        out.push(drops.remove(next));
    }
    out
}

fn to_column(to: &Schema, table: &str, column: &str) -> Column {
    to.table(table)
        .and_then(|t| t.columns.iter().find(|c| c.name == column))
        .cloned()
        .expect("the diff names columns of both schemas")
}

fn names(columns: &[String], backend: Backend) -> String {
    columns
        .iter()
        .map(|c| quoted(c, backend))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_sql(c: &Column, backend: Backend) -> String {
    format!(
        "{} {}{}",
        quoted(&c.name, backend),
        c.data_type,
        if c.nullable { " NULL" } else { " NOT NULL" }
    )
}

fn column_text(c: &Column) -> String {
    format!(
        "{} {}{}",
        c.name,
        c.data_type,
        if c.nullable { "" } else { " NOT NULL" }
    )
}

fn column_list(t: &Table) -> String {
    t.columns
        .iter()
        .map(column_text)
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_table(t: &Table, backend: Backend) -> String {
    let mut parts: Vec<String> = t.columns.iter().map(|c| column_sql(c, backend)).collect();
    if !t.primary_key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", names(&t.primary_key, backend)));
    }
    for u in &t.unique_constraints {
        parts.push(match (&u.name, backend) {
            (Some(name), Backend::Postgres | Backend::MySql) => format!(
                "CONSTRAINT {} UNIQUE ({})",
                quoted(name, backend),
                names(&u.columns, backend)
            ),
            _ => format!("UNIQUE ({})", names(&u.columns, backend)),
        });
    }
    // SQLite cannot add a foreign key later: it is part of the table.
    if backend == Backend::Sqlite {
        for k in &t.foreign_keys {
            parts.push(key_clause(k, backend));
        }
    }
    format!(
        "CREATE TABLE {} (\n    {}\n)",
        quoted(&t.name, backend),
        parts.join(",\n    ")
    )
}

fn key_clause(k: &ForeignKey, backend: Backend) -> String {
    let referred = if k.referred_columns.is_empty() {
        String::new()
    } else {
        format!(" ({})", names(&k.referred_columns, backend))
    };
    let mut text = format!(
        "FOREIGN KEY ({}) REFERENCES {}{referred}",
        names(&k.columns, backend),
        quoted(&k.referred_table, backend)
    );
    if k.on_update != "NO ACTION" {
        text.push_str(&format!(" ON UPDATE {}", k.on_update));
    }
    if k.on_delete != "NO ACTION" {
        text.push_str(&format!(" ON DELETE {}", k.on_delete));
    }
    text
}

fn add_key(table: &str, k: &ForeignKey, backend: Backend) -> String {
    let name = k
        .name
        .as_deref()
        .map(|n| format!("CONSTRAINT {} ", quoted(n, backend)))
        .unwrap_or_default();
    format!(
        "ALTER TABLE {} ADD {name}{}",
        quoted(table, backend),
        key_clause(k, backend)
    )
}

fn key_text(table: &str, k: &ForeignKey) -> String {
    format!(
        "add foreign key {}on {table} ({}) → {} ({})",
        k.name
            .as_deref()
            .map(|n| format!("{n} "))
            .unwrap_or_default(),
        k.columns.join(", "),
        k.referred_table,
        k.referred_columns.join(", ")
    )
}

fn index_text(table: &str, i: &Index) -> String {
    format!(
        "create {}index {} on {table} ({})",
        if i.unique { "unique " } else { "" },
        i.name,
        i.columns.join(", ")
    )
}

fn create_index(table: &str, i: &Index, backend: Backend) -> String {
    let columns = i
        .columns
        .iter()
        .map(|c| {
            // An expression column is kept as the catalog wrote it.
            if c.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
                quoted(c, backend)
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let condition = i
        .condition
        .as_deref()
        .map(|c| format!(" WHERE {c}"))
        .unwrap_or_default();
    format!(
        "CREATE {}INDEX {} ON {} ({columns}){condition}",
        if i.unique { "UNIQUE " } else { "" },
        quoted(&i.name, backend),
        quoted(table, backend)
    )
}

fn drop_index(table: &str, name: &str, backend: Backend) -> String {
    match backend {
        Backend::MySql => format!(
            "DROP INDEX {} ON {}",
            quoted(name, backend),
            quoted(table, backend)
        ),
        _ => format!("DROP INDEX {}", quoted(name, backend)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::schema::UniqueConstraint;

    fn col(name: &str, ty: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            data_type: ty.into(),
            nullable,
        }
    }

    fn table(name: &str, columns: Vec<Column>) -> Table {
        Table {
            name: name.into(),
            columns,
            primary_key: vec!["id".into()],
            indexes: Vec::new(),
            unique_constraints: Vec::new(),
            foreign_keys: Vec::new(),
        }
    }

    fn schema(backend: Backend, tables: Vec<Table>) -> Schema {
        Schema {
            backend,
            namespace: "public".into(),
            tables,
        }
    }

    #[test]
    fn keys_and_indexes_that_go_come_first_and_new_ones_last() {
        let users = table("users", vec![col("id", "integer", false)]);
        let mut posts = table(
            "posts",
            vec![col("id", "integer", false), col("user_id", "integer", true)],
        );
        posts.foreign_keys.push(ForeignKey {
            name: Some("posts_user_id_fkey".into()),
            columns: vec!["user_id".into()],
            referred_table: "users".into(),
            referred_columns: vec!["id".into()],
            on_update: "NO ACTION".into(),
            on_delete: "CASCADE".into(),
        });
        posts.unique_constraints.push(UniqueConstraint {
            name: Some("posts_uq".into()),
            columns: vec!["user_id".into()],
        });
        let from = schema(Backend::Postgres, vec![users.clone()]);
        let to = schema(Backend::Postgres, vec![posts, users]);
        let up = changes(&from, &to, Backend::Postgres).unwrap();
        let sql: Vec<&str> = up
            .iter()
            .flat_map(|c| c.sql.iter().map(String::as_str))
            .collect();
        assert_eq!(
            sql,
            [
                "CREATE TABLE \"posts\" (\n    \"id\" integer NOT NULL,\n    \"user_id\" integer NULL,\n    PRIMARY KEY (\"id\"),\n    CONSTRAINT \"posts_uq\" UNIQUE (\"user_id\")\n)",
                "ALTER TABLE \"posts\" ADD CONSTRAINT \"posts_user_id_fkey\" FOREIGN KEY (\"user_id\") REFERENCES \"users\" (\"id\") ON DELETE CASCADE",
            ]
        );
        // And back: the table goes, its key with it.
        let down = changes(&to, &from, Backend::Postgres).unwrap();
        let sql: Vec<&str> = down
            .iter()
            .flat_map(|c| c.sql.iter().map(String::as_str))
            .collect();
        assert_eq!(sql, ["DROP TABLE \"posts\""]);
    }

    #[test]
    fn what_sqlite_cannot_alter_is_refused_by_name() {
        let from = schema(
            Backend::Sqlite,
            vec![table(
                "t",
                vec![col("id", "INTEGER", false), col("a", "TEXT", true)],
            )],
        );
        let to = schema(
            Backend::Sqlite,
            vec![table(
                "t",
                vec![col("id", "INTEGER", false), col("a", "INTEGER", true)],
            )],
        );
        let e = changes(&from, &to, Backend::Sqlite).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the type of t.a on SQLite (the table must be rebuilt): not generated yet; write this part of the revision by hand"
        );
    }

    #[test]
    fn mysql_changes_type_and_nullability_in_one_modify() {
        let from = schema(
            Backend::MySql,
            vec![table(
                "t",
                vec![col("id", "int(11)", false), col("a", "varchar(50)", true)],
            )],
        );
        let to = schema(
            Backend::MySql,
            vec![table(
                "t",
                vec![col("id", "int(11)", false), col("a", "varchar(20)", false)],
            )],
        );
        let up = changes(&from, &to, Backend::MySql).unwrap();
        assert_eq!(up.len(), 2, "two operations in the review");
        let sql: Vec<&str> = up
            .iter()
            .flat_map(|c| c.sql.iter().map(String::as_str))
            .collect();
        assert_eq!(
            sql,
            ["ALTER TABLE `t` MODIFY COLUMN `a` varchar(20) NOT NULL"]
        );
    }
}
