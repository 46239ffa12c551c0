//! Secrets in whole reconciles: user Secrets waited for and read by name, watches that never
//! reach Secrets that are not the operator's, and credentials kept across a stack's deletion.

use super::*;

/// Every request the reconciler or the controller makes for Secrets, as `METHOD name?query`.
fn secret_requests(log: &[Call]) -> Vec<String> {
    log.iter()
        .filter(|c| c.resource() == "secrets")
        .map(|c| {
            format!(
                "{} {}?{}",
                c.method,
                c.name.as_deref().unwrap_or("<all>"),
                c.query
            )
        })
        .collect()
}

/// Inserts every Secret the stack references, `host` left out of `broken` (if any).
fn insert_user_secrets(fake: &Fake, stack: &MicroserviceStack, broken: Option<&str>) {
    for name in manifests::secrets::referenced(&stack.spec) {
        let mut data = json!({"host": base64("db.example.com"), "username": base64("admin"),
                              "password": base64("pw")});
        if broken == Some(name.as_str()) {
            data.as_object_mut().unwrap().remove("host");
        }
        fake.insert(
            SECRETS,
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": name, "namespace": "shop"}, "data": data}),
        );
    }
}

#[tokio::test]
async fn a_missing_or_broken_user_secret_is_waited_for_and_the_stack_recovers_without_an_edit() {
    // User Secrets are not watched (the operator lists and watches only its own), so fixing
    // one is noticed by a retry, not by an event.
    let (fake, ctx, stack) = setup("external-databases");
    let retry = Action::requeue(operator::controller::SECRET_RETRY_AFTER);
    assert_eq!(run(&ctx, &stack).await.unwrap(), retry);
    common::assert_condition(
        &stored_stack(&fake, "ext"),
        "Degraded",
        "True",
        "MissingSecret",
    );
    let referenced = manifests::secrets::referenced(&stack.spec);
    insert_user_secrets(&fake, &stack, Some(&referenced[0]));
    assert_eq!(run(&ctx, &stack).await.unwrap(), retry, "a key is missing");
    common::assert_condition(
        &stored_stack(&fake, "ext"),
        "Degraded",
        "True",
        "MissingSecret",
    );
    insert_user_secrets(&fake, &stack, None);
    assert_eq!(run(&ctx, &stack).await.unwrap(), Action::requeue(NOT_READY));
    assert_eq!(
        common::condition(&stored_stack(&fake, "ext"), "Degraded").0,
        "False",
        "the same generation recovers once the Secret is right"
    );
}

#[tokio::test]
async fn user_secrets_are_read_by_name_and_no_secret_is_listed_or_deleted() {
    let (fake, ctx, stack) = setup("external-databases");
    for name in manifests::secrets::referenced(&stack.spec) {
        fake.insert(
            SECRETS,
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": name, "namespace": "shop"},
                   "data": {"host": base64("db.example.com"), "username": base64("admin"),
                            "password": base64("pw")}}),
        );
    }
    // Someone else's Secret in the same namespace: never to be touched.
    fake.insert(
        SECRETS,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "unrelated", "namespace": "shop"}, "data": {}}),
    );
    run(&ctx, &stack).await.unwrap();
    let mut smaller = stored_stack(&fake, "ext");
    smaller.spec.services.pop();
    run(&ctx, &smaller).await.unwrap();
    let requests = secret_requests(&fake.log());
    for name in manifests::secrets::referenced(&stack.spec) {
        assert!(
            requests.contains(&format!("GET {name}?")),
            "{name} is read by name: {requests:?}"
        );
    }
    let listed: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("GET <all>"))
        .collect();
    assert!(listed.is_empty(), "Secrets listed: {listed:?}");
    let deleted: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("DELETE"))
        .collect();
    assert!(deleted.is_empty(), "Secrets deleted: {deleted:?}");
    assert!(!requests.iter().any(|r| r.contains("unrelated")));
}

