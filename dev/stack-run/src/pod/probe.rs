//! The rendered readiness probes (exec, HTTP GET, TCP), run against the container's address.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Probe;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::sync::watch;

use super::PROBE_INTERVAL;
use super::containers::Prepared;
use super::lifecycle::{search_path, stopped};

/// Runs every container's readiness probe and keeps the pod's ready flag.
pub(super) async fn probe_loop(
    containers: Vec<Prepared>,
    ip: Ipv4Addr,
    running: Vec<Arc<AtomicBool>>,
    ready: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let mut all = true;
        for (container, up) in containers.iter().zip(&running) {
            let ok = up.load(Ordering::Acquire)
                && match &container.readiness {
                    Some(probe) => run_probe(probe, container, ip).await,
                    None => true,
                };
            all &= ok;
        }
        ready.store(all, Ordering::Release);
        tokio::select! {
            () = tokio::time::sleep(PROBE_INTERVAL) => {}
            () = stopped(&mut stop) => {
                ready.store(false, Ordering::Release);
                return;
            }
        }
    }
}

/// One probe: HTTP GET (2xx/3xx), TCP connect, or a command that exits 0.
pub(super) async fn run_probe(probe: &Probe, container: &Prepared, ip: Ipv4Addr) -> bool {
    let timeout = Duration::from_secs(
        probe
            .timeout_seconds
            .unwrap_or(1)
            .clamp(1, 10)
            .unsigned_abs()
            .into(),
    );
    let port = |p: &IntOrString| match p {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => container.ports.get(name).copied(),
    };
    let attempt = async {
        if let Some(http) = &probe.http_get {
            let Some(port) = port(&http.port) else {
                return false;
            };
            http_ok(ip, port, http.path.as_deref().unwrap_or("/")).await
        } else if let Some(tcp) = &probe.tcp_socket {
            let Some(port) = port(&tcp.port) else {
                return false;
            };
            tokio::net::TcpStream::connect((ip, port)).await.is_ok()
        } else if let Some(exec) = &probe.exec {
            let argv: Vec<String> = exec
                .command
                .iter()
                .flatten()
                // In a pod, loopback is the pod's own address.
                .map(|a| match a.as_str() {
                    "127.0.0.1" | "localhost" => ip.to_string(),
                    other => other.to_owned(),
                })
                .collect();
            let Some((program, args)) = argv.split_first() else {
                return false;
            };
            tokio::process::Command::new(program)
                .args(args)
                .env_clear()
                .envs(&container.env)
                .env("PATH", search_path(&container.path))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .is_ok_and(|s| s.success())
        } else {
            true
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(false)
}

/// `GET path` answered with a 2xx or 3xx status.
pub async fn http_ok(ip: Ipv4Addr, port: u16, path: &str) -> bool {
    // The kubelet's rule: any status from 200 to 399 passes.
    let (status, _) = testbed::http::get((ip, port).into(), path).await;
    (200..400).contains(&status)
}
