//! One pod, run as the kubelet would: volumes made into files, env resolved, each container
//! started from its [`Plan`], restarted when it exits (or, in a Job, until it succeeds), and
//! probed until ready.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contract::deploy::env::images;
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use operator::manifests::SecretData;
use testbed::process::{Child, Spec};
use testbed::programs;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::watch;

use crate::HarnessError;
use crate::net::{Names, replace_whole};
use crate::program::{Images, Plan};

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

    /// The last `lines` lines of each container's log.
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            out.push_str(&format!("--- {} ---\n", log.display()));
            for line in &all[start..] {
                out.push_str(line);
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

/// One container, with everything resolved.
#[derive(Clone, Debug)]
struct Prepared {
    name: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    path: Vec<PathBuf>,
    workdir: PathBuf,
    ports: BTreeMap<String, u16>,
    readiness: Option<Probe>,
    log: PathBuf,
    pg: Option<PgInit>,
    mongo_data: Option<PathBuf>,
}

/// What the PostgreSQL image's entrypoint needs.
#[derive(Clone, Debug)]
struct PgInit {
    data: PathBuf,
    socket_dir: PathBuf,
    user: String,
    password: String,
    port: u16,
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

/// Volume name → the host directory standing in for it.
fn materialise(
    def: &PodDef,
    ip: Ipv4Addr,
    dir: &Path,
    claims_dir: &Path,
    env: &Env<'_>,
) -> Result<BTreeMap<String, PathBuf>, HarnessError> {
    // Files name hosts, bind addresses and paths of other mounts (NATS: routes, `listen`,
    // `pid_file`): resolve them as the containers' env is resolved.
    let views = pod_views(def, dir);
    let resolve = |text: &str| replace_paths(&bind_to(&env.names.rewrite(text), ip), &views);
    let mut out = BTreeMap::new();
    for claim in &def.claims {
        let path = claims_dir.join(format!("{claim}-{}", def.name));
        std::fs::create_dir_all(&path)
            .map_err(HarnessError::io(format!("create {}", path.display())))?;
        out.insert(claim.clone(), path);
    }
    for volume in def.spec.volumes.iter().flatten() {
        let path = dir.join("volumes").join(&volume.name);
        std::fs::create_dir_all(&path)
            .map_err(HarnessError::io(format!("create {}", path.display())))?;
        let files: Vec<(String, Vec<u8>, u32)> = if let Some(secret) = &volume.secret {
            let name = secret.secret_name.clone().unwrap_or_default();
            let data = env.secrets.get(&name).ok_or_else(|| {
                HarnessError::Reference(format!(
                    "pod {} mounts Secret {name}, which does not exist",
                    def.name
                ))
            })?;
            let mode = secret.default_mode.unwrap_or(0o644).unsigned_abs();
            match &secret.items {
                // Only the listed keys, at their paths.
                Some(items) => items
                    .iter()
                    .map(|item| {
                        let value = data.get(&item.key).ok_or_else(|| {
                            HarnessError::Reference(format!(
                                "pod {} mounts key {} of Secret {name}, which it lacks",
                                def.name, item.key
                            ))
                        })?;
                        let mode = item.mode.map_or(mode, i32::unsigned_abs);
                        Ok((item.path.clone(), resolve(value).into_bytes(), mode))
                    })
                    .collect::<Result<Vec<_>, HarnessError>>()?,
                None => data
                    .iter()
                    .map(|(k, v)| (k.clone(), resolve(v).into_bytes(), mode))
                    .collect(),
            }
        } else if let Some(config_map) = &volume.config_map {
            let data = env.config_maps.get(&config_map.name).ok_or_else(|| {
                HarnessError::Reference(format!(
                    "pod {} mounts ConfigMap {}, which does not exist",
                    def.name, config_map.name
                ))
            })?;
            let mode = config_map.default_mode.unwrap_or(0o644).unsigned_abs();
            data.iter()
                .map(|(k, v)| (k.clone(), resolve(v).into_bytes(), mode))
                .collect()
        } else {
            Vec::new()
        };
        let fs_group = def.spec.security_context.as_ref().and_then(|s| s.fs_group);
        for (key, bytes, mode) in files {
            let file = path.join(&key);
            std::fs::write(&file, bytes)
                .map_err(HarnessError::io(format!("write {}", file.display())))?;
            set_mode(&file, mode)?;
            own_for(&file, fs_group, false)?;
        }
        own_for(&path, fs_group, volume.empty_dir.is_some())?;
        out.insert(volume.name.clone(), path);
    }
    Ok(out)
}

/// Every mount path of the pod's containers and its view under `<pod>/fs`, longest first.
fn pod_views(def: &PodDef, dir: &Path) -> Vec<(String, PathBuf)> {
    let mut views: Vec<(String, PathBuf)> = def
        .spec
        .containers
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .map(|m| {
            (
                m.mount_path.clone(),
                dir.join("fs").join(m.mount_path.trim_start_matches('/')),
            )
        })
        .collect();
    views.sort_by_key(|v| std::cmp::Reverse(v.0.len()));
    views.dedup_by(|a, b| a.0 == b.0);
    views
}

fn set_mode(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt as _;
    // Owner-readable at least: the harness runs the process as the file's owner.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o400))
        .map_err(HarnessError::io(format!("chmod {}", path.display())))
}

/// The container resolved, `None` for a sidecar left out of the pod, or `Err(reason)` when its
/// stand-in cannot run it (the pod is not run).
fn prepare(
    def: &PodDef,
    container: &Container,
    ip: Ipv4Addr,
    dir: &Path,
    volumes: &BTreeMap<String, PathBuf>,
    env: &Env<'_>,
) -> Result<Result<Option<Prepared>, String>, HarnessError> {
    let image = container.image.clone().unwrap_or_default();
    let command = container.command.clone().unwrap_or_default();
    let plan = env
        .images
        .plan(&image, &command)
        .map_err(|detail| HarnessError::Image {
            pod: def.name.clone(),
            container: container.name.clone(),
            detail,
        })?;
    match plan {
        Plan::Skip(reason) => return Ok(Err(reason)),
        Plan::Omit(reason) => {
            eprintln!(
                "[stack-run] pod {}: container {} left out: {reason}",
                def.name, container.name
            );
            return Ok(Ok(None));
        }
        _ => {}
    }
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let host = volumes.get(&mount.name).ok_or_else(|| {
            HarnessError::Reference(format!(
                "container {} of {} mounts volume {}, which the pod does not have",
                container.name, def.name, mount.name
            ))
        })?;
        let host = match &mount.sub_path {
            Some(sub) if !sub.is_empty() => host.join(sub),
            _ => host.clone(),
        };
        // The container's view: `<pod>/fs/<mount path>` links to the volume, so relative
        // paths between mounts (a config's `include "../secret/x.conf"`) resolve as in the pod.
        let view = dir
            .join("fs")
            .join(mount.mount_path.trim_start_matches('/'));
        if let Some(parent) = view.parent() {
            std::fs::create_dir_all(parent)
                .map_err(HarnessError::io(format!("create {}", parent.display())))?;
        }
        if std::fs::symlink_metadata(&view).is_err() {
            std::os::unix::fs::symlink(&host, &view)
                .map_err(HarnessError::io(format!("link {}", view.display())))?;
        }
        mounts.push((mount.mount_path.clone(), view));
    }
    mounts.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
    // A container sees its mounts at their own paths; a process sees them under `<pod>/fs`.
    let in_container = matches!(plan, Plan::Container { .. });
    let rewrite = |text: &str| -> String {
        let out = bind_to(&env.names.rewrite(text), ip);
        if in_container {
            out
        } else {
            replace_paths(&out, &mounts)
        }
    };
    let mut vars = BTreeMap::new();
    vars.insert("HOSTNAME".to_owned(), def.name.clone());
    for var in container.env.iter().flatten() {
        let value = rewrite(&resolve(var, def, ip, env)?);
        let value = without_credentials(&value, env.mongo_without_users).unwrap_or(value);
        vars.insert(var.name.clone(), value);
    }
    let args: Vec<String> = container
        .args
        .iter()
        .flatten()
        .map(|a| rewrite(a))
        .collect();
    let ports: BTreeMap<String, u16> = container
        .ports
        .iter()
        .flatten()
        .filter_map(|p| Some((p.name.clone()?, u16::try_from(p.container_port).ok()?)))
        .collect();
    let log = dir.join(format!("{}.log", container.name));
    let workdir = container
        .working_dir
        .as_deref()
        .map_or_else(|| dir.to_owned(), |w| PathBuf::from(rewrite(w)));
    let mut prepared = Prepared {
        name: container.name.clone(),
        argv: Vec::new(),
        env: vars,
        path: Vec::new(),
        workdir,
        ports,
        readiness: container.readiness_probe.clone(),
        log,
        pg: None,
        mongo_data: None,
    };
    match plan {
        Plan::Entrypoint(program) => {
            prepared.argv.push(program.to_string_lossy().into_owned());
            prepared.argv.extend(args);
        }
        Plan::Command { program, path } => {
            let mut argv: Vec<String> = command.iter().map(|c| rewrite(c)).collect();
            if let Some(program) = program {
                argv[0] = program.to_string_lossy().into_owned();
            }
            argv.extend(args);
            prepared.argv = argv;
            prepared.path = path;
        }
        Plan::Postgres(bin) => {
            let get = |k: &str| prepared.env.get(k).cloned().unwrap_or_default();
            let data = PathBuf::from(get("PGDATA"));
            // A Unix socket path has at most 107 bytes, which a pod directory can exceed: the
            // server's socket goes to a short directory of its own (clients here use TCP).
            let socket_dir = std::env::temp_dir().join(format!("natstack-pg-{}", rand_suffix()));
            let port = prepared.ports.values().next().copied().unwrap_or(5432);
            prepared.pg = Some(PgInit {
                data: data.clone(),
                socket_dir: socket_dir.clone(),
                user: get(images::POSTGRES_USER),
                password: get(images::POSTGRES_PASSWORD),
                port,
            });
            prepared.argv = vec![
                bin.join("postgres").to_string_lossy().into_owned(),
                "-D".into(),
                data.to_string_lossy().into_owned(),
                "-p".into(),
                port.to_string(),
                "-k".into(),
                socket_dir.to_string_lossy().into_owned(),
                "-c".into(),
                format!("listen_addresses={ip}"),
            ];
            prepared.path = vec![bin];
        }
        Plan::Mongo(program) => {
            let data = mounts
                .iter()
                .find(|(p, _)| p == "/data/db")
                .map_or_else(|| dir.join("mongo"), |(_, h)| h.clone());
            let port = prepared.ports.values().next().copied().unwrap_or(27017);
            prepared.argv = vec![
                program.to_string_lossy().into_owned(),
                "--host".into(),
                ip.to_string(),
                "--port".into(),
                port.to_string(),
                "--data-dir".into(),
                data.join("nx").to_string_lossy().into_owned(),
                "--log-file".into(),
                dir.join("nx-27017.log").to_string_lossy().into_owned(),
                "--pid-file".into(),
                dir.join("nx-27017.pid").to_string_lossy().into_owned(),
            ];
            prepared.mongo_data = Some(data);
        }
        Plan::Container { image, wrapper } => {
            prepared.argv = container_argv(
                &ContainerRun {
                    def,
                    container,
                    dir,
                    image: &image,
                    wrapper: &wrapper,
                    mounts: &mounts,
                },
                &prepared.env,
                &args,
            )?;
            // The wrapper needs only PATH; the container gets its env from the file.
            prepared.env = BTreeMap::new();
        }
        Plan::Skip(_) | Plan::Omit(_) => unreachable!("handled above"),
    }
    Ok(Ok(Some(prepared)))
}

/// What a container run needs from the pod.
struct ContainerRun<'a> {
    def: &'a PodDef,
    container: &'a Container,
    dir: &'a Path,
    image: &'a str,
    wrapper: &'a Path,
    mounts: &'a [(String, PathBuf)],
}