#[tokio::test]
async fn the_controller_watches_only_the_operators_own_secrets() {
    let (fake, client) = Fake::start();
    fake.insert(
        STACKS,
        serde_json::to_value(common::load("minimal")).unwrap(),
    );
    let health = operator::server::Health::default();
    let controller = tokio::spawn(operator::controller::run(
        client,
        Some("shop"),
        health,
        RESYNC,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    // Long enough for every watcher to make its first list (and the reconcile to start).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let watched = |log: &[Call], resource: &str| {
        log.iter()
            .any(|c| c.resource() == resource && c.name.is_none() && c.method == "GET")
    };
    let both = |log: &[Call]| watched(log, "secrets") && watched(log, "networkpolicies");
    while !both(&fake.log()) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A while longer, so that a watcher listing Secrets without the label, had one started
    // later, would be seen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    controller.abort();
    let log = fake.log();
    let lists: Vec<&Call> = log
        .iter()
        .filter(|c| c.resource() == "secrets" && c.name.is_none() && c.method == "GET")
        .collect();
    assert!(!lists.is_empty(), "the operator watches its own Secrets");
    for call in lists {
        assert!(
            call.query
                .contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dnatstack-operator"),
            "a Secret list or watch without the operator's label: {}",
            call.query
        );
    }
    // NetworkPolicies are owned children: watched too, by label.
    assert!(
        log.iter()
            .any(|c| c.resource() == "networkpolicies" && c.name.is_none()),
        "NetworkPolicies are watched"
    );
}

fn owners(fake: &Fake, secret: &str) -> Vec<String> {
    fake.get(SECRETS, secret).unwrap()["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .map(|r| r["uid"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn credentials_guarding_kept_volumes_survive_deleting_the_stack_and_are_reused() {
    let (fake, ctx, stack) = setup("minimal");
    run(&ctx, &stack).await.unwrap();
    let before = stored_secrets(&fake);
    let uid = stack.metadata.uid.clone().unwrap();
    for retained in [
        "demo-postgres-admin",
        "demo-mongodb-admin",
        "demo-customers-db",
        "demo-products-db",
        "demo-auth-db",
    ] {
        assert!(
            owners(&fake, retained).is_empty(),
            "{retained} has an owner"
        );
        assert_eq!(
            fake.get(SECRETS, retained).unwrap()["metadata"]["labels"]["natstack.dev/retain"],
            "true"
        );
    }
    assert_eq!(
        owners(&fake, "demo-jwt"),
        [uid.as_str()],
        "others are owned"
    );

    // `kubectl delete mss demo`: the garbage collector deletes what the stack owned.
    let stacks: kube::Api<MicroserviceStack> = kube::Api::namespaced(ctx.client.clone(), "shop");
    stacks
        .delete("demo", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    let deleted = fake.collect_garbage();
    assert!(deleted.contains(&"secrets/demo-customers-db-url".to_owned()));
    assert!(fake.get(SECRETS, "demo-customers-db").is_some());

    // The same stack again (a new uid): the kept credentials are used, not regenerated.
    let mut again = stack.clone();
    again.metadata.uid = Some("0b5e1c1e-0000-4000-8000-00000000beef".into());
    fake.insert(STACKS, serde_json::to_value(&again).unwrap());
    run(&ctx, &again).await.unwrap();
    let after = stored_secrets(&fake);
    for name in ["demo-postgres-admin", "demo-customers-db", "demo-auth-db"] {
        assert_eq!(after[name], before[name], "{name} was regenerated");
    }
    assert_eq!(
        after["demo-customers-db-url"], before["demo-customers-db-url"],
        "the service connects with the credentials its data knows"
    );
}

#[tokio::test]
async fn credentials_an_earlier_operator_owned_are_released_unchanged() {
    let (fake, ctx, stack) = setup("minimal");
    let owner =
        serde_json::to_value(kube::Resource::controller_owner_ref(&stack, &()).unwrap()).unwrap();
    let other =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": "someone-else"});
    fake.insert(
        SECRETS,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "demo-customers-db", "namespace": "shop", "resourceVersion": "7",
                            "ownerReferences": [owner, other],
                            "labels": {"app.kubernetes.io/managed-by": "natstack-operator", "app.kubernetes.io/instance": "demo", "natstack.dev/retain": "true"}},
               "data": {"username": base64("customers"), "password": base64("old-data-knows-me"), "database": base64("customers")}}),
    );
    run(&ctx, &stack).await.unwrap();
    assert_eq!(owners(&fake, "demo-customers-db"), ["someone-else"]);
    let secrets = stored_secrets(&fake);
    assert_eq!(
        secrets["demo-customers-db"]["password"],
        "old-data-knows-me"
    );
    assert!(
        !secrets["demo-customers-db"].contains_key("owner"),
        "an existing Secret keeps exactly its values"
    );
}
