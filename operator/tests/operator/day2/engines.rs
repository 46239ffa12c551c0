//! A stack whose databases CNPG and the MongoDB operator run: without their APIs it is
//! Degraded with a reason that says what to install and nothing is applied; with them its
//! Cluster, Databases, ScheduledBackup and MongoDBCommunity are applied, its readiness is
//! theirs, and what the spec drops is pruned. The chart's RBAC grants exactly the verbs
//! those requests need.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::World;
use crate::common;
use crate::common::paths::{
    BACKUPS, CLUSTERS, DATABASES, DEPLOYMENTS, JOBS, REPLICA_SETS, STATEFUL_SETS,
};
use crate::fake::Call;

const CNPG: &str = "postgresql.cnpg.io/v1";
const MONGODB: &str = "mongodbcommunity.mongodb.com/v1";

/// Reconciles once and says whether it asked to look again soon.
async fn reconcile_soon(world: &World) -> bool {
    let action = world.reconcile().await;
    format!("{action:?}").contains("30s")
}

/// The `engines` stack with both operators' APIs installed, applied once.
async fn applied_with_both_operators() -> World {
    let world = World::create("engines").await;
    world.fake.install(CNPG, true);
    world.fake.install(MONGODB, true);
    world.reconcile().await;
    world
}

/// Edits the stack to schedule no backup and run no products service, and reconciles.
async fn drop_the_backup_and_products(world: &World) {
    world
        .edit(|s| {
            s.spec.postgres.backup = None;
            s.spec.services.retain(|svc| svc.name != "products");
        })
        .await;
    world.reconcile().await;
}

#[tokio::test]
async fn without_cloudnativepg_the_stack_says_what_to_install_and_applies_nothing() {
    let world = World::create("engines").await;
    world.fake.install(MONGODB, true);
    assert!(reconcile_soon(&world).await, "looks again soon");
    let message = world.assert_condition("Degraded", "True", "CloudNativePGMissing");
    common::assert_mentions(
        &message,
        &[
            "kubectl apply --server-side -f",
            operator::manifests::cnpg::CNPG_RELEASE,
        ],
    );
    let warned = world.fake.log().iter().any(|c| {
        c.resource() == "events"
            && c.body
                .as_ref()
                .is_some_and(|b| b["type"] == "Warning" && b["reason"] == "CloudNativePGMissing")
    });
    assert!(warned, "a CloudNativePGMissing Warning event");
    assert!(world.fake.names(DEPLOYMENTS).is_empty(), "nothing applied");
    assert!(
        world.fake.names(STATEFUL_SETS).is_empty(),
        "nothing applied"
    );
    assert!(
        world.fake.log().iter().all(|c| c.method == "GET"
            || c.resource() == "events"
            || c.resource() == "secrets"
            || c.resource() == "microservicestacks"),
        "only Secrets, status and events are written"
    );

    world.fake.install(CNPG, true);
    world.fake.install(MONGODB, false);
    world.reconcile().await;
    let message = world.assert_condition("Degraded", "True", "MongoDBOperatorMissing");
    assert!(message.contains("helm install"), "{message}");
    assert!(world.fake.names(CLUSTERS).is_empty(), "nothing applied");
}

