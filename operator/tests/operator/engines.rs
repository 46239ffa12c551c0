//! Database servers run by an engine's operator (`postgres.provider: cnpg`,
//! `mongodb.provider: community-operator`) in the built children: the CNPG and
//! MongoDBCommunity objects instead of the operator's own StatefulSets and provisioning Jobs,
//! and services pointed at what those operators publish.

use operator::crd::{DatabaseKind, ServiceSpec};
use operator::manifests::Child;
use operator::manifests::cnpg::{self, Cluster};
use operator::manifests::common::CONFIG_HASH;
use operator::manifests::connection::DB_CA_DIR;
use operator::manifests::mongodb_community::{self, MongoDBCommunity};
use operator::manifests::secrets::BASIC_AUTH;

use crate::common;

fn cluster(children: &operator::manifests::Children) -> &Cluster {
    match common::find(children, "Cluster", "demo-postgres") {
        Child::Cluster(c) => c,
        other => panic!("not a Cluster: {other:?}"),
    }
}

fn replica_set(children: &operator::manifests::Children) -> &MongoDBCommunity {
    match common::find(children, "MongoDBCommunity", "demo-mongodb") {
        Child::MongoDBCommunity(m) => m,
        other => panic!("not a MongoDBCommunity: {other:?}"),
    }
}

#[test]
fn providers_replace_the_database_statefulsets_and_jobs() {
    let children = common::build(&common::load("engines"));
    let kinds: Vec<String> = children
        .iter()
        .map(|c| format!("{}/{}", c.kind(), c.name()))
        .collect();
    for absent in [
        "StatefulSet/demo-postgres",
        "StatefulSet/demo-mongodb",
        "Service/demo-postgres",
        "Service/demo-mongodb",
    ] {
        assert!(!kinds.iter().any(|k| k == absent), "{absent}: {kinds:?}");
    }
    assert!(
        children.iter().all(|c| c.kind() != "Job"),
        "no provisioning Job: {kinds:?}"
    );
    for present in [
        "Cluster/demo-postgres",
        "Database/demo-customers-db",
        "Database/demo-products-db",
        "ScheduledBackup/demo-postgres",
        "MongoDBCommunity/demo-mongodb",
    ] {
        assert!(kinds.iter().any(|k| k == present), "{present}: {kinds:?}");
    }
    let engines = children.engines();
    assert_eq!(engines.len(), 2, "{engines:?}");
}

#[test]
fn the_cluster_carries_the_roles_sizing_backups_and_monitoring() {
    let mut stack = common::load("engines");
    stack.spec.monitoring.enabled = true;
    stack.spec.postgres.max_connections = Some(150);
    stack.spec.postgres.storage_class_name = Some("fast".into());
    let children = common::build(&stack);
    let spec = &cluster(&children).spec;
    assert_eq!(spec.instances, 3, "the default");
    assert_eq!(spec.storage.size, "1Gi");
    assert_eq!(spec.storage.storage_class.as_deref(), Some("fast"));
    assert_eq!(spec.postgresql.parameters["max_connections"], "150");
    assert!(
        spec.monitoring
            .as_ref()
            .is_some_and(|m| m.enable_pod_monitor)
    );
    let roles = &spec.managed.as_ref().expect("managed roles").roles;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["customers", "products"]);
    for role in roles {
        assert!(role.login);
        let secret = role.password_secret.as_ref().expect("passwordSecret");
        assert_eq!(secret.name, format!("demo-{}-db", role.name));
    }
    let backup = spec.backup.as_ref().expect("backup");
    assert_eq!(
        backup.barman_object_store.destination_path,
        "s3://backups/demo"
    );
    assert_eq!(backup.retention_policy.as_deref(), Some("7d"));
    let keys = &backup.barman_object_store.s3_credentials;
    assert_eq!(
        (
            keys.access_key_id.key.as_str(),
            keys.secret_access_key.key.as_str()
        ),
        (cnpg::ACCESS_KEY_ID, cnpg::ACCESS_SECRET_KEY)
    );
    assert_eq!(keys.access_key_id.name, "backup-store");
    let Child::CnpgDatabase(db) = common::find(&children, "Database", "demo-customers-db") else {
        panic!("not a Database");
    };
    assert_eq!(
        (
            db.spec.name.as_str(),
            db.spec.owner.as_str(),
            db.spec.cluster.name.as_str()
        ),
        ("customers", "customers", "demo-postgres")
    );
    let Child::ScheduledBackup(scheduled) =
        common::find(&children, "ScheduledBackup", "demo-postgres")
    else {
        panic!("not a ScheduledBackup");
    };
    assert_eq!(scheduled.spec.schedule, "0 0 3 * * *", "the default");
    assert_eq!(scheduled.spec.cluster.name, "demo-postgres");
}

