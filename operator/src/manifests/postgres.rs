//! The operator-managed PostgreSQL server (nothing when disabled or external).

use k8s_openapi::api::core::v1::{ExecAction, Probe};

use super::common::{Ctx, env, env_secret};
use super::database::{self, Server};
use super::secrets::{POSTGRES_PORT, admin_secret, database_image};
use super::{Child, SecretData};
use crate::crd::DatabaseKind;
use crate::error::Error;

/// StatefulSet and Service of the managed PostgreSQL.
///
/// # Errors
/// Never today; kept fallible like the other builders.
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    let spec = &ctx.spec.postgres;
    if !spec.is_managed() {
        return Ok(Vec::new());
    }
    let admin = admin_secret(ctx, DatabaseKind::Postgres);
    let server = Server {
        component: "postgres",
        spec,
        image: database_image(ctx, DatabaseKind::Postgres),
        port: POSTGRES_PORT,
        uid: 70,
        data_path: "/var/lib/postgresql/data",
        scratch: &["/var/run/postgresql", "/tmp"],
        env: vec![
            env_secret("POSTGRES_USER", &admin, "username"),
            env_secret("POSTGRES_PASSWORD", &admin, "password"),
            env("PGDATA", "/var/lib/postgresql/data/pgdata"),
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
        admin_secret: admin,
    };
    Ok(database::children(ctx, server, secrets))
}
