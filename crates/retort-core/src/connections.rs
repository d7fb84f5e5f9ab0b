//! Saved connections as the CLI and the app both use them: saving a profile with where its
//! password goes (nothing left half-saved when the keeper refuses it), removing one with its
//! password, and the password to connect with. Above the store and the credentials: the
//! profile is the store's, the password the keeper's, and these rules keep the two in step.
//!
//! The keepers block (a D-Bus call, a kernel keyring), so every call to them runs on a
//! blocking thread.

use crate::credentials::command::{self, CommandError};
use crate::credentials::{CredentialError, Credentials, Keeper};
use crate::database::{DatabaseUrl, Refresh, Secret, Via};
use crate::store::{ConnectionProfile, Driver, PasswordStorage, Store, StoreError};
use crate::tunnel::{self, Tunnel, TunnelError};
use std::sync::Arc;
use std::time::Duration;

/// Where a saved connection's password goes.
#[derive(Debug)]
pub enum PasswordPlan {
    /// As it was (an edit); a new connection keeps none.
    Unchanged,
    /// The connection needs no password; a kept one is deleted.
    None,
    /// Asked for on every use; a kept one is deleted.
    Ask,
    /// Printed by `command` when needed (fetched again after `lifetime` seconds); a kept one
    /// is deleted.
    Command {
        command: String,
        lifetime: Option<u32>,
    },
    /// Kept by `keeper`: `secret`, or without one the password already kept (moved from the
    /// other keeper when it was kept there).
    Kept {
        keeper: Keeper,
        secret: Option<Secret>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// [`PasswordPlan::Kept`] without a secret, and no password kept to keep.
    #[error("connection '{connection}' has no password kept to keep: give the password")]
    NoPasswordToKeep { connection: String },
    /// The profile asks for its password on every use, and none was given.
    #[error("connection '{connection}' asks for its password on every use")]
    PasswordNeeded { connection: String },
    #[error("connection '{connection}': {error}")]
    PasswordCommand {
        connection: String,
        error: CommandError,
    },
    #[error("connection '{connection}': {error}")]
    Tunnel {
        connection: String,
        error: TunnelError,
    },
    #[error("a worker thread failed: {0}")]
    Worker(String),
}

/// A saved profile, and what went wrong after it was saved without undoing it.
#[derive(Debug)]
pub struct Saved {
    pub profile: ConnectionProfile,
    /// The old keeper's copy, no longer used, could not be deleted.
    pub warning: Option<String>,
}

async fn blocking<T: Send + 'static>(
    credentials: &Arc<Credentials>,
    work: impl FnOnce(&Credentials) -> T + Send + 'static,
) -> Result<T, ConnectionError> {
    let credentials = Arc::clone(credentials);
    tokio::task::spawn_blocking(move || work(&credentials))
        .await
        .map_err(|e| ConnectionError::Worker(e.to_string()))
}

/// Saves `profile` — a new one when `old` is `None`, else as the edit of `old` — and its
/// password as `plan` says. The chosen keeper is checked before anything is written; if it
/// then refuses the password, the profile is put back as it was.
pub async fn save(
    store: &Store,
    credentials: &Arc<Credentials>,
    old: Option<ConnectionProfile>,
    mut profile: ConnectionProfile,
    plan: PasswordPlan,
) -> Result<Saved, ConnectionError> {
    let old_keeper = old.as_ref().and_then(|o| Keeper::of(o.password_storage));
    // What to write to which keeper once the profile is saved.
    let mut write: Option<(Keeper, Secret)> = None;
    match plan {
        PasswordPlan::Unchanged => {
            profile.password_storage = old
                .as_ref()
                .map_or(PasswordStorage::None, |o| o.password_storage);
            if let Some(old) = &old {
                profile.password_command = old.password_command.clone();
                profile.password_lifetime = old.password_lifetime;
            }
        }
        PasswordPlan::None => profile.password_storage = PasswordStorage::None,
        PasswordPlan::Ask => profile.password_storage = PasswordStorage::Ask,
        PasswordPlan::Command { command, lifetime } => {
            profile.password_storage = PasswordStorage::Command;
            profile.password_command = Some(command);
            profile.password_lifetime = lifetime;
        }
        PasswordPlan::Kept { keeper, secret } => {
            if keeper == Keeper::Keychain {
                blocking(credentials, |c| c.keychain_status()).await??;
            }
            let secret = match (secret, old_keeper, &old) {
                (Some(secret), _, _) => Some(secret),
                (None, Some(kept), _) if kept == keeper => None,
                (None, Some(kept), Some(old)) => {
                    let old = old.clone();
                    Some(blocking(credentials, move |c| c.get(kept, &old)).await??)
                }
                (None, _, _) => {
                    return Err(ConnectionError::NoPasswordToKeep {
                        connection: profile.name.clone(),
                    });
                }
            };
            profile.password_storage = keeper.into();
            write = secret.map(|s| (keeper, s));
        }
    }
    let saved = match &old {
        Some(_) => store.update_connection(profile).await?,
        None => store.add_connection(profile).await?,
    };
    if let Some((keeper, secret)) = write {
        let target = saved.clone();
        let written = blocking(credentials, move |c| c.set(keeper, &target, &secret)).await?;
        if let Err(e) = written {
            // Nothing half-saved: the profile goes back to what it was.
            match &old {
                Some(old) => {
                    let _ = store.update_connection(old.clone()).await;
                }
                None => {
                    let _ = store.remove_connection(&saved.name).await;
                }
            }
            return Err(e.into());
        }
    }
    let mut warning = None;
    if let (Some(kept), Some(old)) = (old_keeper, old)
        && Keeper::of(saved.password_storage) != Some(kept)
    {
        let deleted = blocking(credentials, move |c| c.delete(kept, &old)).await?;
        if let Err(e) = deleted {
            warning = Some(format!("the old password could not be deleted: {e}"));
        }
    }
    Ok(Saved {
        profile: saved,
        warning,
    })
}

