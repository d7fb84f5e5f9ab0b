//! The IPC face: the bindings are current, and the Tauri transport offers exactly the
//! command list `retort serve` offers, with the same typed errors.

use super::*;
use retort_api::NoDialogs;
use serde_json::{Value, json};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};

/// `UPDATE_BINDINGS=1` rewrites the file; otherwise a stale file fails the test.
#[test]
fn bindings_are_current() {
    let fresh = bindings().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS);
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: run `UPDATE_BINDINGS=1 cargo test -p retort-app bindings` and commit it",
        BINDINGS
    );
    for name in retort_api::COMMAND_NAMES {
        assert!(
            fresh.contains(&format!("\"{name}\"")),
            "{name} missing from the bindings"
        );
    }
}

fn invoke(w: &tauri::WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        w,
        tauri::webview::InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize().unwrap())
}

#[test]
fn both_transports_expose_the_same_commands() {
    assert_eq!(COMMAND_NAMES, retort_api::COMMAND_NAMES);
    let home = tempfile::tempdir().unwrap();
    let core = Arc::new(AppCore::new(
        AppMode::Desktop,
        home.path().join("retort.db"),
        Credentials::with_stores(None, None),
        Arc::new(NoDialogs),
    ));
    let app = mock_builder()
        .manage(core)
        .invoke_handler(specta_builder::<MockRuntime>().invoke_handler())
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    // Every listed command is registered: with no arguments it runs or refuses its
    // arguments, but is never unknown.
    for name in retort_api::COMMAND_NAMES {
        if let Err(e) = invoke(&w, name, json!({})) {
            let text = e.to_string();
            assert!(!text.contains("not found"), "{name}: {text}");
        }
    }
    assert!(invoke(&w, "format_disk", json!({})).is_err());
    // Errors cross as the one typed error.
    let e = invoke(&w, "graph_layout", json!({})).unwrap_err();
    assert_eq!(e["kind"], "noWorkspace", "{e}");
    assert!(e["message"].is_string() && e["hint"].is_string());
    let info = invoke(&w, "app_info", json!({})).unwrap();
    assert_eq!(info["mode"], "desktop");
}
