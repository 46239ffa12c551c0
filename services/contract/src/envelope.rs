//! The request envelope: what the gateway sends to a service for one HTTP request.
//!
//! Path parameters, query parameters and the body are kept apart so a service never has to
//! guess where a value came from:
//!
//! ```json
//! {"params":{"id":"ALFKI"},"query":{},"body":null}
//! ```
//!
//! The gateway fills the untyped form ([`Params`], [`Query`], `serde_json::Value`); a service
//! decodes the same bytes into its typed form (`Envelope<IdParams, ListQuery, NewCustomer>`).
//! Every part defaults when missing, so a service-to-service call may omit what it does not use.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Path parameters as the gateway extracts them: `{id}` in `/customers/{id}` → `"id"`.
pub type Params = BTreeMap<String, String>;

/// Query parameters as the gateway extracts them. When a key repeats, the first value wins.
pub type Query = BTreeMap<String, String>;

/// One request to a service endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope<P = Params, Q = Query, B = serde_json::Value> {
    /// Path parameters.
    #[serde(default)]
    pub params: P,
    /// Query parameters.
    #[serde(default)]
    pub query: Q,
    /// The JSON body, or `null` when the request had none.
    #[serde(default)]
    pub body: B,
}

impl<P, Q, B> Envelope<P, Q, B> {
    /// An envelope from its three parts.
    pub fn new(params: P, query: Q, body: B) -> Self {
        Self {
            params,
            query,
            body,
        }
    }
}

impl<P: Default, Q: Default, B> Envelope<P, Q, B> {
    /// An envelope carrying only a body.
    pub fn body(body: B) -> Self {
        Self::new(P::default(), Q::default(), body)
    }
}

impl<P, Q: Default, B: Default> Envelope<P, Q, B> {
    /// An envelope carrying only path parameters.
    pub fn params(params: P) -> Self {
        Self::new(params, Q::default(), B::default())
    }
}

impl<P: Default, Q, B: Default> Envelope<P, Q, B> {
    /// An envelope carrying only query parameters.
    pub fn query(query: Q) -> Self {
        Self::new(P::default(), query, B::default())
    }
}

/// A part of the envelope that carries nothing: serialises as `{}` and rejects any field.
///
/// Use it for the params or query of an operation that takes none, so a stray parameter is
/// an error rather than silently ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}