#[test]
fn without_backup_there_is_no_scheduled_backup() {
    let mut stack = common::load("engines");
    stack.spec.postgres.backup = None;
    stack.spec.postgres.instances = Some(5);
    let children = common::build(&stack);
    assert!(children.iter().all(|c| c.kind() != "ScheduledBackup"));
    assert!(cluster(&children).spec.backup.is_none());
    assert_eq!(cluster(&children).spec.instances, 5);
}

#[test]
fn credential_secrets_have_the_shape_cnpg_reads() {
    let stack = common::load("engines");
    let ctx = operator::manifests::common::Ctx::new(&stack).unwrap();
    let generated = operator::manifests::secrets::generated(&ctx);
    let customers = generated
        .iter()
        .find(|g| g.name() == "demo-customers-db")
        .expect("customers' Secret");
    assert_eq!(customers.type_, BASIC_AUTH);
    assert!(customers.keys.contains_key("username") && customers.keys.contains_key("password"));
    let labels = customers.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[cnpg::RELOAD_LABEL], "true");
    // MongoDB's user reads only `password`: its Secret keeps the usual type.
    let auth = generated
        .iter()
        .find(|g| g.name() == "demo-auth-db")
        .unwrap();
    assert_eq!(auth.type_, "Opaque");
    assert!(
        generated
            .iter()
            .all(|g| !g.name().ends_with("-admin") || g.name() == "demo-admin"),
        "no server admin Secret: the engines keep their own"
    );
}

#[test]
fn postgres_services_connect_to_the_rw_service_verifying_cnpgs_ca() {
    let stack = common::load("engines");
    let children = common::build(&stack);
    let data = common::secret_data(&stack);
    let ctx = operator::manifests::common::Ctx::new(&stack).unwrap();
    let service = stack
        .spec
        .services
        .iter()
        .find(|s| s.name == "customers")
        .unwrap();
    let url = operator::manifests::connection::service_url(&ctx, service, &data).unwrap();
    assert!(
        url.starts_with("postgres://customers:")
            && url.contains("@demo-postgres-rw.shop.svc:5432/customers?")
            && url.contains("sslmode=verify-full")
            && url.contains(&format!("sslrootcert={DB_CA_DIR}/ca.crt")),
        "{url}"
    );
    let deployment = common::find(&children, "Deployment", "demo-customers");
    let pod = common::pod(deployment).unwrap();
    let volume = common::volume(pod, "db-ca");
    let secret = volume.secret.as_ref().unwrap();
    assert_eq!(secret.secret_name.as_deref(), Some("demo-postgres-ca"));
    // The key CNPG writes its CA certificate under.
    assert_eq!(secret.items.as_ref().unwrap()[0].key, "ca.crt");
}

#[test]
fn auth_reads_the_connection_string_the_mongodb_operator_publishes() {
    let stack = common::load("engines");
    let children = common::build(&stack);
    let spec = &replica_set(&children).spec;
    assert_eq!((spec.members, spec.type_.as_str()), (3, "ReplicaSet"));
    assert_eq!(spec.security.authentication.modes, ["SCRAM"]);
    assert_eq!(spec.version, mongodb_community::DEFAULT_VERSION);
    let [user] = spec.users.as_slice() else {
        panic!("one user: {:?}", spec.users);
    };
    assert_eq!((user.name.as_str(), user.db.as_str()), ("auth", "auth"));
    assert_eq!(user.password_secret_ref.name, "demo-auth-db");
    assert_eq!(user.password_secret_ref.key, "password");
    let container = common::container(&children, "Deployment", "demo-auth");
    let env = common::env_map(container);
    let from = env["MONGODB_URL"]
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("from a Secret");
    assert_eq!(from.name, user.connection_string_secret_name);
    assert_eq!(from.key, mongodb_community::CONNECTION_KEY);
    assert!(
        children.find("Secret", "demo-auth-db-url").is_none(),
        "the operator derives no URL it cannot know"
    );
}

#[test]
fn the_mongodb_version_comes_from_a_full_image_tag() {
    for (image, version) in [
        (Some("mongo:8.0.4"), "8.0.4"),
        (
            Some("registry.example.com:5000/mongo:7.0.21-jammy"),
            "7.0.21",
        ),
        (Some("mongo:8.0"), mongodb_community::DEFAULT_VERSION),
        (Some("mongo"), mongodb_community::DEFAULT_VERSION),
        (None, mongodb_community::DEFAULT_VERSION),
    ] {
        assert_eq!(mongodb_community::version(image), version, "{image:?}");
    }
}

