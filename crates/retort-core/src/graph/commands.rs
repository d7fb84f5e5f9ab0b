//! Alembic's read-only commands over a graph (`heads`, `history`, `branches`, `show`), with
//! their argument handling and error wording (`ScriptDirectory._catch_revision_errors`).
//!
//! One difference on purpose: where Alembic hides a resolution failure behind "Can't locate
//! revision identified by 'x'", Retort gives the detailed reason (ambiguous prefix, unknown
//! branch, ...), which Alembic only shows with `--raiseerr`.

use super::{Idx, RevArg, RevisionError, RevisionMap, Slot};
use serde::Serialize;
use std::collections::BTreeSet;

/// A command failure, worded as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{message}")]
pub struct CommandError {
    pub message: String,
}

impl CommandError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The context `_catch_revision_errors` is given.
#[derive(Debug, Default)]
struct Catch<'a> {
    ancestor: Option<&'a str>,
    start: Option<&'a str>,
    end: Option<&'a str>,
}

fn wrap(err: RevisionError, ctx: Catch<'_>) -> CommandError {
    match err {
        RevisionError::RangeNotAncestor { lower, upper } => {
            let start = ctx.start.map_or(lower, str::to_string);
            let end = ctx.end.map_or(upper, str::to_string);
            let text = match ctx.ancestor {
                Some(template) => template
                    .replace("%(start)s", &start)
                    .replace("%(end)s", &end),
                None => format!(
                    "Requested range {start}:{end} does not refer to ancestor/descendant revisions along the same branch"
                ),
            };
            CommandError::new(text)
        }
        RevisionError::MultipleHeads { heads, argument } => {
            let arg = ctx.end.map_or(argument, str::to_string);
            CommandError::new(format!(
                "Multiple head revisions are present for given argument '{arg}'; please specify a specific target revision, '<branchname>@{arg}' to narrow to a specific head, or 'heads' for all heads (heads: {})",
                heads.join(", ")
            ))
        }
        other => CommandError::new(other.to_string()),
    }
}

/// `alembic heads`: versioned heads, or with `resolve_dependencies` the real heads.
pub fn heads(map: &RevisionMap, resolve_dependencies: bool) -> Vec<Idx> {
    if resolve_dependencies {
        map.real_heads().to_vec()
    } else {
        map.heads().to_vec()
    }
}

/// A parsed `history -r` range; `None` sides default to `base` / `heads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRange {
    pub base: Option<String>,
    pub head: Option<String>,
}

impl HistoryRange {
    /// `A:B`, `A:`, `:B` (Alembic splits on the colon after stripping spaces).
    pub fn parse(range: &str) -> Result<Self, CommandError> {
        let parts: Vec<&str> = range.trim().split(':').collect();
        match parts.as_slice() {
            [base, head] => Ok(Self {
                base: Some(base.to_string()).filter(|s| !s.is_empty()),
                head: Some(head.to_string()).filter(|s| !s.is_empty()),
            }),
            [_] => Err(CommandError::new(
                "History range requires [start]:[end], [start]:, or :[end]",
            )),
            _ => Err(CommandError::new(format!(
                "History range '{range}' has more than one ':'; it requires [start]:[end], [start]:, or :[end]"
            ))),
        }
    }

    /// Whether a side names the database's current revisions (needs a connection).
    pub fn mentions_current(&self) -> bool {
        self.base.as_deref() == Some("current") || self.head.as_deref() == Some("current")
    }
}

/// `alembic history [-r RANGE]`: the revisions to list, newest first. `db_heads` are the
/// database's rows, which the `current` token in a range stands for.
pub fn history(
    map: &RevisionMap,
    range: Option<&HistoryRange>,
    db_heads: Option<&[String]>,
) -> Result<Vec<Idx>, CommandError> {
    let side = |text: Option<&str>, default: &str| -> RevArg {
        match (text, db_heads) {
            (Some("current"), Some(heads)) if !heads.is_empty() => RevArg::Many(heads.to_vec()),
            (Some("current"), _) | (None, _) => RevArg::one(default),
            (Some(t), _) => RevArg::one(t),
        }
    };
    let base = side(range.and_then(|r| r.base.as_deref()), "base");
    let head = side(range.and_then(|r| r.head.as_deref()), "heads");
    let (start, end) = (base.python_str(), head.python_str());
    map.walk_revision_range(&base, &head).map_err(|e| {
        wrap(
            e,
            Catch {
                start: Some(&start),
                end: Some(&end),
                ..Catch::default()
            },
        )
    })
}

