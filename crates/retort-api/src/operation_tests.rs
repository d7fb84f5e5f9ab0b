//! The operations of the app (runs, the production gate, backups, restores, stamps, the
//! journal, the status board, merges) against a real SQLite database and a real store,
//! through the JSON dispatcher.

use super::*;
use crate::tests::{call, core, rt};
use serde_json::{Value, json};
use std::path::Path;

fn rev(dir: &Path, id: &str, down: &str, up: &str, downgrade: &str) {
    std::fs::create_dir_all(dir.join("versions")).unwrap();
    std::fs::write(
        dir.join(format!("versions/{id}_x.sql")),
        format!(
            "-- revision: {id}\n-- down_revision: {down}\n-- message: make {id}\n\n-- migrate:up\n{up}\n\n-- migrate:down\n{downgrade}\n"
        ),
    )
    .unwrap();
}

fn table_rev(dir: &Path, id: &str, down: &str) {
    rev(
        dir,
        id,
        down,
        &format!("CREATE TABLE t_{id} (x INTEGER);"),
        &format!("DROP TABLE t_{id};"),
    );
}

async fn save_sqlite(core: &AppCore, name: &str, path: &Path, environment: &str) {
    call(
        core,
        "save_connection",
        json!({"input": {"originalName": null, "name": name, "driver": "sqlite",
            "host": null, "port": null, "database": null, "user": null,
            "tlsMode": null, "tlsCaFile": null, "sqlitePath": path.display().to_string(),
            "environment": environment, "color": null,
            "passwordChoice": "none", "password": null, "bind": true}}),
    )
    .await
    .unwrap();
}

fn run_request(run_id: &str, operation: Value, backup: bool, confirm: Option<&str>) -> Value {
    json!({"request": {"runId": run_id, "connection": "prod", "password": null,
        "operation": operation, "backup": backup, "verifyRestore": false,
        "confirmDatabase": confirm, "verifyStamp": false, "acceptMismatch": false,
        "lockTimeoutSeconds": 5}})
}

/// A SQLite file's URL and its default version table.
fn sqlite_version_table(
    db: &Path,
) -> (
    retort_core::database::DatabaseUrl,
    retort_core::database::VersionTable,
) {
    let url = retort_core::database::DatabaseUrl::parse(
        &format!("sqlite:///{}", db.display()),
        Path::new("/"),
    )
    .unwrap();
    let table = retort_core::database::VersionTable {
        name: "alembic_version".into(),
        schema: None,
    };
    (url, table)
}

/// The version table's rows, read through the core on a thread of its own (the tests'
/// runtime is busy in `block_on`).
fn rows(db: &Path) -> Vec<String> {
    let (url, table) = sqlite_version_table(db);
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let mut rows = rt
                .block_on(retort_core::database::read_version_rows(
                    &url,
                    &table,
                    std::time::Duration::from_secs(5),
                ))
                .unwrap();
            rows.sort();
            rows
        })
        .join()
        .unwrap()
    })
}

