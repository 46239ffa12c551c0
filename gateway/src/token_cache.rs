//! Access tokens already verified, remembered until they expire.
//!
//! A client sends the same access token with every request for its whole lifetime (15 minutes
//! by default), and an Ed25519 signature check is the largest single cost of the gateway hop
//! (figures in `docs/bench.md`). With this cache a token costs one verification, then a
//! hash-map lookup.
//!
//! A cached result is used only while it is still what verification would say:
//! - the token has not expired (with the verifier's leeway), checked on every hit;
//! - the key that signed it is still in the gateway's JWKS (once a refresh drops a withdrawn
//!   key, its tokens stop on their next request).
//!
//! Entries are keyed by the whole token, never a short hash of it, so no token can pass as
//! another. The cache is bounded: when full, expired entries are dropped first, and if none
//! is expired everything is; so a flood of distinct valid tokens costs verifications, never
//! memory.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use contract::Caller;

struct Entry {
    caller: Caller,
    kid: Box<str>,
    exp: i64,
}

/// The cache. `capacity` 0 turns it off.
pub struct TokenCache {
    capacity: usize,
    leeway: i64,
    entries: Mutex<HashMap<Box<str>, Entry>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl TokenCache {
    /// A cache of up to `capacity` tokens, honouring `exp` with `leeway` as the verifier does.
    pub fn new(capacity: usize, leeway: Duration) -> Self {
        Self {
            capacity,
            leeway: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX),
            entries: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Entry>> {
        // Single inserts and removes cannot leave the map half-updated: a poisoned lock is fine.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The caller of `token` if it was verified before, has not expired at `now` (Unix
    /// seconds) and its key is still `key_known`.
    pub fn get(&self, token: &str, now: i64, key_known: impl Fn(&str) -> bool) -> Option<Caller> {
        if self.capacity == 0 {
            return None;
        }
        let mut entries = self.entries();
        let entry = entries.get(token)?;
        if now > entry.exp.saturating_add(self.leeway) || !key_known(&entry.kid) {
            entries.remove(token);
            return None;
        }
        Some(entry.caller.clone())
    }

    /// Remembers that `token`, signed with key `kid` and expiring at `exp`, names `caller`.
    pub fn insert(&self, token: &str, caller: Caller, kid: &str, exp: i64, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            let leeway = self.leeway;
            entries.retain(|_, e| now <= e.exp.saturating_add(leeway));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            token.into(),
            Entry {
                caller,
                kid: kid.into(),
                exp,
            },
        );
    }

    /// Tokens remembered now.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(id: &str) -> Caller {
        Caller {
            user_id: id.to_owned(),
            roles: vec!["user".to_owned()],
        }
    }

    const LEEWAY: Duration = Duration::from_secs(30);

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let cache = TokenCache::new(8, LEEWAY);
        assert!(cache.get("t1", 100, |_| true).is_none());
        cache.insert("t1", caller("u1"), "k1", 1_000, 100);
        assert_eq!(cache.get("t1", 500, |_| true).unwrap().user_id, "u1");
        // Within the leeway after `exp`, as the verifier accepts it…
        assert!(cache.get("t1", 1_030, |_| true).is_some());
        // …and not a second later; the entry is gone.
        assert!(cache.get("t1", 1_031, |_| true).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn a_withdrawn_key_stops_its_tokens() {
        let cache = TokenCache::new(8, LEEWAY);
        cache.insert("t1", caller("u1"), "old", 1_000, 100);
        cache.insert("t2", caller("u2"), "new", 1_000, 100);
        let known = |kid: &str| kid == "new";
        assert!(cache.get("t1", 200, known).is_none());
        assert_eq!(cache.get("t2", 200, known).unwrap().user_id, "u2");
    }

    #[test]
    fn only_the_exact_token_matches() {
        let cache = TokenCache::new(8, LEEWAY);
        cache.insert("header.payload.sig", caller("u1"), "k", 1_000, 100);
        assert!(cache.get("header.payload.sIg", 200, |_| true).is_none());
        assert!(cache.get("header.payload.sig ", 200, |_| true).is_none());
        assert!(cache.get("header.payload", 200, |_| true).is_none());
    }

    #[test]
    fn it_stays_within_capacity() {
        let cache = TokenCache::new(4, LEEWAY);
        for i in 0..4 {
            cache.insert(&format!("expired{i}"), caller("x"), "k", 50, 10);
        }
        // Full of expired entries: they make room.
        cache.insert("fresh", caller("u"), "k", 1_000, 100);
        assert_eq!(cache.len(), 1);
        for i in 0..10 {
            cache.insert(&format!("t{i}"), caller("u"), "k", 1_000, 100);
            assert!(cache.len() <= 4);
        }
        assert!(cache.get("t9", 100, |_| true).is_some());
    }

    #[test]
    fn capacity_zero_turns_it_off() {
        let cache = TokenCache::new(0, LEEWAY);
        cache.insert("t1", caller("u1"), "k", 1_000, 100);
        assert!(cache.get("t1", 200, |_| true).is_none());
        assert!(cache.is_empty());
    }
}
