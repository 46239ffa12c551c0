//! Writes the JSON body of error responses, once the request id is known (see
//! [`crate::error`]).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::{error, request_id};

/// Renders the body of an error response with the request's id.
pub async fn render(request: Request, next: Next) -> Response {
    let id = request_id::get(request.extensions()).to_owned();
    let response = next.run(request).await;
    error::render(response, &id)
}
