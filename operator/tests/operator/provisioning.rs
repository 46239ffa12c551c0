//! The database provisioning Jobs, run for real against PostgreSQL servers on this machine.
//!
//! Each test builds a stack with the operator's own builders, takes the rendered Job's
//! container command and env (Secret references resolved from the stack's Secret data, Secret
//! volumes written under a temporary root, as a kubelet would) and runs it with `sh`, with
//! Debian's `psql` and `pg_isready` on `PATH`. The server requires passwords, and the admin of
//! the external server is not a superuser: it has only `CREATEDB CREATEROLE`, as on managed
//! cloud databases. The services' side connects with the rendered URL through the services'
//! own pool (`runtime::pg`).
//!
//! Tested on PostgreSQL 15 (Debian's server here); see `dbinit.rs` for what 16+ changes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Container;
use operator::crd::MicroserviceStack;
use operator::generate;
use operator::manifests::common::Ctx;
use operator::manifests::connection::DB_CA_DIR;
use operator::manifests::secrets;
use operator::manifests::{self, Child, Children, SecretData};
use runtime::pg::{PgArgs, pool};
use runtime::test_support::{PgOptions, PgServer};
use serde_json::json;
use sqlx::Connection as _;

const ADMIN: &str = "natstack_admin";
const ADMIN_PASSWORD: &str = "admin-Pw-7";
/// Passwords required for everyone but `postgres`, which the harness uses over loopback.
const HBA_PASSWORDS: &str = "local all all trust\n\
    host all postgres 127.0.0.1/32 trust\n\
    host all all 127.0.0.1/32 scram-sha-256\n";
/// TLS required for everyone; passwords for everyone but `postgres`.
const HBA_TLS_ONLY: &str = "local all all trust\n\
    hostssl all postgres 127.0.0.1/32 trust\n\
    hostssl all all 127.0.0.1/32 scram-sha-256\n";

/// A server whose stack admin is `CREATEDB CREATEROLE` and not a superuser.
async fn server(options: PgOptions) -> PgServer {
    let server = PgServer::start_with(options)
        .await
        .expect("postgres starts");
    server
        .psql(
            "postgres",
            &format!("CREATE ROLE {ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '{ADMIN_PASSWORD}'"),
        )
        .await
        .expect("admin role");
    let superuser = server
        .psql(
            "postgres",
            &format!("SELECT rolsuper FROM pg_roles WHERE rolname = '{ADMIN}'"),
        )
        .await
        .unwrap();
    assert_eq!(superuser, "f");
    server
}

/// A stack whose PostgreSQL services use the external server of Secret `db-admin`.
fn stack(namespace: &str, name: &str, services: &[&str]) -> MicroserviceStack {
    let services: Vec<_> = services
        .iter()
        .map(|s| json!({"name": s, "database": "postgres"}))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "natstack.dev/v1alpha1",
        "kind": "MicroserviceStack",
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{namespace}-{name}")},
        "spec": {
            "nats": {"auth": false},
            "postgres": {"enabled": false, "existingSecret": "db-admin"},
            "mongodb": {"enabled": false},
            "services": services,
        }
    }))
    .expect("stack")
}

