//! Lanes for drawing the revision graph: one column per open branch, rows in history order.
//!
//! The layout is data (`LaneRow`) so the terminal and the desktop graph share it; `render`
//! draws it with box characters for `retort history --graph`.

use super::{Idx, RevisionMap};
use serde::Serialize;

/// How the lanes change between two rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connector {
    /// The column of the revision the lanes meet at.
    pub column: usize,
    /// Columns that join it (before a branch point) or split from it (after a merge point).
    pub others: Vec<usize>,
}

/// One revision's row: where it sits, which lanes pass it, and the connectors around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneRow {
    pub revision: Idx,
    pub column: usize,
    /// Lanes open while this row is drawn (including the revision's own).
    pub open: Vec<bool>,
    /// Lanes that end here because their revisions share this parent (drawn above the row).
    pub joins: Option<Connector>,
    /// Extra parents of a merge point, each in its own lane (drawn below the row).
    pub splits: Option<Connector>,
    /// Lanes open after the split.
    pub open_after: Vec<bool>,
}

/// Assigns lanes to `order` (newest first), following `down_revision` edges.
pub fn layout(map: &RevisionMap, order: &[Idx]) -> Vec<LaneRow> {
    let mut lanes: Vec<Option<Idx>> = Vec::new();
    let mut rows = Vec::with_capacity(order.len());
    for &node in order {
        let expecting: Vec<usize> = (0..lanes.len())
            .filter(|&c| lanes[c] == Some(node))
            .collect();
        let (column, joins) = match expecting.split_first() {
            Some((&first, rest)) => {
                let joins = (!rest.is_empty()).then(|| Connector {
                    column: first,
                    others: rest.to_vec(),
                });
                (first, joins)
            }
            None => match lanes.iter().position(Option::is_none) {
                Some(free) => (free, None),
                None => {
                    lanes.push(None);
                    (lanes.len() - 1, None)
                }
            },
        };
        if let Some(j) = &joins {
            for &c in &j.others {
                lanes[c] = None;
            }
            while lanes.last() == Some(&None) {
                lanes.pop();
            }
        }
        lanes[column] = Some(node);
        let open = lanes.iter().map(Option::is_some).collect();

        let parents = map.rev(node).parents();
        lanes[column] = parents.first().copied();
        let mut split_to = Vec::new();
        for &parent in parents.iter().skip(1) {
            let target = match lanes.iter().position(|l| *l == Some(parent)) {
                Some(existing) => existing,
                None => match lanes.iter().position(Option::is_none) {
                    Some(free) => free,
                    None => {
                        lanes.push(None);
                        lanes.len() - 1
                    }
                },
            };
            lanes[target] = Some(parent);
            split_to.push(target);
        }
        while lanes.last() == Some(&None) {
            lanes.pop();
        }
        let splits = (!split_to.is_empty()).then_some(Connector {
            column,
            others: split_to,
        });
        rows.push(LaneRow {
            revision: node,
            column,
            open,
            joins,
            splits,
            open_after: lanes.iter().map(Option::is_some).collect(),
        });
    }
    rows
}

/// Draws the connector line between lanes with box characters.
fn connector_line(open: &[bool], c: &Connector, joining: bool) -> String {
    let width = open
        .len()
        .max(c.others.iter().max().map_or(0, |m| m + 1))
        .max(c.column + 1);
    let lo = c
        .others
        .iter()
        .copied()
        .chain([c.column])
        .min()
        .unwrap_or(c.column);
    let hi = c
        .others
        .iter()
        .copied()
        .chain([c.column])
        .max()
        .unwrap_or(c.column);
    let mut line = String::new();
    for col in 0..width {
        let ch = if col == c.column {
            match (lo < c.column, hi > c.column) {
                (true, true) => '┼',
                (true, false) => '┤',
                _ => '├',
            }
        } else if c.others.contains(&col) {
            match (col == lo, col == hi, joining) {
                (_, true, true) => '╯',
                (true, _, true) => '╰',
                (_, _, true) => '┴',
                (_, true, false) => '╮',
                (true, _, false) => '╭',
                (_, _, false) => '┬',
            }
        } else if col > lo && col < hi {
            if open.get(col).copied().unwrap_or(false) {
                '┼'
            } else {
                '─'
            }
        } else if open.get(col).copied().unwrap_or(false) {
            '│'
        } else {
            ' '
        };
        line.push(ch);
        if col + 1 < width {
            line.push(if col >= lo && col < hi { '─' } else { ' ' });
        }
    }
    line.trim_end().to_string()
}

/// Renders rows with a text per revision, e.g. its history line.
pub fn render(map: &RevisionMap, rows: &[LaneRow], text: impl Fn(Idx) -> String) -> String {
    let mut out = String::new();
    for row in rows {
        if let Some(j) = &row.joins {
            out.push_str(&connector_line(&row.open, j, true));
            out.push('\n');
        }
        let mut prefix = String::new();
        for (col, open) in row.open.iter().enumerate() {
            let ch = if col == row.column {
                if map.rev(row.revision).is_head() {
                    '◉'
                } else {
                    '○'
                }
            } else if *open {
                '│'
            } else {
                ' '
            };
            prefix.push(ch);
            prefix.push(' ');
        }
        out.push_str(&prefix);
        out.push_str(&text(row.revision));
        out.push('\n');
        if let Some(s) = &row.splits {
            let open: Vec<bool> = row
                .open
                .iter()
                .copied()
                .chain(std::iter::repeat(false))
                .take(row.open_after.len().max(row.open.len()))
                .collect();
            out.push_str(&connector_line(&open, s, false));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{RevisionDecl, RevisionMap};

    #[test]
    fn merge_and_branch_draw_as_one_diamond() {
        let map = RevisionMap::build(vec![
            RevisionDecl::new("1000", &[]),
            RevisionDecl::new("2000", &["1000"]),
            RevisionDecl::new("3000", &["2000"]),
            RevisionDecl::new("4000", &["3000", "9000"]),
            RevisionDecl::new("5000", &["4000"]),
            RevisionDecl::new("9000", &["2000"]),
        ])
        .unwrap();
        let order = map.walk_revisions("base", "heads").unwrap();
        let rows = layout(&map, &order);
        let text = render(&map, &rows, |i| map.rev(i).revision.clone());
        assert_eq!(
            text,
            "◉ 5000\n○ 4000\n├─╮\n○ │ 3000\n│ ○ 9000\n├─╯\n○ 2000\n○ 1000\n"
        );
    }

    #[test]
    fn separate_roots_get_separate_lanes() {
        let map = RevisionMap::build(vec![
            RevisionDecl::new("a", &[]),
            RevisionDecl::new("b", &["a"]),
            RevisionDecl::new("x", &[]),
        ])
        .unwrap();
        let order = map.walk_revisions("base", "heads").unwrap();
        let text = render(&map, &layout(&map, &order), |i| map.rev(i).revision.clone());
        assert_eq!(text, "◉ b\n○ a\n◉ x\n");
    }
}
