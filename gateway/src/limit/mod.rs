//! Rate limiting and load shedding of proxied requests.
//!
//! - **Rate limits** ([`config::Quotas`]): a GCRA quota per route [`Class`] and per key —
//!   the user for an authenticated request, else the client address ([`client`]). Each class
//!   has its own keyed `governor` limiter, so logins cannot eat the reading budget. A refused
//!   request gets 429 with `Retry-After`. Limiter state is one small entry per active key;
//!   entries that have refilled are dropped now and then ([`HOUSEKEEPING_EVERY`] checks), so
//!   clients rotating addresses cannot grow it without bound.
//! - **Load shedding** ([`LimitConfig::max_in_flight`]): at most that many proxied requests
//!   wait on services at once; beyond it the gateway answers 503 with `Retry-After` at once,
//!   rather than queueing without bound while every caller times out.

pub mod client;
pub mod config;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use contract::{AuthLevel, ErrorCode, HttpMethod, ServiceError};
use governor::DefaultKeyedRateLimiter;
use governor::RateLimiter;
use governor::clock::Clock;
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::table::Route;

pub use config::{LimitConfigError, Quotas};

/// Default of [`LimitConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1024;

/// Checks between two sweeps of refilled limiter entries.
pub const HOUSEKEEPING_EVERY: u64 = 4096;

/// The rate-limit and shedding settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConfig {
    /// A quota per route class.
    pub rates: Quotas,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Proxied requests in flight at once.
    pub max_in_flight: u32,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            rates: Quotas::OFF,
            trusted_proxies: Vec::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// What a route is limited as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A public write route of the auth service (register, login, refresh): the target of
    /// credential stuffing, and each call costs a password hash.
    Auth,
    /// Any other POST, PUT, PATCH or DELETE.
    Write,
    /// Everything else.
    Read,
}

impl Class {
    /// The class of `route`.
    pub fn of(route: &Route) -> Self {
        let write = route.method != HttpMethod::Get;
        if write && route.auth == AuthLevel::Public && route.service == contract::deploy::AUTH {
            Self::Auth
        } else if write {
            Self::Write
        } else {
            Self::Read
        }
    }
}

/// Who a quota is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An authenticated user.
    User(String),
    /// An anonymous client, by address.
    Addr(IpAddr),
}

/// The limiters and the in-flight budget, shared by every request.
#[derive(Debug)]
pub struct Guard {
    auth: Option<DefaultKeyedRateLimiter<Key>>,
    write: Option<DefaultKeyedRateLimiter<Key>>,
    read: Option<DefaultKeyedRateLimiter<Key>>,
    in_flight: Arc<Semaphore>,
    checks: AtomicU64,
}

impl Guard {
    /// Limiters for `config`.
    pub fn new(config: &LimitConfig) -> Self {
        let limiter = |class| config.rates.of(class).map(RateLimiter::keyed);
        Self {
            auth: limiter(Class::Auth),
            write: limiter(Class::Write),
            read: limiter(Class::Read),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight as usize)),
            checks: AtomicU64::new(0),
        }
    }

    /// A slot among the requests in flight, held until the reply; 503 when none is free.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.in_flight.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                ErrorCode::Unavailable,
                "the gateway is at capacity; retry shortly",
            )
            .with_retry_after(1)
        })
    }

    /// Counts one request of `class` against its authenticated `user`, else its client
    /// `addr` (a request with neither is not limited).
    pub fn check_caller(
        &self,
        class: Class,
        user: Option<&str>,
        addr: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        let key = match (user, addr) {
            (Some(user), _) => Key::User(user.to_owned()),
            (None, Some(addr)) => Key::Addr(addr),
            (None, None) => return Ok(()),
        };
        self.check(class, &key)
    }

    /// Counts one request of `class` against `key`; 429 with `Retry-After` over the quota.
    pub fn check(&self, class: Class, key: &Key) -> Result<(), ApiError> {
        let limiter = match class {
            Class::Auth => &self.auth,
            Class::Write => &self.write,
            Class::Read => &self.read,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(HOUSEKEEPING_EVERY)
        {
            self.sweep();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            ApiError(ServiceError::rate_limited(
                "too many requests; retry later",
                retry_after_secs(wait),
            ))
        })
    }

    /// Drops the entries of keys whose quota has refilled (they behave like new keys).
    fn sweep(&self) {
        for limiter in [&self.auth, &self.write, &self.read].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Whole seconds to wait, rounded up, at least 1 (`Retry-After` has no fractions).
fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
