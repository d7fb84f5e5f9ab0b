//! The graph as data (JSON) and as diagrams (Graphviz DOT, Mermaid).
use super::{Idx, RevisionMap};
use serde::Serialize;

/// One revision as the JSON export and `--json` outputs describe it.
#[derive(Debug, Clone, Serialize)]
pub struct RevisionInfo {
    pub revision: String,
    pub down_revisions: Vec<String>,
    pub depends_on: Vec<String>,
    pub branch_labels: Vec<String>,
    pub doc: String,
    pub longdoc: String,
    pub path: Option<String>,
    pub is_head: bool,
    pub is_effective_head: bool,
    pub is_base: bool,
    pub is_branch_point: bool,
    pub is_merge_point: bool,
    pub children: Vec<String>,
}

impl RevisionInfo {
    pub fn of(map: &RevisionMap, i: Idx) -> Self {
        let rev = map.rev(i);
        Self {
            revision: rev.revision.clone(),
            down_revisions: rev.down_revision.clone(),
            depends_on: rev.dependencies.clone(),
            branch_labels: rev.branch_labels.clone(),
            doc: rev.doc().to_string(),
            longdoc: rev.longdoc.clone(),
            path: rev.path.as_ref().map(|p| p.display().to_string()),
            is_head: rev.is_real_head(),
            is_effective_head: rev.is_head() && !rev.is_real_head(),
            is_base: rev.is_base(),
            is_branch_point: rev.is_branch_point(),
            is_merge_point: rev.is_merge_point(),
            children: map.ids(rev.children()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// `down_revision` edges are "version"; `depends_on` edges are "dependency".
    pub kind: &'static str,
}

/// The whole graph: revisions newest first (history order), edges child → parent.
#[derive(Debug, Clone, Serialize)]
pub struct GraphExport {
    pub heads: Vec<String>,
    pub effective_heads: Vec<String>,
    pub bases: Vec<String>,
    pub revisions: Vec<RevisionInfo>,
    pub edges: Vec<Edge>,
}

pub fn export(map: &RevisionMap, order: &[Idx]) -> GraphExport {
    let mut edges = Vec::new();
    for &i in order {
        let rev = map.rev(i);
        for d in &rev.down_revision {
            edges.push(Edge {
                from: rev.revision.clone(),
                to: d.clone(),
                kind: "version",
            });
        }
        for d in rev.resolved_dependencies() {
            edges.push(Edge {
                from: rev.revision.clone(),
                to: d.clone(),
                kind: "dependency",
            });
        }
    }
    GraphExport {
        heads: map.ids(map.real_heads()),
        effective_heads: map.ids(
            &map.heads()
                .iter()
                .copied()
                .filter(|&h| !map.rev(h).is_real_head())
                .collect::<Vec<_>>(),
        ),
        bases: map.ids(map.bases()),
        revisions: order.iter().map(|&i| RevisionInfo::of(map, i)).collect(),
        edges,
    }
}

fn label(info: &RevisionInfo) -> String {
    let mut text = info.revision.clone();
    if !info.branch_labels.is_empty() {
        text.push_str(&format!(" ({})", info.branch_labels.join(", ")));
    }
    if !info.doc.is_empty() {
        text.push_str(&format!("\\n{}", info.doc.lines().next().unwrap_or("")));
    }
    text
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace("\\\\n", "\\n")
}

pub fn to_dot(graph: &GraphExport) -> String {
    let mut out = String::from(
        "digraph revisions {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for info in &graph.revisions {
        let style = if info.is_head {
            ", style=bold"
        } else if info.is_effective_head {
            ", style=dashed"
        } else {
            ""
        };
        out.push_str(&format!(
            "  \"{}\" [label=\"{}\"{}];\n",
            dot_escape(&info.revision),
            dot_escape(&label(info)),
            style
        ));
    }
    for e in &graph.edges {
        let style = if e.kind == "dependency" {
            " [style=dashed]"
        } else {
            ""
        };
        out.push_str(&format!(
            "  \"{}\" -> \"{}\"{};\n",
            dot_escape(&e.from),
            dot_escape(&e.to),
            style
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid node ids must be plain words, so nodes are numbered and labelled.
pub fn to_mermaid(graph: &GraphExport) -> String {
    let mut out = String::from("flowchart BT\n");
    let id_of = |rev: &str| {
        graph
            .revisions
            .iter()
            .position(|r| r.revision == rev)
            .map(|i| format!("r{i}"))
    };
    for (i, info) in graph.revisions.iter().enumerate() {
        let text = label(info).replace("\\n", "<br/>").replace('"', "#quot;");
        let (open, close) = if info.is_head {
            ("([", "])")
        } else {
            ("[", "]")
        };
        out.push_str(&format!("  r{i}{open}\"{text}\"{close}\n"));
    }
    for e in &graph.edges {
        if let (Some(from), Some(to)) = (id_of(&e.from), id_of(&e.to)) {
            let arrow = if e.kind == "dependency" {
                "-.->"
            } else {
                "-->"
            };
            out.push_str(&format!("  {from} {arrow} {to}\n"));
        }
    }
    out
}
