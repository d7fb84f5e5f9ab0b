//! The guided merge: before writing a merge revision, what is being merged — the heads,
//! their nearest common ancestor(s), the revisions on each branch since then, the tables
//! each branch's upgrades touch (read statically), a warning wherever two branches touch
//! the same table, and the order in which `upgrade` will run everything once merged.

use super::tables::{self, TableAction, TablesTouched, Unknown};
use super::{AuthoringError, MULTIPLE_HEADS, command, naming, revision_error};
use crate::database::Backend;
use crate::graph::{Idx, RevArg, RevisionDecl, RevisionMap, Slot};
use crate::project::{Project, ProjectKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct RevisionSummary {
    pub revision: String,
    pub doc: String,
    pub path: Option<PathBuf>,
}

/// One revision on a branch and what its upgrade touches.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct BranchRevision {
    #[serde(flatten)]
    pub summary: RevisionSummary,
    pub tables: TablesTouched,
    /// Why the tables could not be read at all (unreadable file, invalid Python).
    pub unreadable: Option<String>,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct Branch {
    pub head: RevisionSummary,
    /// The revisions since the common ancestor(s), in upgrade order.
    pub revisions: Vec<BranchRevision>,
    /// Every table the branch touches, sorted, with the actions seen.
    pub tables: BTreeMap<String, BTreeSet<TableAction>>,
    /// Statements or calls whose tables are unknown, as `(revision, unknown)`.
    pub unknown: Vec<(String, Unknown)>,
}

/// A table more than one branch touches.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct SharedTable {
    pub table: String,
    /// The heads of the branches that touch it.
    pub heads: Vec<String>,
    /// The revisions (on those branches) that touch it.
    pub revisions: Vec<String>,
    pub message: String,
}

#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Serialize)]
pub struct MergeExplanation {
    /// The revisions being merged, in the order the merge will list them.
    pub heads: Vec<RevisionSummary>,
    /// The nearest revisions every head descends from (empty: the branches share no history).
    pub common_ancestors: Vec<RevisionSummary>,
    pub branches: Vec<Branch>,
    pub shared_tables: Vec<SharedTable>,
    pub warnings: Vec<String>,
    /// `upgrade` from an empty database once merged: revision ids in run order, the merge
    /// itself last (as `merge_revision`).
    pub upgrade_order: Vec<String>,
    pub merge_revision: String,
}

fn summary(map: &RevisionMap, i: Idx) -> RevisionSummary {
    let r = map.rev(i);
    RevisionSummary {
        revision: r.revision.clone(),
        doc: r.doc().to_string(),
        path: r.path.clone(),
    }
}

/// The dialect to read a native project's SQL in (from its URL; SQLite's when unknown).
pub(crate) fn backend_of(project: &Project) -> Backend {
    let url = project
        .settings
        .url
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    if url.starts_with("postgres") {
        Backend::Postgres
    } else if url.starts_with("mysql") || url.starts_with("mariadb") {
        Backend::MySql
    } else {
        Backend::Sqlite
    }
}

