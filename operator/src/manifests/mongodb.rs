//! The operator-managed MongoDB server (nothing when disabled or external).

use k8s_openapi::api::core::v1::{Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{Ctx, env_secret};
use super::database::{self, Server};
use super::secrets::{MONGODB_PORT, admin_secret, database_image};
use super::{Child, SecretData};
use crate::crd::DatabaseKind;
use crate::error::Error;

/// StatefulSet and Service of the managed MongoDB.
///
/// # Errors
/// Never today; kept fallible like the other builders.
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    let spec = &ctx.spec.mongodb;
    if !spec.is_managed() {
        return Ok(Vec::new());
    }
    let admin = admin_secret(ctx, DatabaseKind::Mongodb);
    let server = Server {
        component: "mongodb",
        spec,
        image: database_image(ctx, DatabaseKind::Mongodb),
        port: MONGODB_PORT,
        uid: 999,
        data_path: "/data/db",
        scratch: &["/data/configdb", "/tmp"],
        env: vec![
            env_secret("MONGO_INITDB_ROOT_USERNAME", &admin, "username"),
            env_secret("MONGO_INITDB_ROOT_PASSWORD", &admin, "password"),
        ],
        probe: Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(MONGODB_PORT),
                host: None,
            }),
            period_seconds: Some(10),
            timeout_seconds: Some(5),
            ..Probe::default()
        },
        admin_secret: admin,
    };
    Ok(database::children(ctx, server, secrets))
}