/// `alembic branches`: the branch points, in history order.
pub fn branches(map: &RevisionMap) -> Result<Vec<Idx>, CommandError> {
    let all = history(map, None, None)?;
    Ok(all
        .into_iter()
        .filter(|&i| map.rev(i).is_branch_point())
        .collect())
}

/// `alembic show REV`: the revisions `REV` names (`heads` may name several).
pub fn show(map: &RevisionMap, rev: &str) -> Result<Vec<Idx>, CommandError> {
    let slots = map
        .get_revisions(&RevArg::one(rev))
        .map_err(|e| wrap(e, Catch::default()))?;
    slots
        .into_iter()
        .map(|s| match s {
            Slot::Rev(i) => Ok(i),
            _ => Err(CommandError::new(format!(
                "'{rev}' does not name a revision"
            ))),
        })
        .collect()
}

/// `alembic current`: what the database's rows stand for, with `--check-heads` failing
/// unless the rows are exactly the project's heads.
pub fn current(
    map: &RevisionMap,
    db_rows: &[String],
    check_heads: bool,
) -> Result<Vec<Idx>, CommandError> {
    if check_heads {
        let rows: BTreeSet<&String> = db_rows.iter().collect();
        let heads = map.ids(map.heads());
        if rows != heads.iter().collect::<BTreeSet<_>>() {
            return Err(CommandError::new("Database is not on all head revisions"));
        }
    }
    map.current_display(db_rows).map_err(|e| {
        CommandError::new(format!(
            "{e} (the database's version table names a revision this project does not have)"
        ))
    })
}

/// Upgrade steps with `upgrade`'s error wording.
pub fn upgrade_plan(
    map: &RevisionMap,
    destination: &str,
    current: &[String],
) -> Result<Vec<Idx>, CommandError> {
    map.upgrade_steps(&RevArg::one(destination), current)
        .map_err(|e| {
            wrap(
                e,
                Catch {
                    ancestor: Some(
                        "Destination %(end)s is not a valid upgrade target from current head(s)",
                    ),
                    end: Some(destination),
                    ..Catch::default()
                },
            )
        })
}

/// Downgrade steps with `downgrade`'s error wording.
pub fn downgrade_plan(
    map: &RevisionMap,
    destination: &str,
    current: &[String],
) -> Result<Vec<Idx>, CommandError> {
    map.downgrade_steps(&RevArg::one(destination), current)
        .map_err(|e| {
            wrap(
                e,
                Catch {
                    ancestor: Some(
                        "Destination %(end)s is not a valid downgrade target from current head(s)",
                    ),
                    end: Some(destination),
                    ..Catch::default()
                },
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::RevisionDecl;

    fn live() -> RevisionMap {
        RevisionMap::build(vec![
            RevisionDecl::new("1000aaaaaaaa", &[]),
            RevisionDecl::new("2000bbbbbbbb", &["1000aaaaaaaa"]),
            RevisionDecl::new("3000cccc0002", &["2000bbbbbbbb"]),
            RevisionDecl::new("3000ffff0003", &["3000cccc0002"]),
            RevisionDecl::new("9000cccc0001", &["2000bbbbbbbb"]),
        ])
        .unwrap()
    }

    #[test]
    fn history_range_errors_use_alembic_wording() {
        let m = live();
        let range = HistoryRange::parse("9000cccc0001:3000cccc0002").unwrap();
        assert_eq!(
            history(&m, Some(&range), None).unwrap_err().message,
            "Requested range 9000cccc0001:3000cccc0002 does not refer to ancestor/descendant revisions along the same branch"
        );
        assert_eq!(
            HistoryRange::parse("abc").unwrap_err().message,
            "History range requires [start]:[end], [start]:, or :[end]"
        );
    }

    #[test]
    fn show_gives_the_detailed_reason() {
        let m = live();
        assert_eq!(
            show(&m, "3000").unwrap_err().message,
            "Multiple revisions start with '3000': '3000cccc0002', '3000ffff0003'..."
        );
        assert!(
            show(&m, "head")
                .unwrap_err()
                .message
                .starts_with("Multiple head revisions are present for given argument 'head'")
        );
        assert_eq!(show(&m, "heads").unwrap().len(), 2);
    }

    #[test]
    fn upgrade_errors() {
        let m = live();
        let current = vec!["3000cccc0002".to_string(), "9000cccc0001".to_string()];
        assert_eq!(
            upgrade_plan(&m, "+1", &current).unwrap_err().message,
            "Ambiguous upgrade from multiple current revisions"
        );
        let err = downgrade_plan(&m, "3000ffff0003", &["9000cccc0001".to_string()]).unwrap_err();
        assert_eq!(
            err.message,
            "Destination 3000ffff0003 is not a valid downgrade target from current head(s)"
        );
    }
}
