//! How one migration step changes the version table: Alembic's `HeadMaintainer`
//! (`runtime/migration.py`), as pure logic over the set of head rows.
//!
//! Where Alembic picks rows by iterating a Python `set` (an unmerge, or a merge while other
//! heads exist), Retort keeps the revision's `down_revision` order. The resulting set of rows is
//! the same either way; only which row is UPDATEd rather than INSERTed/DELETEd differs.

use crate::graph::{Idx, RevisionMap};
use serde::Serialize;
use std::collections::BTreeSet;

/// One statement against the version table.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum RowChange {
    Insert { version: String },
    Delete { version: String },
    Update { from: String, to: String },
}

/// One of Alembic's `StampStep`s: move the rows `from` to `to` without running migrations.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StampMove {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub upgrade: bool,
    /// A new branch (insert) or a deleted one (stamp to base).
    pub branch_move: bool,
}

/// The version table's rows, and the changes that keep them in step with the migrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadRows {
    pub heads: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error(
        "Can't do an UPDATE because downrevision is ambiguous (heads: {heads}; revision {revision})"
    )]
    AmbiguousUpdate { revision: String, heads: String },
    #[error("version table already holds '{0}'")]
    AlreadyPresent(String),
    #[error("version table does not hold '{0}'")]
    Missing(String),
}

impl HeadRows {
    pub fn new<S: AsRef<str>>(heads: &[S]) -> Self {
        Self {
            heads: heads.iter().map(|h| h.as_ref().to_string()).collect(),
        }
    }

    /// `HeadMaintainer.update_to_step` for a revision step: returns the changes and applies them.
    pub fn apply_step(
        &mut self,
        map: &RevisionMap,
        revision: Idx,
        upgrade: bool,
    ) -> Result<Vec<RowChange>, RowError> {
        let changes = self.changes_for(map, revision, upgrade)?;
        for change in &changes {
            self.apply(change)?;
        }
        Ok(changes)
    }

    /// `HeadMaintainer.update_to_step` for a `StampStep`: returns the changes and applies them.
    pub fn apply_stamp(&mut self, stamp: &StampMove) -> Result<Vec<RowChange>, RowError> {
        let changes = self.stamp_changes(stamp);
        for change in &changes {
            self.apply(change)?;
        }
        Ok(changes)
    }

    fn stamp_changes(&self, stamp: &StampMove) -> Vec<RowChange> {
        let missing = |ids: &[String]| ids.iter().any(|i| !self.heads.contains(i));
        if !stamp.upgrade && stamp.branch_move {
            return vec![RowChange::Delete {
                version: stamp.from[0].clone(),
            }];
        }
        if stamp.upgrade && (stamp.branch_move || missing(&stamp.from)) && missing(&stamp.to) {
            return vec![RowChange::Insert {
                version: stamp.to[0].clone(),
            }];
        }
        if stamp.from.len() > 1 {
            let (last, rest) = stamp.from.split_last().expect("len > 1");
            let mut changes: Vec<RowChange> = rest
                .iter()
                .map(|v| RowChange::Delete { version: v.clone() })
                .collect();
            changes.push(RowChange::Update {
                from: last.clone(),
                to: stamp.to[0].clone(),
            });
            return changes;
        }
        vec![RowChange::Update {
            from: stamp.from[0].clone(),
            to: stamp.to[0].clone(),
        }]
    }

    pub fn apply(&mut self, change: &RowChange) -> Result<(), RowError> {
        match change {
            RowChange::Insert { version } => {
                if !self.heads.insert(version.clone()) {
                    return Err(RowError::AlreadyPresent(version.clone()));
                }
            }
            RowChange::Delete { version } => {
                if !self.heads.remove(version) {
                    return Err(RowError::Missing(version.clone()));
                }
            }
            RowChange::Update { from, to } => {
                if self.heads.contains(to) {
                    return Err(RowError::AlreadyPresent(to.clone()));
                }
                if !self.heads.remove(from) {
                    return Err(RowError::Missing(from.clone()));
                }
                self.heads.insert(to.clone());
            }
        }
        Ok(())
    }

