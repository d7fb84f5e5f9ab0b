//! A project as the app opens it: the project, its revision graph and history order when they
//! can be built, and every problem found on the way, typed and placed at a file and line.
//!
//! The CLI stops at the first error, in Alembic's words ([`crate::project::load_project`],
//! [`RevisionMap::from_project`]); a workspace opens anyway, so that the app can show all the
//! problems at once and the files they are in.

use crate::graph::commands::history;
use crate::graph::{CycleKind, Idx, RevisionError, RevisionMap};
use crate::project::{self, Diagnostic, Project, ProjectError, RevisionFile, Severity};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What kind of problem a workspace has.
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemKind {
    /// The configuration file is malformed or lacks a key.
    Config,
    /// A revision file could not be read.
    Parse,
    /// A `down_revision` or `depends_on` names a revision that is not there.
    MissingParent,
    /// The revisions form a cycle.
    Cycle,
    /// Any other error of the graph (duplicate labels, …).
    Graph,
    /// Not an error: something worth a look.
    Warning,
}

/// One problem, tied to a file and, where known, a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// `false` for warnings: the graph is still usable.
    pub error: bool,
    pub path: Option<PathBuf>,
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    fn of(d: &Diagnostic, kind: ProblemKind) -> Self {
        Problem {
            kind,
            error: d.severity == Severity::Error,
            path: Some(d.path.clone()),
            line: d.line,
            message: d.message.clone(),
        }
    }

    fn unplaced(kind: ProblemKind, message: String) -> Self {
        Problem {
            kind,
            error: kind != ProblemKind::Warning,
            path: None,
            line: None,
            message,
        }
    }

    /// A problem in `file`, at the line declaring `field`.
    fn in_file(
        kind: ProblemKind,
        file: Option<&RevisionFile>,
        field: &str,
        message: String,
    ) -> Self {
        Problem {
            kind,
            error: true,
            path: file.map(|f| f.path.clone()),
            line: file.and_then(|f| f.declaration_line(field)),
            message,
        }
    }
}

/// An opened project folder.
#[derive(Debug)]
pub struct Workspace {
    /// The folder holding the configuration file.
    pub dir: PathBuf,
    /// The folder's name.
    pub name: String,
    /// `None` when the configuration or a revision file could not be read.
    pub project: Option<Project>,
    /// `None` when problems keep the graph from being built.
    pub map: Option<RevisionMap>,
    /// History order (newest first) when the graph is usable.
    pub order: Vec<Idx>,
    pub problems: Vec<Problem>,
}

impl Workspace {
    /// Opens the project of `given` (its folder, or its alembic.ini / pyproject.toml /
    /// retort.toml), reading computed values with `python` if given (see
    /// [`project::python`]). Only a place without a project is an error: a project whose
    /// files have errors opens, with them as its problems.
    pub fn open(given: &Path, python: Option<&Path>) -> Result<Workspace, ProjectError> {
        let config = project::find_config(Some(given), given)?;
        let dir = config
            .path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| given.to_path_buf());
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let mut workspace = Workspace {
            dir,
            name,
            project: None,
            map: None,
            order: Vec::new(),
            problems: Vec::new(),
        };
        match project::load_project_with_python(&config, python) {
            Ok(project) => workspace.build_graph(project),
            Err(ProjectError::Revisions(diagnostics)) => workspace.problems.extend(
                diagnostics
                    .iter()
                    .map(|d| Problem::of(d, ProblemKind::Parse)),
            ),
            Err(ProjectError::Config(d)) => workspace
                .problems
                .push(Problem::of(&d, ProblemKind::Config)),
            Err(e) => workspace.problems.push(Problem {
                path: Some(config.path().to_path_buf()),
                ..Problem::unplaced(ProblemKind::Config, e.to_string())
            }),
        }
        Ok(workspace)
    }

    /// The project and its graph; `None` when problems keep the graph from being built.
    pub fn graph(&self) -> Option<(&Project, &RevisionMap)> {
        Some((self.project.as_ref()?, self.map.as_ref()?))
    }

    fn build_graph(&mut self, project: Project) {
        let problems = &mut self.problems;
        problems.extend(
            project
                .warnings
                .iter()
                .map(|d| Problem::of(d, ProblemKind::Warning)),
        );
        let missing = missing_parents(&project);
        let file_of = |id: &str| project.revisions.iter().find(|r| r.revision == id);
        match RevisionMap::from_project(&project) {
            Ok(map) => {
                problems.extend(
                    map.warnings
                        .iter()
                        .map(|w| Problem::unplaced(ProblemKind::Warning, w.message.clone())),
                );
                match history(&map, None, None) {
                    Ok(order) => self.order = order,
                    Err(e) => problems.push(Problem::unplaced(ProblemKind::Graph, e.message)),
                }
                self.map = Some(map);
            }
            Err(RevisionError::Cycle { kind, revisions }) => {
                let field = match kind {
                    CycleKind::Cycle | CycleKind::SelfLoop => "down_revision",
                    CycleKind::DependencyCycle | CycleKind::DependencySelfLoop => "depends_on",
                };
                for id in &revisions {
                    problems.push(Problem::in_file(
                        ProblemKind::Cycle,
                        file_of(id),
                        field,
                        format!(
                            "{kind} is detected in revisions ({}): {id} is part of it",
                            revisions.join(", ")
                        ),
                    ));
                }
            }
            // Every missing parent is listed below; the graph names only the first.
            Err(RevisionError::MissingParent { .. }) if !missing.is_empty() => {}
            Err(RevisionError::MissingParent {
                revision,
                dependency,
                message,
                ..
            }) => problems.push(Problem::in_file(
                ProblemKind::MissingParent,
                file_of(&revision),
                if dependency {
                    "depends_on"
                } else {
                    "down_revision"
                },
                message,
            )),
            Err(e) => problems.push(Problem::unplaced(ProblemKind::Graph, e.to_string())),
        }
        problems.extend(missing);
        self.project = Some(project);
    }
}