#[test]
fn engine_pods_admit_the_services_their_peers_and_their_operator() {
    let mut stack = common::load("engines");
    stack.spec.monitoring.enabled = true;
    let children = common::build(&stack);
    let Child::NetworkPolicy(policy) = common::find(&children, "NetworkPolicy", "demo-postgres")
    else {
        panic!("not a NetworkPolicy");
    };
    let selector = policy.spec.as_ref().unwrap().pod_selector.as_ref().unwrap();
    assert_eq!(
        selector.match_labels.as_ref().unwrap()[cnpg::CLUSTER_LABEL],
        "demo-postgres"
    );
    let rules = common::ingress(&children, "demo-postgres");
    let ports: Vec<i32> = rules
        .iter()
        .flat_map(|r| r.ports.iter().flatten())
        .filter_map(|p| match p.port {
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(
        ports,
        [
            5432,
            5432,
            i32::from(cnpg::STATUS_PORT),
            i32::from(cnpg::METRICS_PORT)
        ]
    );
    let services = rules[0].from.as_ref().unwrap()[0]
        .pod_selector
        .as_ref()
        .unwrap()
        .match_expressions
        .as_ref()
        .unwrap()[0]
        .values
        .clone()
        .unwrap();
    assert_eq!(
        services,
        ["customers", "products"],
        "no provisioning Job connects"
    );
    let mongo = common::ingress(&children, "demo-mongodb");
    assert_eq!(mongo.len(), 2, "{mongo:?}");
}

#[test]
fn a_service_cannot_take_the_name_of_an_engine_object() {
    for name in ["postgres-rw", "postgres-ro", "postgres-ca", "mongodb-svc"] {
        let mut stack = common::load("engines");
        stack
            .spec
            .services
            .push(ServiceSpec::new(name, DatabaseKind::None));
        assert!(kube::core::cel::validate_cel(&stack).is_err(), "{name}");
        assert!(!operator::validate::problems(&stack).is_empty(), "{name}");
    }
}

/// `examples/production.yaml` renders what issue 28 asks of it: a CNPG Cluster of three
/// instances, a Database per PostgreSQL service, a ScheduledBackup, a MongoDBCommunity of
/// three members, no database StatefulSet, and services pointed at `<stack>-postgres-rw`.
#[test]
fn the_production_example_hands_both_databases_to_their_engines() {
    let (_, stack) = common::examples()
        .into_iter()
        .find(|(name, _)| name == "example-production")
        .expect("examples/production.yaml");
    let children = common::build(&stack);
    let Child::Cluster(cluster) = common::find(&children, "Cluster", "production-postgres") else {
        panic!("no Cluster");
    };
    assert_eq!(cluster.spec.instances, 3);
    let databases = common::names_of(&children, "Database");
    assert_eq!(
        databases,
        ["production-customers-db", "production-products-db"]
    );
    assert!(
        children
            .find("ScheduledBackup", "production-postgres")
            .is_some()
    );
    let Child::MongoDBCommunity(replica_set) =
        common::find(&children, "MongoDBCommunity", "production-mongodb")
    else {
        panic!("no MongoDBCommunity");
    };
    assert_eq!(replica_set.spec.members, 3);
    let stateful_sets = common::names_of(&children, "StatefulSet");
    assert_eq!(
        stateful_sets,
        ["production-nats"],
        "no database StatefulSet"
    );
    let data = common::secret_data(&stack);
    let ctx = operator::manifests::common::Ctx::new(&stack).unwrap();
    for service in stack
        .spec
        .services
        .iter()
        .filter(|s| s.database == DatabaseKind::Postgres)
    {
        let url = operator::manifests::connection::service_url(&ctx, service, &data).unwrap();
        assert!(
            url.contains("@production-postgres-rw.examples.svc:5432/"),
            "{}: {url}",
            service.name
        );
    }
}

#[test]
fn a_new_mongodb_password_rolls_auth_onto_the_new_connection_string() {
    let stack = common::load("engines");
    let hash = |data: &operator::manifests::SecretData| {
        let children = operator::manifests::build(&stack, data).unwrap();
        let template = children
            .find("Deployment", "demo-auth")
            .and_then(Child::pod_template)
            .and_then(|t| t.metadata.clone())
            .expect("auth's pod template");
        template.annotations.unwrap()[CONFIG_HASH].clone()
    };
    let mut data = common::secret_data(&stack);
    let before = hash(&data);
    data.get_mut("demo-auth-db")
        .unwrap()
        .insert("password".into(), "rotated".into());
    assert_ne!(hash(&data), before);
}
