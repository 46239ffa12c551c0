//! Database provisioning: one Job per service that has a database. It creates (or updates) the
//! service's role/user and its own database, idempotently, on the managed or external server.
//!
//! A Job, not an init script of the server image: init scripts run only on an empty volume,
//! so services added later would never get a database. The Job's name carries a hash of its
//! inputs, so a changed password or server yields a new Job; finished Jobs with stale names are
//! pruned.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::SecretData;
use super::common::{
    Ctx, config_hash, container_security, env, env_secret, pod_security, resources_or, scratch,
    secret_parts,
};
use super::secrets::{admin_secret, database_image, server, service_db_secret};
use crate::crd::{DatabaseKind, ServiceSpec};
use crate::error::Error;

const POSTGRES_SCRIPT: &str = r#"set -eu
until pg_isready -q; do echo "waiting for $PGHOST"; sleep 2; done
psql -v ON_ERROR_STOP=1 -d postgres -v role="$ROLE_NAME" -v pw="$ROLE_PASSWORD" -v db="$DB_NAME" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SQL
"#;

const MONGODB_SCRIPT: &str = r#"set -eu
m() { mongosh --quiet --host "$DB_HOST" --port "$DB_PORT" -u "$ADMIN_USER" -p "$ADMIN_PASSWORD" --authenticationDatabase admin "$@"; }
until m --eval 'db.adminCommand("ping")' >/dev/null 2>&1; do echo "waiting for $DB_HOST"; sleep 2; done
m --eval '
const name = process.env.DB_NAME, user = process.env.ROLE_NAME, pwd = process.env.ROLE_PASSWORD;
const d = db.getSiblingDB(name);
const roles = [{ role: "readWrite", db: name }, { role: "dbAdmin", db: name }];
if (d.getUser(user)) { d.updateUser(user, { pwd, roles }); } else { d.createUser({ user, pwd, roles }); }
'
"#;

/// One provisioning Job per service with a database.
///
/// # Errors
/// [`Error::MissingSecretKey`] when an external server's Secret lacks `host`.
pub fn jobs(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Job>, Error> {
    ctx.spec
        .services
        .iter()
        .filter(|s| s.database != DatabaseKind::None)
        .map(|s| job(ctx, s, secrets))
        .collect()
}

fn job(ctx: &Ctx<'_>, service: &ServiceSpec, secrets: &SecretData) -> Result<Job, Error> {
    let kind = service.database;
    let image = database_image(ctx, kind);
    let admin = admin_secret(ctx, kind);
    let creds = service_db_secret(ctx, &service.name);
    let target = server(ctx, kind, secrets)?;
    let (script, uid, mut container_env) = match kind {
        DatabaseKind::Mongodb => (
            MONGODB_SCRIPT,
            999,
            vec![
                env("DB_HOST", &target.host),
                env("DB_PORT", &target.port),
                env_secret("ADMIN_USER", &admin, "username"),
                env_secret("ADMIN_PASSWORD", &admin, "password"),
            ],
        ),
        _ => (
            POSTGRES_SCRIPT,
            70,
            vec![
                env("PGHOST", &target.host),
                env("PGPORT", &target.port),
                env_secret("PGUSER", &admin, "username"),
                env_secret("PGPASSWORD", &admin, "password"),
            ],
        ),
    };
    container_env.extend([
        env("HOME", "/tmp"),
        env_secret("ROLE_NAME", &creds, "username"),
        env_secret("ROLE_PASSWORD", &creds, "password"),
        env_secret("DB_NAME", &creds, "database"),
    ]);
    let mut parts = vec![
        ("script", script),
        ("host", target.host.as_str()),
        ("port", target.port.as_str()),
    ];
    parts.push(("image", image.as_str()));
    let secret_names = [admin, creds];
    parts.extend(secret_parts(secrets, &secret_names));
    let hash = config_hash(parts);
    let component = format!("{}-db-init", service.name);
    let (tmp, tmp_mount) = scratch("tmp", "/tmp");
    let mut meta = ctx.meta(
        &ctx.child(&format!("{}-db-{}", service.name, &hash[..6])),
        &component,
    );
    meta.labels
        .get_or_insert_default()
        .insert("natstack.dev/job".into(), "db-init".into());
    Ok(Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: Some(10),
            active_deadline_seconds: Some(1800),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(&component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("OnFailure".into()),
                    security_context: Some(pod_security(uid)),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    containers: vec![Container {
                        name: "provision".into(),
                        image: Some(image.clone()),
                        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
                        env: Some(container_env),
                        resources: Some(resources_or(None, "10m", "128Mi")),
                        security_context: Some(container_security()),
                        volume_mounts: Some(vec![tmp_mount]),
                        ..Container::default()
                    }],
                    volumes: Some(vec![tmp]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}
