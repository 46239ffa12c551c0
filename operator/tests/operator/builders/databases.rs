//! The databases' built objects: external servers and their TLS, generated Secrets,
//! provisioning Jobs and their names, and the database servers' start-up and limits.

use super::*;

#[test]
fn external_databases_use_the_given_servers() {
    let stack = common::load("external-databases");
    let children = common::build(&stack);
    assert!(
        children
            .iter()
            .all(|c| c.kind() != "StatefulSet" || c.name() == "ext-nats")
    );
    let Child::Secret(url) = find(&children, "Secret", "ext-customers-db-url") else {
        unreachable!()
    };
    assert_eq!(
        operator::generate::decode(url)["url"],
        "postgres://shop_ext_customers:ext-customers-db-password@pg.example.com:6432/shop_ext_customers",
        "names on a shared server carry the namespace and the stack"
    );
    let Child::Secret(url) = find(&children, "Secret", "ext-auth-db-url") else {
        unreachable!()
    };
    assert_eq!(
        operator::generate::decode(url)["url"],
        "mongodb://shop_ext_auth:ext-auth-db-password@mongo.example.com:27017/shop_ext_auth?authSource=shop_ext_auth"
    );
    let job = children
        .iter()
        .find(|c| c.kind() == "Job" && c.name().starts_with("ext-customers-db-"))
        .unwrap();
    let env = env_map(&pod(job).unwrap().containers[0]);
    assert_eq!(literal(&env, "PGHOST"), "pg.example.com");
    assert_eq!(
        secret_ref(&env, "PGPASSWORD"),
        ("pg-admin".into(), "password".into())
    );
    let auth = env_map(container(&children, "Deployment", "ext-auth"));
    assert_eq!(
        secret_ref(&auth, "ADMIN_PASSWORD"),
        ("shop-admin".into(), "password".into())
    );
    assert_eq!(literal(&auth, "ADMIN_EMAIL"), "root@example.com");
    let ctx = Ctx::new(&stack).unwrap();
    let generated: Vec<String> = secrets::generated(&ctx)
        .iter()
        .map(|g| g.name().to_owned())
        .collect();
    assert!(
        !generated.iter().any(|n| n.ends_with("-admin")),
        "no admin secrets for external servers: {generated:?}"
    );
    assert_eq!(
        secrets::referenced(&stack.spec),
        ["pg-admin", "mongo-admin", "shop-admin"]
    );
}

#[test]
fn missing_external_secret_keys_are_reported() {
    let stack = common::load("external-databases");
    let mut data = common::secret_data(&stack);
    data.get_mut("pg-admin").unwrap().remove("host");
    let err = operator::manifests::build(&stack, &data).unwrap_err();
    assert!(err.is_permanent());
    assert!(err.to_string().contains("pg-admin"), "{err}");
}