/// Removes the connection `name` and its kept password. `Ok((profile, warning))`: the
/// warning says why the password could not be deleted (the profile is gone all the same).
pub async fn remove(
    store: &Store,
    credentials: &Arc<Credentials>,
    name: &str,
) -> Result<(ConnectionProfile, Option<String>), ConnectionError> {
    let removed = store.remove_connection(name).await?;
    let mut warning = None;
    if let Some(keeper) = Keeper::of(removed.password_storage) {
        let target = removed.clone();
        match blocking(credentials, move |c| c.delete(keeper, &target)).await? {
            Ok(_) | Err(CredentialError::Missing { .. }) => {}
            Err(e) => warning = Some(format!("its password could not be deleted: {e}")),
        }
    }
    Ok((removed, warning))
}

/// The password to connect with: `given` if any, else the kept one, or the one the profile's
/// command prints; `None` when the profile needs none; [`ConnectionError::PasswordNeeded`]
/// when it is asked for on every use and none was given. Blocks (the keeper, the command):
/// call it off the async runtime, or use [`resolve`].
pub fn password(
    credentials: &Credentials,
    profile: &ConnectionProfile,
    given: Option<Secret>,
) -> Result<Option<Secret>, ConnectionError> {
    if given.is_some() {
        return Ok(given);
    }
    match profile.password_storage {
        PasswordStorage::None => Ok(None),
        PasswordStorage::Ask => Err(ConnectionError::PasswordNeeded {
            connection: profile.name.clone(),
        }),
        PasswordStorage::Command => {
            let text = profile.password_command.clone().unwrap_or_default();
            command::fetch(&text, command::TIMEOUT)
                .map(Some)
                .map_err(|error| ConnectionError::PasswordCommand {
                    connection: profile.name.clone(),
                    error,
                })
        }
        PasswordStorage::Keychain | PasswordStorage::Session => {
            let keeper = Keeper::of(profile.password_storage).expect("a kept password");
            Ok(Some(credentials.get(keeper, profile)?))
        }
    }
}

/// A saved connection ready to connect to: the URL carries its password (one from a command
/// is fetched again when it expires) and, behind a bastion, the tunnel's local end; the
/// tunnel stays open while this lives, so keep it for the whole operation.
#[derive(Debug)]
pub struct Reached {
    pub profile: ConnectionProfile,
    pub url: DatabaseUrl,
    pub tunnel: Option<Tunnel>,
}