/// Every `down_revision` / `depends_on` naming a revision the project lacks (the graph
/// reports only the first), each at the line that declares it.
fn missing_parents(project: &Project) -> Vec<Problem> {
    let ids: BTreeSet<&str> = project
        .revisions
        .iter()
        .map(|r| r.revision.as_str())
        .collect();
    let labels: BTreeSet<&str> = project
        .revisions
        .iter()
        .flat_map(|r| r.branch_labels.iter().map(String::as_str))
        .collect();
    let mut out = Vec::new();
    for rev in &project.revisions {
        let wanted = rev
            .down_revision
            .iter()
            .map(|d| ("down_revision", d))
            .chain(rev.depends_on.iter().map(|d| ("depends_on", d)));
        for (field, parent) in wanted {
            let known = ids.contains(parent.as_str())
                || (field == "depends_on" && labels.contains(parent.as_str()));
            if !known {
                out.push(Problem::in_file(
                    ProblemKind::MissingParent,
                    Some(rev),
                    field,
                    format!(
                        "revision {} names {field} {parent}, which is not in the project",
                        rev.revision
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn native_project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("retort.toml"), "url = \"sqlite:///x.db\"\n").unwrap();
        fs::create_dir(dir.path().join("versions")).unwrap();
        for (name, text) in files {
            fs::write(dir.path().join("versions").join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn every_missing_parent_is_a_problem_at_the_line_that_names_it() {
        let dir = native_project(&[
            (
                "a.sql",
                "-- revision: a1\n-- down_revision:\n-- migrate:up\nSELECT 1;\n",
            ),
            (
                "b.sql",
                "\n-- revision: b1\n-- message: two gone\n-- down_revision: a1, gone1\n\
                 -- depends_on: gone2\n-- migrate:up\nSELECT 1;\n",
            ),
        ]);
        let ws = Workspace::open(dir.path(), None).unwrap();
        assert!(ws.map.is_none());
        let placed: Vec<_> = ws
            .problems
            .iter()
            .map(|p| (p.kind, p.path.as_ref().and_then(|p| p.file_name()), p.line))
            .collect();
        let b = Some(std::ffi::OsStr::new("b.sql"));
        assert_eq!(
            placed,
            [
                (ProblemKind::MissingParent, b, Some(4)),
                (ProblemKind::MissingParent, b, Some(5)),
            ],
            "{:#?}",
            ws.problems
        );
        assert!(ws.problems[0].message.contains("gone1"));
    }

    #[test]
    fn a_python_revision_s_missing_parent_is_placed_at_its_assignment() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("alembic.ini"),
            "[alembic]\nscript_location = migrations\n",
        )
        .unwrap();
        fs::create_dir_all(dir.path().join("migrations/versions")).unwrap();
        fs::write(
            dir.path().join("migrations/versions/x.py"),
            "\"\"\"x\"\"\"\nimport sqlalchemy as sa\n\nrevision = 'x1'\ndown_revision = (\n    'nope',\n)\n\n\
             def upgrade():\n    pass\n",
        )
        .unwrap();
        let ws = Workspace::open(dir.path(), None).unwrap();
        let problem = &ws.problems[0];
        assert_eq!(
            problem.kind,
            ProblemKind::MissingParent,
            "{:#?}",
            ws.problems
        );
        assert_eq!(problem.line, Some(5));
        assert_eq!(ws.problems.len(), 1, "{:#?}", ws.problems);
    }

    #[test]
    fn a_cycle_names_each_member_at_its_down_revision() {
        let dir = native_project(&[
            (
                "a.sql",
                "-- revision: a1\n-- down_revision: b1\n-- migrate:up\nSELECT 1;\n",
            ),
            (
                "b.sql",
                "-- revision: b1\n-- message: m\n-- down_revision: a1\n-- migrate:up\nSELECT 1;\n",
            ),
        ]);
        let ws = Workspace::open(dir.path(), None).unwrap();
        let lines: Vec<_> = ws.problems.iter().map(|p| (p.kind, p.line)).collect();
        assert_eq!(
            lines,
            [(ProblemKind::Cycle, Some(2)), (ProblemKind::Cycle, Some(3))],
            "{:#?}",
            ws.problems
        );
    }

    #[test]
    fn a_readable_project_opens_with_its_graph_and_order() {
        let dir = native_project(&[
            (
                "a.sql",
                "-- revision: a1\n-- down_revision:\n-- migrate:up\nSELECT 1;\n",
            ),
            (
                "b.sql",
                "-- revision: b1\n-- down_revision: a1\n-- migrate:up\nSELECT 1;\n",
            ),
        ]);
        let ws = Workspace::open(&dir.path().join("retort.toml"), None).unwrap();
        assert!(ws.problems.is_empty(), "{:#?}", ws.problems);
        let (_, map) = ws.graph().unwrap();
        let order: Vec<_> = ws
            .order
            .iter()
            .map(|&i| map.rev(i).revision.as_str())
            .collect();
        assert_eq!(order, ["b1", "a1"]);
        assert_eq!(ws.name, dir.path().file_name().unwrap().to_string_lossy());
    }

    #[test]
    fn a_folder_without_a_project_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Workspace::open(dir.path(), None),
            Err(ProjectError::NotFound { .. })
        ));
    }
}
