//! The operator-managed MongoDB server (nothing when disabled or external).

use contract::deploy;
use k8s_openapi::api::core::v1::{Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{Ctx, env_secret};
use super::database::{self, Engine};
use super::{Child, SecretData};
use crate::crd::{DatabaseKind, DatabaseSpec};
use crate::error::Error;

/// The smallest WiredTiger cache mongod accepts, in GB.
pub const MIN_CACHE_GB: f64 = 0.25;

/// mongod's arguments. WiredTiger sizes its cache from the machine's memory (50% of RAM minus
/// 1 GB), not the container's limit, so a pod on a large node is OOM-killed as its cache
/// grows; the same rule is applied here to the memory limit instead.
#[must_use]
pub fn args(spec: &DatabaseSpec) -> Vec<String> {
    let mut args = vec!["mongod".to_owned()];
    if let Some(limit) = database::memory_limit_bytes(spec) {
        args.extend([
            "--wiredTigerCacheSizeGB".to_owned(),
            format!("{:.2}", cache_gb(limit)),
        ]);
    }
    args
}

/// The WiredTiger cache for a memory limit: half of what exceeds 1 GB, at least 0.25 GB.
#[must_use]
pub fn cache_gb(limit_bytes: u64) -> f64 {
    const GB: f64 = 1_073_741_824.0;
    #[allow(
        clippy::cast_precision_loss,
        reason = "memory sizes are far below 2^52"
    )]
    let limit = limit_bytes as f64 / GB;
    let cache = ((limit - 1.0) / 2.0).max(MIN_CACHE_GB);
    (cache * 100.0).floor() / 100.0
}

/// StatefulSet and Service of the managed MongoDB.
///
/// # Errors
/// Never today; kept fallible like the other builders.
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    Ok(database::managed(
        ctx,
        secrets,
        DatabaseKind::Mongodb,
        |spec, admin| Engine {
            port: deploy::MONGODB_PORT.into(),
            uid: 999,
            data_path: "/data/db",
            scratch: &["/data/configdb", "/tmp"],
            env: vec![
                env_secret(
                    deploy::env::images::MONGO_INITDB_ROOT_USERNAME,
                    admin,
                    "username",
                ),
                env_secret(
                    deploy::env::images::MONGO_INITDB_ROOT_PASSWORD,
                    admin,
                    "password",
                ),
            ],
            args: args(spec),
            probe: Probe {
                tcp_socket: Some(TCPSocketAction {
                    port: IntOrString::Int(deploy::MONGODB_PORT.into()),
                    host: None,
                }),
                period_seconds: Some(10),
                timeout_seconds: Some(5),
                ..Probe::default()
            },
        },
    ))
}
