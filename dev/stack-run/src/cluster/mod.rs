//! A whole stack brought up stage by stage, as the operator applies it: configuration, then
//! NATS and the databases, then the provisioning Jobs (to completion) and the services, then
//! the gateway. Each stage's workloads must become ready before the next starts, so a broken
//! workload fails the start with its name and log instead of a time-out further on.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use operator::manifests::{Child, SecretData};
use operator::render::Rendered;

mod layout;
mod notes;

use self::layout::{Layout, mongo_hosts};
use self::notes::{mode_note, unhonoured};
use crate::HarnessError;
use crate::cnpg::{PgCluster, Switchover};
use crate::engines::Engines;
use crate::net::{Names, Subnet};
use crate::pod::{self, Phase, PodDef, Restart};
use crate::program::Images;
use crate::proxy::{self, Pods, Port};

/// How to run a stack.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where pods keep their files, logs and volumes.
    pub root: PathBuf,
    /// Image stand-ins.
    pub images: Images,
    /// How long a stage may take to become ready.
    pub ready_timeout: Duration,
    /// Print progress lines.
    pub verbose: bool,
    /// Addresses of MongoDB stand-ins outside the stack (an "external" server a test runs);
    /// the stack's own `mongo` StatefulSet is added by itself.
    pub mongo_without_users: Vec<String>,
}

impl Options {
    /// Defaults: 120 s per stage, quiet.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>, images: Images) -> Self {
        Self {
            root: root.into(),
            images,
            ready_timeout: Duration::from_secs(120),
            verbose: false,
            mongo_without_users: Vec::new(),
        }
    }
}

/// A running stack.
#[derive(Debug)]
pub struct Cluster {
    rendered: Rendered,
    pods: Pods,
    proxies: Vec<tokio::task::JoinHandle<()>>,
    services: BTreeMap<String, Ipv4Addr>,
    names: Names,
    notes: Vec<String>,
    postgres: Vec<PgCluster>,
}

impl Cluster {
    /// Brings up every workload of `rendered`.
    ///
    /// # Errors
    /// [`HarnessError::NotReady`] or [`HarnessError::JobFailed`] (with the workload's log) when
    /// a stage does not come up within the timeout, and the errors of [`pod::start`].
    pub async fn start(rendered: Rendered, options: Options) -> Result<Self, HarnessError> {
        let namespace = rendered.namespace();
        let mut subnet = Subnet::random();
        let Layout {
            mut names,
            services,
            pod_ips,
            config_maps,
        } = Layout::of(&rendered, &namespace, &mut subnet);
        let mut secrets: SecretData = rendered.secret_data();
        let engines = Engines::prepare(
            &rendered,
            &options.root,
            &mut subnet,
            &mut names,
            &mut secrets,
        )?;
        let mongo_hosts = mongo_hosts(&rendered, &services, &engines, &options);
        let mut cluster = Self {
            rendered: rendered.clone(),
            pods: Arc::new(RwLock::new(Vec::new())),
            proxies: Vec::new(),
            services,
            names: names.clone(),
            notes: vec![mode_note(&options.images).to_owned()],
            postgres: Vec::new(),
        };
        cluster.notes.extend(engines.notes());
        let env = pod::Env {
            namespace: &namespace,
            secrets: &secrets,
            config_maps: &config_maps,
            names: &names,
            images: &options.images,
            mongo_without_users: &mongo_hosts,
        };
        // The engines' operators run their databases before anything of the stack that
        // needs them: the data stage, ahead of the provisioning Jobs and the services.
        for (plan, addresses, certs) in engines.postgres {
            cluster.say(
                &options,
                &format!("CloudNativePG Cluster {} starting", plan.name),
            );
            let dir = plan.dir(&options.root);
            let started = PgCluster::start(plan, dir, &addresses, certs, &secrets).await?;
            cluster.say(
                &options,
                &format!(
                    "CloudNativePG Cluster {} ready: primary {}",
                    started.plan().name,
                    started.primary().await
                ),
            );
            cluster.postgres.push(started);
        }
        for (plan, ip) in &engines.mongo {
            cluster.launch(plan.pod(), *ip, &env, &options)?;
            cluster
                .wait_ready("MongoDBCommunity", &plan.name, &options)
                .await?;
        }
        for stage in &rendered.children.stages {
            // Jobs first: the workloads of their stage need what they provision.
            let (jobs, rest): (Vec<&Child>, Vec<&Child>) = stage
                .objects
                .iter()
                .partition(|c| matches!(c, Child::Job(_)));
            for child in jobs {
                if let Child::Job(job) = child {
                    cluster
                        .run_job(child.name(), job, subnet.pod(), &env, &options)
                        .await?;
                }
            }
            let mut waiting = Vec::new();
            for child in rest {
                match child {
                    Child::Service(svc) => cluster.serve(child.name(), svc).await?,
                    Child::StatefulSet(sts) => {
                        let spec = sts.spec.clone().unwrap_or_default();
                        let claims: Vec<String> = spec
                            .volume_claim_templates
                            .iter()
                            .flatten()
                            .filter_map(|c| c.metadata.name.clone())
                            .collect();
                        for i in 0..spec.replicas.unwrap_or(1) {
                            let name = format!("{}-{i}", child.name());
                            let ip = pod_ips[&name];
                            let def = def(&name, &spec.template, claims.clone(), Restart::Always);
                            cluster.launch(def, ip, &env, &options)?;
                        }
                        waiting.push(("StatefulSet", child.name()));
                    }
                    Child::Deployment(deployment) => {
                        let spec = deployment.spec.clone().unwrap_or_default();
                        for i in 0..spec.replicas.unwrap_or(1) {
                            let name = format!("{}-{i}", child.name());
                            let def = def(&name, &spec.template, Vec::new(), Restart::Always);
                            cluster.launch(def, subnet.pod(), &env, &options)?;
                        }
                        waiting.push(("Deployment", child.name()));
                    }
                    _ => {}
                }
            }
            for (kind, name) in waiting {
                cluster.wait_ready(kind, name, &options).await?;
            }
        }
        cluster.notes.extend(unhonoured(&rendered));
        if !mongo_hosts.is_empty() {
            cluster.notes.push(format!(
                "the MongoDB stand-in has no users: MongoDB URLs for {} are used without \
                 their credentials",
                mongo_hosts.join(", ")
            ));
        }
        for pod in cluster.pods.read().expect("pods lock").iter() {
            if let Phase::Skipped(reason) = pod.phase() {
                cluster.notes.push(format!("{}: {reason}", pod.name));
            }
        }
        Ok(cluster)
    }

