//! What a built table holds and reports: routes, conflicts, refused claims and unusable
//! endpoints.

use std::sync::Arc;

use contract::{AuthLevel, HttpMethod};
use serde::Serialize;

/// One routed endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template, e.g. `/customers/{id}`. Shared: every request's metrics and span
    /// are labelled with it, and a reference count is cheaper than a copy per request.
    pub path: Arc<str>,
    /// Who may call it.
    pub auth: AuthLevel,
    /// The success status.
    pub success_status: u16,
    /// The one-line summary, if any.
    pub summary: Option<String>,
    /// The NATS subject requests go to.
    pub subject: String,
    /// The service that serves it.
    pub service: String,
    /// The newest version of that service seen serving it.
    pub version: String,
    /// The endpoint's name within the service.
    pub endpoint: String,
    /// The content hash of the service's schema document, if it publishes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_hash: Option<String>,
}

impl Route {
    /// The names of the path's parameters, in order.
    pub fn path_params(&self) -> Vec<&str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }
}

/// A claim the gateway will not route: the service does not own the path, or serves it on a
/// subject outside its own name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// The service that claimed it.
    pub service: String,
    /// The subject it named.
    pub subject: String,
    /// The HTTP method claimed.
    pub method: HttpMethod,
    /// The path template claimed.
    pub path: String,
    /// Why it is refused.
    pub reason: String,
}

/// A method and path claimed by more than one subject of one service, and which one serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template.
    pub path: String,
    /// `service@version (subject)` of the winner.
    pub winner: String,
    /// The same for every claim that lost.
    pub losers: Vec<String>,
}

/// An endpoint whose metadata could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidEndpoint {
    /// The service.
    pub service: String,
    /// The endpoint's subject.
    pub subject: String,
    /// Why it is not routed.
    pub reason: String,
}