/// Fresh random values for every created-once Secret, plus the external server's Secret.
fn secret_data(stack: &MicroserviceStack, external: &[(&str, &str)]) -> SecretData {
    let ctx = Ctx::new(stack).unwrap();
    let mut data: SecretData = secrets::generated(&ctx)
        .iter()
        .map(|g| {
            let values = generate::values(g, &mut rand::rngs::OsRng).unwrap();
            (g.name().to_owned(), values)
        })
        .collect();
    data.insert(
        "db-admin".into(),
        external
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    data
}

fn external(server: &PgServer) -> Vec<(&'static str, String)> {
    vec![
        ("host", "127.0.0.1".to_owned()),
        ("port", server.port().to_string()),
        ("username", ADMIN.to_owned()),
        ("password", ADMIN_PASSWORD.to_owned()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn provisioning_job<'a>(children: &'a Children, stack: &str, service: &str) -> &'a Job {
    let prefix = format!("{stack}-{service}-db-");
    children
        .iter()
        .find_map(|c| match c {
            Child::Job(job) if c.name().starts_with(&prefix) => Some(job),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no provisioning job {prefix}*"))
}

fn service_url(children: &Children, stack: &str, service: &str, root: &Path) -> String {
    let name = format!("{stack}-{service}-db-url");
    let secret = children
        .iter()
        .find_map(|c| match c {
            Child::Secret(s) if c.name() == name => Some(s),
            _ => None,
        })
        .expect("url secret");
    kubelet_path(&generate::decode(secret)["url"], root)
}

/// A value as the process sees it: mount paths are under `root` here.
fn kubelet_path(value: &str, root: &Path) -> String {
    value.replace(DB_CA_DIR, &root.join(&DB_CA_DIR[1..]).to_string_lossy())
}

/// The container's env as the kubelet resolves it, with Secret volumes written under `root`.
fn resolve(job: &Job, data: &SecretData, root: &Path) -> (Container, BTreeMap<String, String>) {
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let container = pod.containers[0].clone();
    let mut env = BTreeMap::new();
    for var in container.env.iter().flatten() {
        if let Some(value) = &var.value {
            env.insert(var.name.clone(), kubelet_path(value, root));
            continue;
        }
        let selector = var
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .expect("literal or secret key");
        match data.get(&selector.name).and_then(|d| d.get(&selector.key)) {
            Some(value) => {
                env.insert(var.name.clone(), value.clone());
            }
            None => assert_eq!(
                selector.optional,
                Some(true),
                "{} needs secret {} key {}",
                var.name,
                selector.name,
                selector.key
            ),
        }
    }
    for mount in container.volume_mounts.iter().flatten() {
        let volume = crate::common::volume(pod, &mount.name);
        let Some(source) = &volume.secret else {
            continue;
        };
        let dir = root.join(&mount.mount_path[1..]);
        std::fs::create_dir_all(&dir).unwrap();
        let secret = &data[source.secret_name.as_deref().unwrap()];
        for item in source.items.iter().flatten() {
            std::fs::write(dir.join(&item.path), &secret[&item.key]).unwrap();
        }
    }
    (container, env)
}

/// Runs the Job's container command with its resolved env; returns (success, stdout+stderr).
async fn run_job(server: &PgServer, job: &Job, data: &SecretData, root: &Path) -> (bool, String) {
    let (container, env) = resolve(job, data, root);
    let command = container.command.expect("command");
    assert_eq!(command[..2], ["sh", "-c"], "the Job runs a shell script");
    let bin = server.client_bin_dir().unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&command[2])
            .env_clear()
            .envs(&env)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the provisioning script finishes within 60 s")
    .expect("sh runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), log)
}

/// `current_user` and `current_database()` through the services' own pool.
async fn whoami(url: &str) -> Result<(String, String), sqlx::Error> {
    let pool = pool(&PgArgs::url(url)).expect("valid url");
    let row: (String, String) =
        sqlx::query_as("SELECT current_user::text, current_database()::text")
            .fetch_one(&pool)
            .await?;
    pool.close().await;
    Ok(row)
}

fn build(stack: &MicroserviceStack, data: &SecretData) -> Children {
    manifests::build(stack, data).expect("builds")
}

fn root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("natstack-kubelet-")
        .tempdir()
        .unwrap()
}

/// A server that requires passwords, with the non-superuser admin.
async fn password_server() -> PgServer {
    server(PgOptions {
        hba: Some(HBA_PASSWORDS.into()),
        tls: None,
    })
    .await
}

/// A stack (named `demo`) built as the operator would, with its Secret data and a kubelet-like
/// root for the Secret volumes its Jobs and services mount.
struct Deployed {
    data: SecretData,
    children: Children,
    root: tempfile::TempDir,
}

impl Deployed {
    /// `stack` with its external-server Secret holding `settings`.
    fn new(stack: &MicroserviceStack, settings: &[(&'static str, String)]) -> Self {
        Self::with_data(stack, secret_data(stack, &pairs(settings)))
    }

    /// `stack` with the Secret data given.
    fn with_data(stack: &MicroserviceStack, data: SecretData) -> Self {
        Self {
            children: build(stack, &data),
            data,
            root: root(),
        }
    }

    /// Runs `service`'s provisioning Job: (success, its log).
    async fn provision(&self, pg: &PgServer, service: &str) -> (bool, String) {
        let job = provisioning_job(&self.children, "demo", service);
        run_job(pg, job, &self.data, self.root.path()).await
    }

    /// The URL `service` connects with.
    fn url(&self, service: &str) -> String {
        service_url(&self.children, "demo", service, self.root.path())
    }

    /// Provisions `service`, asserting that it fails because the `kind` (role or database)
    /// `name` already exists and is not this stack's.
    async fn refuses_foreign(&self, pg: &PgServer, service: &str, kind: &str, name: &str) {
        let (ok, log) = self.provision(pg, service).await;
        assert!(!ok, "a foreign {kind} was taken over:\n{log}");
        let refusal = format!("{kind} \"{name}\" already exists and was not created by this stack");
        assert!(log.contains(&refusal), "{log}");
    }

    /// A value of `service`'s database credentials (`username`, `database`, ...).
    fn credential(&self, service: &str, key: &str) -> String {
        self.data[&format!("demo-{service}-db")][key].clone()
    }
}

#[tokio::test]
async fn a_createdb_createrole_admin_provisions_idempotently_and_the_service_connects() {
    let pg = password_server().await;
    let stack = Deployed::new(
        &stack("shop", "demo", &["customers", "products"]),
        &external(&pg),
    );
    for service in ["customers", "products"] {
        for run in 1..=2 {
            let (ok, log) = stack.provision(&pg, service).await;
            assert!(ok, "{service} run {run} failed:\n{log}");
        }
    }
    let role = stack.credential("customers", "username");
    assert_eq!(
        role, "shop_demo_customers",
        "namespaced name on a shared server"
    );
    assert_eq!(
        whoami(&stack.url("customers"))
            .await
            .expect("the service connects"),
        (role, stack.credential("customers", "database"))
    );
    let owner = pg
        .psql(
            "postgres",
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop_demo_products'",
        )
        .await
        .unwrap();
    assert_eq!(
        owner, "shop_demo_products",
        "the service's role owns its database"
    );
}

#[tokio::test]
async fn two_stacks_on_one_server_get_their_own_roles_and_keep_them() {
    let pg = password_server().await;
    let stacks: Vec<Deployed> = ["shop", "lab"]
        .into_iter()
        .map(|namespace| Deployed::new(&stack(namespace, "demo", &["products"]), &external(&pg)))
        .collect();
    // Both provision; then the first runs again (a reconcile), as a stack would.
    for stack in stacks.iter().chain(stacks.iter().take(1)) {
        let (ok, log) = stack.provision(&pg, "products").await;
        assert!(ok, "{log}");
    }
    let mut seen = Vec::new();
    for stack in &stacks {
        let (user, database) = whoami(&stack.url("products"))
            .await
            .expect("each stack keeps working after the other provisioned");
        assert_eq!(user, stack.credential("products", "username"));
        seen.push((user, database));
    }
    assert_eq!(
        seen,
        [
            ("shop_demo_products".into(), "shop_demo_products".into()),
            ("lab_demo_products".into(), "lab_demo_products".into())
        ]
    );
    // Neither may open the other's database.
    let ours = stacks[0].url("products");
    let (server_part, _) = ours.rsplit_once('/').unwrap();
    let theirs = format!("{server_part}/lab_demo_products");
    let refused = whoami(&theirs)
        .await
        .expect_err("no access to another stack's database");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused} (as {})",
        stacks[0].credential("products", "username")
    );
}

#[tokio::test]
async fn roles_and_databases_this_stack_did_not_create_are_refused() {
    let pg = password_server().await;
    // Someone else's `products` role, and (below) roles named as this stack's would be.
    pg.psql("postgres", "CREATE ROLE products LOGIN PASSWORD 'theirs'")
        .await
        .unwrap();
    let stack = Deployed::new(
        &stack("shop", "demo", &["products", "customers"]),
        &external(&pg),
    );
    let role = stack.credential("products", "username");
    if role != "products" {
        pg.psql(
            "postgres",
            &format!("CREATE ROLE {role} LOGIN PASSWORD 'theirs'"),
        )
        .await
        .unwrap();
    }
    stack.refuses_foreign(&pg, "products", "role", &role).await;
    let theirs = format!("postgres://{role}:theirs@127.0.0.1:{}/postgres", pg.port());
    assert!(
        sqlx::PgConnection::connect(&theirs).await.is_ok(),
        "the foreign role keeps its password"
    );
    // A foreign database of this stack's name is refused too, and nothing is created.
    let database = stack.credential("customers", "database");
    pg.psql("postgres", &format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
    stack
        .refuses_foreign(&pg, "customers", "database", &database)
        .await;
    let created = pg
        .psql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_roles WHERE rolname = '{}'",
                stack.credential("customers", "username")
            ),
        )
        .await
        .unwrap();
    assert_eq!(created, "0", "checks run before anything is created");
    // The pre-existing bare `products` role is untouched by a stack on a shared server.
    let untouched = "postgres://products:theirs@127.0.0.1";
    assert!(
        sqlx::PgConnection::connect(&format!("{untouched}:{}/postgres", pg.port()))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_server_that_requires_tls_is_reached_by_the_job_and_the_service() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = runtime::test_support::tls::certificates(certs.path());
    let pg = server(PgOptions {
        hba: Some(HBA_TLS_ONLY.into()),
        tls: Some((cert, key)),
    })
    .await;
    let plaintext = format!(
        "postgres://{ADMIN}:{ADMIN_PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port()
    );
    let refused = sqlx::PgConnection::connect(&plaintext)
        .await
        .expect_err("the server refuses plaintext");
    assert!(refused.to_string().contains("no encryption"), "{refused}");

    // Verified against the CA from the Secret, and merely required without one.
    let mut base = external(&pg);
    base.push(("sslmode", "verify-full".into()));
    base.push(("ca.crt", ca));
    let mut require = external(&pg);
    require.push(("sslmode", "require".into()));
    for (namespace, settings, expected) in [
        ("verified", base, "sslmode=verify-full&sslrootcert="),
        ("required", require, "sslmode=require"),
    ] {
        let stack = Deployed::new(&stack(namespace, "demo", &["customers"]), &settings);
        let (ok, log) = stack.provision(&pg, "customers").await;
        assert!(ok, "{namespace}: {log}");
        let url = stack.url("customers");
        assert!(url.contains(expected), "{url}");
        let (user, _) = whoami(&url)
            .await
            .unwrap_or_else(|e| panic!("{namespace}: the service connects over TLS: {e}"));
        assert_eq!(user, format!("{namespace}_demo_customers"));
        let ssl = {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let ssl: bool =
                sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            ssl
        };
        assert!(ssl, "{namespace}: the connection is encrypted");
    }
    // A CA that did not sign the server's certificate is refused under verify-full.
    let other = tempfile::tempdir().unwrap();
    let (wrong_ca, _, _) = runtime::test_support::tls::certificates(other.path());
    let mut wrong = external(&pg);
    wrong.push(("sslmode", "verify-full".into()));
    wrong.push(("ca.crt", wrong_ca));
    let stack = Deployed::new(&stack("wrong", "demo", &["customers"]), &wrong);
    let url = stack.url("customers");
    // The URL names the mounted CA; write it where the pod would see it.
    let ca_dir = stack.root.path().join(&DB_CA_DIR[1..]);
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::write(ca_dir.join("ca.crt"), &stack.data["db-admin"]["ca.crt"]).unwrap();
    assert!(
        sqlx::PgConnection::connect(&url).await.is_err(),
        "a certificate from another CA must not verify"
    );
}

/// Secrets an earlier operator made have no `owner` key and bare names: their roles (which that
/// operator created, unmarked) keep working; only a role another stack marked is refused.
#[tokio::test]
async fn credentials_from_before_owner_ids_keep_their_roles() {
    let pg = password_server().await;
    let stack = stack("shop", "demo", &["customers", "products"]);
    let mut data = secret_data(&stack, &pairs(&external(&pg)));
    for service in ["customers", "products"] {
        let legacy = data.get_mut(&format!("demo-{service}-db")).unwrap();
        legacy.remove("owner");
        legacy.insert("username".into(), service.into());
        legacy.insert("database".into(), service.into());
    }
    // What the earlier operator's Job left behind (as a superuser would have made it).
    pg.psql("postgres", "CREATE ROLE customers LOGIN PASSWORD 'old'")
        .await
        .unwrap();
    pg.psql("postgres", "CREATE DATABASE customers OWNER customers")
        .await
        .unwrap();
    let stack = Deployed::with_data(&stack, data);
    for run in 1..=2 {
        let (ok, log) = stack.provision(&pg, "customers").await;
        assert!(ok, "run {run}: {log}");
    }
    assert_eq!(
        whoami(&stack.url("customers")).await.unwrap(),
        ("customers".into(), "customers".into())
    );
    // Another stack's marked role is refused even without an owner id.
    pg.psql(
        "postgres",
        "CREATE ROLE products LOGIN; COMMENT ON ROLE products IS 'natstack stack=lab/demo service=products owner=x'",
    )
    .await
    .unwrap();
    let (ok, log) = stack.provision(&pg, "products").await;
    assert!(
        !ok && log.contains("was not created by this stack"),
        "{log}"
    );
}