/// How long each SSH connection of a tunnel may take to answer.
pub const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// [`password`], then the profile's URL, then its tunnel if it has an SSH route. A password
/// given for this use is not fetched again. Blocks: call it off the async runtime, or use
/// [`resolve`].
pub fn reach(
    credentials: &Credentials,
    profile: ConnectionProfile,
    given: Option<Secret>,
) -> Result<Reached, ConnectionError> {
    let was_given = given.is_some();
    let secret = password(credentials, &profile, given)?;
    let mut url = profile.to_url(secret.clone())?;
    if let (PasswordStorage::Command, Some(first), false) =
        (profile.password_storage, secret, was_given)
    {
        let text = profile.password_command.clone().unwrap_or_default();
        let lifetime = profile
            .password_lifetime
            .map_or(command::DEFAULT_LIFETIME, |s| Duration::from_secs(s.into()));
        url.refresh = Some(Refresh::new(first, lifetime, move || {
            command::fetch(&text, command::TIMEOUT).map_err(|e| e.to_string())
        }));
    }
    let tunnel = match &profile.ssh {
        None => None,
        Some(route) => {
            let tunnel = open_tunnel(&profile, route, url.port)?;
            url.via = Some(Via::new(tunnel.local, route.describe(), tunnel.diagnosis()));
            Some(tunnel)
        }
    };
    Ok(Reached {
        profile,
        url,
        tunnel,
    })
}

/// The saved connection `name`, reached ([`reach`]): its password from `given`, its keeper
/// or its command, through its SSH route if it has one.
pub async fn resolve(
    store: &Store,
    credentials: &Arc<Credentials>,
    name: &str,
    given: Option<Secret>,
) -> Result<Reached, ConnectionError> {
    let profile = store.connection(name).await?;
    blocking(credentials, move |c| reach(c, profile, given)).await?
}

/// `profile`'s tunnel to its database's host and port as the bastion sees them (`port`, else
/// the driver's default).
fn open_tunnel(
    profile: &ConnectionProfile,
    route: &tunnel::SshRoute,
    port: Option<u16>,
) -> Result<Tunnel, ConnectionError> {
    let host = profile.host.clone().unwrap_or_else(|| "localhost".into());
    let port = port.unwrap_or(match profile.driver {
        Driver::Mysql => 3306,
        _ => 5432,
    });
    tunnel::open(route, &host, port, SSH_CONNECT_TIMEOUT).map_err(|error| ConnectionError::Tunnel {
        connection: profile.name.clone(),
        error,
    })
}

fn route_of(profile: &ConnectionProfile) -> Result<tunnel::SshRoute, ConnectionError> {
    profile.ssh.clone().ok_or_else(|| ConnectionError::Tunnel {
        connection: profile.name.clone(),
        error: TunnelError::Failed {
            route: String::new(),
            detail: "the connection has no SSH route".into(),
        },
    })
}

/// PostgreSQL's SSLRequest: a server answers it with one byte ('S' or 'N') before any login.
const POSTGRES_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// What "Test SSH only" found: what the hops said, and where the database server answered.
#[derive(Debug, Clone)]
pub struct RouteCheck {
    pub ssh: tunnel::SshReport,
    /// The database's `host:port` as the bastion reaches it.
    pub target: String,
}

/// "Test SSH only": `profile`'s SSH route opened and one exchange with its database server
/// through it (PostgreSQL answers an SSLRequest, MySQL greets first), without a password or
/// a login.
pub async fn test_route(profile: ConnectionProfile) -> Result<RouteCheck, ConnectionError> {
    let route = route_of(&profile)?;
    tokio::task::spawn_blocking(move || {
        let tunnel = open_tunnel(&profile, &route, profile.port)?;
        let hello: &[u8] = match profile.driver {
            Driver::Postgresql => &POSTGRES_SSL_REQUEST,
            _ => &[],
        };
        tunnel
            .probe(hello, SSH_CONNECT_TIMEOUT)
            .map_err(|error| ConnectionError::Tunnel {
                connection: profile.name.clone(),
                error,
            })?;
        Ok(RouteCheck {
            ssh: tunnel.report.clone(),
            target: tunnel.target().to_string(),
        })
    })
    .await
    .map_err(|e| ConnectionError::Worker(e.to_string()))?
}

/// Trusts the host key `fingerprint` of the hop `host` of the saved connection `name`'s SSH
/// route ([`tunnel::trust_host_key`]); gives the known_hosts file it was added to.
pub async fn trust_host_key(
    store: &Store,
    name: &str,
    host: &str,
    fingerprint: &str,
) -> Result<std::path::PathBuf, ConnectionError> {
    trust_route_host_key(store.connection(name).await?, host, fingerprint).await
}

