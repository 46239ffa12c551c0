//! The gateway's HTTP server: an accept loop over hyper's HTTP/1.1 connection, with the limits
//! `axum::serve` does not set.
//!
//! `axum::serve` runs hyper without a timer, so hyper's header-read timeout is off, and it has
//! no cap on connections: slow or idle clients could hold sockets until the process ran out of
//! file descriptors. Here:
//!
//! - **Header read timeout** ([`Limits::header_read_timeout`]): hyper closes a connection that
//!   has not sent a complete request head in time. hyper arms the same timer whenever it waits
//!   for the next request on a kept-alive connection, so it also bounds how long an idle
//!   connection stays open.
//! - **Connection cap** ([`Limits::max_connections`]): beyond it a new connection is accepted
//!   and closed at once, so the listen backlog never fills and the gateway never reaches its
//!   descriptor limit; clients already connected keep being served.
//! - **Per-address cap** ([`Limits::max_connections_per_address`], [`crate::addr_cap`]): the
//!   same, counted per client address, so one client cannot take every slot.
//! - **Read buffer** ([`MAX_HEAD_BYTES`]): hyper's default buffer grows to ~400 KB, which an
//!   unfinished head could hold until the header timeout; capped, a larger head is answered
//!   431 and the connection closed. With the cap, what one connection costs is bounded, and
//!   so is what [`Limits::max_connections`] of them cost (see
//!   [`contract::deploy::gateway_memory`]).
//! - **Body read timeout** ([`Limits::body_read_timeout`]): the proxy reads a body under this
//!   deadline and answers 408 after it (see [`crate::proxy`]).
//! - **Lingering close**: when hyper is done with a connection (say after a 413 answered before
//!   the body was read), the socket is shut for writing and what the client still sends is read
//!   and discarded for a short, bounded while. Closing at once with unread data would make the
//!   kernel answer with a reset, which can destroy the response before the client reads it.
//! - **HTTP/1.1 only**: hyper-util's `auto` builder (what `axum::serve` uses) also speaks
//!   HTTP/2 with prior knowledge (h2c) whenever feature unification enables hyper's `http2`,
//!   which would give clients a second protocol with its own resource limits to abuse. Nothing
//!   in natstack speaks HTTP/2 to the gateway (TLS and HTTP/2 end at the ingress), so the
//!   gateway serves HTTP/1.1 alone and an h2c preface is refused.
//!
//! Graceful shutdown: the accept loop stops, every connection is told to finish its request in
//! flight and close, and [`serve`] returns once all of them ended. hyper-util's
//! `GracefulShutdown` is not used because it consumes the connection, and the lingering close
//! needs the socket back from hyper.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::addr_cap::{AddrCap, AddrSlot};

/// Default of [`Limits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = contract::deploy::DEFAULT_MAX_CONNECTIONS;

/// hyper's read buffer per connection, so the largest request head (request line and
/// headers) accepted: a bearer token and the usual headers fit many times over.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Longest a closing connection is read from (and its input discarded) after the response.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// Most bytes discarded from a closing connection.
const LINGER_BYTES: usize = 32 * 1024 * 1024;
/// Pause after a failed `accept` (out of descriptors, say), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Limits on client connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a request head; also the longest a kept-alive connection sits idle.
    pub header_read_timeout: Duration,
    /// Time to send a request body (the proxy answers 408 after it).
    pub body_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: u32,
    /// Connections open at once from one client address (peers among the trusted proxies are
    /// not capped).
    pub max_connections_per_address: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_millis(
                contract::deploy::DEFAULT_HEADER_READ_TIMEOUT_MS,
            ),
            body_read_timeout: Duration::from_millis(
                contract::deploy::DEFAULT_BODY_READ_TIMEOUT_MS,
            ),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: contract::deploy::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for every connection to
/// finish its request in flight. Peers in `trusted_proxies` are not capped per address.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    trusted_proxies: &[IpNet],
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let per_address = AddrCap::new(limits.max_connections_per_address, trusted_proxies.to_vec());
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, "connection limit reached; closing the new connection");
            drop(stream);
            continue;
        };
        let Some(slot) = per_address.admit(peer.ip()) else {
            debug!(%peer, "connection limit of the address reached; closing the new connection");
            drop(stream);
            continue;
        };
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            builder.clone(),
            stopping.clone(),
            (permit, slot),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it ends: all permits back means all ended.
    let _ = permits.acquire_many(limits.max_connections).await;
    Ok(())
}

/// Serves one connection, then closes it with a linger.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<http1::Builder>,
    mut stopping: watch::Receiver<bool>,
    _slots: (OwnedSemaphorePermit, AddrSlot),
) {
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut stop = pin!(stopping.wait_for(|stop| *stop));
    let mut told_to_stop = false;
    let ended = poll_fn(|cx| {
        if !told_to_stop && stop.as_mut().poll(cx).is_ready() {
            told_to_stop = true;
            std::pin::Pin::new(&mut conn).graceful_shutdown();
        }
        conn.poll_without_shutdown(cx)
    })
    .await;
    match ended {
        Ok(()) => linger(conn.into_parts().io.into_inner()).await,
        Err(e) => debug!(%peer, error = %e, "connection ended"),
    }
}

/// Shuts the socket for writing, then reads and discards what the client still sends, for a
/// bounded time and amount, so the kernel does not reset the connection under the response.
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut buf = vec![0; 16 * 1024];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}