    fn changes_for(
        &self,
        map: &RevisionMap,
        revision: Idx,
        upgrade: bool,
    ) -> Result<Vec<RowChange>, RowError> {
        let rev = map.rev(revision);
        let id = rev.revision.clone();
        let down: Vec<String> = map.ids(rev.normalized_parents());
        let in_heads = |ids: &[String]| ids.iter().filter(|d| self.heads.contains(*d)).count();

        if !upgrade
            && self.heads.contains(&id)
            && (down.is_empty() || self.unmerge_to(map, revision).is_empty())
        {
            return Ok(vec![RowChange::Delete { version: id }]);
        }
        if upgrade && (down.is_empty() || in_heads(&down) == 0) {
            return Ok(vec![RowChange::Insert { version: id }]);
        }
        if upgrade && down.len() > 1 && in_heads(&down) > 1 {
            let other_heads: Vec<String> = self
                .heads
                .iter()
                .filter(|h| !down.contains(h))
                .cloned()
                .collect();
            let from: Vec<String> = if other_heads.is_empty() {
                down.clone()
            } else {
                let implied = self.ancestor_ids(map, &other_heads);
                down.iter()
                    .filter(|d| !implied.contains(*d))
                    .cloned()
                    .collect()
            };
            let (last, rest) = from
                .split_last()
                .expect("a merge has two parents in the heads");
            let mut changes: Vec<RowChange> = rest
                .iter()
                .map(|v| RowChange::Delete { version: v.clone() })
                .collect();
            changes.push(RowChange::Update {
                from: last.clone(),
                to: id,
            });
            return Ok(changes);
        }
        if !upgrade && self.heads.contains(&id) && down.len() > 1 {
            let to = self.unmerge_to(map, revision);
            let (last, rest) = to.split_last().expect("checked non-empty above");
            let mut changes: Vec<RowChange> = rest
                .iter()
                .map(|v| RowChange::Insert { version: v.clone() })
                .collect();
            changes.push(RowChange::Update {
                from: id,
                to: last.clone(),
            });
            return Ok(changes);
        }
        let down_revision = if down.len() == 1 {
            down[0].clone()
        } else {
            let present: Vec<&String> = down.iter().filter(|d| self.heads.contains(*d)).collect();
            if present.len() != 1 {
                return Err(RowError::AmbiguousUpdate {
                    revision: id,
                    heads: self.heads.iter().cloned().collect::<Vec<_>>().join(", "),
                });
            }
            present[0].clone()
        };
        Ok(vec![if upgrade {
            RowChange::Update {
                from: down_revision,
                to: id,
            }
        } else {
            RowChange::Update {
                from: id,
                to: down_revision,
            }
        }])
    }

    /// `_unmerge_to_revisions`: the parents a downgrade of `revision` must leave as rows.
    fn unmerge_to(&self, map: &RevisionMap, revision: Idx) -> Vec<String> {
        let rev = map.rev(revision);
        let to: Vec<String> = map.ids(rev.normalized_parents());
        let others: Vec<String> = self
            .heads
            .iter()
            .filter(|h| **h != rev.revision)
            .cloned()
            .collect();
        if !others.is_empty() {
            let implied = self.ancestor_ids(map, &others);
            to.into_iter().filter(|t| !implied.contains(t)).collect()
        } else {
            let mut implied = BTreeSet::new();
            for t in &to {
                if let Some(ti) = map.lookup(t) {
                    for a in map.ancestors(&[ti], true) {
                        if map.rev(a).revision != *t {
                            implied.insert(map.rev(a).revision.clone());
                        }
                    }
                }
            }
            to.into_iter().filter(|t| !implied.contains(t)).collect()
        }
    }

