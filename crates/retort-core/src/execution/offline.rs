//! Offline mode (`--sql`): the script a run would execute, written out instead of run, from a
//! starting revision given on the command line (`upgrade A:B`, `downgrade B:A`, `stamp A:B`)
//! rather than from a database.

use super::plan::{self, Plan};
use super::{ExecutionError, Operation};
use crate::database::version_rows::HeadRows;
use crate::database::{Backend, VersionTable};
use crate::graph::commands::CommandError;
use crate::graph::{RevArg, RevisionMap};
use crate::project::Project;

/// The offline script for `operation`, whose targets may carry a `from:` prefix.
pub fn script(
    project: &Project,
    map: &RevisionMap,
    operation: &Operation,
    backend: Backend,
) -> Result<String, ExecutionError> {
    let (start, operation) = split_start(operation)?;
    let start = resolve_start(map, start.as_deref())?;
    let plan = plan::build(project, map, &operation, Some(&start), backend)?;
    Ok(render(&plan, &VersionTable::of(project), backend))
}

/// Takes the `from:` off the targets, with Alembic's rules for each command.
fn split_start(operation: &Operation) -> Result<(Option<String>, Operation), CommandError> {
    match operation {
        Operation::Upgrade { target } => Ok(match target.split_once(':') {
            Some((from, to)) => (
                Some(from.to_string()),
                Operation::Upgrade {
                    target: to.to_string(),
                },
            ),
            None => (None, operation.clone()),
        }),
        Operation::Downgrade { target } => match target.split_once(':') {
            Some((from, to)) => Ok((
                Some(from.to_string()),
                Operation::Downgrade {
                    target: to.to_string(),
                },
            )),
            None => Err(CommandError::new(
                "downgrade with --sql requires <fromrev>:<torev>",
            )),
        },
        Operation::Stamp { targets, purge } => {
            if *purge {
                return Err(CommandError::new("Can't use --purge with --sql mode"));
            }
            let mut start: Option<String> = None;
            let mut destinations = Vec::new();
            for target in targets {
                let destination = match target.split_once(':') {
                    Some((from, to)) => {
                        match &start {
                            None => start = Some(from.to_string()),
                            Some(s) if s != from => {
                                return Err(CommandError::new(
                                    "Stamp operation with --sql only supports a single starting revision at a time",
                                ));
                            }
                            Some(_) => {}
                        }
                        to
                    }
                    None => target.as_str(),
                };
                destinations.push(destination.to_string());
            }
            Ok((
                start,
                Operation::Stamp {
                    targets: destinations,
                    purge: false,
                },
            ))
        }
    }
}

/// `MigrationContext.get_current_heads` in offline mode.
fn resolve_start(map: &RevisionMap, start: Option<&str>) -> Result<Vec<String>, CommandError> {
    let Some(start) = start.filter(|s| !s.is_empty() && *s != "base") else {
        return Ok(Vec::new());
    };
    match map.get_revision(&RevArg::one(start)) {
        Ok(Some(i)) => Ok(vec![map.rev(i).revision.clone()]),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(CommandError::new(e.to_string())),
    }
}

fn render(plan: &Plan, table: &VersionTable, backend: Backend) -> String {
    let mut out = String::new();
    let mut heads = HeadRows::new(&plan.current);
    let wraps = backend != Backend::MySql;
    for step in &plan.steps {
        let transactional = wraps && step.sql.as_ref().is_none_or(|s| s.transactional);
        if heads.heads.is_empty() {
            out.push_str(&format!("{};\n\n", table.create_sql(backend)));
        }
        if transactional {
            out.push_str("BEGIN;\n\n");
        }
        out.push_str(&format!("-- Running {}\n\n", step.description));
        if let Some(sql) = &step.sql {
            if !sql.transactional {
                out.push_str("-- (this section runs outside a transaction)\n\n");
            }
            for statement in &sql.statements {
                out.push_str(&terminated(&statement.sql, backend));
            }
        }
        for change in &step.version_changes {
            out.push_str(&format!("{};\n\n", table.change_sql(backend, change)));
            let _ = heads.apply(change);
        }
        if transactional {
            out.push_str("COMMIT;\n\n");
        }
    }
    out
}

/// A statement with its delimiter; MySQL bodies holding `;` need the client's `DELIMITER`.
fn terminated(sql: &str, backend: Backend) -> String {
    if backend == Backend::MySql && sql.contains(';') {
        format!("DELIMITER $$\n{sql}$$\nDELIMITER ;\n\n")
    } else {
        format!("{sql};\n\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_revisions_follow_alembic_rules() {
        let up = |t: &str| Operation::Upgrade { target: t.into() };
        assert_eq!(
            split_start(&up("1000:head")).unwrap(),
            (Some("1000".into()), up("head"))
        );
        assert_eq!(split_start(&up("head")).unwrap(), (None, up("head")));
        let down = Operation::Downgrade {
            target: "base".into(),
        };
        assert_eq!(
            split_start(&down).unwrap_err().message,
            "downgrade with --sql requires <fromrev>:<torev>"
        );
        let stamp = Operation::Stamp {
            targets: vec!["a:b".into(), "c:d".into()],
            purge: false,
        };
        assert_eq!(
            split_start(&stamp).unwrap_err().message,
            "Stamp operation with --sql only supports a single starting revision at a time"
        );
        let purge = Operation::Stamp {
            targets: vec!["head".into()],
            purge: true,
        };
        assert_eq!(
            split_start(&purge).unwrap_err().message,
            "Can't use --purge with --sql mode"
        );
    }
}
