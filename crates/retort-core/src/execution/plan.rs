//! Turning "upgrade to X" / "downgrade to X" / "stamp X" plus the database's rows into the
//! ordered steps, the SQL each runs, and the version-table change each makes. Pure: no I/O.

use super::statements::{self, Statement};
use super::{ExecutionError, Operation};
use crate::database::Backend;
use crate::database::version_rows::{HeadRows, RowChange, StampMove};
use crate::graph::commands::{self, CommandError};
use crate::graph::{Idx, RevArg, RevisionMap, Slot};
use crate::project::{Project, RevisionFile, SqlSection};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Upgrade,
    Downgrade,
    Stamp,
}

/// One step of a plan, in the order it runs.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: StepKind,
    /// The revision whose migration runs (`None` for a stamp).
    pub revision: Option<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub doc: String,
    /// Alembic's log text: `upgrade 1000, 2000 -> 3000, message`.
    pub description: String,
    pub path: Option<PathBuf>,
    /// The SQL of a native revision's section; `None` for a Python revision or a stamp.
    pub sql: Option<StepSql>,
    /// What the step does to the version table.
    pub version_changes: Vec<RowChange>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct StepSql {
    /// `false` for a `transaction:false` section: it runs outside any transaction.
    pub transactional: bool,
    /// The statements, with lines counted in the revision file.
    pub statements: Vec<Statement>,
}

/// Everything a run will do, computed from the database's real rows.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub operation: Operation,
    /// The version table's rows before the run (empty when there is no table).
    pub current: Vec<String>,
    /// The run starts by creating the version table.
    pub creates_version_table: bool,
    /// `stamp --purge`: every row is deleted first.
    pub purge: bool,
    pub steps: Vec<Step>,
    /// The version table's rows after the run.
    pub resulting_heads: Vec<String>,
}

impl Plan {
    /// `downgrade -N` from several heads: Alembic warns, and steps down from the first row.
    pub fn is_ambiguous_downgrade(&self) -> bool {
        matches!(&self.operation, Operation::Downgrade { target }
            if crate::graph::is_ambiguous_downgrade(target, &self.current))
    }
}

/// Builds the plan for `operation` from the version table's rows (`None`: no table yet).
pub fn build(
    project: &Project,
    map: &RevisionMap,
    operation: &Operation,
    rows: Option<&[String]>,
    backend: Backend,
) -> Result<Plan, ExecutionError> {
    let current: Vec<String> = rows.map(<[String]>::to_vec).unwrap_or_default();
    let files: HashMap<&str, &RevisionFile> = project
        .revisions
        .iter()
        .map(|f| (f.revision.as_str(), f))
        .collect();
    let mut heads = HeadRows::new(&current);
    let mut steps = Vec::new();
    let mut purge = false;
    match operation {
        Operation::Upgrade { target } | Operation::Downgrade { target } => {
            let upgrade = matches!(operation, Operation::Upgrade { .. });
            if target.contains(':') {
                return Err(CommandError::new("Range revision not allowed").into());
            }
            let order = if upgrade {
                commands::upgrade_plan(map, target, &current)?
            } else {
                commands::downgrade_plan(map, target, &current)?
            };
            for idx in order {
                let changes = heads
                    .apply_step(map, idx, upgrade)
                    .map_err(|e| CommandError::new(e.to_string()))?;
                steps.push(revision_step(map, idx, upgrade, changes, &files, backend)?);
            }
        }
        Operation::Stamp {
            targets,
            purge: purge_first,
        } => {
            purge = *purge_first;
            if purge {
                heads = HeadRows::default();
            }
            let db_heads: Vec<String> = if purge { Vec::new() } else { current.clone() };
            for stamp in stamp_moves(map, targets, &db_heads)? {
                let changes = heads.apply_stamp(&stamp).map_err(|e| {
                    CommandError::new(format!(
                        "cannot stamp {}: the step {} -> {} does not fit the version table ({e}); nothing was changed",
                        targets.join(" "),
                        stamp.from.join(", "),
                        stamp.to.join(", ")
                    ))
                })?;
                steps.push(stamp_step(stamp, changes));
            }
        }
    }
    let creates_version_table = rows.is_none() && (purge || !steps.is_empty());
    Ok(Plan {
        operation: operation.clone(),
        current,
        creates_version_table,
        purge,
        steps,
        resulting_heads: heads.heads.into_iter().collect(),
    })
}