/// [`trust_host_key`] for a connection not saved yet (the form's "Test SSH only").
pub async fn trust_route_host_key(
    profile: ConnectionProfile,
    host: &str,
    fingerprint: &str,
) -> Result<std::path::PathBuf, ConnectionError> {
    let route = route_of(&profile)?;
    let (host, fingerprint) = (host.to_string(), fingerprint.to_string());
    tokio::task::spawn_blocking(move || {
        tunnel::trust_host_key(&route, &host, &fingerprint, SSH_CONNECT_TIMEOUT)
    })
    .await
    .map_err(|e| ConnectionError::Worker(e.to_string()))?
    .map_err(|error| ConnectionError::Tunnel {
        connection: profile.name,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring_core::mock;

    fn credentials(keychain: bool) -> Arc<Credentials> {
        let store = || -> Arc<keyring_core::CredentialStore> { mock::Store::new().unwrap() };
        Arc::new(Credentials::with_stores(
            keychain.then(store),
            Some(store()),
        ))
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("retort.db")).await.unwrap();
        (dir, store)
    }

    fn pg(name: &str) -> ConnectionProfile {
        let mut p = ConnectionProfile::new(name, Driver::Postgresql);
        p.host = Some("db.example".into());
        p.user = Some("app".into());
        p.database = Some("shop".into());
        p
    }

    fn kept(keeper: Keeper, secret: &str) -> PasswordPlan {
        PasswordPlan::Kept {
            keeper,
            secret: Some(Secret::new(secret.to_string())),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_saved_password_is_kept_by_its_keeper_and_resolved() {
        let (_d, store) = store().await;
        let creds = credentials(true);
        let saved = save(
            &store,
            &creds,
            None,
            pg("shop"),
            kept(Keeper::Keychain, "s3"),
        )
        .await
        .unwrap();
        assert_eq!(saved.profile.password_storage, PasswordStorage::Keychain);
        let url = resolve(&store, &creds, "shop", None).await.unwrap().url;
        assert_eq!(
            url.password.as_ref().map(|p| p.expose().to_string()),
            Some("s3".into())
        );
        // A password given for this use wins over the kept one.
        let given = Some(Secret::new("other".to_string()));
        let url = resolve(&store, &creds, "shop", given).await.unwrap().url;
        assert_eq!(
            url.password.as_ref().map(|p| p.expose().to_string()),
            Some("other".into())
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_refused_keeper_leaves_nothing_saved() {
        let (_d, store) = store().await;
        // No keychain here: refused before the profile is written.
        let creds = credentials(false);
        let err = save(
            &store,
            &creds,
            None,
            pg("shop"),
            kept(Keeper::Keychain, "s3"),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ConnectionError::Credential(_)), "{err}");
        assert!(store.connections().await.unwrap().is_empty());
        // Kept without a password, and there is none to keep.
        let plan = PasswordPlan::Kept {
            keeper: Keeper::Session,
            secret: None,
        };
        let err = save(&store, &creds, None, pg("shop"), plan)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectionError::NoPasswordToKeep { .. }),
            "{err}"
        );
        assert!(store.connections().await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn moving_the_password_to_another_keeper_deletes_the_old_copy() {
        let (_d, store) = store().await;
        let creds = credentials(true);
        let first = save(
            &store,
            &creds,
            None,
            pg("shop"),
            kept(Keeper::Keychain, "s3"),
        )
        .await
        .unwrap()
        .profile;
        let plan = PasswordPlan::Kept {
            keeper: Keeper::Session,
            secret: None,
        };
        let moved = save(&store, &creds, Some(first.clone()), first.clone(), plan)
            .await
            .unwrap();
        assert_eq!(moved.warning, None);
        assert_eq!(moved.profile.password_storage, PasswordStorage::Session);
        assert_eq!(
            creds.get(Keeper::Session, &moved.profile).unwrap().expose(),
            "s3"
        );
        assert!(matches!(
            creds.get(Keeper::Keychain, &first),
            Err(CredentialError::Missing { .. })
        ));
        // Ask every time: no copy is kept anywhere, and a use without one is refused.
        let asked = save(
            &store,
            &creds,
            Some(moved.profile.clone()),
            moved.profile,
            PasswordPlan::Ask,
        )
        .await
        .unwrap()
        .profile;
        assert!(matches!(
            creds.get(Keeper::Session, &asked),
            Err(CredentialError::Missing { .. })
        ));
        let err = resolve(&store, &creds, "shop", None).await.unwrap_err();
        assert!(
            matches!(err, ConnectionError::PasswordNeeded { .. }),
            "{err}"
        );
        let (removed, warning) = remove(&store, &creds, "shop").await.unwrap();
        assert_eq!((removed.name.as_str(), warning), ("shop", None));
        assert!(store.connections().await.unwrap().is_empty());
    }
}
