//! Services: one loopback address per Service, each port forwarding to a ready pod that the
//! Service selects (round-robin), as kube-proxy does. A connection that finds no ready pod is
//! closed at once, like a Service without endpoints.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::net::{TcpListener, TcpStream};

use crate::HarnessError;
use crate::pod::Pod;

/// The pods of a stack, shared with the proxies.
pub type Pods = Arc<RwLock<Vec<Pod>>>;

/// One Service port.
#[derive(Clone, Debug)]
pub struct Port {
    /// The Service port.
    pub port: u16,
    /// The pod port: a number or a container port name.
    pub target: IntOrString,
}

/// Starts forwarding `ip:port` to the pods matching `selector` for every port; returns the
/// accept tasks (abort them to stop).
///
/// # Errors
/// When an address cannot be bound.
pub async fn serve(
    ip: Ipv4Addr,
    ports: Vec<Port>,
    selector: BTreeMap<String, String>,
    pods: Pods,
) -> Result<Vec<tokio::task::JoinHandle<()>>, HarnessError> {
    let mut tasks = Vec::new();
    let selector = Arc::new(selector);
    for port in ports {
        let addr = SocketAddr::from((ip, port.port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(HarnessError::io(format!("bind Service address {addr}")))?;
        let (pods, selector) = (pods.clone(), selector.clone());
        let next = Arc::new(AtomicUsize::new(0));
        tasks.push(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Some(backend) = pick(&pods, &selector, &port.target, &next) else {
                    drop(client);
                    continue;
                };
                tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(backend).await {
                        let _ = client.set_nodelay(true);
                        let _ = upstream.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        }));
    }
    Ok(tasks)
}

fn pick(
    pods: &Pods,
    selector: &BTreeMap<String, String>,
    target: &IntOrString,
    next: &AtomicUsize,
) -> Option<SocketAddr> {
    let pods = pods.read().ok()?;
    let ready: Vec<SocketAddr> = pods
        .iter()
        .filter(|p| p.is_ready() && selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
        .filter_map(|p| {
            let port = match target {
                IntOrString::Int(n) => u16::try_from(*n).ok()?,
                IntOrString::String(name) => *p.ports.get(name)?,
            };
            Some(SocketAddr::from((p.ip, port)))
        })
        .collect();
    if ready.is_empty() {
        return None;
    }
    Some(ready[next.fetch_add(1, Ordering::Relaxed) % ready.len()])
}
