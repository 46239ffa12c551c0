//! A Service whose endpoints the harness sets itself, as an operator does by moving a label
//! (CloudNativePG's `-rw`, `-ro` and `-r` Services follow the instances' roles, not a fixed
//! pod selector). Moving it closes the connections open to an endpoint it no longer lists,
//! as the old endpoint's shutdown does in a cluster, so no client keeps talking to it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::HarnessError;

/// The endpoints of one Service port; cheap to clone.
#[derive(Clone, Debug)]
pub struct Switch {
    endpoints: Arc<watch::Sender<Vec<SocketAddr>>>,
}

impl Switch {
    /// Listens on `addr` and forwards each connection to one of the endpoints (round-robin);
    /// with none, a connection is closed at once, like a Service without endpoints. Returns
    /// the accept task (abort it to stop).
    ///
    /// # Errors
    /// When `addr` cannot be bound.
    pub async fn serve(
        addr: SocketAddr,
        endpoints: Vec<SocketAddr>,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), HarnessError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(HarnessError::io(format!("bind Service address {addr}")))?;
        let switch = Self {
            endpoints: Arc::new(watch::channel(endpoints).0),
        };
        let sender = switch.endpoints.clone();
        let next = AtomicUsize::new(0);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = {
                    let now = sender.borrow();
                    if now.is_empty() {
                        continue;
                    }
                    now[next.fetch_add(1, Ordering::Relaxed) % now.len()]
                };
                tokio::spawn(forward(client, target, sender.subscribe()));
            }
        });
        Ok((switch, task))
    }

    /// Points the Service at `endpoints`, closing the connections open to any other.
    pub fn point(&self, endpoints: Vec<SocketAddr>) {
        self.endpoints.send_replace(endpoints);
    }

    /// Where the Service points now.
    #[must_use]
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.endpoints.borrow().clone()
    }
}

/// Copies bytes both ways until either side closes or `target` leaves the endpoints; then
/// both streams are dropped, which closes them.
async fn forward(
    mut client: TcpStream,
    target: SocketAddr,
    mut endpoints: watch::Receiver<Vec<SocketAddr>>,
) {
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _ = endpoints.wait_for(|now| !now.contains(&target)) => {}
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// An echo server that prefixes every reply with `tag`.
    async fn echo(tag: u8) -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1];
                    while s.read_exact(&mut buf).await.is_ok() {
                        if s.write_all(&[tag, buf[0]]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn ask(s: &mut TcpStream) -> std::io::Result<u8> {
        s.write_all(b"x").await?;
        let mut reply = [0u8; 2];
        s.read_exact(&mut reply).await?;
        Ok(reply[0])
    }

    #[tokio::test]
    async fn moving_the_endpoints_closes_connections_to_the_old_one() {
        let (a, b) = (echo(b'a').await, echo(b'b').await);
        let free = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let (switch, task) = Switch::serve(addr, vec![a]).await.unwrap();
        let mut old = TcpStream::connect(addr).await.unwrap();
        assert_eq!(ask(&mut old).await.unwrap(), b'a');
        switch.point(vec![b]);
        let closed = tokio::time::timeout(Duration::from_secs(5), ask(&mut old))
            .await
            .expect("the old connection is closed, not left hanging");
        assert!(closed.is_err(), "a connection to the old endpoint survived");
        let mut new = TcpStream::connect(addr).await.unwrap();
        assert_eq!(ask(&mut new).await.unwrap(), b'b');
        switch.point(Vec::new());
        let mut none = TcpStream::connect(addr).await.unwrap();
        assert!(ask(&mut none).await.is_err(), "no endpoints: refused");
        assert_eq!(switch.endpoints(), Vec::<SocketAddr>::new());
        task.abort();
    }
}
