//! Ancestor questions on a large graph, answered without walking whole histories.
//!
//! `_topological_sort` asks, again and again, whether a revision is an ancestor of the head of
//! another lane; Alembic (and Retort before) kept each lane's whole ancestor set and rebuilt it
//! at every merge, which is quadratic on a long history. [`LazyAncestors`] gives the same
//! answers but walks down from the head only as far as the questions need, in decreasing
//! generation, over the compact copy of the edges kept in [`Lineage`].

use super::Idx;
use super::bitset::BitSet;

/// Every revision after all its parents (`parents_of`), by a depth-first walk down; `None`
/// if the parents make a cycle.
pub(super) fn parents_first<'a>(
    len: usize,
    parents_of: impl Fn(Idx) -> &'a [Idx],
) -> Option<Vec<Idx>> {
    const UNSEEN: u8 = 0;
    const WALKING: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![UNSEEN; len];
    let mut order = Vec::with_capacity(len);
    let mut stack: Vec<Idx> = Vec::new();
    for root in 0..len {
        if state[root] != UNSEEN {
            continue;
        }
        stack.push(root);
        // A revision is looked at when first reached (its unseen parents are pushed above it)
        // and once more when they are done. The revisions being walked that are on the stack
        // form the path down from the root, so meeting one of them again is a cycle.
        while let Some(&rev) = stack.last() {
            match state[rev] {
                UNSEEN => {
                    state[rev] = WALKING;
                    let below = stack.len();
                    for &p in parents_of(rev) {
                        match state[p] {
                            UNSEEN => stack.push(p),
                            WALKING => return None,
                            _ => {}
                        }
                    }
                    if stack.len() == below {
                        state[rev] = DONE;
                        order.push(rev);
                        stack.pop();
                    }
                }
                WALKING => {
                    state[rev] = DONE;
                    order.push(rev);
                    stack.pop();
                }
                _ => {
                    stack.pop();
                }
            }
        }
    }
    Some(order)
}

/// The normalized parents of every revision, in one flat array, and each revision's
/// generation: 0 without normalized parents, else one more than its highest parent's. Every
/// ancestor of a revision has a lower generation than it.
#[derive(Debug, Clone, Default)]
pub(super) struct Lineage {
    generation: Vec<u32>,
    /// Revision `i`'s parents are `parents[parents_at[i]..parents_at[i + 1]]`.
    parents_at: Vec<u32>,
    parents: Vec<u32>,
    /// The normalized parents make a cycle (see [`Lineage::new`]).
    cyclic: bool,
}

impl Lineage {
    /// `parents_of(i)` are revision `i`'s normalized parents (the map's cycle checks have run).
    pub(super) fn new<'a>(len: usize, parents_of: impl Fn(Idx) -> &'a [Idx]) -> Self {
        let mut parents_at = Vec::with_capacity(len + 1);
        let mut parents = Vec::with_capacity(len + len / 8);
        parents_at.push(0);
        for i in 0..len {
            parents.extend(parents_of(i).iter().map(|&p| p as u32));
            parents_at.push(parents.len() as u32);
        }
        // Parents before children, so each revision's generation follows from its parents'.
        // Alembic's cycle checks let some cycles through (a cycle whose every revision lies
        // between a head and a base): then every set is walked whole when made, as Alembic does.
        let (generation, cyclic) = match parents_first(len, &parents_of) {
            Some(order) => {
                let mut generation = vec![0u32; len];
                for i in order {
                    generation[i] = parents_of(i)
                        .iter()
                        .map(|&p| generation[p] + 1)
                        .max()
                        .unwrap_or(0);
                }
                (generation, false)
            }
            None => (vec![0; len], true),
        };
        Self {
            generation,
            parents_at,
            parents,
            cyclic,
        }
    }

    fn parents(&self, rev: Idx) -> &[u32] {
        &self.parents[self.parents_at[rev] as usize..self.parents_at[rev + 1] as usize]
    }

    pub(super) fn len(&self) -> usize {
        self.generation.len()
    }
}

/// The ancestors of one revision (itself included, following normalized parents), as
/// `_topological_sort`'s `get_ancestors` gives them, filled lazily: walked from the revision
/// down, only as far as the lowest generation asked about.
///
/// Invariants: every revision in `found` is an ancestor; every revision in `found` has all its
/// parents in `found` or waits in `pending`. So once `pending` holds nothing of generation `g`
/// or more, every ancestor of generation `g` or more is in `found`: generations strictly
/// decrease along any path down, so the first revision of such a path not yet walked past
/// would be waiting in `pending`.
#[derive(Debug, Clone)]
pub(super) struct LazyAncestors {
    found: BitSet,
    /// Found, not yet walked past (as many as the graph is wide at the lowest generation asked).
    pending: Vec<u32>,
    stack: Vec<u32>,
}