/// What one revision's upgrade touches; `Err` says why it could not be read.
pub fn revision_tables(
    project: &Project,
    map: &RevisionMap,
    i: Idx,
) -> Result<TablesTouched, String> {
    let rev = map.rev(i);
    let backend = backend_of(project);
    let file = project
        .revisions
        .iter()
        .find(|f| f.revision == rev.revision);
    match project.kind {
        ProjectKind::Native => {
            let body = file
                .and_then(|f| f.sql.as_ref())
                .ok_or_else(|| "no SQL body".to_string())?;
            Ok(tables::sql_tables(
                &body.upgrade.sql,
                backend,
                body.upgrade.sql_line.max(1),
            ))
        }
        ProjectKind::Alembic => {
            let path = rev.path.as_ref().ok_or_else(|| "no file".to_string())?;
            let source = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            tables::python_tables(&source, backend).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

/// Explains merging `revisions` (default: `heads`). `merge_rev_id` names the merge in the
/// upgrade order (default: a new random id).
pub fn explain_merge(
    project: &Project,
    map: &RevisionMap,
    revisions: &[String],
    merge_rev_id: Option<&str>,
) -> Result<MergeExplanation, AuthoringError> {
    let args: Vec<String> = if revisions.is_empty() {
        vec!["heads".into()]
    } else {
        revisions.to_vec()
    };
    let arg = if args.len() == 1 {
        RevArg::One(args[0].clone())
    } else {
        RevArg::Many(args.clone())
    };
    let heads: Vec<Idx> = map
        .get_revisions(&arg)
        .map_err(|e| revision_error(e, Some(MULTIPLE_HEADS)))?
        .into_iter()
        .filter_map(Slot::rev)
        .collect();
    if heads.is_empty() {
        return Err(command("Nothing to merge: no revisions given"));
    }
    let mut distinct = heads.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != heads.len() {
        return Err(command("Duplicate head revisions specified"));
    }

    // The merged graph and its upgrade order.
    let merge_id = merge_rev_id
        .map(str::to_string)
        .unwrap_or_else(naming::new_rev_id);
    let mut decls: Vec<RevisionDecl> = project.revisions.iter().map(RevisionDecl::from).collect();
    decls.push(RevisionDecl {
        revision: merge_id.clone(),
        down_revision: map.ids(&heads),
        ..RevisionDecl::default()
    });
    let merged = RevisionMap::build(decls).map_err(|e| command(e.to_string()))?;
    let order_idx = merged
        .upgrade_steps(&RevArg::one(&merge_id), &[])
        .map_err(|e| command(e.to_string()))?;
    let upgrade_order: Vec<String> = merged.ids(&order_idx);
    let position: BTreeMap<&str, usize> = upgrade_order
        .iter()
        .enumerate()
        .map(|(n, id)| (id.as_str(), n))
        .collect();

    let ancestor_sets: Vec<HashSet<Idx>> = heads
        .iter()
        .map(|&h| map.ancestors(&[h], false).into_iter().collect())
        .collect();
    let common: Vec<Idx> = ancestor_sets[0]
        .iter()
        .copied()
        .filter(|i| ancestor_sets.iter().all(|s| s.contains(i)))
        .collect();
    let common_set: HashSet<Idx> = common.iter().copied().collect();
    let nearest = map.filter_into_branch_heads(&common);

    let mut branches = Vec::new();
    let mut warnings = Vec::new();
    for (&h, set) in heads.iter().zip(&ancestor_sets) {
        let mut own: Vec<Idx> = set
            .iter()
            .copied()
            .filter(|i| !common_set.contains(i))
            .collect();
        own.sort_by_key(|&i| {
            position
                .get(map.rev(i).revision.as_str())
                .copied()
                .unwrap_or(usize::MAX)
        });
        let mut revisions = Vec::new();
        let mut tables_seen: BTreeMap<String, BTreeSet<TableAction>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for i in own {
            let (touched, unreadable) = match revision_tables(project, map, i) {
                Ok(t) => (t, None),
                Err(e) => (TablesTouched::default(), Some(e)),
            };
            for t in &touched.touches {
                tables_seen
                    .entry(t.table.clone())
                    .or_default()
                    .insert(t.action);
            }
            for u in &touched.unknown {
                unknown.push((map.rev(i).revision.clone(), u.clone()));
            }
            if let Some(e) = &unreadable {
                warnings.push(format!(
                    "the tables of revision {} are unknown: {e}",
                    map.rev(i).revision
                ));
            }
            revisions.push(BranchRevision {
                summary: summary(map, i),
                tables: touched,
                unreadable,
            });
        }
        if !unknown.is_empty() {
            warnings.push(format!(
                "the branch of {} has {} statement(s) whose tables cannot be known without running them (first: {} line {}: {})",
                map.rev(h).revision,
                unknown.len(),
                unknown[0].0,
                unknown[0].1.line,
                unknown[0].1.what
            ));
        }
        branches.push(Branch {
            head: summary(map, h),
            revisions,
            tables: tables_seen,
            unknown,
        });
    }

    let mut by_table: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (n, b) in branches.iter().enumerate() {
        for table in b.tables.keys() {
            by_table.entry(table.clone()).or_default().push(n);
        }
    }
    let mut shared_tables = Vec::new();
    for (table, on) in by_table {
        if on.len() < 2 {
            continue;
        }
        let heads_touching: Vec<String> = on
            .iter()
            .map(|&n| branches[n].head.revision.clone())
            .collect();
        let revisions: Vec<String> = on
            .iter()
            .flat_map(|&n| {
                branches[n]
                    .revisions
                    .iter()
                    .filter(|r| r.tables.touches.iter().any(|t| t.table == table))
                    .map(|r| r.summary.revision.clone())
            })
            .collect();
        let message = format!(
            "table {table} is changed on {} branches (revisions {}); check that the changes agree and that their order ({}) is right",
            on.len(),
            revisions.join(", "),
            revisions
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" then ")
        );
        warnings.push(message.clone());
        shared_tables.push(SharedTable {
            table,
            heads: heads_touching,
            revisions,
            message,
        });
    }
    // Run order on shared tables follows the merged upgrade order.
    for s in &mut shared_tables {
        s.revisions
            .sort_by_key(|r| position.get(r.as_str()).copied().unwrap_or(usize::MAX));
    }

    Ok(MergeExplanation {
        heads: heads.iter().map(|&h| summary(map, h)).collect(),
        common_ancestors: nearest.iter().map(|&i| summary(map, i)).collect(),
        branches,
        shared_tables,
        warnings,
        upgrade_order,
        merge_revision: merge_id,
    })
}

/// The explanation as text, for the CLI's `merge --explain`.
pub fn explanation_text(e: &MergeExplanation) -> String {
    let mut out = String::new();
    let line = |s: &RevisionSummary| format!("{}  {}", s.revision, s.doc);
    out.push_str("Merging:\n");
    for h in &e.heads {
        out.push_str(&format!("  {}\n", line(h)));
    }
    out.push_str("Common ancestor:\n");
    if e.common_ancestors.is_empty() {
        out.push_str("  (none: the branches share no history)\n");
    }
    for a in &e.common_ancestors {
        out.push_str(&format!("  {}\n", line(a)));
    }
    for b in &e.branches {
        out.push_str(&format!(
            "\nBranch {} ({} revision(s) since the common ancestor):\n",
            b.head.revision,
            b.revisions.len()
        ));
        for r in &b.revisions {
            let tables: Vec<String> = {
                let mut seen: Vec<String> = Vec::new();
                for t in &r.tables.touches {
                    let s = format!("{} {}", t.action.as_str(), t.table);
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                }
                seen
            };
            let mut detail = tables.join(", ");
            if !r.tables.unknown.is_empty() {
                if !detail.is_empty() {
                    detail.push_str(", ");
                }
                detail.push_str(&format!("{} unknown", r.tables.unknown.len()));
            }
            if r.unreadable.is_some() {
                detail = "unreadable".into();
            }
            out.push_str(&format!("  {}  [{}]\n", line(&r.summary), detail));
        }
        let names: Vec<&str> = b.tables.keys().map(String::as_str).collect();
        out.push_str(&format!(
            "  tables: {}\n",
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    if !e.warnings.is_empty() {
        out.push('\n');
        for w in &e.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
    }
    out.push_str("\nUpgrade order once merged:\n");
    for (n, id) in e.upgrade_order.iter().enumerate() {
        let mark = if *id == e.merge_revision {
            "  (the merge)"
        } else {
            ""
        };
        out.push_str(&format!("  {:>3}. {id}{mark}\n", n + 1));
    }
    out
}
