//! The commands against real projects on disk and a real store, through the JSON dispatcher
//! (the path `retort serve` takes; the app's IPC sends the same JSON).

use super::*;
use crate::dialog::{NoDialogs, PathKind};
use retort_core::credentials::Credentials;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

pub(crate) fn core(home: &Path) -> AppCore {
    AppCore::new(
        AppMode::Browser,
        home.join("retort.db"),
        Credentials::with_stores(None, None),
        Arc::new(NoDialogs),
    )
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join("versions")).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn rev(dir: &Path, id: &str, down: &str, extra: &str) {
    write(
        dir,
        &format!("versions/{id}_x.sql"),
        &format!(
            "-- revision: {id}\n-- down_revision: {down}\n{extra}-- message: make {id}\n\n-- migrate:up\nCREATE TABLE t_{id} (x INTEGER);\n\n-- migrate:down\nDROP TABLE t_{id};\n"
        ),
    );
}

fn native_project(dir: &Path) {
    write(
        dir,
        "retort.toml",
        "url = \"sqlite:///app.db\"\nversions = [\"versions\"]\n",
    );
}

pub(crate) async fn call(core: &AppCore, cmd: &str, args: Value) -> Result<Value, ApiError> {
    invoke_json(core, cmd, args).await
}

#[test]
fn the_command_list_has_no_duplicates() {
    let mut names = COMMAND_NAMES.to_vec();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), COMMAND_NAMES.len());
    assert!(COMMAND_NAMES.contains(&"test_connection"));
}

#[test]
fn unknown_commands_and_bad_arguments_are_typed_errors() {
    let home = tempfile::tempdir().unwrap();
    let core = core(home.path());
    rt().block_on(async {
        let e = call(&core, "format_disk", json!({})).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownCommand);
        let e = call(&core, "open_workspace", json!({"path": 3}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadArguments, "{e:?}");
        let e = call(&core, "graph_layout", Value::Null).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NoWorkspace);
        assert!(e.hint.is_some());
        // The error's JSON shape is what the UI reads.
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "noWorkspace");
        assert!(json["message"].is_string());
    });
}

