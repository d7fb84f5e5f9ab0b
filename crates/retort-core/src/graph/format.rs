//! Alembic's text formats (`Script.log_entry`, `_head_only`, `cmd_format`, and the `heads`,
//! `history`, `branches` and `show` commands), byte for byte.

use super::{Idx, Revision, RevisionMap};

/// `_format_down_revision`.
pub fn down_revision_text(rev: &Revision) -> String {
    if rev.down_revision.is_empty() {
        "<base>".to_string()
    } else {
        rev.down_revision.join(", ")
    }
}

/// Which parts `_head_only` includes.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadOnly {
    pub include_branches: bool,
    pub include_doc: bool,
    pub include_parents: bool,
    pub tree_indicators: bool,
}

/// ` (head) (branchpoint) (mergepoint)` as `log_entry` and `str(Script)` mark a revision
/// (`(head)` there means a versioned head).
pub(super) fn tree_marks(rev: &Revision) -> String {
    let mut marks = String::new();
    for (on, mark) in [
        (rev.is_head(), " (head)"),
        (rev.is_branch_point(), " (branchpoint)"),
        (rev.is_merge_point(), " (mergepoint)"),
    ] {
        if on {
            marks.push_str(mark);
        }
    }
    marks
}

/// `Script._head_only` (with `head_indicators=True`).
pub fn head_only(map: &RevisionMap, i: Idx, parts: HeadOnly, current: bool) -> String {
    let rev = map.rev(i);
    let mut text = rev.revision.clone();
    if parts.include_parents {
        text = if rev.dependencies.is_empty() {
            format!("{} -> {}", down_revision_text(rev), text)
        } else {
            format!(
                "{} ({}) -> {}",
                down_revision_text(rev),
                rev.dependencies.join(", "),
                text
            )
        };
    }
    if parts.include_branches && !rev.branch_labels.is_empty() {
        text.push_str(&format!(" ({})", rev.branch_labels.join(", ")));
    }
    if rev.is_real_head() {
        text.push_str(" (head)");
    }
    if rev.is_head() && !rev.is_real_head() {
        text.push_str(" (effective head)");
    }
    if current {
        text.push_str(" (current)");
    }
    if parts.tree_indicators {
        if rev.is_branch_point() {
            text.push_str(" (branchpoint)");
        }
        if rev.is_merge_point() {
            text.push_str(" (mergepoint)");
        }
    }
    if parts.include_doc {
        text.push_str(", ");
        text.push_str(rev.doc());
    }
    text
}

/// `Script.log_entry`: the verbose block of `show`, `history -v` and `heads -v`.
pub fn log_entry(map: &RevisionMap, i: Idx, current: bool) -> String {
    let rev = map.rev(i);
    let mut entry = format!(
        "Rev: {}{}{}\n",
        rev.revision,
        tree_marks(rev),
        if current { " (current)" } else { "" },
    );
    if rev.is_merge_point() {
        entry.push_str(&format!("Merges: {}\n", down_revision_text(rev)));
    } else {
        entry.push_str(&format!("Parent: {}\n", down_revision_text(rev)));
    }
    if !rev.dependencies.is_empty() {
        entry.push_str(&format!(
            "Also depends on: {}\n",
            rev.dependencies.join(", ")
        ));
    }
    if rev.is_branch_point() {
        entry.push_str(&format!(
            "Branches into: {}\n",
            map.ids(rev.children()).join(", ")
        ));
    }
    if !rev.branch_labels.is_empty() {
        entry.push_str(&format!("Branch names: {}\n", rev.branch_labels.join(", ")));
    }
    let path = rev
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    entry.push_str(&format!("Path: {path}\n"));
    let body = python_splitlines(&rev.longdoc)
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n");
    entry.push_str(&format!("\n{body}\n"));
    entry
}

/// `cmd_format`.
fn cmd_format(map: &RevisionMap, i: Idx, verbose: bool, parts: HeadOnly, current: bool) -> String {
    if verbose {
        log_entry(map, i, current)
    } else {
        head_only(map, i, parts, current)
    }
}

/// `print_stdout`: each message followed by a newline.
fn print_all(lines: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// What `alembic heads [-v]` prints for the selected heads.
pub fn heads_output(map: &RevisionMap, heads: &[Idx], verbose: bool) -> String {
    let parts = HeadOnly {
        include_branches: true,
        ..HeadOnly::default()
    };
    print_all(
        heads
            .iter()
            .map(|&h| cmd_format(map, h, verbose, parts, false)),
    )
}

/// What `alembic history` prints for already-selected revisions (newest first).
pub fn history_output(
    map: &RevisionMap,
    revisions: &[Idx],
    verbose: bool,
    currents: Option<&[String]>,
) -> String {
    print_all(
        revisions
            .iter()
            .map(|&i| history_line(map, i, verbose, currents)),
    )
}

/// One `history` entry.
pub fn history_line(
    map: &RevisionMap,
    i: Idx,
    verbose: bool,
    currents: Option<&[String]>,
) -> String {
    let parts = HeadOnly {
        include_branches: true,
        include_doc: true,
        include_parents: true,
        tree_indicators: true,
    };
    let current = currents.is_some_and(|c| c.contains(&map.rev(i).revision));
    cmd_format(map, i, verbose, parts, current)
}

/// What `alembic branches [-v]` prints for the given branch points.
pub fn branches_output(map: &RevisionMap, branch_points: &[Idx], verbose: bool) -> String {
    let parts = HeadOnly {
        include_branches: true,
        tree_indicators: true,
        ..HeadOnly::default()
    };
    let child_parts = HeadOnly {
        include_branches: true,
        include_doc: verbose,
        tree_indicators: true,
        ..HeadOnly::default()
    };
    print_all(branch_points.iter().map(|&i| {
        let rev = map.rev(i);
        let indent = " ".repeat(rev.revision.chars().count());
        let children = rev
            .children()
            .iter()
            .map(|&c| format!("{indent} -> {}", head_only(map, c, child_parts, false)))
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "{}\n{}\n",
            cmd_format(map, i, verbose, parts, false),
            children
        )
    }))
}

/// What `alembic current [-v]` prints for the revisions `current_display` chose.
pub fn current_output(map: &RevisionMap, revisions: &[Idx], verbose: bool) -> String {
    let parts = HeadOnly {
        tree_indicators: true,
        ..HeadOnly::default()
    };
    print_all(
        revisions
            .iter()
            .map(|&i| cmd_format(map, i, verbose, parts, false)),
    )
}

/// What `alembic show REV` prints for the revisions `REV` names.
pub fn show_output(map: &RevisionMap, revisions: &[Idx]) -> String {
    print_all(revisions.iter().map(|&i| log_entry(map, i, false)))
}

/// Python's `str.splitlines()`: splits on every line boundary Python knows, drops a final empty line.
pub fn python_splitlines(text: &str) -> impl Iterator<Item = &str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if boundary {
            lines.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r'
                && let Some(&(_, '\n')) = chars.peek()
            {
                chars.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_matches_python() {
        let lines: Vec<_> = python_splitlines("a\r\nb\rc\n\nd\u{2028}e\n").collect();
        assert_eq!(lines, ["a", "b", "c", "", "d", "e"]);
        assert_eq!(python_splitlines("").count(), 0);
        assert_eq!(python_splitlines("x").collect::<Vec<_>>(), ["x"]);
    }
}
