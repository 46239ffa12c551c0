//! The revocation list: users whose access tokens are refused before they expire (deleted
//! accounts), polled from the auth service over NATS (`auth.revoked`).
//!
//! The gateway verifies access tokens without asking the auth service, so a deleted account's
//! tokens would otherwise work until they expire (one access-token lifetime, 15 minutes by
//! default). The auth service lists each deleted account for that lifetime; the gateway
//! fetches the list every [`RevokedConfig::interval`] and refuses a listed subject with 401
//! "token revoked", tokens it verified and cached earlier included. So a deleted account's
//! tokens stop working within one interval (and one fetch) of the deletion.
//!
//! A failed fetch keeps the last list: a revocation is never forgotten early because the auth
//! service was briefly unreachable. An entry stops counting once its `until` has passed, when
//! every token it was for has expired anyway.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use contract::auth::{GetRevoked, RevokedUsers};
use contract::{Envelope, Operation};
use runtime::{CallOptions, Requester};
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

/// How often the list is fetched by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Timing of the poll.
#[derive(Debug, Clone, Copy)]
pub struct RevokedConfig {
    /// Time between two fetches: how long a deleted account's tokens may still work.
    pub interval: Duration,
    /// Deadline of one fetch.
    pub timeout: Duration,
}

impl Default for RevokedConfig {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            timeout: Duration::from_secs(2),
        }
    }
}

/// The revoked subjects, each with the time (Unix seconds) its revocation lapses. Cheap to
/// clone; clones share the list.
#[derive(Debug, Clone, Default)]
pub struct Revoked {
    subjects: Arc<ArcSwap<HashMap<String, i64>>>,
}

impl Revoked {
    /// Whether tokens of `sub` are refused at `now` (Unix seconds).
    pub fn contains(&self, sub: &str, now: i64) -> bool {
        self.subjects
            .load()
            .get(sub)
            .is_some_and(|until| *until > now)
    }

    /// Replaces the list with `fetched`.
    pub fn replace(&self, fetched: RevokedUsers) {
        let subjects = fetched
            .users
            .into_iter()
            .map(|u| (u.sub, u.until))
            .collect();
        self.subjects.store(Arc::new(subjects));
    }

    /// How many subjects are listed.
    pub fn len(&self) -> usize {
        self.subjects.load().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fetches the list into `revoked` at once and then every `config.interval`, until
/// `shutdown` resolves.
pub async fn run(
    requester: Requester,
    revoked: Revoked,
    config: RevokedConfig,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(config.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    // Logged on a change only: a poll every few seconds must not repeat one warning forever.
    let mut failing = false;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        let fetched = requester
            .call::<GetRevoked>(&Envelope::default(), CallOptions::timeout(config.timeout))
            .await;
        match fetched {
            Ok(list) => {
                if failing {
                    info!(revoked = list.users.len(), "revocation list fetched again");
                }
                failing = false;
                revoked.replace(list);
            }
            Err(e) if !failing => {
                warn!(error = %e, subject = %GetRevoked::subject(), "cannot fetch the revocation list; keeping the last one");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use contract::auth::RevokedUser;

    use super::*;

    #[test]
    fn a_listed_subject_is_refused_until_its_revocation_lapses() {
        let revoked = Revoked::default();
        assert!(!revoked.contains("u1", 100));
        revoked.replace(RevokedUsers {
            users: vec![RevokedUser {
                sub: "u1".into(),
                until: 200,
            }],
        });
        assert!(revoked.contains("u1", 100));
        assert!(!revoked.contains("u1", 200), "lapsed");
        assert!(!revoked.contains("u2", 100));
        assert_eq!(revoked.len(), 1);
    }
}
