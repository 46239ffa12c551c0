//! CloudNativePG's part, played by the harness: what the CNPG operator and its instance
//! manager make of a `postgresql.cnpg.io/v1` `Cluster` and its `Database` objects.
//!
//! - the Secrets CNPG generates: `<cluster>-ca` (`ca.crt`, `ca.key`) and `<cluster>-server`
//!   (`tls.crt`, `tls.key`) ([`tls`]);
//! - a primary `<cluster>-1` initialised with the login roles of `managed.roles` (passwords
//!   from their `passwordSecret`) and the databases of the `Database` objects (with their
//!   owners), and one streaming replica `<cluster>-2` cloned from it with `pg_basebackup -R`
//!   ([`instance`]);
//! - the Services `<cluster>-rw` (the primary), `<cluster>-ro` (the replicas) and
//!   `<cluster>-r` (every instance), moved as the roles change ([`crate::switch`]);
//! - a switchover ([`PgCluster::switchover`]) as CNPG performs one: the primary leaves `-rw`
//!   and is shut down fast (its sessions end, its last WAL reaches the replica), the replica
//!   replays up to the old primary's shutdown checkpoint and is promoted, `-rw` points at
//!   it, and the old primary rejoins as a replica.
//!
//! Which instance is the primary is kept beside the data, so a stack started again after a
//! switchover keeps its primary; a replica is cloned afresh on every start. What is not
//! honoured is listed by [`Plan::notes`].

pub mod instance;
mod plan;
mod provision;
pub mod tls;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use operator::manifests::SecretData;
use operator::manifests::connection::CA_KEY;

use crate::HarnessError;
use crate::switch::Switch;
use instance::{Instance, PORT, STREAMING_REPLICA};
use provision::provision;

pub use plan::{Database, Plan, Role};

/// The Services CNPG creates for a Cluster, by suffix.
pub const SERVICES: [&str; 3] = ["rw", "ro", "r"];

/// How many instances the harness runs, whatever `spec.instances` says: a primary and one
/// streaming replica are what a switchover needs.
pub const INSTANCES_RUN: u32 = 2;

/// The addresses the harness gives a Cluster: one per Service, one per instance.
#[derive(Clone, Debug)]
pub struct Addresses {
    /// By Service suffix (`rw`, `ro`, `r`).
    pub services: BTreeMap<String, Ipv4Addr>,
    /// One per instance run.
    pub instances: Vec<Ipv4Addr>,
}

/// A running Cluster.
#[derive(Debug)]
pub struct PgCluster {
    plan: Plan,
    dir: PathBuf,
    instances: tokio::sync::Mutex<Vec<Instance>>,
    primary: std::sync::atomic::AtomicUsize,
    services: BTreeMap<String, Switch>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    certs: tls::Certificates,
}

/// What a switchover took.
#[derive(Clone, Debug)]
pub struct Switchover {
    /// The instance that was the primary.
    pub from: String,
    /// The new primary.
    pub to: String,
    /// From `-rw` losing the old primary to `-rw` reaching the new one.
    pub without_primary: Duration,
    /// Until the old primary had rejoined as a replica.
    pub total: Duration,
}

