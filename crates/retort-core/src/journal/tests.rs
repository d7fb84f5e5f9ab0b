use super::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn connection(name: &str, location: &str) -> ConnectionRef {
    ConnectionRef {
        name: Some(name.into()),
        url: format!("postgresql://app:***@db/{name}"),
        location: location.into(),
        environment: Some("production".into()),
    }
}

fn entry(kind: EntryKind, connection: ConnectionRef) -> NewEntry {
    NewEntry {
        kind,
        context: Context::current(Some(Path::new("/projects/shop"))),
        connection: Some(connection),
        target: Some("head".into()),
        from_revisions: vec![],
        note: None,
    }
}

fn step(revision: &str, sha: &str, ok: bool) -> StepRecord {
    StepRecord {
        revision: Some(revision.into()),
        description: format!("upgrade -> {revision}"),
        file_path: Some(PathBuf::from(format!(
            "/projects/shop/versions/{revision}.sql"
        ))),
        file_sha256: Some(sha.into()),
        duration_ms: 12,
        ok,
    }
}

fn finish(outcome: EntryOutcome, to: &[&str], steps: Vec<StepRecord>) -> Finish {
    Finish {
        outcome,
        from_revisions: Some(vec![]),
        to_revisions: to.iter().map(|s| s.to_string()).collect(),
        failed_step: steps.iter().position(|s| !s.ok).map(|p| p + 1),
        error: steps.iter().any(|s| !s.ok).then(|| "boom".to_string()),
        steps,
        backup_id: Some(7),
    }
}

#[test]
fn entries_round_trip_newest_first_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
        let prod = connection("prod", "postgresql://db:5432/prod");
        let dev = connection("dev", "postgresql://db:5432/dev");
        let first = store
            .journal_record(
                &entry(EntryKind::Upgrade, prod.clone()),
                &finish(
                    EntryOutcome::Ok,
                    &["b"],
                    vec![step("a", "11", true), step("b", "22", true)],
                ),
            )
            .await
            .unwrap();
        store
            .journal_record(
                &entry(EntryKind::Upgrade, dev.clone()),
                &finish(
                    EntryOutcome::Failed,
                    &["a"],
                    vec![step("a", "11", true), step("b", "22", false)],
                ),
            )
            .await
            .unwrap();
        let all = store.journal(&JournalFilter::default()).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].id, first, "newest first");
        let e = &all[1];
        assert_eq!(e.kind, EntryKind::Upgrade);
        assert_eq!(e.outcome, EntryOutcome::Ok);
        assert_eq!(e.connection.as_ref(), Some(&prod));
        assert_eq!(e.to_revisions, vec!["b"]);
        assert_eq!(e.backup_id, Some(7));
        assert_eq!(
            e.workspace_dir.as_deref(),
            Some(Path::new("/projects/shop"))
        );
        assert!(!e.os_user.is_empty());
        assert!(e.finished_at.is_some() && !e.interrupted);
        assert_eq!(e.steps, vec![step("a", "11", true), step("b", "22", true)]);
        let failed = &all[0];
        assert_eq!(
            (failed.failed_step, failed.error.as_deref()),
            (Some(2), Some("boom"))
        );

        let only_prod = store
            .journal(&JournalFilter {
                connection: Some("prod".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            only_prod.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![first]
        );
        let failures = store
            .journal(&JournalFilter {
                outcome: Some(EntryOutcome::Failed),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            failures[0].connection.as_ref().unwrap().name.as_deref(),
            Some("dev")
        );
        let stamps = store
            .journal(&JournalFilter {
                kind: Some(EntryKind::Stamp),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(stamps.is_empty());
        store.close().await;
    });
}

#[test]
fn a_running_entry_whose_process_is_gone_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    rt().block_on(async {
        let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
        let conn = connection("prod", "postgresql://db:5432/prod");
        let mut killed = entry(EntryKind::Upgrade, conn.clone());
        killed.context.pid = dead_pid;
        store.journal_begin(&killed).await.unwrap();
        store
            .journal_begin(&entry(EntryKind::Downgrade, conn))
            .await
            .unwrap();
        let all = store.journal(&JournalFilter::default()).await.unwrap();
        assert_eq!(all[0].outcome, EntryOutcome::Running);
        assert!(!all[0].interrupted, "this process is alive");
        assert_eq!(all[1].outcome, EntryOutcome::Running);
        assert!(all[1].interrupted, "pid {dead_pid} has exited");
        store.close().await;
    });
}

#[test]
fn applied_files_keep_the_latest_successful_upgrade_per_database() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
        let prod = connection("prod", "postgresql://db:5432/prod");
        // The same database reached through an ad-hoc URL counts as the same database.
        let mut adhoc = prod.clone();
        adhoc.name = None;
        let other = connection("dev", "postgresql://db:5432/dev");
        store
            .journal_record(
                &entry(EntryKind::Upgrade, prod.clone()),
                &finish(
                    EntryOutcome::Ok,
                    &["b"],
                    vec![step("a", "a1", true), step("b", "b1", true)],
                ),
            )
            .await
            .unwrap();
        store
            .journal_record(
                &entry(EntryKind::Downgrade, prod.clone()),
                &finish(EntryOutcome::Ok, &["a"], vec![step("b", "ignored", true)]),
            )
            .await
            .unwrap();
        store
            .journal_record(
                &entry(EntryKind::Upgrade, adhoc),
                &finish(
                    EntryOutcome::Failed,
                    &["b"],
                    vec![step("b", "b2", true), step("c", "c1", false)],
                ),
            )
            .await
            .unwrap();
        store
            .journal_record(
                &entry(EntryKind::Upgrade, other),
                &finish(EntryOutcome::Ok, &["z"], vec![step("z", "z1", true)]),
            )
            .await
            .unwrap();
        let applied = store.applied_files(&prod.location).await.unwrap();
        let shas: Vec<(&str, &str)> = applied
            .values()
            .map(|a| (a.revision.as_str(), a.sha256.as_str()))
            .collect();
        assert_eq!(shas, vec![("a", "a1"), ("b", "b2")]);
        store.close().await;
    });
}

