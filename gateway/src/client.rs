//! The client address of every request, resolved once: the socket's peer, or the address a
//! trusted proxy reports in `X-Forwarded-For` ([`crate::limit::client::client_addr`],
//! `TRUSTED_PROXIES`).
//!
//! The server knows only the peer, and it hands it on as axum's `ConnectInfo`; [`resolve`]
//! replaces that with the [`ClientAddr`] every later step reads (the refusal sums, the rate
//! limits, the `natstack-client-addr` header a service receives), so no two of them can
//! disagree about who a request came from. It travels in the request's extensions because it
//! is a property of the connection, which no handler state can carry.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Extensions;
use axum::middleware::Next;
use axum::response::Response;

use crate::limit::client::client_addr;
use crate::state::AppState;

/// The client address of a request, as [`resolve`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The address [`resolve`] left in `extensions`, if the request came over a socket.
    pub fn of(extensions: &Extensions) -> Option<IpAddr> {
        extensions.get::<Self>().map(|c| c.0)
    }
}

/// The middleware: turns the peer into the client address.
pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions_mut().remove::<ConnectInfo<SocketAddr>>();
    if let Some(ConnectInfo(peer)) = peer {
        let trusted = &state.config.limits.trusted_proxies;
        let addr = client_addr(peer.ip(), request.headers(), trusted);
        request.extensions_mut().insert(ClientAddr(addr));
    }
    next.run(request).await
}