    /// Starts the pod `def` at `ip`, its files under `pods/<name>` of the root.
    fn launch(
        &self,
        def: PodDef,
        ip: Ipv4Addr,
        env: &pod::Env<'_>,
        options: &Options,
    ) -> Result<(), HarnessError> {
        let dir = options.root.join("pods").join(&def.name);
        let started = pod::start(def, ip, &dir, &options.root.join("volumes"), env)?;
        self.pods.write().expect("pods lock").push(started);
        Ok(())
    }

    /// Runs the Job `name` at `ip` to completion (or its backoff limit).
    async fn run_job(
        &self,
        name: &str,
        job: &Job,
        ip: Ipv4Addr,
        env: &pod::Env<'_>,
        options: &Options,
    ) -> Result<(), HarnessError> {
        let spec = job.spec.as_ref();
        let template = spec.map(|s| s.template.clone()).unwrap_or_default();
        let backoff_limit = spec
            .and_then(|s| s.backoff_limit)
            .unwrap_or(6)
            .unsigned_abs();
        let def = def(
            name,
            &template,
            Vec::new(),
            Restart::OnFailure { backoff_limit },
        );
        self.say(options, &format!("Job {name} starting"));
        self.launch(def, ip, env, options)?;
        self.wait_job(name, options).await
    }

