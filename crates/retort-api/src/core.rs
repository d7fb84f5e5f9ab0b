//! The state every command runs against.

use crate::dialog::PathPicker;
use crate::error::{ApiError, ErrorKind};
use crate::types::ApiEvent;
use retort_core::credentials::Credentials;
use retort_core::execution::CancelToken;
use retort_core::store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{OnceCell, broadcast};

/// Desktop (native dialogs, Tauri IPC) or browser (`retort serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum AppMode {
    Desktop,
    Browser,
}

/// The open workspace (the core's: the project, its graph, its problems).
pub(crate) type Opened = retort_core::workspace::Workspace;

/// The app's state: the store, the keychains, the open workspace, the dialog provider, and
/// the event channel both transports forward to the UI.
pub struct AppCore {
    pub(crate) mode: AppMode,
    store_path: PathBuf,
    store: OnceCell<Store>,
    pub(crate) credentials: Arc<Credentials>,
    pub(crate) picker: Arc<dyn PathPicker>,
    pub(crate) opened: RwLock<Option<Arc<Opened>>>,
    events: broadcast::Sender<ApiEvent>,
    /// How long a database may take to answer.
    pub(crate) timeout: Duration,
    /// Runs, backups and restores under way, by the id the UI gave them.
    runs: Mutex<HashMap<String, ActiveRun>>,
}

/// Something long under way: cancellable between steps, and a reason to ask before closing.
pub(crate) struct ActiveRun {
    pub view: crate::types::ActiveRunView,
    pub cancel: CancelToken,
}

/// Removes its run from the list when the work ends, however it ends.
pub struct RunGuard<'a> {
    core: &'a AppCore,
    id: String,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut runs) = self.core.runs.lock() {
            runs.remove(&self.id);
        }
        self.core.emit(ApiEvent::RunsChanged);
    }
}

impl AppCore {
    /// `store_path`: Retort's store file (usually `retort_core::store::default_path()`).
    pub fn new(
        mode: AppMode,
        store_path: PathBuf,
        credentials: Credentials,
        picker: Arc<dyn PathPicker>,
    ) -> Self {
        // Progress comes in bursts (a round trip of a long history, a backup's item lines) and a
        // browser tab under load reads slowly: room for thousands, so a reader rarely misses one.
        let (events, _) = broadcast::channel(4096);
        Self {
            mode,
            store_path,
            store: OnceCell::new(),
            credentials: Arc::new(credentials),
            picker,
            opened: RwLock::new(None),
            events,
            timeout: Duration::from_secs(5),
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Each database step waits at most this long (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn mode(&self) -> AppMode {
        self.mode
    }

    pub fn store_path(&self) -> &std::path::Path {
        &self.store_path
    }

    /// The store, opened on first use.
    pub(crate) async fn store(&self) -> Result<&Store, ApiError> {
        self.store
            .get_or_try_init(|| Store::open(&self.store_path))
            .await
            .map_err(ApiError::from)
    }

    /// Events for the UI; every subscriber gets each event sent after it subscribed.
    pub fn subscribe(&self) -> broadcast::Receiver<ApiEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, event: ApiEvent) {
        // No subscriber is not an error: nobody is listening yet.
        let _ = self.events.send(event);
    }

    pub(crate) fn opened(&self) -> Option<Arc<Opened>> {
        self.opened.read().ok().and_then(|o| o.clone())
    }

    pub(crate) fn require_opened(&self) -> Result<Arc<Opened>, ApiError> {
        self.opened().ok_or_else(ApiError::no_workspace)
    }

    /// The open workspace, when its revision graph could be built.
    pub(crate) fn require_graph(&self) -> Result<Arc<Opened>, ApiError> {
        let opened = self.require_opened()?;
        if opened.graph().is_none() {
            return Err(ApiError::new(
                ErrorKind::Project,
                "the project's revision graph could not be built",
            )
            .with_hint("fix the problems listed for this workspace"));
        }
        Ok(opened)
    }

    pub(crate) fn set_opened(&self, opened: Opened) -> Arc<Opened> {
        let opened = Arc::new(opened);
        match self.opened.write() {
            Ok(mut slot) => *slot = Some(opened.clone()),
            Err(poisoned) => *poisoned.into_inner() = Some(opened.clone()),
        }
        opened
    }

    /// Registers a long operation under the UI's id; refused while that id is in use.
    pub(crate) fn start_run(
        &self,
        view: crate::types::ActiveRunView,
    ) -> Result<(RunGuard<'_>, CancelToken), ApiError> {
        if view.run_id.trim().is_empty() {
            return Err(ApiError::invalid("a run needs an id (runId)"));
        }
        let cancel = CancelToken::default();
        let id = view.run_id.clone();
        {
            let mut runs = self
                .runs
                .lock()
                .map_err(|_| ApiError::internal("run list poisoned"))?;
            if runs.contains_key(&id) {
                return Err(ApiError::invalid(format!("run {id} is already under way")));
            }
            runs.insert(
                id.clone(),
                ActiveRun {
                    view,
                    cancel: cancel.clone(),
                },
            );
        }
        self.emit(ApiEvent::RunsChanged);
        Ok((RunGuard { core: self, id }, cancel))
    }

    /// Asks the run to stop after its current step; false when no such run is under way.
    pub fn cancel_run(&self, id: &str) -> bool {
        let runs = match self.runs.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        match runs.get(id) {
            Some(run) => {
                run.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// What is under way now (the desktop app asks before closing while this is not empty).
    pub fn active_runs(&self) -> Vec<crate::types::ActiveRunView> {
        let runs = match self.runs.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let mut list: Vec<_> = runs.values().map(|r| r.view.clone()).collect();
        list.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        list
    }

    /// Cancels everything under way (the window is closing).
    pub fn cancel_all(&self) {
        let runs = match self.runs.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        for run in runs.values() {
            run.cancel.cancel();
        }
    }

    /// Runs blocking work (the keychains block) off the async threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Credentials) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let credentials = self.credentials.clone();
        tokio::task::spawn_blocking(move || work(&credentials))
            .await
            .map_err(|e| ApiError::new(ErrorKind::Internal, format!("a worker failed: {e}")))
    }
}
