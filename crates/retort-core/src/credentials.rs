//! Passwords of saved connections, kept by the operating system, never in a file.
//!
//! Two explicit keyring-core stores:
//! - the **keychain** (persistent): the login Keychain on macOS, Credential Manager on
//!   Windows, Secret Service (GNOME Keyring, KWallet) over D-Bus on Linux desktops;
//! - the **session** keyring: the Linux kernel's keyutils session keyring, kept until the
//!   login session ends (or the machine reboots).
//!
//! When no persistent keychain exists (headless Linux: no D-Bus session bus), Retort says so
//! and offers the session keyring or asking every time; it never falls back to a file.
//! Entries are `service = "retort"`, `user = "connection/<credential key>"` where the key is
//! the profile's random `credential_key`.
//!
//! The stores block (the Secret Service one runs its own async runtime): call these from
//! synchronous code, or `spawn_blocking` from async code.

pub mod command;

use crate::database::Secret;
use crate::store::{ConnectionProfile, PasswordStorage};
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use std::sync::{Arc, OnceLock};

pub const SERVICE: &str = "retort";

/// Which of the two stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeper {
    Keychain,
    Session,
}

impl Keeper {
    pub fn of(storage: PasswordStorage) -> Option<Self> {
        match storage {
            PasswordStorage::Keychain => Some(Keeper::Keychain),
            PasswordStorage::Session => Some(Keeper::Session),
            _ => None,
        }
    }
}

impl From<Keeper> for PasswordStorage {
    fn from(keeper: Keeper) -> Self {
        match keeper {
            Keeper::Keychain => PasswordStorage::Keychain,
            Keeper::Session => PasswordStorage::Session,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "no persistent keychain is available here ({reason}). Choose: --session-only keeps the password for this login session only (kernel keyring), --ask-every-time saves no password and Retort asks on each use"
    )]
    NoKeychain { reason: String },
    #[error(
        "the login session's kernel keyring is not available ({reason}). Run Retort in a login session, or start one with `keyctl session -` (package keyutils), or use --ask-every-time"
    )]
    NoSessionKeyring { reason: String },
    #[error(
        "the password of connection '{connection}' is not in the {keeper} any more (a reboot or logout clears the session keyring): set it again with `retort connections edit {connection} --ask-password` (or --password-stdin)"
    )]
    Missing { connection: String, keeper: String },
    #[error("the {keeper} refused access: {message}. Unlock it and try again")]
    Access { keeper: String, message: String },
    #[error("the {keeper} failed: {message}")]
    Failure { keeper: String, message: String },
}

/// The two stores, each opened on first use.
pub struct Credentials {
    keychain: OnceLock<Result<Arc<CredentialStore>, String>>,
    session: OnceLock<Result<Arc<CredentialStore>, String>>,
}

impl Default for Credentials {
    fn default() -> Self {
        Self::system()
    }
}

impl Credentials {
    /// The platform's stores.
    pub fn system() -> Self {
        Self {
            keychain: OnceLock::new(),
            session: OnceLock::new(),
        }
    }

    /// Given stores (tests: keyring-core's mock store); `None` stands for "not available".
    pub fn with_stores(
        keychain: Option<Arc<CredentialStore>>,
        session: Option<Arc<CredentialStore>>,
    ) -> Self {
        let lock = |s: Option<Arc<CredentialStore>>| {
            let cell = OnceLock::new();
            let _ = cell.set(s.ok_or_else(|| "not available".to_string()));
            cell
        };
        Self {
            keychain: lock(keychain),
            session: lock(session),
        }
    }

    fn store(&self, keeper: Keeper) -> Result<&Arc<CredentialStore>, CredentialError> {
        match keeper {
            Keeper::Keychain => {
                self.keychain
                    .get_or_init(open_keychain)
                    .as_ref()
                    .map_err(|reason| CredentialError::NoKeychain {
                        reason: reason.clone(),
                    })
            }
            Keeper::Session => self
                .session
                .get_or_init(open_session)
                .as_ref()
                .map_err(|reason| CredentialError::NoSessionKeyring {
                    reason: reason.clone(),
                }),
        }
    }