fn revision_step(
    map: &RevisionMap,
    idx: Idx,
    upgrade: bool,
    version_changes: Vec<RowChange>,
    files: &HashMap<&str, &RevisionFile>,
    backend: Backend,
) -> Result<Step, ExecutionError> {
    let rev = map.rev(idx);
    let (from, to) = if upgrade {
        (rev.down_revision.clone(), vec![rev.revision.clone()])
    } else {
        (vec![rev.revision.clone()], rev.down_revision.clone())
    };
    let kind = if upgrade {
        StepKind::Upgrade
    } else {
        StepKind::Downgrade
    };
    let file = files.get(rev.revision.as_str());
    let sql = match file.and_then(|f| f.sql.as_ref()) {
        None => None,
        Some(body) => {
            let section = if upgrade {
                Some(&body.upgrade)
            } else {
                body.downgrade.as_ref()
            };
            let Some(section) = section else {
                return Err(ExecutionError::Revision {
                    path: rev.path.clone().unwrap_or_default(),
                    line: None,
                    message: format!(
                        "revision {} has no '-- migrate:down' section, so it cannot be downgraded",
                        rev.revision
                    ),
                });
            };
            Some(section_sql(
                section,
                rev.path.clone().unwrap_or_default(),
                backend,
            )?)
        }
    };
    Ok(Step {
        kind,
        revision: Some(rev.revision.clone()),
        description: describe(kind, &from, &to, rev.doc()),
        from,
        to,
        doc: rev.doc().to_string(),
        path: rev.path.clone(),
        sql,
        version_changes,
    })
}

/// Splits a section and refuses statements that would break Retort's own transaction.
fn section_sql(
    section: &SqlSection,
    path: PathBuf,
    backend: Backend,
) -> Result<StepSql, ExecutionError> {
    let mut statements = statements::split(&section.sql, backend);
    for s in &mut statements {
        s.line += section.sql_line - 1;
    }
    if section.transactional
        && let Some(bad) = statements.iter().find(|s| s.is_transaction_control())
    {
        return Err(ExecutionError::Revision {
            path,
            line: Some(bad.line),
            message: format!(
                "'{}' controls the transaction, but Retort runs each revision in its own transaction; remove it, or mark the section 'transaction:false'",
                bad.summary()
            ),
        });
    }
    Ok(StepSql {
        transactional: section.transactional,
        statements,
    })
}

fn stamp_step(stamp: StampMove, version_changes: Vec<RowChange>) -> Step {
    let StampMove { from, to, .. } = stamp;
    Step {
        kind: StepKind::Stamp,
        revision: None,
        description: describe(StepKind::Stamp, &from, &to, ""),
        from,
        to,
        doc: String::new(),
        path: None,
        sql: None,
        version_changes,
    }
}

/// Alembic's `str(MigrationStep)`.
pub fn describe(kind: StepKind, from: &[String], to: &[String], doc: &str) -> String {
    let name = match kind {
        StepKind::Upgrade => "upgrade",
        StepKind::Downgrade => "downgrade",
        StepKind::Stamp => "stamp_revision",
    };
    let mut text = format!("{name} {} -> {}", from.join(", "), to.join(", "));
    if !doc.is_empty() {
        text.push_str(", ");
        text.push_str(doc);
    }
    text
}