#[test]
fn a_production_run_is_gated_backed_up_journaled_and_recoverable() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(dir.join("retort.toml"), "versions = [\"versions\"]\n").unwrap();
    table_rev(dir, "a1", "");
    table_rev(dir, "b2", "a1");
    let db = home.path().join("prod.db");
    let core = core(home.path());
    rt().block_on(async {
        let mut events = core.subscribe();
        call(
            &core,
            "open_workspace",
            json!({"path": dir.display().to_string()}),
        )
        .await
        .unwrap();
        save_sqlite(&core, "prod", &db, "production").await;

        // The plan names the target, the two steps and what the gate will ask.
        let preview = call(
            &core,
            "plan_operation",
            json!({"connection": "prod", "password": null,
                "operation": {"command": "upgrade", "target": "head"}}),
        )
        .await
        .unwrap();
        assert_eq!(preview["target"]["production"], true);
        assert_eq!(preview["target"]["database"], "prod.db");
        assert_eq!(preview["backupRequired"], true);
        let steps = preview["plan"]["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[0]["sql"]["statements"][0]["sql"],
            "CREATE TABLE t_a1 (x INTEGER)"
        );

        // Production without the typed name, or with a wrong one: nothing runs.
        let upgrade = json!({"command": "upgrade", "target": "a1"});
        let e = call(
            &core,
            "run_operation",
            run_request("r0", upgrade.clone(), true, None),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Confirmation, "{e:?}");
        assert!(e.message.contains("prod.db"), "{e:?}");
        let e = call(
            &core,
            "run_operation",
            run_request("r0", upgrade.clone(), true, Some("prod")),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Confirmation, "{e:?}");
        assert!(!db.exists(), "nothing may have been run");
        let result = call(
            &core,
            "run_operation",
            run_request("r1", upgrade, true, Some("prod.db")),
        )
        .await
        .unwrap();
        assert_eq!(result["report"]["outcome"], "completed");
        // The file did not exist: nothing to back up.
        assert_eq!(result["backup"], Value::Null);
        assert_eq!(rows(&db), ["a1"]);

        // Upgrade to head with a backup: the backup is taken, verified and linked.
        let result = call(
            &core,
            "run_operation",
            run_request(
                "r2",
                json!({"command": "upgrade", "target": "head"}),
                true,
                Some("prod.db"),
            ),
        )
        .await
        .unwrap();
        assert_eq!(result["report"]["outcome"], "completed", "{result}");
        let backup_id = result["backup"]["id"].as_i64().unwrap();
        assert_eq!(result["backup"]["revisions"], json!(["a1"]));
        assert!(
            result["backup"]["verification"]
                .as_str()
                .unwrap()
                .contains("integrity_check")
        );
        assert_eq!(rows(&db), ["b2"]);

        // Progress went out with the run's id: backup first, then each step.
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            let event = serde_json::to_value(event).unwrap();
            if event["runId"] == "r2" {
                seen.push(format!(
                    "{}:{}",
                    event["type"].as_str().unwrap(),
                    event["progress"]["event"].as_str().unwrap()
                ));
            }
        }
        let first_step = seen
            .iter()
            .position(|e| e == "runProgress:step_started")
            .unwrap();
        let backup_done = seen
            .iter()
            .position(|e| e == "backupProgress:finished")
            .unwrap();
        assert!(backup_done < first_step, "{seen:?}");
        assert!(seen.contains(&"runProgress:step_finished".to_string()));
        assert_eq!(
            call(&core, "active_runs", json!({})).await.unwrap(),
            json!([])
        );

        // The status board: up to date.
        let board = call(&core, "status_board", json!({})).await.unwrap();
        assert_eq!(board[0]["name"], "prod");
        assert_eq!(board[0]["standing"], "upToDate");

        // A failing revision: the report says what happened; the backup restores it.
        rev(
            dir,
            "c3",
            "b2",
            "CREATE TABLE t_c3 (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
            "DROP TABLE t_c3;",
        );
        call(
            &core,
            "open_workspace",
            json!({"path": dir.display().to_string()}),
        )
        .await
        .unwrap();
        let board = call(&core, "status_board", json!({})).await.unwrap();
        assert_eq!(board[0]["standing"], "behind");
        assert_eq!(board[0]["behindBy"], 1);
        let result = call(
            &core,
            "run_operation",
            run_request(
                "r3",
                json!({"command": "upgrade", "target": "head"}),
                true,
                Some("prod.db"),
            ),
        )
        .await
        .unwrap();
        assert_eq!(result["report"]["outcome"], "failed");
        let failure = &result["report"]["failure"];
        assert_eq!(failure["revision"], "c3");
        assert_eq!(failure["line"], 7);
        assert!(failure["error"].as_str().unwrap().contains("no_such_table"));
        let before_run = result["backup"]["id"].as_i64().unwrap();
        assert_ne!(before_run, backup_id);

        // Restoring needs the target's name typed.
        let e = call(
            &core,
            "restore_backup",
            json!({"runId": "x1", "id": before_run, "connection": "prod",
                "password": null, "confirmDatabase": "nope"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Confirmation);
        let restored = call(
            &core,
            "restore_backup",
            json!({"runId": "x2", "id": before_run, "connection": "prod",
                "password": null, "confirmDatabase": "prod.db"}),
        )
        .await
        .unwrap();
        assert_eq!(restored["revisions"], json!(["b2"]));
        assert_eq!(rows(&db), ["b2"]);

        // The journal has every operation; filters work; runs link their backups.
        let all = call(&core, "journal_entries", json!({"query": {}}))
            .await
            .unwrap();
        let kinds: Vec<&str> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "restore", "upgrade", "backup", "upgrade", "backup", "upgrade"
            ]
        );
        let failed = call(
            &core,
            "journal_entries",
            json!({"query": {"outcome": "failed", "kind": "upgrade"}}),
        )
        .await
        .unwrap();
        assert_eq!(failed.as_array().unwrap().len(), 1);
        assert_eq!(failed[0]["backupId"], before_run);
        let e = call(
            &core,
            "journal_entries",
            json!({"query": {"kind": "dance"}}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput);

        // Backups: listed, verified, deleted.
        let list = call(&core, "list_backups", json!({"connection": "prod"}))
            .await
            .unwrap();
        assert_eq!(list["backups"].as_array().unwrap().len(), 2);
        let verified = call(&core, "verify_backup", json!({"id": backup_id}))
            .await
            .unwrap();
        assert!(verified.as_str().unwrap().contains("integrity_check"));
        let path = list["backups"][1]["path"].as_str().unwrap().to_string();
        call(&core, "delete_backup", json!({"id": backup_id}))
            .await
            .unwrap();
        assert!(!Path::new(&path).exists());
        let list = call(&core, "list_backups", json!({"connection": "prod"}))
            .await
            .unwrap();
        assert_eq!(list["backups"].as_array().unwrap().len(), 1);

        // A verified stamp down to a1: the schema has t_b2, which a1 does not imply.
        let check = call(
            &core,
            "check_stamp",
            json!({"connection": "prod", "password": null, "targets": ["a1"], "purge": false}),
        )
        .await
        .unwrap();
        assert_eq!(check["matches"], false);
        assert!(
            check["differences"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d.as_str().unwrap().contains("t_b2")),
            "{check}"
        );
        let mut stamp = run_request(
            "s1",
            json!({"command": "stamp", "targets": ["a1"], "purge": false}),
            false,
            Some("prod.db"),
        );
        stamp["request"]["verifyStamp"] = json!(true);
        let e = call(&core, "run_operation", stamp.clone())
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Mismatch, "{e:?}");
        assert_eq!(rows(&db), ["b2"]);
        stamp["request"]["acceptMismatch"] = json!(true);
        let result = call(&core, "run_operation", stamp).await.unwrap();
        assert_eq!(result["report"]["outcome"], "completed");
        assert_eq!(rows(&db), ["a1"]);
        let last = call(&core, "journal_entries", json!({"query": {"limit": 1}}))
            .await
            .unwrap();
        assert!(
            last[0]["note"]
                .as_str()
                .unwrap()
                .contains("difference(s) accepted"),
            "{last}"
        );
        assert_eq!(
            call(&core, "cancel_run", json!({"runId": "s1"}))
                .await
                .unwrap(),
            false
        );
    });
}

