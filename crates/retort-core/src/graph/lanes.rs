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

/// Which part of a row a [`Segment`] crosses: the row is cut at its revision's dot.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "specta", serde(rename = "SegmentPart"))]
pub enum Part {
    /// From the top of the row to the dot's height.
    Top,
    /// From the dot's height to the bottom of the row.
    Bottom,
    /// The whole height: a lane passing the row.
    Through,
}

/// One line piece of a row's drawing, from lane `from` to lane `to` (equal: a straight line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub from: usize,
    pub to: usize,
    pub part: Part,
}

/// The line pieces of each row of `rows`, so that a row can be drawn on its own (a drawing
/// that shows only the visible rows needs nothing from the others).
pub fn segments(rows: &[LaneRow]) -> Vec<Vec<Segment>> {
    let mut out = Vec::with_capacity(rows.len());
    let mut above: &[bool] = &[];
    for row in rows {
        let mut pieces = Vec::new();
        let joining = |c: usize| row.joins.as_ref().is_some_and(|j| j.others.contains(&c));
        for (c, _) in above.iter().enumerate().filter(|(_, open)| **open) {
            let part = if joining(c) || c == row.column {
                Part::Top
            } else {
                Part::Through
            };
            let to = if part == Part::Top { row.column } else { c };
            pieces.push(Segment { from: c, to, part });
        }
        let splitting = |c: usize| row.splits.as_ref().is_some_and(|s| s.others.contains(&c));
        for (c, _) in row.open_after.iter().enumerate().filter(|(_, open)| **open) {
            if c == row.column || splitting(c) {
                pieces.push(Segment {
                    from: row.column,
                    to: c,
                    part: Part::Bottom,
                });
            }
        }
        out.push(pieces);
        above = &row.open_after;
    }
    out
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
    fn segments_draw_each_row_on_its_own() {
        let map = RevisionMap::build(vec![
            RevisionDecl::new("1000", &[]),
            RevisionDecl::new("2000", &["1000"]),
            RevisionDecl::new("3000", &["2000"]),
            RevisionDecl::new("4000", &["3000", "9000"]),
            RevisionDecl::new("9000", &["2000"]),
        ])
        .unwrap();
        let order = map.walk_revisions("base", "heads").unwrap();
        let ids: Vec<&str> = order
            .iter()
            .map(|&i| map.rev(i).revision.as_str())
            .collect();
        assert_eq!(ids, ["4000", "3000", "9000", "2000", "1000"]);
        let seg = |from, to, part| Segment { from, to, part };
        let all = segments(&layout(&map, &order));
        // The merge point opens a second lane below its dot.
        assert_eq!(all[0], [seg(0, 0, Part::Bottom), seg(0, 1, Part::Bottom)]);
        // 3000 sits in lane 0 while lane 1 passes it.
        assert_eq!(
            all[1],
            [
                seg(0, 0, Part::Top),
                seg(1, 1, Part::Through),
                seg(0, 0, Part::Bottom)
            ]
        );
        assert_eq!(
            all[2],
            [
                seg(0, 0, Part::Through),
                seg(1, 1, Part::Top),
                seg(1, 1, Part::Bottom)
            ]
        );
        // The branch point: lane 1 joins lane 0 above 2000's dot.
        assert_eq!(
            all[3],
            [
                seg(0, 0, Part::Top),
                seg(1, 0, Part::Top),
                seg(0, 0, Part::Bottom)
            ]
        );
        // The root ends its lane.
        assert_eq!(all[4], [seg(0, 0, Part::Top)]);
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