#[tokio::test]
async fn with_both_operators_the_stack_is_ready_when_their_databases_are() {
    let world = applied_with_both_operators().await;
    assert_eq!(world.fake.names(CLUSTERS), ["demo-postgres"]);
    assert_eq!(
        world.fake.names(DATABASES),
        ["demo-customers-db", "demo-products-db"]
    );
    assert_eq!(world.fake.names(BACKUPS), ["demo-postgres"]);
    assert_eq!(world.fake.names(REPLICA_SETS), ["demo-mongodb"]);
    assert_eq!(
        world.fake.names(STATEFUL_SETS),
        ["demo-nats"],
        "no database StatefulSet"
    );
    assert!(world.fake.names(JOBS).is_empty(), "no provisioning Job");

    world.fake.roll_out_all();
    world.reconcile().await;
    assert_eq!(
        world.condition("Ready").0,
        "False",
        "the databases are not ready yet"
    );
    let components = world.stack().status.unwrap().components;
    let postgres = components.iter().find(|c| c.name == "postgres").unwrap();
    assert_eq!(postgres.kind, "Cluster");
    assert!(!postgres.ready);

    world.fake.set_status(
        CLUSTERS,
        "demo-postgres",
        json!({"instances": 3, "readyInstances": 3, "phase": "Cluster in healthy state"}),
    );
    world.fake.set_status(
        REPLICA_SETS,
        "demo-mongodb",
        json!({"phase": "Running", "currentMongoDBMembers": 3,
               "currentStatefulSetReplicas": 3, "mongoUri": ""}),
    );
    world.reconcile().await;
    world.assert_ready();

    drop_the_backup_and_products(&world).await;
    assert!(
        world.fake.names(BACKUPS).is_empty(),
        "the ScheduledBackup is pruned"
    );
    assert_eq!(world.fake.names(DATABASES), ["demo-customers-db"]);
    assert_eq!(world.fake.names(CLUSTERS), ["demo-postgres"]);
}

/// The verbs the chart's RBAC template grants on the resources of `group`, by resource.
fn chart_grants(group: &str) -> BTreeMap<String, BTreeSet<String>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/natstack/templates/rbac.yaml"
    );
    let template = std::fs::read_to_string(path).expect("the chart's RBAC template");
    // The template's YAML without its Helm directives: the rules themselves are plain YAML.
    let (head, rest) = template
        .split_once("{{- /*")
        .expect("the template's comment");
    let (_, body) = rest.split_once("*/}}").expect("the comment's end");
    let plain: String = format!("{head}{body}")
        .lines()
        .filter(|l| !l.contains("{{"))
        .map(|l| format!("{l}\n"))
        .collect();
    let role: Value = serde_saphyr::from_str(plain.split("\n---").next().unwrap_or_default())
        .expect("the role parses");
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rule in role["rules"].as_array().expect("rules") {
        if !rule["apiGroups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == group)
        {
            continue;
        }
        for resource in rule["resources"].as_array().unwrap() {
            let verbs = rule["verbs"].as_array().unwrap();
            grants
                .entry(resource.as_str().unwrap().to_owned())
                .or_default()
                .extend(verbs.iter().map(|v| v.as_str().unwrap().to_owned()));
        }
    }
    grants
}

/// The verbs the operator's requests to `group` needed, by resource: a server-side apply
/// needs `create` (for the first one) and `patch`.
fn verbs_used(log: &[Call], group: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for call in log
        .iter()
        .filter(|c| c.collection.starts_with(&format!("/apis/{group}/")))
        .filter(|c| c.collection.contains("/namespaces/"))
    {
        let verbs: &[&str] = match (call.method.as_str(), &call.name) {
            ("GET", None) => &["list"],
            ("GET", Some(_)) => &["get"],
            ("PATCH", _) => &["create", "patch"],
            ("POST", _) => &["create"],
            ("DELETE", _) => &["delete"],
            (other, _) => panic!("unexpected {other} on {}", call.collection),
        };
        used.entry(call.resource().to_owned())
            .or_default()
            .extend(verbs.iter().map(|v| (*v).to_owned()));
    }
    used
}

#[tokio::test]
async fn the_chart_grants_exactly_the_verbs_the_operator_uses_on_the_engines_kinds() {
    let world = applied_with_both_operators().await;
    drop_the_backup_and_products(&world).await;
    world.edit(|s| s.spec.services.clear()).await;
    world.reconcile().await;
    let log = world.fake.log();
    for group in ["postgresql.cnpg.io", "mongodbcommunity.mongodb.com"] {
        let used = verbs_used(&log, group);
        assert!(!used.is_empty(), "{group}: no request");
        assert_eq!(chart_grants(group), used, "{group}");
    }
}