/// `podman.sh run` with the container's user, env (from a file readable only by its owner, so
/// no secret shows in a process list), mounts and args; the wrapper adds the read-only root,
/// dropped capabilities and no-new-privileges.
fn container_argv(
    run: &ContainerRun<'_>,
    vars: &BTreeMap<String, String>,
    args: &[String],
) -> Result<Vec<String>, HarnessError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let pod_security = run.def.spec.security_context.clone().unwrap_or_default();
    let security = run.container.security_context.clone().unwrap_or_default();
    let uid = security.run_as_user.or(pod_security.run_as_user);
    let gid = security
        .run_as_group
        .or(pod_security.run_as_group)
        .or(pod_security.fs_group);
    let env_file = run.dir.join(format!("{}.env", run.container.name));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&env_file)
        .map_err(HarnessError::io(format!("write {}", env_file.display())))?;
    for (key, value) in vars {
        writeln!(file, "{key}={value}")
            .map_err(HarnessError::io(format!("write {}", env_file.display())))?;
    }
    let mut argv = vec![
        run.wrapper.to_string_lossy().into_owned(),
        "run".to_owned(),
        "--name".to_owned(),
        format!(
            "natstack-{}-{}-{}",
            run.def.name,
            run.container.name,
            rand_suffix()
        ),
        "--env-file".to_owned(),
        env_file.to_string_lossy().into_owned(),
    ];
    if let Some(uid) = uid {
        argv.push("--user".to_owned());
        argv.push(gid.map_or_else(|| uid.to_string(), |g| format!("{uid}:{g}")));
    }
    for mount in run.container.volume_mounts.iter().flatten() {
        let Some((_, host)) = run.mounts.iter().find(|(p, _)| *p == mount.mount_path) else {
            continue;
        };
        let host = std::fs::canonicalize(host)
            .map_err(HarnessError::io(format!("resolve {}", host.display())))?;
        let mode = if mount.read_only == Some(true) {
            "ro"
        } else {
            "rw"
        };
        argv.push("--volume".to_owned());
        argv.push(format!("{}:{}:{mode}", host.display(), mount.mount_path));
    }
    if let Some(dir) = &run.container.working_dir {
        argv.push("--workdir".to_owned());
        argv.push(dir.clone());
    }
    argv.push(run.image.to_owned());
    argv.extend(args.iter().cloned());
    Ok(argv)
}

