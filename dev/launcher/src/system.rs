//! The running system: its addresses, its processes, and stopping it. Dropping a [`System`]
//! (or [`System::stop`]) stops our processes at once, then the servers at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use testbed::http::Api;
use testbed::process::{self, Child, accepts};

use crate::builder::Builder;
use crate::error::LaunchError;
use crate::ports::Ports;

/// What a process of the system is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A third-party server (nats-server, PostgreSQL, nx-27017).
    Server,
    /// One of ours: a service or the gateway.
    Ours,
}

/// One running process.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// Its name (`nats-server`, `postgres`, `nx-27017`, `auth`, …, `gateway`).
    pub name: String,
    /// Its process id (PostgreSQL's: the postmaster; its backends are its children).
    pub pid: u32,
    /// What it is.
    pub role: Role,
}

/// The running system; dropping it stops every process.
#[derive(Debug)]
pub struct System {
    pub(crate) children: Vec<(Child, Role)>,
    pub(crate) ports: Ports,
    pub(crate) admin: Option<(String, String)>,
    pub(crate) logs: PathBuf,
    pub(crate) nats_users: Option<crate::nats_auth::NatsUsers>,
    /// Processes left stopped on purpose ([`System::stop_one`]): not reported as exited.
    pub(crate) parked: std::collections::BTreeSet<String>,
    // Dropped after the processes have stopped (Drop stops them first).
    pub(crate) _temp: Option<TempDir>,
}

impl System {
    /// A system of the binaries in `bin_dir`; see [`Builder`].
    pub fn builder(bin_dir: impl Into<PathBuf>) -> Builder {
        Builder::new(bin_dir)
    }

    pub(crate) fn push(&mut self, child: Child, role: Role) {
        self.children.push((child, role));
    }

    /// The gateway's HTTP address.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.ports.gateway.addr
    }

    /// The gateway's base URL (`http://127.0.0.1:port`).
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.ports.gateway.addr)
    }

    /// The health address (`/livez`, `/readyz`, `/metrics`) of `component` (`auth`, …,
    /// `gateway`, or an extra service's name), if it is one of the system's.
    pub fn health_addr(&self, component: &str) -> Option<SocketAddr> {
        self.ports.health.get(component).map(|a| a.addr)
    }

    /// The base URL of the gateway's health listener, which also serves the operational
    /// `/metrics` and `/services`.
    pub fn gateway_health_url(&self) -> String {
        let addr = self
            .health_addr(contract::deploy::GATEWAY)
            .expect("the builder fixes the gateway's health address");
        format!("http://{addr}")
    }

    /// A JSON client of the gateway.
    pub fn api(&self) -> Api {
        Api::new(&self.gateway_url())
    }

    /// The NATS URL.
    pub fn nats_url(&self) -> String {
        format!("nats://{}", self.ports.nats.addr)
    }

    /// The variables that connect as `component`'s NATS user (`NATS_USER`, `NATS_PASSWORD`,
    /// `NATS_INBOX_PREFIX`), empty when NATS users are off: what a test needs to act as one
    /// component, a compromised one included.
    pub fn nats_env_of(&self, component: &str) -> Vec<(String, String)> {
        self.nats_users
            .as_ref()
            .map(|users| users.env_of(component))
            .unwrap_or_default()
    }

    /// The URL of PostgreSQL database `database` (as the services are given it).
    pub fn postgres_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@{}/{database}",
            self.ports.postgres.addr
        )
    }

    /// The MongoDB URL auth uses (a single server, no replica set).
    pub fn mongo_url(&self) -> String {
        format!("mongodb://{}/?directConnection=true", self.ports.mongo.addr)
    }

    /// The bootstrap administrator's email and password, when one was set.
    pub fn admin(&self) -> Option<(&str, &str)> {
        self.admin.as_ref().map(|(e, p)| (e.as_str(), p.as_str()))
    }

    /// Where the logs are.
    pub fn log_dir(&self) -> &Path {
        &self.logs
    }

    /// Every process, in start order.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        self.children
            .iter()
            .map(|(child, role)| ProcessInfo {
                name: child.name.clone(),
                pid: child.pid(),
                role: *role,
            })
            .collect()
    }

    /// Fails, with the end of its log, when a process has exited (one left stopped by
    /// [`stop_one`](Self::stop_one) is not counted until it is started again).
    ///
    /// # Errors
    /// [`HarnessError::Exited`](testbed::HarnessError::Exited) for the first process found gone.
    pub fn check_alive(&mut self) -> Result<(), LaunchError> {
        let parked = &self.parked;
        self.children
            .iter_mut()
            .filter(|(child, _)| !parked.contains(&child.name))
            .try_for_each(|(child, _)| child.check())
            .map_err(LaunchError::from)
    }

    /// Stops the process `name` (its stop signal, SIGKILL after 10 s) if it still runs, and
    /// starts it again with the same program, arguments and variables; for nats-server and
    /// PostgreSQL, waits until it accepts connections again (up to 60 s). A process killed
    /// from outside is simply started again. Data survives: PostgreSQL reopens its cluster.
    ///
    /// # Errors
    /// No process of that name, or it could not be started again.
    pub async fn restart(&mut self, name: &str) -> Result<(), LaunchError> {
        let Some((child, _)) = self.children.iter_mut().find(|(c, _)| c.name == name) else {
            return Err(LaunchError::Setup(format!("no process named {name}")));
        };
        self.parked.remove(name);
        // Stopping waits on the process synchronously (up to 10 s): off the runtime's
        // scheduler where it can be, so other tasks (load in a test) keep running meanwhile.
        // Not `spawn_blocking`: the child must be spawned from a thread that lives on (see
        // `child`).
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| child.respawn())?;
            }
            _ => child.respawn()?,
        }
        let port = match name {
            "nats-server" => self.ports.nats.port(),
            "postgres" => self.ports.postgres.port(),
            _ => return Ok(()),
        };
        let (timeout, every) = (Duration::from_secs(60), Duration::from_millis(50));
        Ok(child
            .wait_ready(name, timeout, every, || accepts(port))
            .await?)
    }

    /// Stops the process `name` (its stop signal, SIGKILL after 10 s) and leaves it stopped:
    /// a service gone from the bus, as when its last pod is gone. [`restart`](Self::restart)
    /// starts it again.
    ///
    /// # Errors
    /// No process of that name.
    pub fn stop_one(&mut self, name: &str) -> Result<(), LaunchError> {
        let Some((child, _)) = self.children.iter_mut().find(|(c, _)| c.name == name) else {
            return Err(LaunchError::Setup(format!("no process named {name}")));
        };
        self.parked.insert(name.to_owned());
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| child.stop());
            }
            _ => child.stop(),
        }
        Ok(())
    }

    /// Stops every process in two waves: first the gateway and every service at once
    /// (SIGTERM), awaited together, then the servers at once (SIGTERM; PostgreSQL SIGINT, its
    /// fast shutdown). Each wave waits up to 10 s, then kills what still runs. Services drain
    /// their NATS subscriptions when they stop; with nats-server already gone they would retry
    /// until killed.
    pub fn stop(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        let (mut ours, mut servers): (Vec<_>, Vec<_>) = self
            .children
            .drain(..)
            .partition(|(_, role)| *role == Role::Ours);
        for wave in [&mut ours, &mut servers] {
            let mut children: Vec<Child> = wave.drain(..).map(|(c, _)| c).collect();
            process::stop_all(&mut children);
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.stop_all();
    }
}