impl PgCluster {
    /// Makes the certificates of `plan` in `dir` and returns the Secrets CNPG would generate,
    /// to be added to the stack's Secrets before any pod mounts them.
    ///
    /// # Errors
    /// When `openssl` fails.
    pub fn secrets(
        plan: &Plan,
        dir: &std::path::Path,
        addresses: &Addresses,
    ) -> Result<(tls::Certificates, SecretData), HarnessError> {
        let names = tls::dns_names(&plan.name, &plan.namespace, &SERVICES);
        let ips: Vec<Ipv4Addr> = addresses
            .services
            .values()
            .chain(&addresses.instances)
            .copied()
            .collect();
        let certs = tls::generate(&dir.join("tls"), &plan.name, &names, &ips)?;
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p).map_err(HarnessError::io(format!("read {}", p.display())))
        };
        let mut secrets = SecretData::new();
        secrets.insert(
            plan.ca_secret(),
            BTreeMap::from([
                (CA_KEY.to_owned(), read(&certs.ca_crt)?),
                ("ca.key".to_owned(), read(&certs.ca_key)?),
            ]),
        );
        secrets.insert(
            plan.server_secret(),
            BTreeMap::from([
                ("tls.crt".to_owned(), read(&certs.server_crt)?),
                ("tls.key".to_owned(), read(&certs.server_key)?),
            ]),
        );
        Ok((certs, secrets))
    }

    /// Starts the primary (initialised on first use, then with its roles and databases made
    /// to match the plan), clones and starts the replica, and serves the three Services.
    ///
    /// # Errors
    /// When an instance cannot be initialised or started, a role's Secret is missing, or an
    /// address cannot be bound.
    pub async fn start(
        plan: Plan,
        dir: PathBuf,
        addresses: &Addresses,
        certs: tls::Certificates,
        secrets: &SecretData,
    ) -> Result<Self, HarnessError> {
        let user = testbed::programs::service_user()?;
        for file in [&certs.ca_crt, &certs.server_crt, &certs.server_key] {
            instance::chown(file, user.as_ref())?;
        }
        set_mode(&certs.server_key, 0o600)?;
        let hba = dir.join("pg_hba.conf");
        // CNPG's rules, less the client certificates: the superuser only on the local socket,
        // replication for its user, every other role with a password over TLS.
        std::fs::write(
            &hba,
            format!(
                "local all all trust\n\
                 hostssl replication {STREAMING_REPLICA} 127.0.0.0/8 trust\n\
                 hostssl all all 127.0.0.0/8 scram-sha-256\n"
            ),
        )
        .map_err(HarnessError::io(format!("write {}", hba.display())))?;
        let parameters: Vec<(String, String)> = plan
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut instances = Vec::new();
        for (i, ip) in addresses.instances.iter().enumerate() {
            let name = format!("{}-{}", plan.name, i + 1);
            instances.push(Instance::new(
                name.clone(),
                *ip,
                dir.join(&name),
                &certs,
                &hba,
                &parameters,
            )?);
        }
        let primary_file = dir.join("primary");
        let primary = std::fs::read_to_string(&primary_file)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|i| instances.get(*i).is_some_and(Instance::initialised))
            .unwrap_or(0);
        {
            let first = &mut instances[primary];
            if !first.initialised() {
                first.init_primary()?;
            }
            first.start().await?;
            provision(first, &plan, secrets).await?;
        }
        for i in (0..instances.len()).filter(|i| *i != primary) {
            let (source, replica) = pair(&mut instances, primary, i);
            replica.clone_from(source, &certs.ca_crt)?;
            replica.start().await?;
        }
        let mut services = BTreeMap::new();
        let mut tasks = Vec::new();
        let endpoints = route(&instances, primary);
        for suffix in SERVICES {
            let ip = addresses.services[suffix];
            let (switch, task) =
                Switch::serve(SocketAddr::from((ip, PORT)), endpoints[suffix].clone()).await?;
            services.insert(suffix.to_owned(), switch);
            tasks.push(task);
        }
        std::fs::write(&primary_file, primary.to_string()).map_err(HarnessError::io(format!(
            "write {}",
            primary_file.display()
        )))?;
        Ok(Self {
            plan,
            dir,
            instances: tokio::sync::Mutex::new(instances),
            primary: primary.into(),
            services,
            tasks,
            certs,
        })
    }

    /// The plan it runs.
    #[must_use]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The CA certificate file (for clients outside the stack).
    #[must_use]
    pub fn ca_file(&self) -> &std::path::Path {
        &self.certs.ca_crt
    }

    /// Where a Service (`rw`, `ro`, `r`) points now.
    #[must_use]
    pub fn endpoints(&self, suffix: &str) -> Vec<SocketAddr> {
        self.services
            .get(suffix)
            .map(Switch::endpoints)
            .unwrap_or_default()
    }

    /// The name of the current primary.
    pub async fn primary(&self) -> String {
        let i = self.primary.load(std::sync::atomic::Ordering::Acquire);
        self.instances.lock().await[i].name.clone()
    }

    /// Runs `sql` as the superuser on the current primary.
    ///
    /// # Errors
    /// psql's error.
    pub async fn psql_primary(&self, database: &str, sql: &str) -> Result<String, HarnessError> {
        let i = self.primary.load(std::sync::atomic::Ordering::Acquire);
        self.instances.lock().await[i].psql(database, sql).await
    }

    /// A switchover to the first replica, as CNPG performs one: the primary leaves `-rw`
    /// (its open connections closed), is shut down fast and leaves `-ro`/`-r`, the replica
    /// replays up to the old primary's shutdown checkpoint (so every committed write is
    /// there), is promoted, and `-rw` points at it; then the old primary rejoins as a
    /// replica of the new one (cloned afresh, where CNPG would use `pg_rewind`) and `-ro` and
    /// `-r` point at it again.
    ///
    /// # Errors
    /// When there is no running replica, or it does not catch up or promote within a minute.
    pub async fn switchover(&self) -> Result<Switchover, HarnessError> {
        let mut instances = self.instances.lock().await;
        let old = self.primary.load(std::sync::atomic::Ordering::Acquire);
        let new = (0..instances.len())
            .find(|i| *i != old && instances[*i].running())
            .ok_or_else(|| HarnessError::Reference(format!("{}: no replica", self.plan.name)))?;
        let started = Instant::now();
        self.services["rw"].point(Vec::new());
        instances[old].stop().await;
        // Not running any more: out of every Service (and `-rw` stays empty).
        self.point(&instances, old);
        let checkpoint = instances[old].last_checkpoint()?;
        let replica = &instances[new];
        wait_for(
            replica,
            &format!("SELECT pg_last_wal_replay_lsn() >= '{checkpoint}'::pg_lsn"),
            "replay the old primary's shutdown checkpoint",
        )
        .await?;
        replica
            .psql("postgres", "SELECT pg_promote(true, 60)")
            .await?;
        wait_for(replica, "SELECT NOT pg_is_in_recovery()", "leave recovery").await?;
        self.point(&instances, new);
        let without_primary = started.elapsed();
        self.primary
            .store(new, std::sync::atomic::Ordering::Release);
        let primary_file = self.dir.join("primary");
        std::fs::write(&primary_file, new.to_string()).map_err(HarnessError::io(format!(
            "write {}",
            primary_file.display()
        )))?;
        let (primary, rejoining) = pair(&mut instances, new, old);
        rejoining.clone_from(primary, &self.certs.ca_crt)?;
        rejoining.start().await?;
        self.point(&instances, new);
        Ok(Switchover {
            from: instances[old].name.clone(),
            to: instances[new].name.clone(),
            without_primary,
            total: started.elapsed(),
        })
    }

    /// Points every Service where [`route`] says.
    fn point(&self, instances: &[Instance], primary: usize) {
        let endpoints = route(instances, primary);
        for suffix in SERVICES {
            self.services[suffix].point(endpoints[suffix].clone());
        }
    }

    /// Stops the Services and every instance.
    pub async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        for instance in self.instances.lock().await.iter_mut() {
            instance.stop().await;
        }
    }
}

