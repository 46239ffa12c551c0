//! The rendered-stack test: every example stack, and a stack with a custom fourth service, is
//! rendered by the operator's own builders, brought up on this machine by the harness exactly
//! as rendered (see the crate docs for what stands in for the cluster), and must pass the HTTP
//! suite through its gateway.

mod command;
#[path = "../common/mod.rs"]
mod common;
mod http;
mod switchover;

use std::path::{Path, PathBuf};

use operator::manifests::Child;
use operator::render::{self, Rendered, Values};
use stack_run::program::Images;
use stack_run::{Cluster, Options};

use common::{bin_dir, workspace};

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Renders `yaml` into namespace `ns` with fresh secrets.
fn rendered(yaml: &str, ns: &str) -> Rendered {
    let input = render::parse(yaml, Some(ns)).expect("stack file parses");
    render::render(&input, Values::Random).expect("stack renders")
}

/// Brings `rendered` up, failing the test with every pod's log when it cannot.
async fn up(rendered: Rendered, root: &Path) -> Cluster {
    let mut options = Options::new(root, Images::new(bin_dir()));
    options.verbose = true;
    match Cluster::start(rendered, options).await {
        Ok(cluster) => {
            for note in cluster.notes() {
                eprintln!("[rendered-stack] stand-in note: {note}");
            }
            cluster
        }
        Err(e) => panic!("the stack did not come up: {e}"),
    }
}

async fn run_suite(cluster: &Cluster) {
    let (email, password) = cluster
        .rendered()
        .admin_login()
        .expect("the stack runs auth");
    let api = http::Api::new(&cluster.gateway_url().expect("gateway Service"));
    http::suite(&api, (&email, &password)).await;
}

/// Renders `yaml` into namespace `ns`, brings it up under a fresh directory named for `name`
/// and runs the HTTP suite: what every stack here must pass before its own checks.
async fn up_and_suite(name: &str, yaml: &str, ns: &str) -> Cluster {
    let root = tempfile_dir(name);
    let cluster = up(rendered(yaml, ns), &root).await;
    run_suite(&cluster).await;
    cluster
}

/// How many copies of the events stream the NATS servers under `root` store (each server's
/// JetStream store is on its own volume claim, a folder of the run).
fn stored_streams(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() && !t.is_symlink()))
        .map(|e| {
            let path = e.path();
            let here = path.file_name() == Some(contract::events::STREAM.as_ref())
                && path.parent().and_then(Path::file_name) == Some("streams".as_ref());
            usize::from(here) + stored_streams(&path)
        })
        .sum()
}