#[test]
fn merging_two_heads_writes_the_file_and_reloads_the_graph() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(dir.join("retort.toml"), "versions = [\"versions\"]\n").unwrap();
    table_rev(dir, "a1", "");
    table_rev(dir, "b2", "a1");
    table_rev(dir, "c3", "a1");
    let core = core(home.path());
    rt().block_on(async {
        call(&core, "open_workspace", json!({"path": dir.display().to_string()}))
            .await
            .unwrap();
        let explained = call(&core, "explain_merge", json!({"revisions": []}))
            .await
            .unwrap();
        assert_eq!(explained["branches"].as_array().unwrap().len(), 2, "{explained}");
        let e = call(
            &core,
            "create_revision",
            json!({"input": {"message": "add x", "head": null, "branchLabel": null, "dependsOn": []}}),
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("Multiple heads"), "{e:?}");
        let merged = call(
            &core,
            "create_merge",
            json!({"revisions": ["b2", "c3"], "message": "merge b2 and c3"}),
        )
        .await
        .unwrap();
        assert_eq!(merged["written"], true);
        let id = merged["revision"]["revision"].as_str().unwrap().to_string();
        assert!(Path::new(merged["revision"]["path"].as_str().unwrap()).exists());
        let layout = call(&core, "graph_layout", json!({})).await.unwrap();
        assert_eq!(layout["heads"], json!([id]));
        // A new revision on top, with the naming hint for a message that follows no
        // convention.
        let preview = call(
            &core,
            "preview_revision",
            json!({"input": {"message": "Stuff", "head": null, "branchLabel": null, "dependsOn": []}}),
        )
        .await
        .unwrap();
        assert_eq!(preview["written"], false);
        assert!(!preview["naming"].as_array().unwrap().is_empty(), "{preview}");
        let written = call(
            &core,
            "create_revision",
            json!({"input": {"message": "add orders table", "head": null, "branchLabel": "shop", "dependsOn": []}}),
        )
        .await
        .unwrap();
        assert_eq!(written["revision"]["downRevision"], json!([id]));
        let journal = call(&core, "journal_entries", json!({"query": {}}))
            .await
            .unwrap();
        assert_eq!(journal[0]["kind"], "revision");
        assert_eq!(journal[1]["kind"], "merge");
        let checks = call(
            &core,
            "project_checks",
            json!({"connection": null, "password": null}),
        )
        .await
        .unwrap();
        assert!(checks["findings"].is_array());
    });
}

