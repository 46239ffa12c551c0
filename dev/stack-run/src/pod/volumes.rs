//! The pod's volumes made into files and directories under its own folder, as the kubelet
//! mounts them: Secrets, ConfigMaps, emptyDirs and claims, with their modes and owners.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::paths::{bind_to, replace_paths};
use super::{Env, PodDef};
use crate::HarnessError;

/// Volume name → the host directory standing in for it.
pub(super) fn materialise(
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
pub(super) fn pod_views(def: &PodDef, dir: &Path) -> Vec<(String, PathBuf)> {
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

pub(super) fn set_mode(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt as _;
    // Owner-readable at least: the harness runs the process as the file's owner.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o400))
        .map_err(HarnessError::io(format!("chmod {}", path.display())))
}

/// Gives volume files the ownership Kubernetes gives them (`root:<fsGroup>`, directories of
/// writable volumes open to the group), so a container running as a non-root user reads them
/// as in a cluster. Only root can; others run containers as themselves anyway.
pub(super) fn own_for(
    path: &Path,
    fs_group: Option<i64>,
    writable: bool,
) -> Result<(), HarnessError> {
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
