//! The revision graph, with Alembic's semantics (`alembic/script/revision.py`, 1.20.1).
//!
//! One cohesive module, like Alembic's: construction (heads, bases, branch labels,
//! dependencies, cycle checks), identifier resolution (`head`, `heads`, `base`, partial ids,
//! `label@rev`, relative `+N`/`-N`), and traversal (`iterate_revisions` with Alembic's exact
//! topological sort), so that history and upgrade/downgrade step lists equal Alembic's.
//!
//! Where Alembic iterates a Python `set` (so its output depends on `PYTHONHASHSEED`), Retort
//! uses one documented deterministic order instead:
//! - children (`nextrev`, "Branches into:", `branches` lines) are in load order;
//! - several branch labels on one revision are printed sorted;
//! - normalized dependencies keep the order they were declared in.

mod ancestry;
mod bitset;
pub mod commands;
pub mod export;
pub mod format;
pub mod lanes;

use ancestry::{LazyAncestors, Lineage};
use bitset::BitSet;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use crate::project::RevisionFile;
use crate::project::python_literal::python_int;

/// Revision ids come from the project itself, not from an adversary: FxHash's quick mixing.
type FxBuild = rustc_hash::FxBuildHasher;

/// Index of a revision in a [`RevisionMap`] (its load-order position).
pub type Idx = usize;

/// What one revision declares, independent of where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevisionDecl {
    pub revision: String,
    pub down_revision: Vec<String>,
    pub depends_on: Vec<String>,
    pub branch_labels: Vec<String>,
    pub longdoc: String,
    pub path: Option<PathBuf>,
}

impl RevisionDecl {
    /// A bare declaration, as Alembic's own tests build them.
    pub fn new(revision: &str, down: &[&str]) -> Self {
        Self {
            revision: revision.to_string(),
            down_revision: down.iter().map(|s| s.to_string()).collect(),
            ..Self::default()
        }
    }
    pub fn depends_on(mut self, deps: &[&str]) -> Self {
        self.depends_on = deps.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.branch_labels = labels.iter().map(|s| s.to_string()).collect();
        self
    }
}

impl From<RevisionFile> for RevisionDecl {
    fn from(file: RevisionFile) -> Self {
        Self {
            revision: file.revision,
            down_revision: file.down_revision,
            depends_on: file.depends_on,
            branch_labels: file.branch_labels,
            longdoc: file.longdoc,
            path: Some(file.path),
        }
    }
}

impl From<&RevisionFile> for RevisionDecl {
    fn from(file: &RevisionFile) -> Self {
        Self {
            revision: file.revision.clone(),
            down_revision: file.down_revision.clone(),
            depends_on: file.depends_on.clone(),
            branch_labels: file.branch_labels.clone(),
            longdoc: file.longdoc.clone(),
            path: Some(file.path.clone()),
        }
    }
}

/// A revision in the map, with the edges Alembic derives.
#[derive(Debug, Clone)]
pub struct Revision {
    pub revision: String,
    /// The versioned parents (`down_revision`), in declared order.
    pub down_revision: Vec<String>,
    /// `depends_on` as written (ids or branch labels).
    pub dependencies: Vec<String>,
    /// Labels after propagation along the branch.
    pub branch_labels: Vec<String>,
    pub longdoc: String,
    pub path: Option<PathBuf>,
    orig_branch_labels: Vec<String>,
    resolved_dependencies: Vec<String>,
    normalized_dependencies: Vec<String>,
    down: Vec<Idx>,
    all_down: Vec<Idx>,
    normalized_down: Vec<Idx>,
    next: Vec<Idx>,
    all_next: Vec<Idx>,
}

impl Revision {
    /// No revision names this one as its `down_revision`.
    pub fn is_head(&self) -> bool {
        self.next.is_empty()
    }
    /// No revision names this one as `down_revision` or dependency.
    pub fn is_real_head(&self) -> bool {
        self.all_next.is_empty()
    }
    pub fn is_base(&self) -> bool {
        self.down_revision.is_empty()
    }
    pub fn is_real_base(&self) -> bool {
        self.down_revision.is_empty() && self.dependencies.is_empty()
    }
    pub fn is_branch_point(&self) -> bool {
        self.next.len() > 1
    }
    pub fn is_real_branch_point(&self) -> bool {
        self.all_next.len() > 1
    }
    pub fn is_merge_point(&self) -> bool {
        self.down_revision.len() > 1
    }
    /// Alembic's `doc`: the first paragraph of the docstring.
    pub fn doc(&self) -> &str {
        self.longdoc.split("\n\n").next().unwrap_or("")
    }
    /// Dependencies resolved to revision ids.
    pub fn resolved_dependencies(&self) -> &[String] {
        &self.resolved_dependencies
    }
    /// Dependencies not already implied by an ancestor; with `down_revision` these are the
    /// edges traversal and the version table follow.
    pub fn normalized_dependencies(&self) -> &[String] {
        &self.normalized_dependencies
    }
    pub fn children(&self) -> &[Idx] {
        &self.next
    }
    pub fn all_children(&self) -> &[Idx] {
        &self.all_next
    }
    pub fn parents(&self) -> &[Idx] {
        &self.down
    }
    pub fn normalized_parents(&self) -> &[Idx] {
        &self.normalized_down
    }
}

/// The errors of the revision graph, with Alembic's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "camelCase")]
pub enum RevisionError {
    /// `lower`/`upper` are already rendered as Alembic prints them.
    #[error("Revision {lower} is not an ancestor of revision {upper}")]
    RangeNotAncestor { lower: String, upper: String },
    #[error("Multiple heads are present for given argument '{argument}'; {}", .heads.join(", "))]
    MultipleHeads {
        heads: Vec<String>,
        argument: String,
    },
    #[error("{message}")]
    Resolution { message: String, argument: String },
    /// A `down_revision` or `depends_on` naming a revision (or, for `depends_on`, a branch
    /// label) the project lacks: the first one found, as Alembic reports only that.
    #[error("{message}")]
    MissingParent {
        revision: String,
        parent: String,
        /// `true`: named by `depends_on`; `false`: by `down_revision`.
        dependency: bool,
        message: String,
    },
    #[error("{kind} is detected in revisions ({})", .revisions.join(", "))]
    Cycle {
        kind: CycleKind,
        revisions: Vec<String>,
    },
    #[error("{message}")]
    Other { message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CycleKind {
    Cycle,
    DependencyCycle,
    SelfLoop,
    DependencySelfLoop,
}

impl fmt::Display for CycleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CycleKind::Cycle => "Cycle",
            CycleKind::DependencyCycle => "Dependency cycle",
            CycleKind::SelfLoop => "Self-loop",
            CycleKind::DependencySelfLoop => "Dependency self-loop",
        })
    }
}

fn other(message: impl Into<String>) -> RevisionError {
    RevisionError::Other {
        message: message.into(),
    }
}

fn resolution(message: String, argument: &str) -> RevisionError {
    RevisionError::Resolution {
        message,
        argument: argument.to_string(),
    }
}

/// A revision argument, as Alembic's functions accept them: a string (which may be a symbol
/// such as `heads` or `label@rev`), a tuple of ids (database rows), or nothing (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevArg {
    Null,
    One(String),
    Many(Vec<String>),
}

