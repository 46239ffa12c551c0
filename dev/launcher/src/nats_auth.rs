//! NATS users for a local system, as a cluster has them: one per component, each with the
//! permissions the operator renders ([`contract::nats_users`]), a random password per start,
//! and no anonymous access. nats-server reads them from `nats.conf` (`0600`) in the data
//! directory; each component gets `NATS_USER`, `NATS_PASSWORD` and its own
//! `NATS_INBOX_PREFIX`.
//!
//! The same `nats.conf` runs JetStream, as every stack does, storing streams in `jetstream/`
//! of the data directory ([`write_config`]), with or without users.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contract::deploy::env;
use contract::nats_users::{authorization, inbox_prefix, permissions};
use rand::RngCore as _;

use crate::error::LaunchError;
use crate::files;

/// The users of one start: a password per component.
#[derive(Debug, Clone, Default)]
pub(crate) struct NatsUsers {
    passwords: BTreeMap<&'static str, String>,
}

impl NatsUsers {
    /// A user with a fresh password for the gateway and each of `services`.
    pub fn new(services: &[&'static str]) -> Self {
        let passwords = std::iter::once(contract::deploy::GATEWAY)
            .chain(services.iter().copied())
            .map(|user| {
                let mut bytes = [0u8; 24];
                rand::thread_rng().fill_bytes(&mut bytes);
                let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                (user, password)
            })
            .collect();
        Self { passwords }
    }

    /// The `authorization` block: the users and their permissions.
    fn authorization(&self) -> String {
        let services: Vec<&str> = self
            .passwords
            .keys()
            .copied()
            .filter(|u| *u != contract::deploy::GATEWAY)
            .collect();
        authorization(
            self.passwords
                .iter()
                .map(|(user, password)| (*user, password.as_str(), permissions(user, &services))),
        )
    }

    /// The variables that connect `component` as its user (none for a component without one).
    pub fn env_of(&self, component: &str) -> Vec<(String, String)> {
        self.passwords
            .get(component)
            .map(|password| {
                vec![
                    (env::NATS_USER.to_owned(), component.to_owned()),
                    (env::NATS_PASSWORD.to_owned(), password.clone()),
                    (env::NATS_INBOX_PREFIX.to_owned(), inbox_prefix(component)),
                ]
            })
            .unwrap_or_default()
    }
}

/// Writes nats-server's config to `dir/nats.conf`, readable by its owner only, and returns its
/// path: JetStream with its store in `dir/jetstream` (kept across starts, as a volume keeps
/// a cluster's), and `users` when NATS auth is on.
pub(crate) fn write_config(dir: &Path, users: Option<&NatsUsers>) -> Result<PathBuf, LaunchError> {
    let store = dir.join("jetstream");
    let mut conf = format!(
        "jetstream {{\n  store_dir: {}\n}}\n",
        contract::nats_users::quote(&store.to_string_lossy())
    );
    if let Some(users) = users {
        conf.push_str(&users.authorization());
    }
    let path = dir.join("nats.conf");
    // Written afresh each start: the passwords change with it.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(LaunchError::io(format!(
                "cannot replace {}",
                path.display()
            ))(e));
        }
        _ => {}
    }
    files::write_private(&path, conf.as_bytes())?;
    Ok(path)
}
