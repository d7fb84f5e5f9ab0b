//! The one error type that crosses the boundary to the UI.

use serde::{Deserialize, Serialize};

/// What went wrong, in a word the UI can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// A workspace, connection, revision or file that is not there.
    NotFound,
    /// An argument the command cannot use (a malformed URL, an empty name, …).
    InvalidInput,
    /// The command needs an open workspace and none is open.
    NoWorkspace,
    /// The project could not be read.
    Project,
    /// Retort's own store failed.
    Store,
    /// The keychain or the session keyring failed or is not there.
    Credentials,
    /// A connection that keeps no password needs one for this command.
    PasswordNeeded,
    /// The database could not be used.
    Database,
    /// No native dialog here (`retort serve`): ask for the path instead.
    DialogUnavailable,
    /// A command name no transport knows.
    UnknownCommand,
    /// Arguments that do not fit the command.
    BadArguments,
    /// A production operation needs the database's name typed, and it was not (or wrongly).
    Confirmation,
    /// A verified stamp found the schema different from what the stamp implies.
    Mismatch,
    /// A plan or a run could not be made (an unknown target, a revision that cannot run).
    Execution,
    /// A backup or restore failed; nothing else was done.
    Backup,
    /// The SSH route to the database failed (unreachable, refused, no permission, a host key
    /// that is unknown or changed: then `hostKey` says which).
    Ssh,
    /// The connection's password command failed.
    PasswordCommand,
    /// Anything else (a bug): the message says what.
    Internal,
}

/// The error of every command: `kind` for the UI's logic, `message` for people, and a `hint`
/// on what to do about it where there is one. Never carries a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, thiserror::Error)]
#[error("{message}")]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// An SSH host key the user is asked about: unknown (to trust once they have checked
    /// the fingerprint) or changed (refused).
    pub host_key: Option<HostKeyQuestion>,
}

/// An SSH hop's host key that is not the known one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct HostKeyQuestion {
    /// As known_hosts names it (`bastion.example`, `[10.0.0.5]:2222`).
    pub host: String,
    /// `ED25519 SHA256:…`
    pub fingerprint: String,
    /// The key differs from the known one (refused; not to be trusted from here).
    pub changed: bool,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            host_key: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn unknown_command(name: &str) -> Self {
        Self::new(
            ErrorKind::UnknownCommand,
            format!("no command named '{name}'"),
        )
    }

    pub fn bad_arguments(name: &str, e: &serde_json::Error) -> Self {
        Self::new(
            ErrorKind::BadArguments,
            format!("command '{name}': arguments do not fit: {e}"),
        )
    }

    /// The message and hint with `url`'s password taken out, should it appear.
    pub fn scrubbed(mut self, url: &retort_core::database::DatabaseUrl) -> Self {
        self.message = url.scrub(&self.message);
        self.hint = self.hint.map(|h| url.scrub(&h));
        self
    }

    pub fn no_workspace() -> Self {
        Self::new(ErrorKind::NoWorkspace, "no workspace is open")
            .with_hint("open a migration project folder first")
    }
}

impl From<retort_core::store::StoreError> for ApiError {
    fn from(e: retort_core::store::StoreError) -> Self {
        use retort_core::store::StoreError as E;
        let kind = match &e {
            E::NoSuchConnection(_) => ErrorKind::NotFound,
            E::DuplicateConnection(_) | E::Invalid(_) | E::Import(_) => ErrorKind::InvalidInput,
            _ => ErrorKind::Store,
        };
        let hint = match &e {
            E::DuplicateConnection(_) => Some("choose another name, or edit that connection"),
            _ => None,
        };
        let error = Self::new(kind, e.to_string());
        match hint {
            Some(h) => error.with_hint(h),
            None => error,
        }
    }
}

impl From<retort_core::credentials::CredentialError> for ApiError {
    fn from(e: retort_core::credentials::CredentialError) -> Self {
        use retort_core::credentials::CredentialError as E;
        // The core's wording names CLI flags; the UI's choices are named in the hint.
        let (message, hint) = match &e {
            E::NoKeychain { reason } => (
                format!("no persistent keychain is available here ({reason})"),
                "choose \"this session only\" (kernel keyring) or \"ask every time\"",
            ),
            E::NoSessionKeyring { reason } => (
                format!("the login session's kernel keyring is not available ({reason})"),
                "run Retort in a login session (or under `keyctl session -`), or choose \"ask every time\"",
            ),
            E::Missing { connection, keeper } => (
                format!(
                    "the password of connection '{connection}' is not in the {keeper} any more"
                ),
                "edit the connection and enter its password again",
            ),
            _ => (e.to_string(), "unlock the keychain and try again"),
        };
        Self::new(ErrorKind::Credentials, message).with_hint(hint)
    }
}

impl From<retort_core::connections::ConnectionError> for ApiError {
    fn from(e: retort_core::connections::ConnectionError) -> Self {
        use retort_core::connections::ConnectionError as E;
        match e {
            E::Store(e) => e.into(),
            E::Credential(e) => e.into(),
            E::NoPasswordToKeep { .. } => ApiError::invalid("enter the password to keep")
                .with_hint("or choose \"ask every time\""),
            E::PasswordNeeded { connection } => Self::new(
                ErrorKind::PasswordNeeded,
                format!("connection '{connection}' asks for its password on every use"),
            )
            .with_hint("enter the password"),
            E::Worker(message) => Self::new(ErrorKind::Internal, message),
            E::PasswordCommand { .. } => Self::new(ErrorKind::PasswordCommand, e.to_string())
                .with_hint("run the command in a terminal to see why it fails; its output is never shown here"),
            E::Tunnel { ref error, .. } => {
                use retort_core::tunnel::TunnelError as T;
                let host_key = match error {
                    T::HostKeyUnknown {
                        host, fingerprint, ..
                    } => Some(HostKeyQuestion {
                        host: host.clone(),
                        fingerprint: fingerprint.clone(),
                        changed: false,
                    }),
                    T::HostKeyChanged {
                        host, fingerprint, ..
                    } => Some(HostKeyQuestion {
                        host: host.clone(),
                        fingerprint: fingerprint.clone(),
                        changed: true,
                    }),
                    _ => None,
                };
                let hint = error.advice();
                let mut out = Self::new(ErrorKind::Ssh, e.to_string()).with_hint(hint);
                out.host_key = host_key;
                out
            }
        }
    }
}

impl From<retort_core::guard::GuardError> for ApiError {
    fn from(e: retort_core::guard::GuardError) -> Self {
        use retort_core::guard::GuardError as E;
        match e {
            E::BackupRequired { database, .. } => Self::new(
                ErrorKind::Confirmation,
                "this production database needs a verified backup before the run; nothing was run",
            )
            .with_hint(format!(
                "keep \"take a backup\" checked, or skip it by typing the database's name ({database})"
            )),
            E::WrongConfirmation { .. } | E::RestoreNotConfirmed { .. } => {
                Self::new(ErrorKind::Confirmation, e.to_string())
            }
            E::BackupFailed(_) => Self::new(ErrorKind::Backup, e.to_string())
                .with_hint("fix what the backup reports and run again; the database was not touched"),
            E::Store(store) => store.into(),
        }
    }
}

impl From<retort_core::backup::BackupError> for ApiError {
    fn from(e: retort_core::backup::BackupError) -> Self {
        Self::new(ErrorKind::Backup, e.to_string())
    }
}
