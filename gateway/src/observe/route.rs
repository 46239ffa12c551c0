//! The route a request was answered by, as a label for metrics and logs.
//!
//! The one record of a request's route: the proxy puts the template it matched in the
//! response's extensions; the gateway's own paths get axum's matched path; anything else is
//! [`UNMATCHED`], so unknown paths cannot blow up label cardinality. [`super::finish`] reads
//! it once for the span, the metrics and the access log.

use std::fmt;
use std::sync::Arc;

use axum::extract::MatchedPath;
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};

use crate::metrics::UNMATCHED;

/// The matched route's template (a response extension, and the `route` label of the
/// request metrics). Shared with the routing table, so labelling a request copies nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteLabel(pub Arc<str>);

impl RouteLabel {
    /// The label of requests no route matched.
    pub fn unmatched() -> Self {
        Self(Arc::from(UNMATCHED))
    }

    /// The template.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), fmt::Error> {
        self.as_str().encode(encoder)
    }
}

/// Labels the response with `matched` (axum's matched path, taken from the request) unless
/// the handler already labelled it.
pub fn label(matched: Option<MatchedPath>, response: &mut Response) {
    if response.extensions().get::<RouteLabel>().is_none() {
        let label = matched.map_or_else(RouteLabel::unmatched, |p| RouteLabel(p.as_str().into()));
        response.extensions_mut().insert(label);
    }
}

/// The route label of a response, set by [`label`].
pub fn of(response: &Response) -> RouteLabel {
    response
        .extensions()
        .get::<RouteLabel>()
        .cloned()
        .unwrap_or_else(RouteLabel::unmatched)
}
