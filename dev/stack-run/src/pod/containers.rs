//! Each container resolved into what runs it: the stand-in program for its image and its
//! arguments, the env with references filled in, paths and ports mapped onto this machine.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use contract::deploy::env::images;
use k8s_openapi::api::core::v1::{Container, EnvVar, Probe};

use super::paths::{bind_to, replace_paths, without_credentials};
use super::{Env, PodDef};
use crate::HarnessError;
use crate::program::Plan;

/// One container, with everything resolved.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    pub(super) name: String,
    pub(super) argv: Vec<String>,
    pub(super) env: BTreeMap<String, String>,
    pub(super) path: Vec<PathBuf>,
    pub(super) workdir: PathBuf,
    pub(super) ports: BTreeMap<String, u16>,
    pub(super) readiness: Option<Probe>,
    pub(super) log: PathBuf,
    pub(super) pg: Option<PgInit>,
    pub(super) mongo_data: Option<PathBuf>,
}

/// What the PostgreSQL image's entrypoint needs.
#[derive(Clone, Debug)]
pub(super) struct PgInit {
    pub(super) data: PathBuf,
    pub(super) socket_dir: PathBuf,
    pub(super) user: String,
    pub(super) password: String,
    pub(super) port: u16,
}

/// The container resolved, `None` for a sidecar left out of the pod, or `Err(reason)` when its
/// stand-in cannot run it (the pod is not run).
pub(super) fn prepare(
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
pub(super) struct ContainerRun<'a> {
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
pub(super) fn container_argv(
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

pub(super) fn rand_suffix() -> String {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    (0..6)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

/// The value of one env var, as the kubelet resolves it.
pub(super) fn resolve(
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