#[test]
fn generated_secrets_are_complete_and_retained_where_data_depends_on_them() {
    let stack = common::load("minimal");
    let ctx = Ctx::new(&stack).unwrap();
    let generated = secrets::generated(&ctx);
    let names: Vec<&str> = generated
        .iter()
        .map(secrets::GeneratedSecret::name)
        .collect();
    assert_eq!(
        names,
        [
            "demo-nats-gateway",
            "demo-nats-auth",
            "demo-nats-customers",
            "demo-nats-products",
            "demo-postgres-admin",
            "demo-mongodb-admin",
            "demo-auth-db",
            "demo-customers-db",
            "demo-products-db",
            "demo-jwt",
            "demo-admin"
        ]
    );
    for g in &generated {
        let retained = g
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .get("natstack.dev/retain")
            .is_some();
        // The API admin's password too: auth writes it once into its database.
        assert_eq!(
            retained,
            g.name().ends_with("-db") || g.name().ends_with("-admin"),
            "{}",
            g.name()
        );
        // The volume whose data each retained Secret unlocks (auth keeps its users in MongoDB).
        let protects = match g.name() {
            "demo-postgres-admin" | "demo-customers-db" | "demo-products-db" => {
                Some("data-demo-postgres-0")
            }
            "demo-mongodb-admin" | "demo-auth-db" | "demo-admin" => Some("data-demo-mongodb-0"),
            _ => None,
        };
        assert_eq!(g.protects.as_deref(), protects, "{}", g.name());
    }
    // ... named as the StatefulSet controller names the claim of pod 0.
    let children = common::build(&stack);
    let Some(Child::StatefulSet(postgres)) = children.find("StatefulSet", "demo-postgres") else {
        panic!("no postgres StatefulSet");
    };
    let templates = postgres
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .as_ref()
        .unwrap();
    let template = templates[0].metadata.name.as_deref().unwrap();
    assert_eq!(
        format!("{template}-demo-postgres-0"),
        "data-demo-postgres-0"
    );
    let jwt = generated.iter().find(|g| g.name() == "demo-jwt").unwrap();
    let values = operator::generate::values(jwt, &mut rand::rngs::OsRng).unwrap();
    let pem = &values[secrets::JWT_KEY];
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    assert!(
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem).is_ok(),
        "{pem}"
    );
    let admin = generated
        .iter()
        .find(|g| g.name() == "demo-postgres-admin")
        .unwrap();
    let values = operator::generate::values(admin, &mut rand::rngs::OsRng).unwrap();
    assert_eq!(values["username"], "postgres");
    assert_eq!(values["password"].len(), 32);
    assert!(
        values["password"]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    );
    let again = operator::generate::values(admin, &mut rand::rngs::OsRng).unwrap();
    assert_ne!(values["password"], again["password"]);
}

fn job<'a>(children: &'a Children, prefix: &str) -> &'a Child {
    children
        .iter()
        .find(|c| c.kind() == "Job" && c.name().starts_with(prefix))
        .unwrap_or_else(|| panic!("no job {prefix}*"))
}

fn url(children: &Children, name: &str) -> String {
    let Child::Secret(secret) = find(children, "Secret", name) else {
        unreachable!()
    };
    operator::generate::decode(secret)["url"].clone()
}

#[test]
fn shared_server_names_are_namespaced_bounded_and_distinct() {
    assert_eq!(
        secrets::shared_name("shop", "demo", "customers"),
        "shop_demo_customers"
    );
    assert_eq!(
        secrets::shared_name("shop", "my.stack", "order-items"),
        "shop_my-stack_order-items"
    );
    // `_` never occurs in Kubernetes names, so moving a `-` across the separator differs.
    assert_ne!(
        secrets::shared_name("a-b", "c", "d"),
        secrets::shared_name("a", "b-c", "d")
    );
    let namespace = "n".repeat(63);
    let long = secrets::shared_name(&namespace, "stack", "customers");
    let other = secrets::shared_name(&namespace, "stack", "products");
    assert_eq!(long.len(), 63, "{long}");
    assert_ne!(long, other, "a hash keeps truncated names apart");
    assert!(
        long.starts_with("nnnn") && long.as_bytes()[54] == b'_',
        "{long}"
    );
    // The stack's own server keeps the bare names (a `customers` database, as without the operator).
    let children = common::build(&common::load("minimal"));
    assert!(url(&children, "demo-customers-db-url").starts_with("postgres://customers:"));
}