fn rand_suffix() -> String {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    (0..6)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

/// Gives volume files the ownership Kubernetes gives them (`root:<fsGroup>`, directories of
/// writable volumes open to the group), so a container running as a non-root user reads them
/// as in a cluster. Only root can; others run containers as themselves anyway.
fn own_for(path: &Path, fs_group: Option<i64>, writable: bool) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt as _;
    let (Some(group), true) = (fs_group, nix::unistd::Uid::effective().is_root()) else {
        return Ok(());
    };
    let gid = nix::unistd::Gid::from_raw(u32::try_from(group).unwrap_or(0));
    nix::unistd::chown(path, None, Some(gid))
        .map_err(|e| HarnessError::io(format!("chown {}", path.display()))(e.into()))?;
    if writable && path.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o2777))
            .map_err(HarnessError::io(format!("chmod {}", path.display())))?;
    }
    Ok(())
}

/// `text` with every mount path (at the start of a path: after the start, a space, `=`, `:` or
/// a quote, and followed by `/` or the end of the path) replaced by its host directory, in one
/// pass, so a replacement is never rewritten again by a shorter mount path.
fn replace_paths(text: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    'scan: while i < text.len() {
        let starts_path =
            i == 0 || matches!(bytes[i - 1], b' ' | b'=' | b':' | b'"' | b'\'' | b'\n');
        if starts_path && bytes[i] == b'/' {
            // Longest first: the caller sorted them.
            for (path, host) in mounts {
                if text[i..].starts_with(path.as_str()) {
                    let end = i + path.len();
                    let ends = end == text.len() || !is_path_char(bytes[end]) || bytes[end] == b'/';
                    if ends {
                        out.push_str(&host.to_string_lossy());
                        i = end;
                        continue 'scan;
                    }
                }
            }
        }
        let c = text[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// A `mongodb://user:password@host...` URL whose host is in `hosts`, without the user,
/// password and `authSource` (the stand-in cannot authenticate anyone); `None` for any other
/// value.
#[must_use]
pub fn without_credentials(value: &str, hosts: &[String]) -> Option<String> {
    let rest = value.strip_prefix("mongodb://")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (userinfo, host_and_rest) = rest[..authority_end]
        .rsplit_once('@')
        .map(|(u, h)| (u, format!("{h}{}", &rest[authority_end..])))?;
    let _ = userinfo;
    let host = host_and_rest
        .split([':', '/', '?'])
        .next()
        .unwrap_or_default();
    if !hosts.iter().any(|h| h == host) {
        return None;
    }
    let (base, query) = host_and_rest
        .split_once('?')
        .map_or((host_and_rest.as_str(), ""), |(b, q)| (b, q));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("authSource="))
        .collect();
    Some(if kept.is_empty() {
        format!("mongodb://{base}")
    } else {
        format!("mongodb://{base}?{}", kept.join("&"))
    })
}

/// `0.0.0.0` (every interface) → the pod's own address: pods share this machine's interfaces.
fn bind_to(text: &str, ip: Ipv4Addr) -> String {
    replace_whole(text, "0.0.0.0", &ip.to_string(), |c| {
        c.is_ascii_digit() || c == '.'
    })
}

/// The value of one env var, as the kubelet resolves it.
fn resolve(
    var: &EnvVar,
    def: &PodDef,
    ip: Ipv4Addr,
    env: &Env<'_>,
) -> Result<String, HarnessError> {
    if let Some(value) = &var.value {
        return Ok(value.clone());
    }
    let Some(from) = &var.value_from else {
        return Ok(String::new());
    };
    let missing = |what: String| {
        HarnessError::Reference(format!("pod {}: env {}: {what}", def.name, var.name))
    };
    if let Some(r) = &from.secret_key_ref {
        return match env.secrets.get(&r.name).and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(v.clone()),
            None if r.optional == Some(true) => Ok(String::new()),
            None => Err(missing(format!("Secret {} has no key {}", r.name, r.key))),
        };
    }
    if let Some(r) = &from.config_map_key_ref {
        return match env.config_maps.get(&r.name).and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(v.clone()),
            None if r.optional == Some(true) => Ok(String::new()),
            None => Err(missing(format!(
                "ConfigMap {} has no key {}",
                r.name, r.key
            ))),
        };
    }
    if let Some(field) = &from.field_ref {
        return match field.field_path.as_str() {
            "metadata.name" => Ok(def.name.clone()),
            "metadata.namespace" => Ok(env.namespace.to_owned()),
            "status.podIP" => Ok(ip.to_string()),
            other => Err(missing(format!("field {other} is not supported"))),
        };
    }
    Err(missing("resourceFieldRef is not supported".to_owned()))
}