/// `ScriptDirectory._stamp_revs`: the stamp moves that take `db_heads` to `targets`.
pub fn stamp_moves(
    map: &RevisionMap,
    targets: &[String],
    db_heads: &[String],
) -> Result<Vec<StampMove>, CommandError> {
    let wrap = |e: crate::graph::RevisionError| match e {
        crate::graph::RevisionError::MultipleHeads { .. } => {
            CommandError::new("Multiple heads are present; please specify a single target revision")
        }
        other => CommandError::new(other.to_string()),
    };
    let targets: Vec<String> = if targets.is_empty() {
        vec!["base".to_string()]
    } else {
        targets.to_vec()
    };
    let heads: Vec<Idx> = map
        .get_revisions(&RevArg::many(db_heads))
        .map_err(wrap)?
        .into_iter()
        .filter_map(Slot::rev)
        .collect();
    let mut filtered: Vec<Idx> = Vec::new();
    for target in targets.iter().filter(|t| !t.is_empty()) {
        for h in map
            .filter_for_lineage(&heads, &RevArg::one(target), true)
            .map_err(wrap)?
        {
            if !filtered.contains(&h) {
                filtered.push(h);
            }
        }
    }
    let mut dests: Vec<Option<Idx>> = map
        .get_revisions(&RevArg::Many(targets.clone()))
        .map_err(wrap)?
        .into_iter()
        .map(Slot::rev)
        .collect();
    if dests.is_empty() {
        dests.push(None);
    }
    let filtered_ids = map.ids(&filtered);
    let mut moves = Vec::new();
    for dest in dests {
        let Some(dest) = dest else {
            moves.extend(filtered_ids.iter().map(|h| StampMove {
                from: vec![h.clone()],
                to: Vec::new(),
                upgrade: false,
                branch_move: true,
            }));
            continue;
        };
        if filtered.contains(&dest) {
            continue;
        }
        let descendants = map.descendants(&[dest], true);
        let ancestors = map.ancestors(&[dest], true);
        let to = vec![map.rev(dest).revision.clone()];
        if descendants.iter().any(|d| filtered.contains(d)) {
            moves.push(StampMove {
                from: filtered_ids.clone(),
                to,
                upgrade: false,
                branch_move: false,
            });
        } else if ancestors.iter().any(|a| filtered.contains(a)) {
            moves.push(StampMove {
                from: filtered_ids.clone(),
                to,
                upgrade: true,
                branch_move: false,
            });
        } else {
            moves.push(StampMove {
                from: Vec::new(),
                to,
                upgrade: true,
                branch_move: true,
            });
        }
    }
    Ok(moves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::RevisionDecl;

    fn live() -> RevisionMap {
        RevisionMap::build(vec![
            RevisionDecl::new("1000aaaaaaaa", &[]),
            RevisionDecl::new("2000bbbbbbbb", &["1000aaaaaaaa"]),
            RevisionDecl::new("9000cccc0001", &["2000bbbbbbbb"]),
            RevisionDecl::new("3000cccc0002", &["2000bbbbbbbb"]),
            RevisionDecl::new("4000dddddddd", &["3000cccc0002", "9000cccc0001"]),
            RevisionDecl::new("5000eeeeeeee", &["4000dddddddd"]),
        ])
        .unwrap()
    }

    fn stamp_rows(map: &RevisionMap, targets: &[&str], rows: &[&str]) -> Vec<String> {
        let rows: Vec<String> = rows.iter().map(|s| s.to_string()).collect();
        let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        let mut heads = HeadRows::new(&rows);
        for m in stamp_moves(map, &targets, &rows).unwrap() {
            heads.apply_stamp(&m).unwrap();
        }
        heads.heads.into_iter().collect()
    }

    #[test]
    fn stamps_follow_alembic() {
        let m = live();
        assert_eq!(stamp_rows(&m, &["head"], &[]), vec!["5000eeeeeeee"]);
        assert_eq!(
            stamp_rows(&m, &["base"], &["5000eeeeeeee"]),
            Vec::<String>::new()
        );
        assert_eq!(
            stamp_rows(&m, &["2000bbbbbbbb"], &["5000eeeeeeee"]),
            vec!["2000bbbbbbbb"]
        );
        // A merge-style stamp: both branch heads move to the merge in one step.
        assert_eq!(
            stamp_rows(&m, &["4000dddddddd"], &["3000cccc0002", "9000cccc0001"]),
            vec!["4000dddddddd"]
        );
        // Stamp does not validate the result (as alembic's `command.stamp`).
        assert_eq!(
            stamp_rows(&m, &["2000bbbbbbbb", "9000cccc0001"], &[]),
            vec!["2000bbbbbbbb", "9000cccc0001"]
        );
        let err = stamp_moves(&m, &["feedfacecafe".into()], &[]).unwrap_err();
        assert!(err.message.contains("feedfacecafe"), "{}", err.message);
    }

    #[test]
    fn step_descriptions_match_alembic_log_lines() {
        assert_eq!(
            describe(StepKind::Upgrade, &[], &["1000aaaaaaaa".into()], "create a"),
            "upgrade  -> 1000aaaaaaaa, create a"
        );
        assert_eq!(
            describe(
                StepKind::Upgrade,
                &["3000cccc0002".into(), "9000cccc0001".into()],
                &["4000dddddddd".into()],
                "merge branches"
            ),
            "upgrade 3000cccc0002, 9000cccc0001 -> 4000dddddddd, merge branches"
        );
        assert_eq!(
            describe(StepKind::Stamp, &["a".into()], &["b".into()], ""),
            "stamp_revision a -> b"
        );
    }
}
