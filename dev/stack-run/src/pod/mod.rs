//! One pod, run as the kubelet would: volumes made into files (`volumes`), each container
//! resolved into a stand-in program and its env (`containers`, with `paths` rewriting what
//! names the pod's mounts), started and restarted when it exits, or in a Job until it
//! succeeds (`lifecycle`), and probed until ready (`probe`).

mod containers;
mod lifecycle;
mod paths;
mod probe;
mod volumes;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::PodSpec;
use operator::manifests::SecretData;
use tokio::sync::watch;

use crate::HarnessError;
use crate::net::Names;
use crate::program::Images;
use containers::prepare;
use lifecycle::supervise;
use probe::probe_loop;
use volumes::materialise;

/// How often probes run. Faster than the rendered `periodSeconds` (5–10 s), so a stack comes up
/// in seconds; the probes themselves are the rendered ones.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(400);
/// Longest wait between two restarts of a crashing container (the kubelet's is 5 minutes).
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// ConfigMap data by name, then key.
pub type ConfigMaps = BTreeMap<String, BTreeMap<String, String>>;

/// What a pod needs from its surroundings.
#[derive(Clone, Debug)]
pub struct Env<'a> {
    /// Namespace of the stack.
    pub namespace: &'a str,
    /// Secret data by name.
    pub secrets: &'a SecretData,
    /// ConfigMap data by name.
    pub config_maps: &'a ConfigMaps,
    /// Cluster DNS.
    pub names: &'a Names,
    /// Image stand-ins.
    pub images: &'a Images,
    /// Hosts (addresses) of MongoDB stand-ins, which have no users: MongoDB URLs pointing at
    /// them lose their credentials (and the notes say so).
    pub mongo_without_users: &'a [String],
}

/// How a pod's containers are restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Deployments and StatefulSets: always.
    Always,
    /// Jobs: until one run succeeds, at most `backoff_limit` failures.
    OnFailure {
        /// Failures allowed before the Job fails.
        backoff_limit: u32,
    },
}

/// Where a pod stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Containers are running (or restarting).
    Running,
    /// Every container of a Job pod exited 0.
    Succeeded,
    /// A Job pod used up its back-off limit; the message says why.
    Failed(String),
    /// Not run: the stand-in cannot run it (the message says why).
    Skipped(String),
}

/// A pod to start.
#[derive(Clone, Debug)]
pub struct PodDef {
    /// Pod name (`<statefulset>-<i>`, `<deployment>-<i>`, `<job>`).
    pub name: String,
    /// Labels (Services select on them).
    pub labels: BTreeMap<String, String>,
    /// The pod spec.
    pub spec: PodSpec,
    /// Volume claim names, backed by directories that outlive the pod.
    pub claims: Vec<String>,
    /// Restart policy.
    pub restart: Restart,
}

/// A running pod.
#[derive(Debug)]
pub struct Pod {
    /// Pod name.
    pub name: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Named container ports.
    pub ports: BTreeMap<String, u16>,
    ready: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
    phase: Arc<Mutex<Phase>>,
    logs: Vec<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Pod {
    /// Whether every container is running and passes its readiness probe.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Container restarts so far.
    #[must_use]
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Where the pod stands.
    #[must_use]
    pub fn phase(&self) -> Phase {
        self.phase
            .lock()
            .map(|p| p.clone())
            .unwrap_or(Phase::Running)
    }

    /// The last `lines` lines of each container's log (a backtrace at its end left out, as
    /// [`testbed::process::log_tail`] does).
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for log in &self.logs {
            out.push_str(&format!("--- {} ---\n", log.display()));
            let tail = testbed::process::log_tail(log, lines);
            if !tail.is_empty() {
                out.push_str(&tail);
                out.push('\n');
            }
        }
        out
    }

    /// Stops every container (SIGTERM to its process group, SIGKILL after `grace`).
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            if tokio::time::timeout(grace + Duration::from_secs(2), task)
                .await
                .is_err()
            {
                tracing_free_warn(&format!("pod {}: a task did not stop", self.name));
            }
        }
    }
}

fn tracing_free_warn(message: &str) {
    eprintln!("[stack-run] warning: {message}");
}

/// Materialises the pod's volumes under `dir` (claims under `claims_dir`), resolves every
/// container and starts them.
///
/// # Errors
/// [`HarnessError::Reference`] when the pod refers to a missing Secret, ConfigMap or key,
/// [`HarnessError::Image`] when an image has no stand-in, and I/O errors.
pub fn start(
    def: PodDef,
    ip: Ipv4Addr,
    dir: &Path,
    claims_dir: &Path,
    env: &Env<'_>,
) -> Result<Pod, HarnessError> {
    std::fs::create_dir_all(dir).map_err(HarnessError::io(format!("create {}", dir.display())))?;
    let volumes = materialise(&def, ip, dir, claims_dir, env)?;
    let mut prepared = Vec::new();
    let mut skipped = None;
    for container in &def.spec.containers {
        match prepare(&def, container, ip, dir, &volumes, env)? {
            Ok(Some(p)) => prepared.push(p),
            Ok(None) => {}
            Err(reason) => skipped = Some(reason),
        }
    }
    let (stop, stop_rx) = watch::channel(false);
    let ready = Arc::new(AtomicBool::new(false));
    let restarts = Arc::new(AtomicU32::new(0));
    let phase = Arc::new(Mutex::new(match &skipped {
        Some(reason) => Phase::Skipped(reason.clone()),
        None => Phase::Running,
    }));
    let mut pod = Pod {
        name: def.name.clone(),
        ip,
        labels: def.labels.clone(),
        ports: prepared.iter().flat_map(|p| p.ports.clone()).collect(),
        ready: ready.clone(),
        restarts: restarts.clone(),
        phase: phase.clone(),
        logs: prepared.iter().map(|p| p.log.clone()).collect(),
        stop,
        tasks: Vec::new(),
    };
    if skipped.is_some() {
        return Ok(pod);
    }
    let running: Vec<Arc<AtomicBool>> = prepared
        .iter()
        .map(|_| Arc::new(AtomicBool::new(false)))
        .collect();
    let grace = Duration::from_secs(
        def.spec
            .termination_grace_period_seconds
            .unwrap_or(30)
            .clamp(1, 30)
            .unsigned_abs(),
    );
    for (container, up) in prepared.iter().zip(&running) {
        pod.tasks.push(tokio::spawn(supervise(
            container.clone(),
            def.restart,
            grace,
            up.clone(),
            restarts.clone(),
            phase.clone(),
            stop_rx.clone(),
        )));
    }
    pod.tasks.push(tokio::spawn(probe_loop(
        prepared, ip, running, ready, stop_rx,
    )));
    Ok(pod)
}
