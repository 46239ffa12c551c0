//! Database provisioning: one Job per service that has a database. It creates (or updates) the
//! service's role/user and its own database, idempotently, on the managed or external server.
//!
//! A Job, not an init script of the server image: init scripts run only on an empty volume,
//! so services added later would never get a database. The Job's name carries a hash of its
//! whole pod template and the Secret data it reads, so a changed password, server or template
//! yields a new Job; finished Jobs with stale names are pruned. A Job that failed is deleted
//! and re-created by a later reconcile (see `apply`), and reported in status meanwhile.

use contract::deploy::env::images;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::SecretData;
use super::common::{Ctx, config_hash, env, env_secret, secret_parts};
use super::connection::endpoint;
use super::pods::{container_security, customize, locked_down_pod, resources_or, scratch};
use super::secrets::{OWNER_KEY, admin_secret, database_image, engine_provided, service_db_secret};
use crate::crd::{DatabaseKind, PodsOf, ServiceSpec};
use crate::error::Error;

/// Label marking provisioning Jobs (value `db-init`).
pub const JOB_LABEL: &str = "natstack.dev/job";

/// Provisions a service's role and database on PostgreSQL, as a superuser or as an admin
/// with only `CREATEDB CREATEROLE` (the managed-cloud model), on PostgreSQL 15 and later.
///
/// - Ownership: what it creates carries the comment `$MARKER` (the stack, the service and the
///   random id of the service's Secret). A role or database of the same name without that
///   comment belongs to someone else: the script stops with a message instead of taking it
///   over. Credentials made before markers existed (no `OWNER_ID`) skip that check, unless the
///   object carries another stack's marker.
/// - Non-superuser admin: creating a database owned by another role needs membership in that
///   role (PostgreSQL 15: `MEMBER`; 16+: the `SET` option, which the implicit grant a
///   `CREATEROLE` creator receives does not carry), so the admin grants the role to itself.
/// - Everything is idempotent: a second run only re-sets the password.
const POSTGRES_SCRIPT: &str = r#"set -eu
until pg_isready -q; do echo "waiting for $PGHOST:$PGPORT"; sleep 2; done
MARKER=""
if [ -n "${OWNER_ID:-}" ]; then
  MARKER="natstack stack=$STACK service=$SERVICE owner=$OWNER_ID"
else
  echo "note: the credentials of $SERVICE predate ownership markers; only a foreign marker is refused"
fi
psql -X -q -v ON_ERROR_STOP=1 -d postgres -v role="$ROLE_NAME" -v pw="$ROLE_PASSWORD" -v db="$DB_NAME" -v marker="$MARKER" <<'SQL'
SELECT set_config('natstack.role', :'role', false) AS role_set, set_config('natstack.db', :'db', false) AS db_set, set_config('natstack.marker', :'marker', false) AS marker_set \gset
DO $$
DECLARE
  r text := current_setting('natstack.role');
  d text := current_setting('natstack.db');
  m text := current_setting('natstack.marker');
  found_comment text;
  may_set boolean;
BEGIN
  SELECT coalesce(shobj_description(oid, 'pg_authid'), '') INTO found_comment FROM pg_roles WHERE rolname = r;
  IF FOUND AND found_comment IS DISTINCT FROM m AND (m <> '' OR found_comment LIKE 'natstack %') THEN
    RAISE EXCEPTION 'role "%" already exists and was not created by this stack (its comment: "%"); refusing to take it over', r, found_comment
      USING HINT = 'drop or rename that role, or give this stack another server';
  END IF;
  SELECT coalesce(shobj_description(oid, 'pg_database'), '') INTO found_comment FROM pg_database WHERE datname = d;
  IF FOUND AND found_comment IS DISTINCT FROM m AND (m <> '' OR found_comment LIKE 'natstack %') THEN
    RAISE EXCEPTION 'database "%" already exists and was not created by this stack (its comment: "%"); refusing to take it over', d, found_comment
      USING HINT = 'drop or rename that database, or give this stack another server';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
    EXECUTE format('CREATE ROLE %I LOGIN', r);
    IF m <> '' THEN
      EXECUTE format('COMMENT ON ROLE %I IS %L', r, m);
    END IF;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    IF current_setting('server_version_num')::int >= 160000 THEN
      may_set := pg_has_role(current_user, r, 'SET');
    ELSE
      may_set := pg_has_role(current_user, r, 'MEMBER');
    END IF;
    IF NOT may_set THEN
      EXECUTE format('GRANT %I TO %I', r, current_user);
    END IF;
  END IF;