#[test]
fn a_workspace_opens_with_its_graph_laid_out_and_its_detail() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    native_project(dir);
    rev(dir, "a1", "", "");
    rev(dir, "b2", "a1", "-- branch_labels: feature\n");
    rev(dir, "c3", "a1", "");
    rev(dir, "d4", "b2, c3", "");
    let core = core(home.path());
    rt().block_on(async {
        let ws = call(
            &core,
            "open_workspace",
            json!({"path": dir.display().to_string()}),
        )
        .await
        .unwrap();
        assert_eq!(ws["kind"], "native");
        assert_eq!(ws["revisionCount"], 4);
        assert_eq!(ws["heads"], json!(["d4"]));
        assert_eq!(ws["graphAvailable"], true);
        assert_eq!(ws["problems"], json!([]));

        let recent = call(&core, "recent_workspaces", json!({})).await.unwrap();
        assert_eq!(recent[0]["path"], dir.display().to_string());

        let graph: types::GraphLayout = crate::commands::graph_layout(&core).await.unwrap();
        let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids[0], "d4", "newest first");
        assert_eq!(ids[3], "a1");
        assert_eq!(graph.lanes, 2);
        let d4 = &graph.nodes[0];
        assert!(d4.mergepoint && d4.head);
        assert_eq!(d4.parents.len(), 2);
        let a1 = &graph.nodes[3];
        assert!(a1.branchpoint && a1.base);
        assert!(graph.nodes.iter().any(|n| n.labels == ["feature"]));

        let detail = call(&core, "revision_detail", json!({"id": "d4"}))
            .await
            .unwrap();
        assert_eq!(detail["parents"], json!(["b2", "c3"]));
        assert_eq!(detail["source"]["language"], "sql");
        assert!(
            detail["source"]["text"]
                .as_str()
                .unwrap()
                .contains("CREATE TABLE t_d4")
        );
        let e = call(&core, "revision_detail", json!({"id": "zz"}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);

        // Files outside the project are not served.
        let e = call(&core, "read_source", json!({"path": "/etc/passwd"}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{e:?}");
    });
}

#[test]
fn problems_name_their_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    native_project(dir);
    rev(dir, "a1", "", "");
    rev(dir, "b2", "a1", "");
    rev(dir, "c3", "gone", "");
    let core = core(home.path());
    rt().block_on(async {
        let ws: types::WorkspaceView =
            crate::commands::open_workspace(&core, dir.display().to_string())
                .await
                .unwrap();
        assert!(!ws.graph_available);
        let p = ws
            .problems
            .iter()
            .find(|p| p.kind == types::ProblemKind::MissingParent)
            .expect("a missing parent");
        assert!(p.path.as_deref().unwrap().ends_with("c3_x.sql"));
        assert_eq!(p.line, Some(2));
        assert!(p.message.contains("gone"));
        // The problem's file opens in the source view.
        let src = call(&core, "read_source", json!({"path": p.path}))
            .await
            .unwrap();
        assert!(
            src["text"]
                .as_str()
                .unwrap()
                .contains("down_revision: gone")
        );
    });

    // A cycle: each revision of it is a problem with its file.
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    native_project(dir);
    rev(dir, "a1", "b2", "");
    rev(dir, "b2", "a1", "");
    rt().block_on(async {
        let ws: types::WorkspaceView =
            crate::commands::open_workspace(&core, dir.display().to_string())
                .await
                .unwrap();
        let cycle: Vec<_> = ws
            .problems
            .iter()
            .filter(|p| p.kind == types::ProblemKind::Cycle)
            .collect();
        assert!(!cycle.is_empty(), "{:?}", ws.problems);
        assert!(cycle.iter().all(|p| p.path.is_some() && p.line == Some(2)));
    });

    // A revision file that does not parse.
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    native_project(dir);
    write(dir, "versions/bad.sql", "-- revision: x\n-- migrate:up\n");
    rt().block_on(async {
        let ws: types::WorkspaceView =
            crate::commands::open_workspace(&core, dir.display().to_string())
                .await
                .unwrap();
        assert!(
            ws.problems
                .iter()
                .any(|p| p.error && p.path.as_deref().is_some_and(|p| p.ends_with("bad.sql"))),
            "{:?}",
            ws.problems
        );
    });
}