/// Waits until the NATS servers under `root` store `copies` of the events stream, which the
/// gateway creates with the stack's settings.
async fn wait_stored(root: &Path, copies: usize) {
    testbed::wait_until(
        &format!("{copies} stored copies of the events stream"),
        std::time::Duration::from_secs(60),
        || async { stored_streams(root) == copies },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_example_serves_the_api() {
    let cluster = up_and_suite("minimal", &read("examples/minimal.yaml"), "natstack-demo").await;
    // JetStream runs on the NATS volume and the gateway put the stream there.
    wait_stored(&temp_path("minimal"), 1).await;
    // NATS has authorization on: a client without credentials is refused.
    let nats = cluster.service_ip("minimal-nats").expect("NATS Service");
    let anonymous = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        async_nats_connect(&format!("nats://{nats}:4222")),
    )
    .await
    .expect("NATS answers");
    assert!(anonymous.is_err(), "an anonymous NATS client was accepted");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_example_with_a_nats_cluster_and_replicas_serves_the_api() {
    let cluster = up_and_suite("full", &read("examples/full.yaml"), "natstack-demo").await;
    // Three NATS servers: the stream has three replicas, one on each server's volume.
    wait_stored(&temp_path("full"), 3).await;
    cluster.stop().await;
}

/// PostgreSQL as a CloudNativePG Cluster and MongoDB as a MongoDBCommunity: the stack passes
/// the suite, then survives a switchover under load without a service restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_example_survives_a_switchover_under_load() {
    let cluster = up_and_suite(
        "production",
        &read("examples/production.yaml"),
        "natstack-demo",
    )
    .await;
    let (email, password) = cluster
        .rendered()
        .admin_login()
        .expect("the stack runs auth");
    let api = http::Api::new(&cluster.gateway_url().expect("gateway Service"));
    let token = api
        .login_within(&email, &password, std::time::Duration::from_secs(30))
        .await
        .expect("admin login");
    let children = &cluster.rendered().children;
    let postgres = children
        .iter()
        .find(|c| matches!(c, Child::Cluster(_)))
        .expect("a CloudNativePG Cluster")
        .name()
        .to_owned();
    // Every Deployment's pods: the services and the gateway.
    let deployments: Vec<String> = children
        .iter()
        .filter(|c| matches!(c, Child::Deployment(_)))
        .map(|c| format!("{}-", c.name()))
        .collect();
    let restarts =
        |c: &Cluster| -> Vec<u32> { deployments.iter().map(|d| c.restarts(d)).collect() };
    let before = restarts(&cluster);
    switchover::run(&cluster, &postgres, &token).await;
    assert_eq!(restarts(&cluster), before, "a service restarted");
    cluster.stop().await;
    // Two PostgreSQL data directories: not left behind once the test passed.
    let _ = std::fs::remove_dir_all(temp_path("production"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_service_is_routed_with_no_gateway_change() {
    let yaml = "apiVersion: natstack.dev/v1alpha1
kind: MicroserviceStack
metadata:
  name: shop
spec:
  auth:
    issuer: https://auth.shop.example
    audience: shop-api
    adminEmail: owner@shop.example
  services:
    - name: auth
      database: mongodb
    - name: customers
      database: postgres
    - name: products
      database: postgres
    - name: greeter
      image: registry.example.com/team/greeter:2.3.1
";
    let cluster = up_and_suite("custom", yaml, "team-a").await;
    let api = http::Api::new(&cluster.gateway_url().expect("gateway"));
    let hello = api.wait_for("/greeter/hello?name=Ada", None, 200).await;
    assert_eq!(hello.body["message"], "Hello, Ada!");
    cluster.stop().await;
}

/// A connection attempt with no credentials (async-nats is not a dependency of this crate:
/// speak the first lines of the protocol by hand).
async fn async_nats_connect(url: &str) -> Result<(), String> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let addr = url.trim_start_matches("nats://");
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut info = String::new();
    reader
        .read_line(&mut info)
        .await
        .map_err(|e| e.to_string())?;
    reader
        .get_mut()
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    reader
        .read_line(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    if reply.starts_with("PONG") {
        Ok(())
    } else {
        Err(reply)
    }
}

/// Where a test named `name` keeps its stack.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("natstack-rendered-{name}-{}", std::process::id()))
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = temp_path(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The only ways into the external server: TLS, with a password (the admin `postgres` keeps
/// trust so the test can set the server up).
const HBA_TLS_ONLY: &str = "local all all trust\n\
    hostssl all postgres 127.0.0.1/32 trust\n\
    hostssl all all 127.0.0.1/32 scram-sha-256\n";

/// Two stacks on one external PostgreSQL that requires TLS, provisioned by an admin that is not
/// a superuser (`CREATEDB CREATEROLE`, the managed-cloud model): both come up, pass the suite,
/// and the first still works after the second provisioned its databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stacks_share_an_external_tls_only_postgres_with_a_non_superuser_admin() {
    use runtime::test_support::{PgOptions, PgServer};

    let root = tempfile_dir("external");
    let (ca, cert, key) = runtime::test_support::tls::certificates(&root);
    let pg = PgServer::start_with(PgOptions {
        hba: Some(HBA_TLS_ONLY.into()),
        tls: Some((cert, key)),
    })
    .await
    .expect("external PostgreSQL");
    pg.psql(
        "postgres",
        "CREATE ROLE natstack_admin LOGIN CREATEDB CREATEROLE PASSWORD 'admin-secret'",
    )
    .await
    .expect("create the admin");
    let indent = |text: &str| text.replace('\n', "\n    ");
    let stack = |name: &str| {
        format!(
            "apiVersion: v1
kind: Secret
metadata:
  name: external-postgres
stringData:
  host: 127.0.0.1
  port: \"{port}\"
  username: natstack_admin
  password: admin-secret
  sslmode: verify-full
  ca.crt: |
    {ca}
---
apiVersion: natstack.dev/v1alpha1
kind: MicroserviceStack
metadata:
  name: {name}
spec:
  postgres:
    enabled: false
    existingSecret: external-postgres
",
            port = pg.port(),
            ca = indent(ca.trim_end()),
        )
    };
    let a = rendered(&stack("shop"), "team-a");
    let b = rendered(&stack("shop"), "team-b");
    let first = up(a, &root.join("a")).await;
    run_suite(&first).await;
    let second = up(b, &root.join("b")).await;
    run_suite(&second).await;
    // The second stack's provisioning left the first one's roles and passwords alone.
    run_suite(&first).await;
    let roles = pg
        .psql("postgres", "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'team%'")
        .await
        .expect("list roles");
    assert!(
        roles.contains("team-a_shop_customers") && roles.contains("team-b_shop_customers"),
        "one role per namespace, stack and service: {roles}"
    );
    second.stop().await;
    first.stop().await;
}