/// The endpoints of each Service when `primary` is the primary: `rw` the primary, `ro` the
/// running replicas, `r` every running instance.
fn route(instances: &[Instance], primary: usize) -> BTreeMap<&'static str, Vec<SocketAddr>> {
    let running = |i: &usize| instances[*i].running();
    let all: Vec<usize> = (0..instances.len()).filter(running).collect();
    let addrs = |of: &mut dyn Iterator<Item = &usize>| of.map(|i| instances[*i].addr()).collect();
    BTreeMap::from([
        ("rw", addrs(&mut all.iter().filter(|i| **i == primary))),
        ("ro", addrs(&mut all.iter().filter(|i| **i != primary))),
        ("r", addrs(&mut all.iter())),
    ])
}

/// `(&instances[source], &mut instances[target])`.
fn pair(instances: &mut [Instance], source: usize, target: usize) -> (&Instance, &mut Instance) {
    if source < target {
        let (left, right) = instances.split_at_mut(target);
        (&left[source], &mut right[0])
    } else {
        let (left, right) = instances.split_at_mut(source);
        (&right[0], &mut left[target])
    }
}

/// Polls `sql` (a boolean) on `instance` until it is true, for at most a minute.
async fn wait_for(instance: &Instance, sql: &str, what: &str) -> Result<(), HarnessError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if instance
            .psql("postgres", sql)
            .await
            .is_ok_and(|out| out == "t")
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(HarnessError::Reference(format!(
                "{} did not {what} within a minute",
                instance.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn set_mode(path: &std::path::Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(HarnessError::io(format!("chmod {}", path.display())))
}