END
$$;
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('COMMENT ON DATABASE %I IS %L', :'db', :'marker') WHERE :'marker' <> '' \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw') \gexec
SQL
echo "role $ROLE_NAME and database $DB_NAME are ready"
"#;

/// Provisions a service's user on MongoDB, with the same ownership rule as PostgreSQL: the
/// user carries the marker in its `customData`, a same-named user without it is refused, and
/// a database that already holds collections is refused when its user does not exist yet.
const MONGODB_SCRIPT: &str = r#"set -eu
m() { mongosh --quiet "$DB_URI" -u "$ADMIN_USER" -p "$ADMIN_PASSWORD" --authenticationDatabase admin "$@"; }
until m --eval 'db.adminCommand("ping")' >/dev/null 2>&1; do echo "waiting for $DB_URI"; sleep 2; done
MARKER=""
if [ -n "${OWNER_ID:-}" ]; then MARKER="natstack stack=$STACK service=$SERVICE owner=$OWNER_ID"; fi
export MARKER
m --eval '
const name = process.env.DB_NAME, user = process.env.ROLE_NAME, pwd = process.env.ROLE_PASSWORD;
const marker = process.env.MARKER;
const d = db.getSiblingDB(name);
const roles = [{ role: "readWrite", db: name }, { role: "dbAdmin", db: name }];
const existing = d.getUser(user, { showCustomData: true });
if (existing) {
  const found = (existing.customData && existing.customData.natstack) || "";
  if (found !== marker && (marker !== "" || found.startsWith("natstack "))) {
    throw new Error(`user "${user}" of database "${name}" already exists and was not created by this stack (its marker: "${found}"); refusing to take it over`);
  }
  d.updateUser(user, { pwd, roles });
} else {
  if (marker !== "" && d.getCollectionNames().length > 0) {
    throw new Error(`database "${name}" already holds collections and this stack did not create it; refusing to take it over`);
  }
  d.createUser({ user, pwd, roles, customData: { natstack: marker } });
}
print(`user ${user} of database ${name} is ready`);
'
"#;

/// Memory of a provisioning Job's container when `jobs.resources` is unset. mongosh (a Node
/// program) peaked at 134 MiB RSS running the MongoDB provisioning script (mongosh 2.12,
/// Node 20, three runs: 133.1–133.9 MiB), above the 128Mi this limit used to be; 256Mi
/// leaves it almost twice that. psql needs a few MiB.
pub const JOB_MEMORY: &str = "256Mi";
/// CPU limit of a provisioning Job's container when `jobs.resources` is unset (the MongoDB
/// script, two mongosh runs, took 1.7 s of CPU in the runs above; half a core keeps it within
/// seconds).
pub const JOB_CPU_LIMIT: &str = "500m";

/// The provisioning Jobs' resources: `jobs.resources`, or the defaults above.
fn job_resources(ctx: &Ctx<'_>) -> k8s_openapi::api::core::v1::ResourceRequirements {
    resources_or(
        ctx.spec.jobs.resources.as_ref(),
        "10m",
        JOB_CPU_LIMIT,
        JOB_MEMORY,
    )
}