#[test]
fn connections_save_test_and_show_their_position_on_the_graph() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    native_project(dir);
    rev(dir, "a1", "", "");
    rev(dir, "b2", "a1", "");
    let core = core(home.path());
    let db = dir.join("staging.db");
    rt().block_on(async {
        call(
            &core,
            "open_workspace",
            json!({"path": dir.display().to_string()}),
        )
        .await
        .unwrap();
        // The keychain is not available here: the list says so.
        let list = call(&core, "list_connections", json!({})).await.unwrap();
        assert_eq!(list["keychain"]["available"], false);

        // A pasted URL fills the form.
        let fields = call(
            &core,
            "parse_connection_url",
            json!({"url": "postgresql://bob:s3cret@db.example:6543/app?sslmode=require"}),
        )
        .await
        .unwrap();
        assert_eq!(fields["host"], "db.example");
        assert_eq!(fields["port"], 6543);
        assert_eq!(fields["tlsMode"], "require");
        assert_eq!(fields["password"], "s3cret");

        // Keeping a password in a keychain that is not there is refused, and nothing is saved.
        let e = call(
            &core,
            "save_connection",
            json!({"input": {"originalName": null, "name": "pg", "driver": "postgresql",
                "host": "127.0.0.1", "port": 5432, "database": "x", "user": "u",
                "tlsMode": null, "tlsCaFile": null, "sqlitePath": null,
                "environment": "production", "color": null,
                "passwordChoice": "keychain", "password": "pw", "bind": true}}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Credentials, "{e:?}");
        assert!(e.hint.is_some());
        let list = call(&core, "list_connections", json!({})).await.unwrap();
        assert_eq!(list["connections"], json!([]));

        let saved = call(
            &core,
            "save_connection",
            json!({"input": {"originalName": null, "name": "staging", "driver": "sqlite",
                "host": null, "port": null, "database": null, "user": null,
                "tlsMode": null, "tlsCaFile": null, "sqlitePath": db.display().to_string(),
                "environment": "stage", "color": null,
                "passwordChoice": "none", "password": null, "bind": true}}),
        )
        .await
        .unwrap();
        assert_eq!(saved["environment"], "staging");
        assert_eq!(saved["color"], "#e3b341");
        assert_eq!(saved["bound"], true);

        // The file is not there yet: a classified failure with advice.
        let report = call(&core, "test_connection", json!({"name": "staging"}))
            .await
            .unwrap();
        assert_eq!(report["ok"], false);
        assert_eq!(report["failure"]["kind"], "database_missing");
        assert_eq!(report["failure"]["label"], "database missing");
        assert!(report["failure"]["advice"].as_str().unwrap().len() > 10);

        // An empty SQLite file: reachable, no version table yet, two revisions to apply.
        std::fs::write(&db, b"").unwrap();
        let report = call(&core, "test_connection", json!({"name": "staging"}))
            .await
            .unwrap();
        assert_eq!(report["ok"], true, "{report}");
        assert_eq!(report["versionTable"]["status"], "no_table");
        assert_eq!(report["versionTable"]["behindBy"], 2.0);
        assert!(report["latencyMs"].is_number());

        // Stamp the database at a1 by hand, then read the positions.
        let url = retort_core::database::DatabaseUrl::parse(
            &format!("sqlite:///{}", db.display()),
            Path::new("/"),
        )
        .unwrap();
        let mut conn =
            retort_core::database::Database::open(&url, std::time::Duration::from_secs(5))
                .await
                .unwrap();
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
            .await
            .unwrap();
        conn.execute("INSERT INTO alembic_version VALUES ('a1')")
            .await
            .unwrap();
        drop(conn);
        let positions: Vec<types::ConnectionPosition> =
            crate::commands::connection_positions(&core).await.unwrap();
        let by_name = |n: &str| positions.iter().find(|p| p.name == n).unwrap().clone();
        assert_eq!(by_name("staging").revisions, ["a1"]);
        assert_eq!(by_name("staging").color, "#e3b341");
        // The project's own URL (app.db, not created yet) is on the graph too, at base.
        let project_pos = by_name("project");
        assert!(!project_pos.saved);
        assert_eq!(project_pos.revisions, Vec::<String>::new());
        assert_eq!(project_pos.error, None);

        // An "ask every time" connection needs its password for a test.
        call(
            &core,
            "save_connection",
            json!({"input": {"originalName": "staging", "name": "staging", "driver": "sqlite",
                "host": null, "port": null, "database": null, "user": null,
                "tlsMode": null, "tlsCaFile": null, "sqlitePath": db.display().to_string(),
                "environment": "staging", "color": "#123456",
                "passwordChoice": "ask", "password": null, "bind": false}}),
        )
        .await
        .unwrap();
        let e = call(&core, "test_connection", json!({"name": "staging"}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::PasswordNeeded);
        let positions: Vec<types::ConnectionPosition> =
            crate::commands::connection_positions(&core).await.unwrap();
        assert!(
            positions
                .iter()
                .any(|p| p.name == "staging" && p.password_needed)
        );

        call(&core, "delete_connection", json!({"name": "staging"}))
            .await
            .unwrap();
        let e = call(&core, "delete_connection", json!({"name": "staging"}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    });
}

#[test]
fn without_native_dialogs_the_ui_is_told_to_ask() {
    let home = tempfile::tempdir().unwrap();
    let core = core(home.path());
    rt().block_on(async {
        for kind in PathKind::ALL {
            let picked = commands::pick_path(&core, kind).await.unwrap();
            assert_eq!(picked.path, None);
            assert!(!picked.native);
        }
    });
}

#[test]
fn events_reach_subscribers() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    native_project(project.path());
    rev(project.path(), "a1", "", "");
    let core = core(home.path());
    let mut events = core.subscribe();
    rt().block_on(async {
        commands::open_workspace(&core, project.path().display().to_string())
            .await
            .unwrap();
    });
    match events.try_recv().unwrap() {
        ApiEvent::WorkspaceOpened { path } => {
            assert!(path.ends_with(project.path().file_name().unwrap().to_str().unwrap()))
        }
        other => panic!("{other:?}"),
    }
}
