//! What every handler and layer shares: one NATS connection (through one [`Requester`]), the
//! catalog, the authenticator, the limits, refusal sums and body budget, metrics and
//! configuration. One [`AppState`] is made per gateway, so each of these exists once.

use std::ops::Deref;
use std::sync::Arc;

use runtime::Requester;
use runtime::health::Probes;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::discovery::Catalog;
use crate::metrics::GatewayMetrics;

/// The shared parts.
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub config: Config,
    /// Discovery's current snapshot.
    pub catalog: Arc<Catalog>,
    /// Request-reply over the one NATS connection.
    pub requester: Requester,
    /// Calls to services, with their deadline and retries.
    pub upstream: crate::retry::Upstream,
    /// Token and role checks.
    pub auth: Authenticator,
    /// Metrics.
    pub metrics: GatewayMetrics,
    /// Readiness checks and the metrics registry.
    pub health: Probes,
    /// The proxy's rate limiters and in-flight budget.
    pub limits: crate::limit::Guard,
    /// 401/403/429 answers summed per client address.
    pub refusals: crate::refusals::Refusals,
    /// The request-body bytes held at once.
    pub body_budget: crate::admission::BodyBudget,
    /// Server-error log lines summed per route and status.
    pub server_errors: crate::observe::server_errors::ServerErrors,
    /// The `/events` streams' readiness, caps and metrics.
    pub events: crate::events::Events,
}

/// Handler state: a cheap handle to [`Shared`].
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Shared {
    /// The largest body accepted: the configured limit, and never more than fits in one NATS
    /// message with the envelope around it.
    pub fn body_limit(&self) -> usize {
        let max_payload = self.requester.client().max_payload();
        let fits = if max_payload == 0 {
            usize::MAX
        } else {
            max_payload.saturating_sub(crate::proxy::ENVELOPE_OVERHEAD)
        };
        self.config.max_body_bytes.min(fits)
    }
}