/// One provisioning Job per service with a database, except where a database engine's
/// operator (CNPG, the MongoDB operator) creates the role and database itself.
///
/// # Errors
/// [`Error::MissingSecretKey`] when an external server's Secret lacks `host`.
pub fn jobs(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Job>, Error> {
    ctx.spec
        .services
        .iter()
        .filter(|s| s.database != DatabaseKind::None)
        .filter(|s| !engine_provided(ctx, s.database))
        .map(|s| job(ctx, s, secrets))
        .collect()
}

fn job(ctx: &Ctx<'_>, service: &ServiceSpec, secrets: &SecretData) -> Result<Job, Error> {
    let kind = service.database;
    let image = database_image(ctx, kind);
    let admin = admin_secret(ctx, kind);
    let creds = service_db_secret(ctx, &service.name);
    let target = endpoint(ctx, kind, secrets)?;
    let (script, uid, mut container_env) = match kind {
        DatabaseKind::Mongodb => {
            let (base, options) = target.mongodb_parts();
            let uri = if options.is_empty() {
                format!("{base}/")
            } else {
                format!("{base}/?{}", options.join("&"))
            };
            (
                MONGODB_SCRIPT,
                999,
                vec![
                    env(images::DB_URI, &uri),
                    env_secret(images::ADMIN_USER, &admin, "username"),
                    env_secret(images::ADMIN_PASSWORD, &admin, "password"),
                ],
            )
        }
        _ => {
            let mut vars = vec![
                env(images::PGHOST, &target.host),
                env(images::PGPORT, &target.port),
                env_secret(images::PGUSER, &admin, "username"),
                env_secret(images::PGPASSWORD, &admin, "password"),
                env(images::PGCONNECT_TIMEOUT, "10"),
            ];
            if let Some(mode) = &target.sslmode {
                vars.push(env(images::PGSSLMODE, mode));
            }
            if let Some(ca) = target.ca_file() {
                vars.push(env(images::PGSSLROOTCERT, &ca));
            }
            (POSTGRES_SCRIPT, 70, vars)
        }
    };
    container_env.extend([
        env("HOME", "/tmp"),
        env(images::STACK, &format!("{}/{}", ctx.namespace, ctx.name)),
        env(images::SERVICE, &service.name),
        env_secret(images::ROLE_NAME, &creds, "username"),
        env_secret(images::ROLE_PASSWORD, &creds, "password"),
        env_secret(images::DB_NAME, &creds, "database"),
        env_secret_optional(images::OWNER_ID, &creds, OWNER_KEY),
    ]);
    let component = format!("{}-db-init", service.name);
    let (tmp, tmp_mount) = scratch("tmp", "/tmp");
    let (mut volumes, mut mounts) = (vec![tmp], vec![tmp_mount]);
    if let Some((volume, mount)) = target.ca_volume() {
        volumes.push(volume);
        mounts.push(mount);
    }
    let container = Container {
        name: "provision".into(),
        image: Some(image),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        env: Some(container_env),
        resources: Some(job_resources(ctx)),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let mut template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(ctx.labels(&component)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            restart_policy: Some("OnFailure".into()),
            ..locked_down_pod(uid, vec![container], volumes)
        }),
    };
    customize(ctx, PodsOf::Jobs, &mut template);
    // A Job's template is immutable: the name carries a hash of the whole template and of the
    // Secret data it reads, so any change makes a new Job (the old one is pruned) instead of an
    // apply the API server refuses.
    let rendered = serde_json::to_string(&template).unwrap_or_default();
    let mut parts = vec![("template", rendered.as_str())];
    let secret_names = [admin, creds];
    parts.extend(secret_parts(secrets, &secret_names));
    let hash = config_hash(parts);
    let mut meta = ctx.meta(
        &ctx.child(&format!("{}-db-{}", service.name, &hash[..6])),
        &component,
    );
    meta.labels
        .get_or_insert_default()
        .insert(JOB_LABEL.into(), "db-init".into());
    Ok(Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: Some(10),
            active_deadline_seconds: Some(1800),
            template,
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// An env var from a Secret key that may be absent (the variable is then unset).
fn env_secret_optional(name: &str, secret: &str, key: &str) -> EnvVar {
    let mut var = env_secret(name, secret, key);
    if let Some(selector) = var
        .value_from
        .as_mut()
        .and_then(|v| v.secret_key_ref.as_mut())
    {
        selector.optional = Some(true);
    }
    var
}