fn external_with(pg: &[(&str, &str)], mongo: &[(&str, &str)]) -> Children {
    let stack = common::load("external-databases");
    let mut data = common::secret_data(&stack);
    for (secret, pairs) in [("pg-admin", pg), ("mongo-admin", mongo)] {
        let entry = data.get_mut(secret).unwrap();
        for (k, v) in pairs {
            entry.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    operator::manifests::build(&stack, &data).expect("builds")
}

#[test]
fn external_tls_settings_reach_urls_jobs_and_mounts() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let children = external_with(
        &[("sslmode", "verify-full"), ("ca.crt", pem)],
        &[
            ("tls", "true"),
            ("ca.crt", pem),
            ("options", "replicaSet=rs0"),
        ],
    );
    let ca = format!("{}/ca.crt", connection::DB_CA_DIR);
    assert_eq!(
        url(&children, "ext-customers-db-url"),
        format!(
            "postgres://shop_ext_customers:ext-customers-db-password@pg.example.com:6432/shop_ext_customers?sslmode=verify-full&sslrootcert={ca}"
        )
    );
    assert_eq!(
        url(&children, "ext-auth-db-url"),
        format!(
            "mongodb://shop_ext_auth:ext-auth-db-password@mongo.example.com:27017/shop_ext_auth?authSource=shop_ext_auth&tls=true&tlsCAFile={ca}&replicaSet=rs0"
        )
    );
    // The CA is mounted from the user's Secret wherever it is named.
    for child in [
        job(&children, "ext-customers-db-"),
        job(&children, "ext-auth-db-"),
        find(&children, "Deployment", "ext-customers"),
        find(&children, "Deployment", "ext-auth"),
    ] {
        let pod = pod(child).unwrap();
        let volume = common::volume(pod, "db-ca");
        let source = volume.secret.as_ref().unwrap();
        let expected = if child.name().contains("auth") {
            "mongo-admin"
        } else {
            "pg-admin"
        };
        assert_eq!(source.secret_name.as_deref(), Some(expected));
        let mount = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "db-ca")
            .unwrap();
        assert_eq!(mount.mount_path, connection::DB_CA_DIR);
        assert_eq!(mount.read_only, Some(true));
    }
    let env = env_map(&pod(job(&children, "ext-customers-db-")).unwrap().containers[0]);
    assert_eq!(literal(&env, "PGSSLMODE"), "verify-full");
    assert_eq!(literal(&env, "PGSSLROOTCERT"), ca);
    let env = env_map(&pod(job(&children, "ext-auth-db-")).unwrap().containers[0]);
    assert_eq!(
        literal(&env, "DB_URI"),
        format!("mongodb://mongo.example.com:27017/?tls=true&tlsCAFile={ca}&replicaSet=rs0")
    );

    // A DNS seed list: no port, TLS implied; no CA means no mount.
    let srv = external_with(&[], &[("srv", "true")]);
    assert_eq!(
        url(&srv, "ext-auth-db-url"),
        "mongodb+srv://shop_ext_auth:ext-auth-db-password@mongo.example.com/shop_ext_auth?authSource=shop_ext_auth"
    );
    assert!(
        pod(find(&srv, "Deployment", "ext-customers"))
            .unwrap()
            .volumes
            .iter()
            .flatten()
            .all(|v| v.name != "db-ca")
    );
    // Without settings, the URLs carry none (libpq's and sqlx's default is `prefer`).
    assert!(!url(&srv, "ext-customers-db-url").contains('?'));
}

#[test]
fn unknown_tls_settings_are_a_permanent_error_naming_the_secret() {
    let stack = common::load("external-databases");
    for (secret, key, value) in [
        ("pg-admin", "sslmode", "required"),
        ("mongo-admin", "tls", "yes"),
    ] {
        let mut data = common::secret_data(&stack);
        data.get_mut(secret)
            .unwrap()
            .insert(key.into(), value.into());
        let err = operator::manifests::build(&stack, &data).unwrap_err();
        assert!(err.is_permanent(), "{err}");
        let text = err.to_string();
        assert!(text.contains(secret) && text.contains(key), "{text}");
    }
}

#[test]
fn provisioning_jobs_mark_what_they_create() {
    let stack = common::load("minimal");
    let children = common::build(&stack);
    let env = env_map(&pod(job(&children, "demo-products-db-")).unwrap().containers[0]);
    assert_eq!(literal(&env, "STACK"), "shop/demo");
    assert_eq!(literal(&env, "SERVICE"), "products");
    let owner = env["OWNER_ID"]
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (owner.name.as_str(), owner.key.as_str(), owner.optional),
        ("demo-products-db", "owner", Some(true)),
        "optional: Secrets made before owner ids existed lack the key"
    );
}

