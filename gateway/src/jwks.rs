//! The JWKS cache: the auth service's public keys, fetched over NATS (`auth.jwks`).
//!
//! Keys are looked up by `kid`. An unknown `kid` triggers a refetch, because the auth service
//! may have rotated its key; refetches are single-flight (concurrent requests with the new
//! `kid` wait for one fetch) and throttled (at most one per `min_interval`), so a flood of
//! tokens with made-up `kid`s cannot turn into a flood of calls. Keys older than `max_age`
//! are refreshed in the background, so a key the auth service withdrew stops being accepted.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use contract::auth::{GetJwks, Jwks};
use contract::{Envelope, Operation};
use runtime::{CallOptions, Requester};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::metrics::GatewayMetrics;

/// Why no keys could be had.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The auth service could not be reached and nothing is cached.
    #[error("the auth service's keys are unavailable: {0}")]
    Unavailable(#[source] runtime::CallError),
}

/// Timing of the cache.
#[derive(Debug, Clone, Copy)]
pub struct JwksConfig {
    /// Least time between two fetches triggered by unknown `kid`s.
    pub min_interval: Duration,
    /// Age after which keys are refreshed in the background.
    pub max_age: Duration,
    /// Deadline of one fetch.
    pub timeout: Duration,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(1),
            max_age: Duration::from_secs(300),
            timeout: Duration::from_secs(2),
        }
    }
}

struct Cached {
    jwks: Arc<Jwks>,
    fetched: Option<Instant>,
}

struct Inner {
    requester: Requester,
    config: JwksConfig,
    current: ArcSwap<Cached>,
    /// Held for the duration of a fetch; remembers when the last one started.
    fetching: Mutex<Option<Instant>>,
    metrics: GatewayMetrics,
}

/// The cache. Cheap to clone; clones share the keys.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("keys", &self.inner.current.load().jwks.keys.len())
            .finish()
    }
}

impl JwksCache {
    /// An empty cache that fetches through `requester`.
    pub fn new(requester: Requester, config: JwksConfig, metrics: GatewayMetrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                requester,
                config,
                current: ArcSwap::from_pointee(Cached {
                    jwks: Arc::default(),
                    fetched: None,
                }),
                fetching: Mutex::new(None),
                metrics,
            }),
        }
    }

    /// Keys that should contain `kid`: the cached set when it does, otherwise the result of
    /// a refetch (or the cached set again when a refetch is throttled or fails).
    pub async fn keys_for(&self, kid: &str) -> Result<Arc<Jwks>, JwksError> {
        let cached = self.inner.current.load_full();
        if cached.jwks.find(kid).is_some() {
            if cached
                .fetched
                .is_some_and(|at| at.elapsed() > self.inner.config.max_age)
            {
                self.refresh_in_background();
            }
            return Ok(cached.jwks.clone());
        }
        let mut last = self.inner.fetching.lock().await;
        // Someone else may have fetched while we waited for the lock.
        let cached = self.inner.current.load_full();
        if cached.jwks.find(kid).is_some() {
            return Ok(cached.jwks.clone());
        }
        if last.is_some_and(|at| at.elapsed() < self.inner.config.min_interval) {
            return Ok(cached.jwks.clone());
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(jwks) => Ok(jwks),
            Err(e) if cached.fetched.is_none() => Err(e),
            Err(_) => Ok(cached.jwks.clone()),
        }
    }

    /// Whether `kid` is among the cached keys, without fetching; like [`keys_for`](Self::keys_for),
    /// it starts a background refresh when the keys are old, so withdrawn keys drop out.
    pub fn knows(&self, kid: &str) -> bool {
        let cached = self.inner.current.load();
        if cached.jwks.find(kid).is_none() {
            return false;
        }
        if cached
            .fetched
            .is_some_and(|at| at.elapsed() > self.inner.config.max_age)
        {
            self.refresh_in_background();
        }
        true
    }

    fn refresh_in_background(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(mut last) = this.inner.fetching.try_lock() else {
                return; // A fetch is running already.
            };
            if last.is_some_and(|at| at.elapsed() < this.inner.config.min_interval) {
                return;
            }
            *last = Some(Instant::now());
            let _ = this.fetch().await;
        });
    }

    async fn fetch(&self) -> Result<Arc<Jwks>, JwksError> {
        let options = CallOptions::timeout(self.inner.config.timeout);
        match self
            .inner
            .requester
            .call::<GetJwks>(&Envelope::default(), options)
            .await
        {
            Ok(jwks) => {
                info!(keys = jwks.keys.len(), "fetched the auth service's JWKS");
                self.inner.metrics.jwks_fetch("ok");
                let jwks = Arc::new(jwks);
                self.inner.current.store(Arc::new(Cached {
                    jwks: jwks.clone(),
                    fetched: Some(Instant::now()),
                }));
                Ok(jwks)
            }
            Err(e) => {
                warn!(error = %e, subject = %GetJwks::subject(), "cannot fetch the JWKS");
                self.inner.metrics.jwks_fetch("error");
                Err(JwksError::Unavailable(e))
            }
        }
    }
}