    fn ancestor_ids(&self, map: &RevisionMap, ids: &[String]) -> BTreeSet<String> {
        let idxs: Vec<Idx> = ids.iter().filter_map(|i| map.lookup(i)).collect();
        map.ancestors(&idxs, true)
            .into_iter()
            .map(|a| map.rev(a).revision.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{RevArg, RevisionDecl};

    fn r(id: &str, down: &[&str]) -> RevisionDecl {
        RevisionDecl::new(id, down)
    }

    /// Runs the upgrade or downgrade steps and returns "rev{heads}" after each.
    fn walk(map: &RevisionMap, dest: &str, start: &[&str], upgrade: bool) -> String {
        let current: Vec<String> = start.iter().map(|s| s.to_string()).collect();
        let steps = if upgrade {
            map.upgrade_steps(&RevArg::one(dest), &current).unwrap()
        } else {
            map.downgrade_steps(&RevArg::one(dest), &current).unwrap()
        };
        let mut rows = HeadRows::new(start);
        steps
            .iter()
            .map(|&s| {
                rows.apply_step(map, s, upgrade).unwrap();
                format!(
                    "{}{{{}}}",
                    map.rev(s).revision,
                    rows.heads.iter().cloned().collect::<Vec<_>>().join(",")
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn not_quite_twin() {
        let m = RevisionMap::build(vec![
            r("a", &[]),
            r("b1", &["a"]),
            r("b2", &["a"]),
            r("b3", &["a"]),
            r("c1", &["b1", "b2"]),
            r("c2", &["b2", "b3"]),
            r("d1", &["c1"]),
            r("d2", &["c2"]),
        ])
        .unwrap();
        assert_eq!(
            walk(&m, "heads", &["a"], true),
            "b2{b2} b3{b2,b3} c2{c2} d2{d2} b1{b1,d2} c1{c1,d2} d1{d1,d2}"
        );
        assert_eq!(
            walk(&m, "a", &["d1", "d2"], false),
            "d1{c1,d2} c1{b1,d2} b1{d2} d2{c2} c2{b2,b3} b3{b2} b2{a}"
        );
    }

    #[test]
    fn twin_merge() {
        let m = RevisionMap::build(vec![
            r("a", &[]),
            r("b1", &["a"]),
            r("b2", &["a"]),
            r("b3", &["a"]),
            r("c1", &["b1", "b2", "b3"]),
            r("c2", &["b1", "b2", "b3"]),
            r("d1", &["c1"]),
            r("d2", &["c2"]),
        ])
        .unwrap();
        assert_eq!(
            walk(&m, "heads", &["a"], true),
            "b3{b3} b2{b2,b3} b1{b1,b2,b3} c2{c2} d2{d2} c1{c1,d2} d1{d1,d2}"
        );
    }

    #[test]
    fn dependency_implications() {
        let m = RevisionMap::build(vec![
            r("a1", &[]),
            r("b1", &[]).depends_on(&["a1"]),
            r("bmerge", &["a1", "b1"]),
        ])
        .unwrap();
        assert_eq!(walk(&m, "heads", &[], true), "a1{a1} b1{b1} bmerge{bmerge}");

        let m = RevisionMap::build(vec![
            r("a1", &[]),
            r("a2", &["a1"]),
            r("b1", &[]),
            r("b2", &["b1"]).depends_on(&["a2"]),
            r("b3", &["b2"]),
            r("a3", &["a2"]).depends_on(&["b1"]),
        ])
        .unwrap();
        assert_eq!(walk(&m, "b1", &["a3", "b2"], false), "b2{a3}");

        // effective head: upgrading heads leaves only y2 as a row
        let m = RevisionMap::build(vec![
            r("x1", &[]),
            r("y1", &[]),
            r("y2", &["y1"]).depends_on(&["x1"]),
        ])
        .unwrap();
        assert_eq!(walk(&m, "heads", &[], true), "x1{x1} y1{x1,y1} y2{y2}");
    }

    #[test]
    fn live_graph_rows() {
        let m = RevisionMap::build(vec![
            r("1000", &[]),
            r("2000", &["1000"]),
            r("3000", &["2000"]),
            r("4000", &["3000", "9000"]),
            r("5000", &["4000"]),
            r("9000", &["2000"]),
        ])
        .unwrap();
        assert_eq!(
            walk(&m, "head", &[], true),
            "1000{1000} 2000{2000} 9000{9000} 3000{3000,9000} 4000{4000} 5000{5000}"
        );
        assert_eq!(
            walk(&m, "2000", &["5000"], false),
            "5000{4000} 4000{3000,9000} 3000{9000} 9000{2000}"
        );
    }
}