#[test]
fn job_names_change_whenever_their_template_does() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let variants = [
        external_with(&[], &[]),
        external_with(&[("sslmode", "require")], &[]),
        external_with(&[("sslmode", "verify-full"), ("ca.crt", pem)], &[]),
        external_with(&[], &[("tls", "true")]),
        external_with(&[], &[("srv", "true")]),
    ];
    let mut seen: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for children in &variants {
        for child in children.iter().filter(|c| c.kind() == "Job") {
            let Child::Job(job) = child else {
                unreachable!()
            };
            let template = serde_json::to_value(&job.spec.as_ref().unwrap().template).unwrap();
            if let Some(before) = seen.insert(child.name().to_owned(), template.clone()) {
                assert_eq!(
                    before,
                    template,
                    "{}: same name, different template (an immutable-field apply error)",
                    child.name()
                );
            }
        }
    }
    assert!(seen.len() >= 6, "{:?}", seen.keys());
}

#[test]
fn database_servers_start_slowly_and_fit_their_limits() {
    use operator::manifests::{mongodb, postgres};
    let stack = common::load("minimal");
    let children = common::build(&stack);
    for name in ["demo-postgres", "demo-mongodb"] {
        let c = &pod(find(&children, "StatefulSet", name))
            .unwrap()
            .containers[0];
        let startup = c.startup_probe.as_ref().expect("startup probe");
        assert!(
            startup.period_seconds.unwrap() * startup.failure_threshold.unwrap() >= 300,
            "{name}: room for a slow first start"
        );
        assert!(
            c.liveness_probe
                .as_ref()
                .unwrap()
                .initial_delay_seconds
                .is_none()
        );
    }
    let mongo = &pod(find(&children, "StatefulSet", "demo-mongodb"))
        .unwrap()
        .containers[0];
    assert_eq!(
        mongo.args.as_deref().unwrap(),
        ["mongod", "--wiredTigerCacheSizeGB", "0.25"],
        "512Mi: the smallest cache"
    );
    assert!((mongodb::cache_gb(4 << 30) - 1.5).abs() < 1e-9);
    assert!((mongodb::cache_gb(1 << 30) - 0.25).abs() < 1e-9);
    let pg = &pod(find(&children, "StatefulSet", "demo-postgres"))
        .unwrap()
        .containers[0];
    assert_eq!(
        pg.args.as_deref().unwrap(),
        ["postgres", "-c", "max_connections=100"]
    );
    // Two services of one replica: (100 - 10) / 4 pods is more than the cap of 10.
    let env = env_map(container(&children, "Deployment", "demo-customers"));
    assert_eq!(literal(&env, "DATABASE_MAX_CONNECTIONS"), "10");
    // A small server and more replicas: every pod's pool fits, surge pods included.
    let mut busy = stack;
    busy.spec.postgres.max_connections = Some(40);
    busy.spec.services[1].replicas = 3;
    busy.spec.services[2].replicas = 2;
    let ctx = Ctx::new(&busy).unwrap();
    assert_eq!(postgres::pool_size(&ctx), 4);
    let pods = (3 + 1) + (2 + 1);
    assert!(postgres::pool_size(&ctx) * pods + postgres::RESERVED_CONNECTIONS <= 40);
    let children = common::build(&busy);
    let env = env_map(container(&children, "Deployment", "demo-products"));
    assert_eq!(literal(&env, "DATABASE_MAX_CONNECTIONS"), "4");
    let pg = &pod(find(&children, "StatefulSet", "demo-postgres"))
        .unwrap()
        .containers[0];
    assert_eq!(pg.args.as_deref().unwrap()[2], "max_connections=40");
}
