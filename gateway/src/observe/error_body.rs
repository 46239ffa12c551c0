//! Writes the JSON body of error responses, once the request id is known (see
//! [`crate::error`]).

use axum::http::Extensions;
use axum::response::Response;
use tower_http::request_id::RequestId;

use crate::error;

/// The request's id, kept for [`render`] (a cheap clone of the header value).
pub fn id_of(extensions: &Extensions) -> Option<RequestId> {
    extensions.get::<RequestId>().cloned()
}

/// Renders the body of an error response with the request's id.
pub fn render(response: Response, id: Option<&RequestId>) -> Response {
    error::render(response, crate::request_id::text(id))
}