/// Runs one container until the pod stops (or, in a Job, until it succeeds or fails).
async fn supervise(
    container: Prepared,
    restart: Restart,
    grace: Duration,
    up: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
    phase: Arc<Mutex<Phase>>,
    mut stop: watch::Receiver<bool>,
) {
    let set_phase = |p: Phase| {
        if let Ok(mut guard) = phase.lock() {
            *guard = p;
        }
    };
    let mut failures = 0u32;
    let mut backoff = Duration::from_millis(500);
    loop {
        if let Err(e) = init(&container).await {
            note(
                &container.log,
                &format!("[stack-run] cannot initialise: {e}"),
            )
            .await;
        }
        let started = tokio::time::Instant::now();
        let status = match spawn(&container) {
            Err(e) => {
                note(&container.log, &format!("[stack-run] cannot start: {e}")).await;
                None
            }
            Ok(mut child) => {
                up.store(true, Ordering::Release);
                let outcome = tokio::select! {
                    status = child.wait() => status,
                    () = stopped(&mut stop) => {
                        // The kubelet's stop: SIGTERM, then SIGKILL after the grace period.
                        let _ = tokio::task::spawn_blocking(move || child.stop_within(grace)).await;
                        up.store(false, Ordering::Release);
                        return;
                    }
                };
                up.store(false, Ordering::Release);
                // The container's own children (a shell's psql) go with it.
                child.kill();
                outcome
            }
        };
        let code = status.map_or_else(|| "no status".to_owned(), |s| s.to_string());
        match restart {
            Restart::OnFailure { backoff_limit } => {
                if status.is_some_and(|s| s.success()) {
                    set_phase(Phase::Succeeded);
                    return;
                }
                failures += 1;
                if failures > backoff_limit {
                    set_phase(Phase::Failed(format!(
                        "{} failed {failures} times, last with {code}",
                        container.name
                    )));
                    return;
                }
            }
            Restart::Always => {}
        }
        restarts.fetch_add(1, Ordering::Relaxed);
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(500);
        }
        note(
            &container.log,
            &format!(
                "[stack-run] container {} exited ({code}); restarting in {backoff:?}",
                container.name
            ),
        )
        .await;
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped(&mut stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Resolves once the pod is told to stop (drops the watch guard before any await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

async fn note(log: &Path, line: &str) {
    if let Ok(mut file) = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .await
    {
        let _ = file.write_all(format!("{line}\n").as_bytes()).await;
    }
}

/// What the image's entrypoint does before the server: PostgreSQL's `initdb` on an empty data
/// directory (user and password from the env, `scram-sha-256` for network clients, as the
/// official image sets up).
async fn init(container: &Prepared) -> Result<(), String> {
    if let Some(data) = &container.mongo_data {
        std::fs::create_dir_all(data.join("nx")).map_err(|e| e.to_string())?;
    }
    let Some(pg) = &container.pg else {
        return Ok(());
    };
    let user = programs::service_user().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&pg.socket_dir).map_err(|e| e.to_string())?;
    if let Some(parent) = pg.data.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    for dir in [
        &pg.socket_dir,
        &pg.data.parent().map(Path::to_path_buf).unwrap_or_default(),
    ] {
        chown_to(dir, user.as_ref())?;
    }
    if pg.data.join("PG_VERSION").is_file() {
        let _ = std::fs::remove_file(pg.data.join("postmaster.pid"));
        return Ok(());
    }
    let pwfile = pg.socket_dir.join(".pwfile");
    std::fs::write(&pwfile, format!("{}\n", pg.password)).map_err(|e| e.to_string())?;
    chown_to(&pwfile, user.as_ref())?;
    let bin = container.path.first().cloned().unwrap_or_default();
    let output = programs::command_as(&bin.join("initdb"), user.as_ref())
        .arg("-D")
        .arg(&pg.data)
        .arg(format!("--username={}", pg.user))
        .arg(format!("--pwfile={}", pwfile.display()))
        .args([
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
        ])
        .args(["--locale=C", "--no-sync", "--no-instructions"])
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&pwfile);
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // The image listens on every address and lets any host in with a password.
    let hba = pg.data.join("pg_hba.conf");
    let mut text = std::fs::read_to_string(&hba).map_err(|e| e.to_string())?;
    text.push_str("host all all all scram-sha-256\n");
    std::fs::write(&hba, text).map_err(|e| e.to_string())?;
    let _ = pg.port;
    Ok(())
}

fn chown_to(path: &Path, user: Option<&nix::unistd::User>) -> Result<(), String> {
    if let Some(user) = user {
        nix::unistd::chown(path, Some(user.uid), Some(user.gid)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Starts a container's process under the test bed's supervisor: its own process group,
/// killed with stack-run, only the container's environment.
fn spawn(container: &Prepared) -> Result<Child, testbed::HarnessError> {
    let (program, args) = container
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut spec = Spec::new(container.name.clone(), program).args(args);
    if container.pg.is_some() {
        spec.user = programs::service_user()?;
    }
    spec.clear_env = true;
    spec.env = container
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    spec.env
        .push(("PATH".to_owned(), search_path(&container.path)));
    spec.workdir = Some(container.workdir.clone());
    Child::spawn(spec, &container.log)
}

fn search_path(first: &[PathBuf]) -> String {
    let mut dirs: Vec<PathBuf> = first.to_vec();
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs)
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Runs every container's readiness probe and keeps the pod's ready flag.
async fn probe_loop(
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
async fn run_probe(probe: &Probe, container: &Prepared, ip: Ipv4Addr) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_replaced_once_and_only_at_path_starts() {
        // The first replacement starts with the second mount path: it must not be rewritten.
        let mounts = vec![
            (
                "/var/lib/postgresql/data".to_owned(),
                PathBuf::from("/srv/pods/p/data"),
            ),
            ("/srv".to_owned(), PathBuf::from("/srv/pods/p/srv")),
        ];
        assert_eq!(
            replace_paths("/var/lib/postgresql/data/pgdata", &mounts),
            "/srv/pods/p/data/pgdata"
        );
        assert_eq!(replace_paths("HOME=/srv", &mounts), "HOME=/srv/pods/p/srv");
        assert_eq!(
            replace_paths("/srvfoo a/srv /srv/", &mounts),
            "/srvfoo a/srv /srv/pods/p/srv/"
        );
        assert_eq!(
            without_credentials(
                "mongodb://auth:pw@127.1.1.2:27017/auth?authSource=auth&tls=false",
                &["127.1.1.2".to_owned()]
            )
            .as_deref(),
            Some("mongodb://127.1.1.2:27017/auth?tls=false")
        );
        assert_eq!(
            without_credentials("mongodb://a:b@other:1/x", &["127.1.1.2".to_owned()]),
            None
        );
        assert_eq!(
            bind_to("listen: 0.0.0.0:4222", Ipv4Addr::new(127, 1, 2, 3)),
            "listen: 127.1.2.3:4222"
        );
    }
}