fn planned(kind: &str, revision: &str, to: &[&str]) -> PlannedStep {
    PlannedStep {
        revision: Some(revision.into()),
        description: format!("{kind} -> {revision}"),
        path: None,
        kind: kind.into(),
        to: to.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn a_killed_run_is_reconciled_once_with_the_version_table() {
    use crate::graph::{RevisionDecl, RevisionMap};
    let map = RevisionMap::build([
        RevisionDecl::new("a", &[]),
        RevisionDecl::new("b", &["a"]),
        RevisionDecl::new("c", &["b"]),
        RevisionDecl::new("d", &["c"]),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    rt().block_on(async {
        let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
        let conn = connection("prod", "postgresql://db:5432/prod");
        let mut killed = entry(EntryKind::Upgrade, conn.clone());
        killed.context.pid = dead_pid;
        let id = store.journal_begin(&killed).await.unwrap();
        let plan = [
            planned("upgrade", "a", &["a"]),
            planned("upgrade", "b", &["b"]),
            planned("upgrade", "c", &["c"]),
            planned("upgrade", "d", &["d"]),
        ];
        store.journal_plan(id, &plan).await.unwrap();
        store
            .journal_step(id, 1, &step("a", "a1", true))
            .await
            .unwrap();
        // Another database's rows settle nothing here; a live run is not settled.
        let mut live = entry(EntryKind::Upgrade, conn.clone());
        live.context.pid = std::process::id();
        let live_id = store.journal_begin(&live).await.unwrap();

        // `b` committed but its record was lost with the process; `c` never committed.
        let settled = reconcile::reconcile(&store, &map, &conn.location, &["b".into()])
            .await
            .unwrap();
        assert_eq!(settled, vec![id]);
        let all = store.journal(&JournalFilter::default()).await.unwrap();
        let (live_entry, killed_entry) = (&all[0], &all[1]);
        assert_eq!(live_entry.id, live_id);
        assert!(!live_entry.interrupted);
        assert!(killed_entry.interrupted);
        let revisions: Vec<_> = killed_entry
            .steps
            .iter()
            .map(|s| s.revision.clone().unwrap())
            .collect();
        assert_eq!(revisions, ["a", "b"]);
        assert_eq!(killed_entry.to_revisions, ["b"]);
        let error = killed_entry.error.as_deref().unwrap();
        assert!(
            error.contains("after 2 committed step(s)")
                && error.contains("1 of them found committed in the version table afterwards: b")
                && error.contains("2 planned step(s) did not run"),
            "{error}"
        );
        // Settled once: later rows change nothing.
        let again = reconcile::reconcile(&store, &map, &conn.location, &["d".into()])
            .await
            .unwrap();
        assert!(again.is_empty());
        let all = store.journal(&JournalFilter::default()).await.unwrap();
        assert_eq!(all[1].steps.len(), 2);
        store.close().await;
    });
}

#[test]
fn a_killed_downgrade_is_reconciled_by_the_revisions_gone() {
    use crate::graph::{RevisionDecl, RevisionMap};
    let map = RevisionMap::build([
        RevisionDecl::new("a", &[]),
        RevisionDecl::new("b", &["a"]),
        RevisionDecl::new("c", &["b"]),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    rt().block_on(async {
        let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
        let conn = connection("prod", "postgresql://db:5432/prod");
        let mut killed = entry(EntryKind::Downgrade, conn.clone());
        killed.context.pid = dead_pid;
        let id = store.journal_begin(&killed).await.unwrap();
        let plan = [
            planned("downgrade", "c", &["b"]),
            planned("downgrade", "b", &["a"]),
        ];
        store.journal_plan(id, &plan).await.unwrap();
        let settled = reconcile::reconcile(&store, &map, &conn.location, &["a".into()])
            .await
            .unwrap();
        assert_eq!(settled, vec![id]);
        let all = store.journal(&JournalFilter::default()).await.unwrap();
        assert_eq!(all[0].steps.len(), 2, "{:?}", all[0]);
        assert!(all[0].interrupted);
        store.close().await;
    });
}