    /// `Ok(vendor)` when the persistent keychain can be used, else why not.
    pub fn keychain_status(&self) -> Result<String, CredentialError> {
        self.store(Keeper::Keychain).map(|s| s.vendor())
    }

    fn entry(&self, keeper: Keeper, profile: &ConnectionProfile) -> Result<Entry, CredentialError> {
        let store = self.store(keeper)?;
        Entry::new_in_store(store, SERVICE, &account(profile)).map_err(|e| classify(keeper, e))
    }

    pub fn set(
        &self,
        keeper: Keeper,
        profile: &ConnectionProfile,
        password: &Secret,
    ) -> Result<(), CredentialError> {
        self.entry(keeper, profile)?
            .set_password(password.expose())
            .map_err(|e| classify(keeper, e))
    }

    /// The password, or [`CredentialError::Missing`].
    pub fn get(
        &self,
        keeper: Keeper,
        profile: &ConnectionProfile,
    ) -> Result<Secret, CredentialError> {
        match self.entry(keeper, profile)?.get_password() {
            Ok(p) => Ok(Secret::new(p)),
            Err(KeyringError::NoEntry) => Err(CredentialError::Missing {
                connection: profile.name.clone(),
                keeper: keeper_name(keeper).to_string(),
            }),
            Err(e) => Err(classify(keeper, e)),
        }
    }

    /// Deletes the entry; `Ok(false)` when there was none.
    pub fn delete(
        &self,
        keeper: Keeper,
        profile: &ConnectionProfile,
    ) -> Result<bool, CredentialError> {
        match self.entry(keeper, profile)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) => Err(classify(keeper, e)),
        }
    }
}

/// The entry's user name: stable across renames, distinct across stores.
pub fn account(profile: &ConnectionProfile) -> String {
    format!("connection/{}", profile.credential_key)
}

fn keeper_name(keeper: Keeper) -> &'static str {
    match keeper {
        Keeper::Keychain => "OS keychain",
        Keeper::Session => "session keyring",
    }
}

fn classify(keeper: Keeper, e: KeyringError) -> CredentialError {
    let name = keeper_name(keeper).to_string();
    match e {
        KeyringError::NoStorageAccess(inner) if keeper == Keeper::Session => {
            CredentialError::NoSessionKeyring {
                reason: inner.to_string(),
            }
        }
        KeyringError::NoStorageAccess(inner) => CredentialError::Access {
            keeper: name,
            message: inner.to_string(),
        },
        KeyringError::NoDefaultStore if keeper == Keeper::Keychain => CredentialError::NoKeychain {
            reason: "no keychain store".into(),
        },
        other => CredentialError::Failure {
            keeper: name,
            message: other.to_string(),
        },
    }
}

#[cfg(target_os = "linux")]
fn open_keychain() -> Result<Arc<CredentialStore>, String> {
    zbus_secret_service_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| format!("Secret Service: {e}"))
}

#[cfg(target_os = "macos")]
fn open_keychain() -> Result<Arc<CredentialStore>, String> {
    apple_native_keyring_store::keychain::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| format!("macOS Keychain: {e}"))
}

#[cfg(target_os = "windows")]
fn open_keychain() -> Result<Arc<CredentialStore>, String> {
    windows_native_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| format!("Windows Credential Manager: {e}"))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn open_keychain() -> Result<Arc<CredentialStore>, String> {
    Err("this build of Retort has no keychain store for this platform".into())
}

#[cfg(target_os = "linux")]
fn open_session() -> Result<Arc<CredentialStore>, String> {
    linux_keyutils_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| e.to_string())
}