impl LazyAncestors {
    pub(super) fn of(lineage: &Lineage, rev: Idx) -> Self {
        let mut found = BitSet::new(lineage.len());
        found.insert(rev);
        let mut set = Self {
            found,
            pending: vec![rev as u32],
            stack: Vec::new(),
        };
        if lineage.cyclic {
            // All generations are 0 then: the whole set, walked now (Alembic's eager set).
            set.fill_down_to(lineage, 0);
        }
        set
    }

    /// Whether `rev` is an ancestor (or the revision itself).
    pub(super) fn contains(&mut self, lineage: &Lineage, rev: Idx) -> bool {
        if self.found.contains(rev) {
            return true;
        }
        self.fill_down_to(lineage, lineage.generation[rev]);
        self.found.contains(rev)
    }

    /// Walks down until every ancestor of generation `floor` or more is in `found`.
    fn fill_down_to(&mut self, lineage: &Lineage, floor: u32) {
        let mut i = 0;
        while i < self.pending.len() {
            if lineage.generation[self.pending[i] as usize] >= floor {
                self.stack.push(self.pending.swap_remove(i));
            } else {
                i += 1;
            }
        }
        while let Some(next) = self.stack.pop() {
            for &p in lineage.parents(next as usize) {
                if !self.found.contains(p as usize) {
                    self.found.insert(p as usize);
                    if lineage.generation[p as usize] >= floor {
                        self.stack.push(p);
                    } else {
                        self.pending.push(p);
                    }
                }
            }
        }
    }

    /// Becomes the set of `to`, the only normalized parent of `from`, whose set this was:
    /// the same set without `from`.
    pub(super) fn step_down(&mut self, from: Idx, to: Idx) {
        self.found.remove(from);
        if !self.found.contains(to) {
            self.found.insert(to);
            self.pending.push(to as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every answer equals a full walk's, whatever the order of the questions.
    #[test]
    fn lazy_answers_equal_full_walks() {
        // A pseudo-random DAG: each revision's parents are earlier ones.
        let len = 300;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let parents: Vec<Vec<Idx>> = (0..len)
            .map(|i| {
                if i == 0 || next() % 17 == 0 {
                    return Vec::new();
                }
                let mut ps = vec![i - 1 - (next() % (i as u64).min(5)) as usize];
                if next() % 6 == 0 {
                    ps.push((next() % i as u64) as usize);
                }
                ps.dedup();
                ps
            })
            .collect();
        let lineage = Lineage::new(len, |i| &parents[i]);
        let full = |rev: Idx| {
            let mut set = BitSet::new(len);
            let mut todo = vec![rev];
            set.insert(rev);
            while let Some(r) = todo.pop() {
                for &p in &parents[r] {
                    if !set.contains(p) {
                        set.insert(p);
                        todo.push(p);
                    }
                }
            }
            set
        };
        for head in (0..len).step_by(7) {
            let mut lazy = LazyAncestors::of(&lineage, head);
            let expected = full(head);
            for _ in 0..200 {
                let q = (next() % len as u64) as usize;
                assert_eq!(
                    lazy.contains(&lineage, q),
                    expected.contains(q),
                    "{head} {q}"
                );
            }
            // Walk down single-parent steps, as the sort does.
            let mut at = head;
            while parents[at].len() == 1 {
                let to = parents[at][0];
                lazy.step_down(at, to);
                at = to;
                let expected = full(at);
                for _ in 0..20 {
                    let q = (next() % len as u64) as usize;
                    assert_eq!(lazy.contains(&lineage, q), expected.contains(q), "{at} {q}");
                }
            }
        }
        for (i, ps) in parents.iter().enumerate() {
            for &p in ps {
                assert!(lineage.generation[p] < lineage.generation[i]);
            }
        }
    }

    /// A cycle that Alembic's checks let through: no endless walk, and the sets are whole.
    #[test]
    fn a_cycle_gives_whole_sets() {
        // 0 is a base; 1 -> [2, 0], 2 -> [1], 3 -> [1] (3 is the head).
        let parents: Vec<Vec<Idx>> = vec![vec![], vec![2, 0], vec![1], vec![1]];
        let lineage = Lineage::new(4, |i| &parents[i]);
        assert!(lineage.cyclic);
        let mut set = LazyAncestors::of(&lineage, 2);
        assert!((0..3).all(|i| set.contains(&lineage, i)));
        assert!(!set.contains(&lineage, 3));
        set.step_down(2, 1);
        assert!(!set.contains(&lineage, 2));
        assert!(set.contains(&lineage, 1) && set.contains(&lineage, 0));
    }
}
