//! The operator-managed PostgreSQL server (nothing when disabled or external).

use contract::deploy;
use k8s_openapi::api::core::v1::{ExecAction, Probe};

use super::autoscaling::most_pods;
use super::common::{Ctx, env, env_secret};
use super::database::{self, Engine};
use super::{Child, SecretData};
use crate::crd::{DatabaseKind, DatabaseSpec};
use crate::error::Error;

/// PostgreSQL's own default `max_connections`, assumed when the spec gives none.
pub const DEFAULT_MAX_CONNECTIONS: i32 = 100;
/// Connections kept out of the services' pools: superuser-reserved slots, provisioning Jobs
/// and an operator's psql session.
pub const RESERVED_CONNECTIONS: i32 = 10;
/// The largest pool a service pod gets (the binaries' own default).
pub const MAX_POOL: i32 = 10;

/// The server's `max_connections` (the spec's `maxConnections`, or PostgreSQL's default).
#[must_use]
pub fn max_connections(spec: &DatabaseSpec) -> i32 {
    spec.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS)
}

/// `DATABASE_MAX_CONNECTIONS` of every PostgreSQL service pod: the server's connections, less
/// a reserve, shared evenly by every pod that may run at once (each service's replicas, or
/// its autoscaler's `maxReplicas`, plus one surge pod during a rolling update), between 1
/// and [`MAX_POOL`].
#[must_use]
pub fn pool_size(ctx: &Ctx<'_>) -> i32 {
    let pods: i32 = ctx
        .spec
        .services_on(DatabaseKind::Postgres)
        .map(|s| {
            most_pods(s.replicas, s.autoscaling.as_ref())
                .max(0)
                .saturating_add(1)
        })
        .sum();
    let budget = max_connections(&ctx.spec.postgres).saturating_sub(RESERVED_CONNECTIONS);
    (budget / pods.max(1)).clamp(1, MAX_POOL)
}

/// StatefulSet and Service of the managed PostgreSQL.
///
/// # Errors
/// Never today; kept fallible like the other builders.
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    Ok(database::managed(
        ctx,
        secrets,
        DatabaseKind::Postgres,
        |spec, admin| Engine {
            port: deploy::POSTGRES_PORT.into(),
            uid: 70,
            data_path: "/var/lib/postgresql/data",
            scratch: &["/var/run/postgresql", "/tmp"],
            env: vec![
                env_secret(deploy::env::images::POSTGRES_USER, admin, "username"),
                env_secret(deploy::env::images::POSTGRES_PASSWORD, admin, "password"),
                env("PGDATA", "/var/lib/postgresql/data/pgdata"),
            ],
            args: vec![
                "postgres".into(),
                "-c".into(),
                format!("max_connections={}", max_connections(spec)),
            ],
            probe: Probe {
                exec: Some(ExecAction {
                    command: Some(vec![
                        "pg_isready".into(),
                        "-h".into(),
                        "127.0.0.1".into(),
                        "-U".into(),
                        "postgres".into(),
                    ]),
                }),
                period_seconds: Some(10),
                timeout_seconds: Some(5),
                ..Probe::default()
            },
        },
    ))
}