#[cfg(not(target_os = "linux"))]
fn open_session() -> Result<Arc<CredentialStore>, String> {
    Err("a session-only keyring exists on Linux only".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Driver;
    use keyring_core::mock;

    fn profile(key: &str) -> ConnectionProfile {
        let mut p = ConnectionProfile::new("prod", Driver::Postgresql);
        p.credential_key = key.into();
        p
    }

    #[test]
    fn set_get_delete_with_the_mock_store() {
        let creds = Credentials::with_stores(Some(mock::Store::new().unwrap()), None);
        let p = profile("abc");
        assert!(matches!(
            creds.get(Keeper::Keychain, &p),
            Err(CredentialError::Missing { .. })
        ));
        creds
            .set(Keeper::Keychain, &p, &Secret::new("hunter2"))
            .unwrap();
        assert_eq!(creds.get(Keeper::Keychain, &p).unwrap().expose(), "hunter2");
        assert_eq!(creds.get(Keeper::Keychain, &profile("other")).ok(), None);
        assert!(creds.delete(Keeper::Keychain, &p).unwrap());
        assert!(!creds.delete(Keeper::Keychain, &p).unwrap());
        assert!(creds.keychain_status().unwrap().contains("Mock"));
    }

    #[test]
    fn missing_stores_say_what_to_do() {
        let creds = Credentials::with_stores(None, None);
        let p = profile("abc");
        let err = creds
            .set(Keeper::Keychain, &p, &Secret::new("x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no persistent keychain") && err.contains("--session-only"),
            "{err}"
        );
        let err = creds.get(Keeper::Session, &p).unwrap_err().to_string();
        assert!(err.contains("keyctl session -"), "{err}");
    }

    #[test]
    fn store_failures_are_classified() {
        let err = classify(
            Keeper::Session,
            KeyringError::NoStorageAccess("Permission denied".into()),
        );
        assert!(matches!(err, CredentialError::NoSessionKeyring { .. }));
        let err = classify(
            Keeper::Keychain,
            KeyringError::NoStorageAccess("locked".into()),
        );
        assert!(err.to_string().contains("Unlock"), "{err}");
    }
}

/// The real kernel keyring. A process inherits a session keyring it may not be allowed to
/// write (headless root: `NoStorageAccess(AccessDenied)`), so the test first joins a fresh
/// anonymous session keyring, exactly what `keyctl session -` (package keyutils) does, for
/// this thread and the processes it starts.
///
/// Skipping: some sandboxes (containers with a seccomp profile) refuse the keyctl system
/// call altogether; then the test skips, unless RETORT_REQUIRE_ALEMBIC=1 *and* the `keyctl`
/// program is installed (scripts/lib/setup.sh installs it): on such a machine the kernel
/// keyring is expected to work, so a refusal is a failure, not a skip.
#[cfg(all(test, target_os = "linux"))]
pub(crate) mod keyutils_tests {
    use super::*;
    use crate::store::Driver;

    /// Joins a new anonymous session keyring; `false` when the kernel refuses.
    pub fn join_fresh_session_keyring() -> bool {
        const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
        // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) takes no memory from us.
        let id = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            )
        };
        id >= 0
    }

    pub fn keyutils_required() -> bool {
        std::env::var("RETORT_REQUIRE_ALEMBIC").as_deref() == Ok("1")
            && std::process::Command::new("keyctl")
                .arg("--version")
                .output()
                .is_ok()
    }

    #[test]
    fn the_kernel_session_keyring_keeps_a_password() {
        if !join_fresh_session_keyring() {
            assert!(
                !keyutils_required(),
                "keyctl is installed but the kernel refused a session keyring"
            );
            eprintln!("kernel keyring not available here: skipped");
            return;
        }
        let creds = Credentials::system();
        let mut p = ConnectionProfile::new("s", Driver::Postgresql);
        p.credential_key = format!("test-{}", std::process::id());
        creds
            .set(Keeper::Session, &p, &Secret::new("kernel-kept"))
            .unwrap();
        assert_eq!(
            creds.get(Keeper::Session, &p).unwrap().expose(),
            "kernel-kept"
        );
        assert!(creds.delete(Keeper::Session, &p).unwrap());
        assert!(matches!(
            creds.get(Keeper::Session, &p),
            Err(CredentialError::Missing { .. })
        ));
    }
}