#[test]
fn recent_workspaces_come_most_recently_opened_first() {
    let home = tempfile::tempdir().unwrap();
    let projects = tempfile::tempdir().unwrap();
    let open = |name: &str| {
        let dir = projects.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("retort.toml"), "versions = [\"versions\"]\n").unwrap();
        table_rev(&dir, "a1", "");
        json!({"path": dir.display().to_string()})
    };
    let core = core(home.path());
    rt().block_on(async {
        let names = |v: Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|w| w["name"].as_str().unwrap().to_string())
                .collect()
        };
        for name in ["zeta", "alpha", "mid"] {
            call(&core, "open_workspace", open(name)).await.unwrap();
        }
        let recent = call(&core, "recent_workspaces", json!({})).await.unwrap();
        assert_eq!(names(recent), ["mid", "alpha", "zeta"]);
        call(&core, "open_workspace", open("zeta")).await.unwrap();
        let recent = call(&core, "recent_workspaces", json!({})).await.unwrap();
        assert_eq!(names(recent), ["zeta", "mid", "alpha"]);
    });
}

#[test]
fn a_second_run_waits_for_the_lock_and_says_who_holds_it() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(dir.join("retort.toml"), "versions = [\"versions\"]\n").unwrap();
    table_rev(dir, "a1", "");
    let db = home.path().join("dev.db");
    std::fs::write(&db, b"").unwrap();
    let core = core(home.path());
    rt().block_on(async {
        call(
            &core,
            "open_workspace",
            json!({"path": dir.display().to_string()}),
        )
        .await
        .unwrap();
        save_sqlite(&core, "prod", &db, "development").await;
        // Another run (here: another connection of this process) holds the lock.
        let (url, table) = sqlite_version_table(&db);
        let mut other =
            retort_core::database::Database::open(&url, std::time::Duration::from_secs(5))
                .await
                .unwrap();
        let held = other.try_migration_lock(&table).await.unwrap();
        assert!(held.is_some());
        let mut events = core.subscribe();
        let mut request = run_request(
            "w1",
            json!({"command": "upgrade", "target": "head"}),
            false,
            None,
        );
        request["request"]["lockTimeoutSeconds"] = json!(1);
        let e = call(&core, "run_operation", request).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Execution, "{e:?}");
        assert!(e.message.contains("lock"), "{e:?}");
        let mut waited = false;
        while let Ok(event) = events.try_recv() {
            let event = serde_json::to_value(event).unwrap();
            if event["runId"] == "w1" && event["progress"]["event"] == "lock_waiting" {
                waited = true;
                assert!(event["progress"].get("holder").is_some(), "{event}");
            }
        }
        assert!(waited, "the UI was told that the run waits for the lock");
        assert!(rows(&db).is_empty());
        // The run's journal entry says it failed, and the run is no longer listed.
        let last = call(&core, "journal_entries", json!({"query": {"limit": 1}}))
            .await
            .unwrap();
        assert_eq!(last[0]["outcome"], "failed", "{last}");
        assert_eq!(
            call(&core, "active_runs", json!({})).await.unwrap(),
            json!([])
        );
    });
}
