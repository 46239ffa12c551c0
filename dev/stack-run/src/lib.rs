//! The rendered-stack harness: runs what the operator renders for a `MicroserviceStack` on one
//! machine, as a cluster would, without a cluster.
//!
//! Kubernetes cannot run here, so this crate plays the parts of the cluster that the rendered
//! objects rely on, and no more:
//!
//! - **the API server's storage**: Secrets and ConfigMaps become files at their mount paths
//!   (under a per-pod directory) and env from `secretKeyRef`/`configMapKeyRef`/`fieldRef` is
//!   resolved as the kubelet does ([`pod`]);
//! - **DNS and kube-proxy**: every Service gets its own loopback address (`127.a.b.c`) with the
//!   Service's port mapping to ready pods, and every pod its own loopback address; the rendered
//!   in-cluster names (`<svc>.<ns>.svc`, `<pod>.<headless>.<ns>.svc`) and `0.0.0.0` binds are
//!   rewritten to those addresses wherever a container reads them ([`net`], [`proxy`]);
//! - **the kubelet**: every container of every StatefulSet, Deployment and Job runs what its
//!   image runs, with the container's exact command, args, env and working directory; probes
//!   run until ready; an exited container restarts with back-off; Jobs run to completion before
//!   the workloads of their stage start ([`pod`], [`cluster`]);
//! - **the images**: the project's images map to the project's binaries (the same binary the
//!   Dockerfile puts in that image), the NATS image to `nats-server`, the PostgreSQL image to a
//!   local server initialised as its entrypoint does, the MongoDB image to the
//!   MongoDB-wire-compatible `nx-27017` ([`program`]). Where a stand-in cannot honour something
//!   it says so in [`Cluster::notes`] and the output, never silently;
//! - **CloudNativePG**: a `postgresql.cnpg.io/v1` `Cluster` becomes a primary and a streaming
//!   replica with the roles and databases its objects ask for, the Secrets CNPG generates and
//!   its `-rw`/`-ro`/`-r` Services, which a switchover moves ([`cnpg`], [`switch`]); a
//!   `MongoDBCommunity` becomes one stand-in member and the connection-string Secrets the
//!   MongoDB operator publishes ([`mongodb_community`]).
//!
//! The test `tests/rendered.rs` runs every example stack with it, and `make stack-run` keeps one
//! up for people to try.
//!
//! Written here rather than taken from a crate: no crate runs Kubernetes pod specs as local
//! processes (kind and k3d need a container runtime and a real API server).

pub mod cluster;
pub mod cnpg;
pub mod engines;
pub mod mongodb_community;
pub mod net;
pub mod pod;
pub mod program;
pub mod proxy;
pub mod state;
pub mod switch;

pub use cluster::{Cluster, Options};

/// Why a stack cannot be brought up.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The stack file cannot be rendered.
    #[error(transparent)]
    Render(#[from] operator::render::RenderError),
    /// A workload did not start or become ready; the message carries its log.
    #[error("{workload} did not become ready: {detail}")]
    NotReady {
        /// `Kind/name` of the workload.
        workload: String,
        /// What was seen, with the end of the container's log.
        detail: String,
    },
    /// A Job failed.
    #[error("Job {job} failed: {detail}")]
    JobFailed {
        /// The Job's name.
        job: String,
        /// Why, with the end of its log.
        detail: String,
    },
    /// A container's image maps to no program.
    #[error("container {container} of {pod}: {detail}")]
    Image {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// What is missing.
        detail: String,
    },
    /// A rendered object refers to something that does not exist.
    #[error("{0}")]
    Reference(String),
    /// A server program is missing.
    #[error(transparent)]
    Tool(#[from] testbed::HarnessError),
    /// File or process I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

impl HarnessError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