    /// Serves the Service `name` on its address: a proxy per port to the ready pods its
    /// selector picks. A headless Service has no address and nothing to serve.
    async fn serve(&mut self, name: &str, svc: &Service) -> Result<(), HarnessError> {
        let Some(ip) = self.services.get(name).copied() else {
            return Ok(());
        };
        let spec = svc.spec.clone().unwrap_or_default();
        let ports = spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(Port {
                    port: u16::try_from(p.port).ok()?,
                    target: p.target_port.unwrap_or(IntOrString::Int(p.port)),
                })
            })
            .collect();
        let selector = spec.selector.unwrap_or_default();
        self.proxies
            .extend(proxy::serve(ip, ports, selector, self.pods.clone()).await?);
        Ok(())
    }

    fn say(&self, options: &Options, line: &str) {
        if options.verbose {
            eprintln!("[stack-run] {line}");
        }
    }

    async fn wait_job(&self, job: &str, options: &Options) -> Result<(), HarnessError> {
        let deadline = tokio::time::Instant::now() + options.ready_timeout;
        loop {
            let (phase, log) = {
                let pods = self.pods.read().expect("pods lock");
                let pod = pods.iter().find(|p| p.name == job).expect("job pod exists");
                (pod.phase(), pod.log_tail(30))
            };
            match phase {
                Phase::Succeeded => {
                    self.say(options, &format!("Job {job} completed"));
                    return Ok(());
                }
                Phase::Skipped(reason) => {
                    self.say(options, &format!("Job {job} not run: {reason}"));
                    return Ok(());
                }
                Phase::Failed(detail) => {
                    return Err(HarnessError::JobFailed {
                        job: job.to_owned(),
                        detail: format!("{detail}\n{log}"),
                    });
                }
                Phase::Running if tokio::time::Instant::now() > deadline => {
                    return Err(HarnessError::JobFailed {
                        job: job.to_owned(),
                        detail: format!("not complete after {:?}\n{log}", options.ready_timeout),
                    });
                }
                Phase::Running => tokio::time::sleep(pod::PROBE_INTERVAL).await,
            }
        }
    }

    async fn wait_ready(
        &self,
        kind: &str,
        name: &str,
        options: &Options,
    ) -> Result<(), HarnessError> {
        let deadline = tokio::time::Instant::now() + options.ready_timeout;
        let prefix = format!("{name}-");
        loop {
            let (ready, detail) = {
                let pods = self.pods.read().expect("pods lock");
                let mine: Vec<&pod::Pod> = pods
                    .iter()
                    .filter(|p| {
                        p.name
                            .strip_prefix(&prefix)
                            .is_some_and(|i| i.chars().all(|c| c.is_ascii_digit()))
                    })
                    .collect();
                let ready = mine.iter().all(|p| p.is_ready());
                let detail: Vec<String> = mine
                    .iter()
                    .filter(|p| !p.is_ready())
                    .map(|p| {
                        format!(
                            "pod {} not ready after {} restarts; its log:\n{}",
                            p.name,
                            p.restarts(),
                            p.log_tail(40)
                        )
                    })
                    .collect();
                (ready, detail.join("\n"))
            };
            if ready {
                self.say(options, &format!("{kind} {name} ready"));
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(HarnessError::NotReady {
                    workload: format!("{kind}/{name}"),
                    detail: format!("not ready within {:?}: {detail}", options.ready_timeout),
                });
            }
            tokio::time::sleep(pod::PROBE_INTERVAL).await;
        }
    }

    /// The address of a Service of the stack.
    #[must_use]
    pub fn service_ip(&self, service: &str) -> Option<Ipv4Addr> {
        self.services.get(service).copied()
    }

    /// `http://<address>:<port>` of the gateway's Service.
    #[must_use]
    pub fn gateway_url(&self) -> Option<String> {
        let name = format!(
            "{}-gateway",
            self.rendered
                .stack
                .metadata
                .name
                .as_deref()
                .unwrap_or_default()
        );
        let ip = self.service_ip(&name)?;
        Some(format!(
            "http://{ip}:{}",
            contract::deploy::GATEWAY_SERVICE_PORT
        ))
    }

    /// In-cluster DNS of the stack.
    #[must_use]
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The rendered stack this runs.
    #[must_use]
    pub fn rendered(&self) -> &Rendered {
        &self.rendered
    }

    /// What the stand-ins could not honour.
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Restarts of the pods whose name starts with `prefix`.
    #[must_use]
    pub fn restarts(&self, prefix: &str) -> u32 {
        self.with_prefix(prefix, |pods| {
            pods.into_iter().map(pod::Pod::restarts).sum()
        })
    }

    /// The last lines of every pod's log (for a failing test).
    #[must_use]
    pub fn logs(&self, lines: usize) -> String {
        self.pods
            .read()
            .expect("pods lock")
            .iter()
            .map(|p| p.log_tail(lines))
            .collect()
    }

    /// Whether every pod whose name starts with `prefix` is ready.
    #[must_use]
    pub fn is_ready(&self, prefix: &str) -> bool {
        self.with_prefix(prefix, |pods| pods.into_iter().all(pod::Pod::is_ready))
    }

    /// Runs `f` over the pods whose name starts with `prefix`, under the pods lock.
    fn with_prefix<T>(&self, prefix: &str, f: impl FnOnce(Vec<&pod::Pod>) -> T) -> T {
        let pods = self.pods.read().expect("pods lock");
        f(pods.iter().filter(|p| p.name.starts_with(prefix)).collect())
    }

    /// A CloudNativePG Cluster of the stack, by name (`<stack>-postgres`).
    #[must_use]
    pub fn postgres(&self, name: &str) -> Option<&PgCluster> {
        self.postgres.iter().find(|c| c.plan().name == name)
    }

    /// Switches the CloudNativePG Cluster `name` over to its replica (see
    /// [`PgCluster::switchover`]).
    ///
    /// # Errors
    /// [`HarnessError::Reference`] when the stack has no such Cluster, and the switchover's.
    pub async fn switchover(&self, name: &str) -> Result<Switchover, HarnessError> {
        self.postgres(name)
            .ok_or_else(|| HarnessError::Reference(format!("no CloudNativePG Cluster {name}")))?
            .switchover()
            .await
    }

    /// Stops every pod (the gateway first, the data stores last) and the Service proxies.
    pub async fn stop(mut self) {
        for proxy in self.proxies.drain(..) {
            proxy.abort();
        }
        let pods: Vec<pod::Pod> = std::mem::take(&mut *self.pods.write().expect("pods lock"));
        for pod in pods.into_iter().rev() {
            pod.stop(Duration::from_secs(10)).await;
        }
        for postgres in self.postgres.drain(..) {
            postgres.stop().await;
        }
    }
}

fn def(name: &str, template: &PodTemplateSpec, claims: Vec<String>, restart: Restart) -> PodDef {
    PodDef {
        name: name.to_owned(),
        labels: template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default(),
        spec: template.spec.clone().unwrap_or_default(),
        claims,
        restart,
    }
}