impl RevArg {
    pub fn one(s: &str) -> Self {
        RevArg::One(s.to_string())
    }
    pub fn many<S: AsRef<str>>(ids: &[S]) -> Self {
        RevArg::Many(ids.iter().map(|s| s.as_ref().to_string()).collect())
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            RevArg::One(s) => Some(s),
            _ => None,
        }
    }
    /// `util.to_tuple`.
    fn to_tuple(&self) -> Vec<String> {
        match self {
            RevArg::Null => Vec::new(),
            RevArg::One(s) => vec![s.clone()],
            RevArg::Many(v) => v.clone(),
        }
    }
    /// How Python's `%s` renders the argument in messages.
    pub fn python_str(&self) -> String {
        match self {
            RevArg::Null => "None".to_string(),
            RevArg::One(s) => s.clone(),
            RevArg::Many(v) if v.len() == 1 => format!("('{}',)", v[0]),
            RevArg::Many(v) => {
                format!(
                    "({})",
                    v.iter()
                        .map(|s| format!("'{s}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
    }
    fn is_truthy(&self) -> bool {
        match self {
            RevArg::Null => false,
            RevArg::One(s) => !s.is_empty(),
            RevArg::Many(v) => !v.is_empty(),
        }
    }
}

/// One element of what `get_revisions` returns: a revision, or the `"base"` / `None` a relative
/// walk can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Rev(Idx),
    Base,
    Nothing,
}

impl Slot {
    pub fn rev(self) -> Option<Idx> {
        match self {
            Slot::Rev(i) => Some(i),
            _ => None,
        }
    }
}

/// A warning Alembic emits while building the map (the build still succeeds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphWarning {
    pub message: String,
}

/// The revision graph of one project.
#[derive(Debug, Clone)]
pub struct RevisionMap {
    revs: Vec<Revision>,
    /// Map keys in Alembic's order: revision ids (load order), then branch labels.
    keys: Vec<(String, Idx)>,
    index: HashMap<String, Idx, FxBuild>,
    heads: Vec<Idx>,
    real_heads: Vec<Idx>,
    bases: Vec<Idx>,
    real_bases: Vec<Idx>,
    /// The normalized parents again, compactly, with each revision's generation (for
    /// [`RevisionMap::topological_sort`]).
    lineage: Lineage,
    pub warnings: Vec<GraphWarning>,
}

/// `str(Script)`: how Alembic names a revision in the "not present" warning.
fn script_str(rev: &Revision) -> String {
    format!(
        "{} -> {}{}, {}",
        format::down_revision_text(rev),
        rev.revision,
        format::tree_marks(rev),
        rev.doc()
    )
}

fn dedupe(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Characters Alembic forbids in revision ids.
pub const ILLEGAL_ID_CHARS: [char; 4] = ['@', '-', '+', ':'];

/// `Revision.verify_rev_id`.
pub fn verify_rev_id(revision: &str) -> Result<(), RevisionError> {
    let mut illegal: Vec<char> = ILLEGAL_ID_CHARS
        .iter()
        .copied()
        .filter(|c| revision.contains(*c))
        .collect();
    if illegal.is_empty() {
        return Ok(());
    }
    illegal.sort();
    let chars = illegal
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(other(format!(
        "Character(s) '{chars}' not allowed in revision identifier '{revision}'"
    )))
}

impl RevisionMap {
    /// Builds the map from declarations in load order, as `RevisionMap._revision_map` does.
    pub fn build(decls: impl IntoIterator<Item = RevisionDecl>) -> Result<Self, RevisionError> {
        let mut revs: Vec<Revision> = Vec::new();
        let mut keys: Vec<(String, Idx)> = Vec::new();
        let mut index: HashMap<String, Idx, FxBuild> = HashMap::default();
        let mut warnings = Vec::new();

        for decl in decls {
            if decl.down_revision.contains(&decl.revision) {
                return Err(RevisionError::Cycle {
                    kind: CycleKind::SelfLoop,
                    revisions: vec![decl.revision],
                });
            }
            if decl.depends_on.contains(&decl.revision) {
                return Err(RevisionError::Cycle {
                    kind: CycleKind::DependencySelfLoop,
                    revisions: vec![decl.revision],
                });
            }
            verify_rev_id(&decl.revision)?;
            let rev = Revision {
                revision: decl.revision.clone(),
                down_revision: decl.down_revision,
                dependencies: decl.depends_on,
                branch_labels: dedupe(decl.branch_labels.iter().cloned()),
                orig_branch_labels: decl.branch_labels,
                longdoc: decl.longdoc,
                path: decl.path,
                resolved_dependencies: Vec::new(),
                normalized_dependencies: Vec::new(),
                down: Vec::new(),
                all_down: Vec::new(),
                normalized_down: Vec::new(),
                next: Vec::new(),
                all_next: Vec::new(),
            };
            // A later file with the same id replaces the earlier one in place (OrderedDict).
            if let Some(&existing) = index.get(&decl.revision) {
                warnings.push(GraphWarning {
                    message: format!("Revision {} is present more than once", decl.revision),
                });
                revs[existing] = rev;
            } else {
                index.insert(decl.revision.clone(), revs.len());
                keys.push((decl.revision, revs.len()));
                revs.push(rev);
            }
        }

        // Branch labels become keys too; a clash with any key is an error.
        for i in 0..revs.len() {
            for label in revs[i].orig_branch_labels.clone() {
                if let Some(&owner) = index.get(&label) {
                    return Err(other(format!(
                        "Branch name '{}' in revision {} already used by revision {}",
                        label, revs[i].revision, revs[owner].revision
                    )));
                }
                index.insert(label.clone(), i);
                keys.push((label, i));
            }
        }

        // depends_on may name ids or labels (exact keys only, no prefixes).
        for i in 0..revs.len() {
            let mut resolved = Vec::new();
            for dep in &revs[i].dependencies {
                match index.get(dep) {
                    Some(&d) => resolved.push(revs[d].revision.clone()),
                    None => {
                        return Err(RevisionError::MissingParent {
                            revision: revs[i].revision.clone(),
                            parent: dep.clone(),
                            dependency: true,
                            message: format!(
                                "Dependency {} of revision {} is not present{}",
                                dep,
                                revs[i].revision,
                                path_suffix(&revs[i])
                            ),
                        });
                    }
                }
            }
            revs[i].resolved_dependencies = resolved;
        }

        let mut is_head = vec![true; revs.len()];
        let mut is_real_head = vec![true; revs.len()];
        for i in 0..revs.len() {
            // `down_revision` then the resolved dependencies, each revision once (an id names
            // one revision, and every id here is checked to be one).
            let rev = &revs[i];
            let mut all_down_idx =
                Vec::with_capacity(rev.down_revision.len() + rev.resolved_dependencies.len());
            for down_id in rev.down_revision.iter().chain(&rev.resolved_dependencies) {
                let Some(&d) = index.get(down_id.as_str()) else {
                    return Err(RevisionError::MissingParent {
                        revision: rev.revision.clone(),
                        parent: down_id.clone(),
                        // Resolved dependencies are all present by now.
                        dependency: false,
                        message: format!(
                            "Revision {} referenced from {} is not present{}",
                            down_id,
                            script_str(rev),
                            path_suffix(rev)
                        ),
                    });
                };
                if revs[d].revision != *down_id {
                    // A down_revision naming a branch label: Alembic fails on traversal.
                    return Err(other("Dependency resolution failed; broken map"));
                }
                if !all_down_idx.contains(&d) {
                    all_down_idx.push(d);
                }
            }
            let down: Vec<Idx> = rev
                .down_revision
                .iter()
                .map(|d| index[d.as_str()])
                .collect();
            for &d in &all_down_idx {
                if !revs[d].all_next.contains(&i) {
                    revs[d].all_next.push(i);
                }
                if down.contains(&d) {
                    if !revs[d].next.contains(&i) {
                        revs[d].next.push(i);
                    }
                    is_head[d] = false;
                }
                is_real_head[d] = false;
            }
            revs[i].down = down;
            revs[i].all_down = all_down_idx;
        }
        // Children were pushed while visiting parents' children in load order already, but a
        // child that appears before its parent in load order is pushed in the same pass, so
        // the order is load order either way.
        for rev in &mut revs {
            rev.next.sort_unstable();
            rev.all_next.sort_unstable();
        }

        let mut map = RevisionMap {
            heads: (0..revs.len()).filter(|&i| is_head[i]).collect(),
            real_heads: (0..revs.len()).filter(|&i| is_real_head[i]).collect(),
            bases: (0..revs.len()).filter(|&i| revs[i].is_base()).collect(),
            real_bases: (0..revs.len())
                .filter(|&i| revs[i].is_real_base())
                .collect(),
            revs,
            keys,
            index,
            lineage: Lineage::default(),
            warnings,
        };
        // Parents first along `down_revision` and dependencies; `None` on a cycle. Without a
        // cycle every revision lies between a head and a base (follow its children up, its
        // parents down), so Alembic's cycle checks have nothing to find and are skipped.
        let order = ancestry::parents_first(map.revs.len(), |i| &map.revs[i].all_down);
        map.normalize_depends_on(order.as_deref());
        if order.is_none() {
            map.detect_cycles()?;
        }
        map.lineage = Lineage::new(map.revs.len(), |i| &map.revs[i].normalized_down);
        map.add_branches();
        Ok(map)
    }

    /// The graph of a project read from disk.
    pub fn from_project(project: &crate::project::Project) -> Result<Self, RevisionError> {
        Self::build(project.revisions.iter().map(RevisionDecl::from))
    }

    /// [`Self::from_project`] that moves the revision files into the graph instead of copying
    /// them; `project.revisions` is left empty.
    pub fn take_from_project(project: &mut crate::project::Project) -> Result<Self, RevisionError> {
        Self::build(
            std::mem::take(&mut project.revisions)
                .into_iter()
                .map(RevisionDecl::from),
        )
    }

    /// `_normalize_depends_on`: drop a dependency that a versioned ancestor already declares.
    /// With `order` (every revision after its parents), the dependencies declared by each
    /// revision's ancestors are gathered in one pass down the order; without (a cycle), by a
    /// walk per revision that has dependencies, as Alembic does.
    fn normalize_depends_on(&mut self, order: Option<&[Idx]>) {
        let n = self.revs.len();
        let with_deps: Vec<Idx> = (0..n)
            .filter(|&i| !self.revs[i].resolved_dependencies.is_empty())
            .collect();
        let words = with_deps.len().div_ceil(64);
        // Per revision, which revisions of `with_deps` are its versioned ancestors (itself
        // excluded): `words` bits each (declined when that would be large: walks instead).
        let mut above: Vec<u64> = Vec::new();
        let by_pass = match order {
            Some(order) if !with_deps.is_empty() && n.saturating_mul(words) <= 1 << 22 => {
                let mut number = vec![usize::MAX; n];
                for (k, &i) in with_deps.iter().enumerate() {
                    number[i] = k;
                }
                above = vec![0; n * words];
                for &i in order {
                    for &p in &self.revs[i].down {
                        if p == i {
                            continue;
                        }
                        for w in 0..words {
                            above[i * words + w] |= above[p * words + w];
                        }
                        if number[p] != usize::MAX {
                            above[i * words + number[p] / 64] |= 1 << (number[p] % 64);
                        }
                    }
                }
                true
            }
            _ => false,
        };
        for i in 0..n {
            if self.revs[i].resolved_dependencies.is_empty() {
                self.revs[i].normalized_down = self.revs[i].down.clone();
                continue;
            }
            let mut normalized = self.revs[i].resolved_dependencies.clone();
            if by_pass {
                let bits = &above[i * words..(i + 1) * words];
                for (k, &a) in with_deps.iter().enumerate() {
                    if bits[k / 64] & (1 << (k % 64)) != 0 {
                        let theirs = &self.revs[a].resolved_dependencies;
                        normalized.retain(|d| !theirs.contains(d));
                    }
                }
            } else {
                for a in self.related(&[i], |r| &r.down) {
                    if a != i {
                        let theirs = &self.revs[a].resolved_dependencies;
                        normalized.retain(|d| !theirs.contains(d));
                    }
                }
            }
            let normalized = dedupe(normalized);
            let normalized_down = dedupe(
                self.revs[i]
                    .down_revision
                    .iter()
                    .chain(&normalized)
                    .cloned(),
            );
            self.revs[i].normalized_down = normalized_down.iter().map(|d| self.index[d]).collect();
            self.revs[i].normalized_dependencies = normalized;
        }
    }

    fn detect_cycles(&self) -> Result<(), RevisionError> {
        if self.revs.is_empty() {
            return Ok(());
        }
        let all_ids = || {
            self.revs
                .iter()
                .map(|r| r.revision.clone())
                .collect::<Vec<_>>()
        };
        let outside = |heads: &[Idx],
                       bases: &[Idx],
                       down: fn(&Revision) -> &Vec<Idx>,
                       up: fn(&Revision) -> &Vec<Idx>| {
            let mut from_heads = BitSet::new(self.revs.len());
            for i in self.related(heads, down) {
                from_heads.insert(i);
            }
            let mut space = BitSet::new(self.revs.len());
            for i in self.related(bases, up) {
                if from_heads.contains(i) {
                    space.insert(i);
                }
            }
            let mut deleted: Vec<String> = (0..self.revs.len())
                .filter(|&i| !space.contains(i))
                .map(|i| self.revs[i].revision.clone())
                .collect();
            deleted.sort();
            deleted
        };
        if self.heads.is_empty() || self.bases.is_empty() {
            return Err(RevisionError::Cycle {
                kind: CycleKind::Cycle,
                revisions: all_ids(),
            });
        }
        let deleted = outside(&self.heads, &self.bases, |r| &r.down, |r| &r.next);
        if !deleted.is_empty() {
            return Err(RevisionError::Cycle {
                kind: CycleKind::Cycle,
                revisions: deleted,
            });
        }
        if self.real_heads.is_empty() || self.real_bases.is_empty() {
            return Err(RevisionError::Cycle {
                kind: CycleKind::DependencyCycle,
                revisions: all_ids(),
            });
        }
        let deleted = outside(
            &self.real_heads,
            &self.real_bases,
            |r| &r.all_down,
            |r| &r.all_next,
        );
        if !deleted.is_empty() {
            return Err(RevisionError::Cycle {
                kind: CycleKind::DependencyCycle,
                revisions: deleted,
            });
        }
        Ok(())
    }

    /// `_add_branches`: a label covers its revision, every versioned descendant, and the
    /// linear run below it down to the nearest branch point or merge point.
    fn add_branches(&mut self) {
        for i in 0..self.revs.len() {
            if self.revs[i].orig_branch_labels.is_empty() {
                continue;
            }
            let labels = self.revs[i].branch_labels.clone();
            let descendants = self.related(&[i], |r| &r.next);
            let last = *descendants
                .last()
                .expect("a revision is its own descendant");
            for &node in &descendants {
                add_labels(&mut self.revs[node], &labels);
            }
            // Alembic walks down from the last node its traversal yielded (a quirk we keep).
            let mut parent = last;
            loop {
                let rev = &self.revs[parent];
                if rev.is_real_branch_point() || rev.is_merge_point() {
                    break;
                }
                add_labels(&mut self.revs[parent], &labels);
                match self.revs[parent].down.first() {
                    Some(&d) => parent = d,
                    None => break,
                }
            }
        }
        for rev in &mut self.revs {
            rev.branch_labels.sort();
        }
    }

    /// `_iterate_related_revisions` without the overlap check: depth first, in Alembic's order.
    fn related(&self, targets: &[Idx], edges: impl Fn(&Revision) -> &Vec<Idx>) -> Vec<Idx> {
        let mut seen = BitSet::new(self.revs.len());
        let mut out = Vec::new();
        let mut todo: Vec<Idx> = Vec::new();
        for &target in targets {
            todo.push(target);
            while let Some(rev) = todo.pop() {
                if seen.contains(rev) {
                    continue;
                }
                seen.insert(rev);
                todo.extend(edges(&self.revs[rev]).iter().copied());
                out.push(rev);
            }
        }
        out
    }

    /// `_iterate_related_revisions(check=True)`: fails when one target reaches another.
    fn related_checked(
        &self,
        targets: &[Idx],
        edges: impl Fn(&Revision) -> &Vec<Idx>,
    ) -> Result<Vec<Idx>, RevisionError> {
        let mut seen = BitSet::new(self.revs.len());
        let mut out = Vec::new();
        let mut todo: Vec<Idx> = Vec::new();
        for &target in targets {
            todo.push(target);
            let mut per_target = Vec::new();
            while let Some(rev) = todo.pop() {
                per_target.push(rev);
                if seen.contains(rev) {
                    continue;
                }
                seen.insert(rev);
                todo.extend(edges(&self.revs[rev]).iter().copied());
                out.push(rev);
            }
            let mut overlaps: Vec<Idx> = per_target
                .into_iter()
                .filter(|r| *r != target && targets.contains(r))
                .collect();
            overlaps.sort_unstable();
            overlaps.dedup();
            if !overlaps.is_empty() {
                return Err(other(format!(
                    "Requested revision {} overlaps with other requested revisions {}",
                    self.revs[target].revision,
                    overlaps
                        .iter()
                        .map(|&o| self.revs[o].revision.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(out)
    }

    /// Ancestors (including the targets), following `down_revision` and, with
    /// `include_dependencies`, the normalized dependencies.
    pub fn ancestors(&self, targets: &[Idx], include_dependencies: bool) -> Vec<Idx> {
        if include_dependencies {
            self.related(targets, |r| &r.normalized_down)
        } else {
            self.related(targets, |r| &r.down)
        }
    }

    /// Descendants (including the targets).
    pub fn descendants(&self, targets: &[Idx], include_dependencies: bool) -> Vec<Idx> {
        if include_dependencies {
            self.related(targets, |r| &r.all_next)
        } else {
            self.related(targets, |r| &r.next)
        }
    }

    // ----- accessors -------------------------------------------------------------------

    pub fn len(&self) -> usize {
        self.revs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }
    pub fn rev(&self, i: Idx) -> &Revision {
        &self.revs[i]
    }
    pub fn revisions(&self) -> &[Revision] {
        &self.revs
    }
    /// Exact lookup of a revision id or branch label.
    pub fn lookup(&self, key: &str) -> Option<Idx> {
        self.index.get(key).copied()
    }
    /// Versioned heads (`get_heads()`), in load order.
    pub fn heads(&self) -> &[Idx] {
        &self.heads
    }
    /// Heads once dependencies count (`_real_heads`, what `heads` resolves to).
    pub fn real_heads(&self) -> &[Idx] {
        &self.real_heads
    }
    pub fn bases(&self) -> &[Idx] {
        &self.bases
    }
    pub fn real_bases(&self) -> &[Idx] {
        &self.real_bases
    }
    pub fn ids(&self, idxs: &[Idx]) -> Vec<String> {
        idxs.iter()
            .map(|&i| self.revs[i].revision.clone())
            .collect()
    }

    // ----- identifier resolution -------------------------------------------------------

    /// `get_current_head(branch_label)`.
    pub fn get_current_head(
        &self,
        branch_label: Option<&str>,
    ) -> Result<Option<Idx>, RevisionError> {
        let mut current = self.heads.clone();
        if let Some(label) = branch_label.filter(|l| !l.is_empty()) {
            current = self.filter_for_lineage(&current, &RevArg::one(label), false)?;
        }
        if current.len() > 1 {
            return Err(RevisionError::MultipleHeads {
                heads: self.ids(&current),
                argument: match branch_label.filter(|l| !l.is_empty()) {
                    Some(label) => format!("{label}@head"),
                    None => "head".to_string(),
                },
            });
        }
        Ok(current.first().copied())
    }

    /// `_resolve_revision_number`: symbols to id strings, plus the branch label if any.
    fn resolve_number(&self, id: &RevArg) -> Result<(Vec<String>, Option<String>), RevisionError> {
        let (branch_label, id) = match id {
            RevArg::One(s) if s.contains('@') => {
                let (label, rest) = s.split_once('@').expect("contains @");
                (Some(label.to_string()), RevArg::One(rest.to_string()))
            }
            other => (None, other.clone()),
        };
        let label = branch_label.as_deref().filter(|l| !l.is_empty());
        match id.as_str() {
            Some("heads") => match label {
                Some(l) => {
                    let heads = self.filter_for_lineage(&self.heads, &RevArg::one(l), false)?;
                    Ok((self.ids(&heads), branch_label))
                }
                None => Ok((self.ids(&self.real_heads), branch_label)),
            },
            Some("head") => match self.get_current_head(branch_label.as_deref())? {
                Some(h) => Ok((vec![self.revs[h].revision.clone()], branch_label)),
                None => Ok((vec![], branch_label)),
            },
            Some("base") => Ok((vec![], branch_label)),
            _ => Ok((id.to_tuple(), branch_label)),
        }
    }

    /// `get_revisions`: every identifier form, including `-N` / `label@-N` walks.
    pub fn get_revisions(&self, id: &RevArg) -> Result<Vec<Slot>, RevisionError> {
        if let RevArg::Many(ids) = id {
            let mut out = Vec::new();
            for one in ids {
                out.extend(self.get_revisions(&RevArg::One(one.clone()))?);
            }
            return Ok(out);
        }
        let (resolved, branch_label) = self.resolve_number(id)?;
        if resolved.len() == 1
            && let Some(steps) = python_int(&resolved[0])
            && steps < 0
        {
            let mut select = self.get_revisions(&RevArg::one("heads"))?;
            if let Some(label) = &branch_label {
                select.retain(|s| match s {
                    Slot::Rev(i) => self.revs[*i].branch_labels.contains(label),
                    _ => false,
                });
            }
            let mut out = Vec::new();
            for head in select {
                out.push(self.walk(head, steps, None, true)?);
            }
            return Ok(out);
        }
        let mut out = Vec::new();
        for rev_id in &resolved {
            out.push(
                match self.revision_for_ident(Some(rev_id), branch_label.as_deref())? {
                    Some(i) => Slot::Rev(i),
                    None => Slot::Nothing,
                },
            );
        }
        Ok(out)
    }

    /// `get_revision`: one revision, or `MultipleHeads`.
    pub fn get_revision(&self, id: &RevArg) -> Result<Option<Idx>, RevisionError> {
        let (resolved, branch_label) = self.resolve_number(id)?;
        if resolved.len() > 1 {
            return Err(RevisionError::MultipleHeads {
                heads: resolved,
                argument: id.python_str(),
            });
        }
        self.revision_for_ident(
            resolved.first().map(String::as_str),
            branch_label.as_deref(),
        )
    }

    /// Resolves a single identifier that must name exactly one revision (e.g. for `show`).
    pub fn resolve_one(&self, id: &str) -> Result<Idx, RevisionError> {
        match self.get_revision(&RevArg::one(id))? {
            Some(i) => Ok(i),
            None => Err(resolution(format!("No such revision or branch '{id}'"), id)),
        }
    }

    fn resolve_branch(&self, branch_label: &str) -> Result<Option<Idx>, RevisionError> {
        if let Some(&i) = self.index.get(branch_label) {
            return Ok(Some(i));
        }
        match self.revision_for_ident(Some(branch_label), None) {
            Ok(r) => Ok(r),
            Err(RevisionError::Resolution { .. }) => Err(resolution(
                format!("No such branch: '{branch_label}'"),
                branch_label,
            )),
            Err(e) => Err(e),
        }
    }

    fn revision_for_ident(
        &self,
        resolved_id: Option<&str>,
        check_branch: Option<&str>,
    ) -> Result<Option<Idx>, RevisionError> {
        let check_branch = check_branch.filter(|b| !b.is_empty());
        let branch_rev = match check_branch {
            Some(b) => self.resolve_branch(b)?,
            None => None,
        };
        let Some(resolved_id) = resolved_id else {
            return Ok(None);
        };
        let revision = match self.index.get(resolved_id) {
            Some(&i) => i,
            None => {
                let mut candidates: Vec<&str> = self
                    .keys
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .filter(|k| k.chars().count() > 3 && k.starts_with(resolved_id))
                    .collect();
                if branch_rev.is_some() {
                    let branch = RevArg::one(check_branch.expect("branch_rev implies a label"));
                    let mut kept = Vec::new();
                    for c in candidates {
                        let ci = self.index[c];
                        if self.shares_lineage(ci, &branch, false)? {
                            kept.push(c);
                        }
                    }
                    candidates = kept;
                }
                match candidates.len() {
                    0 => {
                        let hint = if resolved_id.chars().count() < 4 {
                            "; please ensure at least four characters are present for partial revision identifier matches"
                        } else {
                            ""
                        };
                        return Err(resolution(
                            format!("No such revision or branch '{resolved_id}'{hint}"),
                            resolved_id,
                        ));
                    }
                    1 => self.index[candidates[0]],
                    _ => {
                        let shown = candidates[..candidates.len().min(3)]
                            .iter()
                            .map(|c| format!("'{c}'"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        return Err(resolution(
                            format!("Multiple revisions start with '{resolved_id}': {shown}..."),
                            resolved_id,
                        ));
                    }
                }
            }
        };
        if let (Some(branch), Some(branch_rev)) = (check_branch, branch_rev)
            && !self.shares_lineage_with(revision, &[branch_rev], false)
        {
            return Err(resolution(
                format!(
                    "Revision {} is not a member of branch '{}'",
                    self.revs[revision].revision, branch
                ),
                resolved_id,
            ));
        }
        Ok(Some(revision))
    }

    /// `filter_for_lineage`: keep the targets that are an ancestor or descendant of what
    /// `check_against` names.
    pub fn filter_for_lineage(
        &self,
        targets: &[Idx],
        check_against: &RevArg,
        include_dependencies: bool,
    ) -> Result<Vec<Idx>, RevisionError> {
        let mut out = Vec::new();
        for &t in targets {
            if self.shares_lineage(t, check_against, include_dependencies)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    fn shares_lineage(
        &self,
        target: Idx,
        check_against: &RevArg,
        include_dependencies: bool,
    ) -> Result<bool, RevisionError> {
        let (ids, branch_label) = self.resolve_number(check_against)?;
        let mut shares: Vec<String> = Vec::new();
        if let Some(l) = branch_label.filter(|l| !l.is_empty()) {
            shares.push(l);
        }
        shares.extend(ids);
        if shares.is_empty() {
            return Ok(true);
        }
        let mut against = Vec::new();
        for s in &shares {
            if let Some(i) = self.revision_for_ident(Some(s), None)? {
                against.push(i);
            }
        }
        Ok(self.shares_lineage_with(target, &against, include_dependencies))
    }

    fn shares_lineage_with(
        &self,
        target: Idx,
        against: &[Idx],
        include_dependencies: bool,
    ) -> bool {
        self.descendants(&[target], include_dependencies)
            .into_iter()
            .chain(self.ancestors(&[target], include_dependencies))
            .any(|r| against.contains(&r))
    }

    // ----- relative walks --------------------------------------------------------------

    /// `_walk`: `steps` up (> 0) or down (< 0); `Slot::Nothing` when it overwalks.
    pub fn walk(
        &self,
        start: Slot,
        steps: i64,
        branch_label: Option<&str>,
        no_overwalk: bool,
    ) -> Result<Slot, RevisionError> {
        let mut initial = start;
        for _ in 0..steps.unsigned_abs() {
            let children: Vec<Slot> = if steps > 0 {
                let walk_up: Vec<Idx> = match initial {
                    Slot::Nothing => self.bases.clone(),
                    Slot::Rev(i) => self.revs[i].next.clone(),
                    Slot::Base => return Err(other("Ambiguous walk: cannot walk up from base")),
                };
                let walk_up = match branch_label.filter(|l| !l.is_empty()) {
                    Some(l) => self.filter_for_lineage(&walk_up, &RevArg::one(l), false)?,
                    None => walk_up,
                };
                walk_up.into_iter().map(Slot::Rev).collect()
            } else {
                match initial {
                    Slot::Base => Vec::new(),
                    Slot::Nothing => self.heads.iter().map(|&h| Slot::Rev(h)).collect(),
                    Slot::Rev(i) => {
                        let down: Vec<Slot> =
                            self.revs[i].down.iter().map(|&d| Slot::Rev(d)).collect();
                        if down.is_empty() {
                            vec![Slot::Base]
                        } else {
                            down
                        }
                    }
                }
            };
            if children.is_empty() {
                return Ok(if no_overwalk { Slot::Nothing } else { initial });
            }
            if children.len() > 1 {
                return Err(other("Ambiguous walk"));
            }
            initial = children[0];
        }
        Ok(initial)
    }

    fn get_all_current(&self, ids: &[String]) -> Result<Vec<Idx>, RevisionError> {
        let top: Vec<Idx> = self
            .get_revisions(&RevArg::Many(ids.to_vec()))?
            .into_iter()
            .filter_map(Slot::rev)
            .collect();
        let all = self.ancestors(&top, true);
        Ok(self.filter_into_branch_heads(&all))
    }

    /// Keeps the revisions that have no versioned descendant in the set, in load order.
    pub fn filter_into_branch_heads(&self, set: &[Idx]) -> Vec<Idx> {
        let mut members = BitSet::new(self.revs.len());
        for &i in set {
            members.insert(i);
        }
        let mut out: Vec<Idx> = set
            .iter()
            .copied()
            .filter(|&r| {
                !self
                    .descendants(&[r], false)
                    .into_iter()
                    .any(|d| d != r && members.contains(d))
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The revisions shown by `alembic current` for the given database rows, in load order.
    pub fn current_display(&self, db_heads: &[String]) -> Result<Vec<Idx>, RevisionError> {
        self.get_all_current(db_heads)
    }

    fn parse_downgrade_target(
        &self,
        current_revisions: &RevArg,
        target: &RevArg,
        assert_relative_length: bool,
    ) -> Result<(Option<String>, Slot), RevisionError> {
        let target = match target {
            RevArg::Null => return Ok((None, Slot::Nothing)),
            RevArg::One(s) => s.as_str(),
            RevArg::Many(_) => return Err(other("Expected downgrade target in string form")),
        };
        if let Some(rel) = Relative::parse(target) {
            if rel.steps >= 0 {
                let Some(symbol) = &rel.symbol else {
                    return Err(didnt_produce(&rel.relative, rel.steps));
                };
                let start = self.slot_of(self.get_revision(&RevArg::one(symbol))?);
                let rev = self.walk(
                    start,
                    rel.steps,
                    rel.branch_label.as_deref(),
                    assert_relative_length,
                )?;
                if rev == Slot::Nothing {
                    return Err(other("Walked too far"));
                }
                return Ok((rel.branch_label, rev));
            }
            let relative_revision = rel.symbol.is_none();
            let mut branch_label = rel.branch_label.clone();
            let symbol = match &rel.symbol {
                Some(s) => s.clone(),
                None => match &branch_label {
                    Some(label) => {
                        let current: Vec<Idx> = self
                            .get_revisions(&RevArg::Many(current_revisions.to_tuple()))?
                            .into_iter()
                            .filter_map(Slot::rev)
                            .collect();
                        let mut symbols =
                            self.filter_for_lineage(&current, &RevArg::one(label), false)?;
                        if symbols.is_empty() {
                            let all_current =
                                self.get_all_current(&current_revisions.to_tuple())?;
                            symbols =
                                self.filter_for_lineage(&all_current, &RevArg::one(label), false)?;
                        }
                        if symbols.len() != 1 {
                            return Err(other(format!(
                                "No single current revision on branch '{label}' to walk from (found {})",
                                symbols.len()
                            )));
                        }
                        self.revs[symbols[0]].revision.clone()
                    }
                    None => {
                        let current = current_revisions.to_tuple();
                        if current.is_empty() {
                            return Err(didnt_produce(&rel.relative, rel.steps));
                        }
                        let first = current[0].clone();
                        branch_label = Some(first.clone());
                        first
                    }
                },
            };
            let start = match &branch_label {
                None => self.get_revision(&RevArg::one(&symbol))?,
                Some(l) => self.get_revision(&RevArg::One(format!("{l}@{symbol}")))?,
            };
            let rev = self.walk(self.slot_of(start), rel.steps, None, assert_relative_length)?;
            if rev == Slot::Nothing {
                return Err(if relative_revision {
                    didnt_produce(&rel.relative, rel.steps)
                } else {
                    other("Walked too far")
                });
            }
            return Ok((branch_label, rev));
        }
        let (label, symbol) = match target.rsplit_once('@') {
            Some((l, s)) => (Some(l.to_string()).filter(|l| !l.is_empty()), s),
            None => (None, target),
        };
        let rev = self.get_revision(&RevArg::one(symbol))?;
        Ok((label, self.slot_of(rev)))
    }

    fn slot_of(&self, rev: Option<Idx>) -> Slot {
        rev.map_or(Slot::Nothing, Slot::Rev)
    }

    fn parse_upgrade_target(
        &self,
        current_revisions: &RevArg,
        target: &RevArg,
        assert_relative_length: bool,
    ) -> Result<Vec<Slot>, RevisionError> {
        let rel = target.as_str().and_then(Relative::parse);
        let Some(rel) = rel else {
            return self.get_revisions(target);
        };
        if rel.steps > 0 {
            if let Some(symbol) = &rel.symbol {
                let start = self.slot_of(self.get_revision(&RevArg::one(symbol))?);
                return Ok(vec![self.walk(
                    start,
                    rel.steps,
                    rel.branch_label.as_deref(),
                    assert_relative_length,
                )?]);
            }
            let current = current_revisions.to_tuple();
            let mut start_revs: Vec<Slot> = if current.is_empty() {
                vec![Slot::Nothing]
            } else {
                current
                    .iter()
                    .map(|c| self.get_revision(&RevArg::one(c)).map(|r| self.slot_of(r)))
                    .collect::<Result<_, _>>()?
            };
            if let Some(label) = rel.branch_label.as_deref().filter(|l| !l.is_empty()) {
                let current_idx: Vec<Idx> = if current.is_empty() {
                    Vec::new()
                } else {
                    self.get_revisions(&RevArg::Many(current.clone()))?
                        .into_iter()
                        .filter_map(Slot::rev)
                        .collect()
                };
                let on_branch =
                    self.filter_for_lineage(&current_idx, &RevArg::one(label), false)?;
                start_revs = on_branch.iter().map(|&i| Slot::Rev(i)).collect();
                if start_revs.is_empty() {
                    let ancestors = self.ancestors(&current_idx, true);
                    let active = self.filter_for_lineage(&ancestors, &RevArg::one(label), false)?;
                    let downs: Vec<Idx> = active
                        .iter()
                        .flat_map(|&a| self.revs[a].normalized_down.clone())
                        .collect();
                    let mut tips: Vec<Idx> = active
                        .iter()
                        .copied()
                        .filter(|a| !downs.contains(a))
                        .collect();
                    tips.sort_unstable();
                    tips.dedup();
                    start_revs = tips.into_iter().map(Slot::Rev).collect();
                    if start_revs.is_empty() {
                        start_revs = vec![Slot::Nothing];
                    }
                }
            }
            if start_revs.len() > 1 {
                return Err(other("Ambiguous upgrade from multiple current revisions"));
            }
            let rev = self.walk(
                start_revs[0],
                rel.steps,
                rel.branch_label.as_deref(),
                assert_relative_length,
            )?;
            if rev == Slot::Nothing {
                return Err(didnt_produce(&rel.relative, rel.steps));
            }
            return Ok(vec![rev]);
        }
        let Some(symbol) = &rel.symbol else {
            return Err(didnt_produce(&rel.steps.to_string(), rel.steps));
        };
        let start = match rel.branch_label.as_deref() {
            None => self.get_revision(&RevArg::one(symbol))?,
            Some(l) => self.get_revision(&RevArg::One(format!("{l}@{symbol}")))?,
        };
        Ok(vec![self.walk(
            self.slot_of(start),
            rel.steps,
            None,
            assert_relative_length,
        )?])
    }

    fn require_revisions(&self, slots: &[Slot], what: &str) -> Result<Vec<Idx>, RevisionError> {
        slots
            .iter()
            .map(|s| match s {
                Slot::Rev(i) => Ok(*i),
                _ => Err(other(format!("{what} does not name a revision (the relative walk went past the end of the graph)"))),
            })
            .collect()
    }

    fn collect_downgrade_revisions(
        &self,
        upper: &RevArg,
        lower: &RevArg,
        inclusive: bool,
        implicit_base: bool,
        assert_relative_length: bool,
    ) -> Result<(Vec<Idx>, Vec<Slot>), RevisionError> {
        let (branch_label, target) =
            self.parse_downgrade_target(upper, lower, assert_relative_length)?;
        let target = target.rev();
        // Alembic iterates the map's values, where a labelled base appears once per key.
        let (mut roots, root_count): (Vec<Idx>, usize) = match target {
            None => {
                let count = self
                    .keys
                    .iter()
                    .filter(|(_, i)| self.revs[*i].is_base())
                    .count();
                (self.bases.clone(), count)
            }
            Some(t) if inclusive => (vec![t], 1),
            Some(t) => (self.revs[t].next.clone(), self.revs[t].next.len()),
        };
        if let Some(label) = &branch_label
            && root_count > 1
        {
            let branch = self.resolve_branch(label)?;
            let ancestors = branch
                .map(|b| self.ancestors(&[b], false))
                .unwrap_or_default();
            roots.retain(|r| ancestors.contains(r));
            if roots.is_empty() {
                return Err(other("Not a valid downgrade target from current heads"));
            }
        }
        let heads = self.get_revisions(upper)?;
        let head_idx: Vec<Idx> = heads.iter().filter_map(|s| s.rev()).collect();
        let active = self.ancestors(&head_idx, true);
        let mut active_set = BitSet::new(self.revs.len());
        for &a in &active {
            active_set.insert(a);
        }
        let mut drop: Vec<Idx> = self
            .descendants(&roots, true)
            .into_iter()
            .filter(|d| active_set.contains(*d))
            .collect();
        if implicit_base {
            let root_ancestors = self.ancestors(&roots, true);
            drop.extend(
                active
                    .iter()
                    .copied()
                    .filter(|a| !root_ancestors.contains(a)),
            );
        }
        drop.sort_unstable();
        drop.dedup();
        if let Some(t) = target
            && drop.is_empty()
            && !head_idx.contains(&t)
        {
            return Err(RevisionError::RangeNotAncestor {
                lower: "Nothing to drop".to_string(),
                upper: range_side(upper),
            });
        }
        Ok((drop, heads))
    }

    fn collect_upgrade_revisions(
        &self,
        upper: &RevArg,
        lower: &RevArg,
        inclusive: bool,
        implicit_base: bool,
        assert_relative_length: bool,
    ) -> Result<(Vec<Idx>, Vec<Slot>), RevisionError> {
        let parsed = self.parse_upgrade_target(lower, upper, assert_relative_length)?;
        let mut targets = self.require_revisions(&parsed, &upper.python_str())?;

        if let Some(lower_str) = lower.as_str()
            && let Some((branch, _)) = lower_str.split_once('@')
        {
            let mut branch = branch.to_string();
            if let Some(b) = self.get_revision(&RevArg::one(&branch))?
                && self.revs[b].revision == branch
            {
                if self.revs[b].branch_labels.len() != 1 {
                    return Err(other(format!(
                        "Revision {branch} must carry exactly one branch label to be used as a branch"
                    )));
                }
                branch = self.revs[b].branch_labels[0].clone();
            }
            targets.retain(|&t| self.revs[t].branch_labels.contains(&branch));
            targets.sort_unstable();
            targets.dedup();
        }

        let mut required: Vec<Idx> = self.related_checked(&targets, |r| &r.normalized_down)?;
        required.extend(targets.iter().copied());
        let mut required_set = BitSet::new(self.revs.len());
        for &r in &required {
            required_set.insert(r);
        }

        let mut current = self.get_revisions(lower)?;
        if !implicit_base
            && current.iter().any(|c| match c {
                Slot::Rev(i) => !required_set.contains(*i),
                Slot::Base => true,
                Slot::Nothing => false,
            })
        {
            return Err(RevisionError::RangeNotAncestor {
                lower: range_side(lower),
                upper: range_side(upper),
            });
        }
        let mut lower = lower.clone();
        if current.first() == Some(&Slot::Nothing) {
            let (_, rev) = self.parse_downgrade_target(upper, &lower, assert_relative_length)?;
            match rev {
                Slot::Base => {
                    current = Vec::new();
                    lower = RevArg::Null;
                }
                Slot::Rev(i) => {
                    current = vec![Slot::Rev(i)];
                    lower = RevArg::One(self.revs[i].revision.clone());
                }
                Slot::Nothing => {
                    return Err(other(format!(
                        "{} does not name a revision",
                        lower.python_str()
                    )));
                }
            }
        }
        let current_idx = self.require_revisions(&current, &lower.python_str())?;
        let mut current_nodes = BitSet::new(self.revs.len());
        for r in self.related_checked(&current_idx, |r| &r.normalized_down)? {
            current_nodes.insert(r);
        }
        for &r in &current_idx {
            current_nodes.insert(r);
        }
        let mut needs: Vec<Idx> = required
            .into_iter()
            .filter(|r| !current_nodes.contains(*r))
            .collect();
        if inclusive {
            let lower_revs = self.get_revisions(&lower)?;
            needs.extend(self.require_revisions(&lower_revs, &lower.python_str())?);
        }
        if !current_idx.is_empty() && !implicit_base {
            let below = self.related_checked(&current_idx, |r| &r.next)?;
            needs.retain(|n| below.contains(n));
        }
        needs.sort_unstable();
        needs.dedup();
        Ok((needs, targets.into_iter().map(Slot::Rev).collect()))
    }

    /// `iterate_revisions`: the revisions between `upper` and `lower`, newest first.
    pub fn iterate_revisions(
        &self,
        upper: &RevArg,
        lower: &RevArg,
        options: IterateOptions,
    ) -> Result<Vec<Idx>, RevisionError> {
        let (revisions, heads) = if options.select_for_downgrade {
            self.collect_downgrade_revisions(
                upper,
                lower,
                options.inclusive,
                options.implicit_base,
                options.assert_relative_length,
            )?
        } else {
            self.collect_upgrade_revisions(
                upper,
                lower,
                options.inclusive,
                options.implicit_base,
                options.assert_relative_length,
            )?
        };
        let heads: Vec<Idx> = heads.into_iter().filter_map(Slot::rev).collect();
        let sorted = self.topological_sort(&revisions, &heads);
        if sorted.len()
            != revisions
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
        {
            // Alembic fails here too (`assert not todo` in `_topological_sort`): its walk down
            // from these heads never reaches some of the selected revisions.
            let left: Vec<String> = revisions
                .iter()
                .filter(|r| !sorted.contains(r))
                .map(|&r| self.revs[r].revision.clone())
                .collect();
            return Err(other(format!(
                "Cannot order the revisions {} from the requested heads (Alembic stops here with an AssertionError as well); name a revision instead of a branch label, or merge the branches first",
                left.join(", ")
            )));
        }
        Ok(sorted)
    }

    /// `walk_revisions(base, head)`: what `history` lists, newest first.
    pub fn walk_revisions(&self, base: &str, head: &str) -> Result<Vec<Idx>, RevisionError> {
        self.walk_revision_range(&RevArg::one(base), &RevArg::one(head))
    }

    /// `walk_revisions` where either end may be several revisions (the database's rows).
    pub fn walk_revision_range(
        &self,
        base: &RevArg,
        head: &RevArg,
    ) -> Result<Vec<Idx>, RevisionError> {
        self.iterate_revisions(
            head,
            base,
            IterateOptions {
                inclusive: true,
                assert_relative_length: false,
                ..IterateOptions::default()
            },
        )
    }

    /// The ordered upgrade steps from the database's `current` heads to `destination`.
    pub fn upgrade_steps(
        &self,
        destination: &RevArg,
        current: &[String],
    ) -> Result<Vec<Idx>, RevisionError> {
        let mut revs = self.iterate_revisions(
            destination,
            &RevArg::Many(current.to_vec()),
            IterateOptions {
                implicit_base: true,
                ..IterateOptions::default()
            },
        )?;
        revs.reverse();
        Ok(revs)
    }

    /// The ordered downgrade steps from the database's `current` heads to `destination`.
    pub fn downgrade_steps(
        &self,
        destination: &RevArg,
        current: &[String],
    ) -> Result<Vec<Idx>, RevisionError> {
        self.iterate_revisions(
            &RevArg::Many(current.to_vec()),
            destination,
            IterateOptions {
                select_for_downgrade: true,
                ..IterateOptions::default()
            },
        )
    }

    /// `_topological_sort`, exactly: newest first, ties broken by load order, depth first down
    /// a branch, pausing at a branch point until every branch above it has been emitted.
    ///
    /// Alembic keeps the whole ancestor set of every current head and rebuilds it at every
    /// merge, which is quadratic on a long history; here each set is filled lazily (see
    /// [`LazyAncestors`]), only as deep as the questions asked of it, with the same answers.
    pub fn topological_sort(&self, revisions: &[Idx], heads: &[Idx]) -> Vec<Idx> {
        let n = self.revs.len();
        let mut todo = BitSet::new(n);
        for &r in revisions {
            todo.insert(r);
        }
        let mut current: Vec<Idx> = heads
            .iter()
            .copied()
            .filter(|&h| todo.contains(h))
            .collect();
        current.sort_unstable();
        current.dedup();
        let mut ancestors: Vec<LazyAncestors> = current
            .iter()
            .map(|&h| LazyAncestors::of(&self.lineage, h))
            .collect();
        let mut output = Vec::with_capacity(revisions.len());
        let mut idx = 0usize;
        while !current.is_empty() {
            let candidate = current[idx];
            if let Some(j) = (0..ancestors.len())
                .find(|&j| j != idx && ancestors[j].contains(&self.lineage, candidate))
            {
                idx = j;
                continue;
            }
            if todo.contains(candidate) {
                output.push(candidate);
                todo.remove(candidate);
            }
            let rev = &self.revs[candidate];
            let to_add: Vec<Idx> = rev
                .normalized_down
                .iter()
                .copied()
                .filter(|d| todo.contains(*d) && !current.contains(d))
                .collect();
            if to_add.is_empty() {
                current.remove(idx);
                ancestors.remove(idx);
                idx = idx.saturating_sub(1);
            } else if rev.normalized_dependencies.is_empty() && rev.down.len() == 1 {
                current[idx] = to_add[0];
                ancestors[idx].step_down(candidate, to_add[0]);
            } else {
                current[idx] = to_add[0];
                ancestors[idx] = LazyAncestors::of(&self.lineage, to_add[0]);
                for &extra in &to_add[1..] {
                    current.push(extra);
                    ancestors.push(LazyAncestors::of(&self.lineage, extra));
                }
            }
        }
        output
    }
}

#[derive(Debug, Clone, Copy)]
pub struct IterateOptions {
    pub implicit_base: bool,
    pub inclusive: bool,
    pub assert_relative_length: bool,
    pub select_for_downgrade: bool,
}

impl Default for IterateOptions {
    fn default() -> Self {
        Self {
            implicit_base: false,
            inclusive: false,
            assert_relative_length: true,
            select_for_downgrade: false,
        }
    }
}

fn add_labels(rev: &mut Revision, labels: &[String]) {
    for l in labels {
        if !rev.branch_labels.contains(l) {
            rev.branch_labels.push(l.clone());
        }
    }
}

fn path_suffix(rev: &Revision) -> String {
    match &rev.path {
        Some(p) => format!(" (in {})", p.display()),
        None => String::new(),
    }
}

fn didnt_produce(relative: &str, steps: i64) -> RevisionError {
    other(format!(
        "Relative revision {relative} didn't produce {} migrations",
        steps.unsigned_abs()
    ))
}

/// `RangeNotAncestorError(lower, upper)` renders a missing side as `base`.
fn range_side(arg: &RevArg) -> String {
    if arg.is_truthy() {
        arg.python_str()
    } else {
        "base".to_string()
    }
}

/// Alembic's warning (`RevisionMap._parse_downgrade_target`) for `downgrade -N` from several
/// version rows. It then steps down from the first row the database returned (a `SELECT`
/// without `ORDER BY`), on that row's branch only, as Retort does; its text says `-1` for any N.
pub const AMBIGUOUS_DOWNGRADE: &str = "downgrade -1 from multiple heads is ambiguous; this usage will be disallowed in a future release.";

/// Whether `downgrade target` from the version table's `rows` is the case of
/// [`AMBIGUOUS_DOWNGRADE`]: a relative target with neither revision nor branch (`-1`, `-2`),
/// and more than one distinct row.
pub fn is_ambiguous_downgrade(target: &str, rows: &[String]) -> bool {
    let bare = Relative::parse(target)
        .is_some_and(|r| r.steps < 0 && r.symbol.is_none() && r.branch_label.is_none());
    bare && rows.iter().collect::<std::collections::HashSet<_>>().len() > 1
}

/// A relative target, `re.match(r"(?:(.+?)@)?(\w+)?((?:\+|-)\d+)")`: `+N`, `-N`, `rev+N`,
/// `label@+N`, `label@rev-N`. Like Alembic, trailing text after the number is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Relative {
    branch_label: Option<String>,
    symbol: Option<String>,
    relative: String,
    steps: i64,
}

impl Relative {
    fn parse(target: &str) -> Option<Relative> {
        // Try the label split at each '@' from the left (lazy `.+?`), then without a label.
        let mut label_ends: Vec<usize> = target
            .char_indices()
            .filter(|&(i, c)| c == '@' && i > 0 && !target[..i].contains('\n'))
            .map(|(i, _)| i)
            .collect();
        label_ends.push(usize::MAX);
        for end in label_ends {
            let (label, rest) = if end == usize::MAX {
                (None, target)
            } else {
                (Some(&target[..end]), &target[end + 1..])
            };
            if let Some((symbol, relative)) = Self::symbol_and_number(rest) {
                // `[+-]\d+` is always an int to Python; beyond i64 it saturates.
                let steps = python_int(relative)?;
                return Some(Relative {
                    branch_label: label.map(str::to_string),
                    symbol: symbol.map(str::to_string),
                    relative: relative.to_string(),
                    steps,
                });
            }
        }
        None
    }

    /// `(\w+)?((?:\+|-)\d+)` at the start of `s`, with the greedy word run backing off.
    fn symbol_and_number(s: &str) -> Option<(Option<&str>, &str)> {
        let word_end = s
            .char_indices()
            .find(|&(_, c)| !is_word(c))
            .map_or(s.len(), |(i, _)| i);
        // A word run can't contain '+'/'-', so only the full run (or none, when the run is
        // empty) can be followed by the sign.
        let rest = &s[word_end..];
        let sign = rest.chars().next()?;
        if sign != '+' && sign != '-' {
            return None;
        }
        let digits_len = rest[1..]
            .char_indices()
            .find(|&(_, c)| !c.is_ascii_digit())
            .map_or(rest.len() - 1, |(i, _)| i);
        if digits_len == 0 {
            return None;
        }
        let symbol = if word_end == 0 {
            None
        } else {
            Some(&s[..word_end])
        };
        Some((symbol, &rest[..1 + digits_len]))
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests;
