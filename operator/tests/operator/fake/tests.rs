//! The fake's own strictness, checked through a kube client as the operator talks to it.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::Fake;

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/ns/deployments";
const CONFIG_MAPS: &str = "/api/v1/namespaces/ns/configmaps";

fn api<K>(client: &kube::Client) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(client.clone(), "ns")
}

fn deployment(replicas: Option<i32>) -> Value {
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}});
    if let Some(n) = replicas {
        d["spec"]["replicas"] = json!(n);
    }
    d
}

/// A forced server-side apply of `obj` (to the object its `metadata.name` names) by `manager`.
async fn apply<K>(api: &Api<K>, manager: &str, obj: &Value) -> Result<K, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj["metadata"]["name"].as_str().expect("a named object");
    api.patch(
        name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(obj),
    )
    .await
}

fn code(result: Result<impl std::fmt::Debug, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(s)) => (s.code, s.message),
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn replicas_ownership_follows_server_side_apply() {
    let (fake, client) = Fake::start();
    let deployments = api::<Deployment>(&client);
    let owners = || fake.managers(DEPLOYMENTS, "web", "/spec/replicas");
    let replicas = || fake.get(DEPLOYMENTS, "web").unwrap()["spec"]["replicas"].clone();

    apply(&deployments, "op", &deployment(Some(3)))
        .await
        .unwrap();
    assert_eq!(owners(), ["op"]);
    // An autoscaler's Update through the scale subresource takes it over.
    let hpa = PatchParams {
        field_manager: Some("hpa".into()),
        ..PatchParams::default()
    };
    deployments
        .patch_scale(
            "web",
            &hpa,
            &Patch::Merge(&json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!((replicas(), owners()), (json!(5), vec!["hpa".to_owned()]));
    // The operator stops applying replicas: the autoscaler's value stays.
    apply(&deployments, "op", &deployment(None)).await.unwrap();
    assert_eq!((replicas(), owners()), (json!(5), vec!["hpa".to_owned()]));
    // Applying the same value shares ownership; releasing it then leaves it to the other.
    apply(&deployments, "op", &deployment(Some(5)))
        .await
        .unwrap();
    assert_eq!(owners(), ["hpa", "op"]);
    apply(&deployments, "op", &deployment(None)).await.unwrap();
    assert_eq!((replicas(), owners()), (json!(5), vec!["hpa".to_owned()]));
    // Without force, changing a field another manager owns conflicts.
    let (status, message) = code(
        deployments
            .patch(
                "web",
                &PatchParams::apply("op"),
                &Patch::Apply(&deployment(Some(2))),
            )
            .await,
    );
    assert_eq!(status, 409);
    assert!(message.contains("hpa"), "{message}");
    // A field its only owner releases is removed: the default comes back.
    apply(&deployments, "op", &deployment(Some(2)))
        .await
        .unwrap();
    assert_eq!(owners(), ["op"]);
    apply(&deployments, "op", &deployment(None)).await.unwrap();
    assert_eq!((replicas(), owners()), (json!(1), Vec::<String>::new()));
}

#[tokio::test]
async fn versions_generations_and_the_status_subresource_behave_as_the_api_server() {
    let (fake, client) = Fake::start();
    let deployments = api::<Deployment>(&client);
    let created = apply(&deployments, "op", &deployment(Some(1)))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let version = created.metadata.resource_version.clone().unwrap();

    // Status through the main resource is ignored; through /status only status changes.
    let mut with_status = deployment(Some(1));
    with_status["status"] = json!({"readyReplicas": 9});
    apply(&deployments, "op", &with_status).await.unwrap();
    assert!(
        fake.get(DEPLOYMENTS, "web")
            .unwrap()
            .get("status")
            .is_none()
    );
    let status = json!({"status": {"readyReplicas": 1}, "spec": {"replicas": 7}});
    deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let stored = fake.get(DEPLOYMENTS, "web").unwrap();
    assert_eq!(stored["status"]["readyReplicas"], 1);
    assert_eq!(stored["spec"]["replicas"], 1);
    assert_eq!(
        stored["metadata"]["generation"], 1,
        "status is not a spec change"
    );
    assert_ne!(stored["metadata"]["resourceVersion"], json!(version));

    // Metadata-only writes keep the generation; spec writes bump it; a stale version conflicts.
    let label = json!({"metadata": {"labels": {"team": "a"}}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    assert_eq!(
        fake.get(DEPLOYMENTS, "web").unwrap()["metadata"]["generation"],
        1
    );
    let mut image = deployment(Some(1));
    image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:2");
    apply(&deployments, "op", &image).await.unwrap();
    assert_eq!(
        fake.get(DEPLOYMENTS, "web").unwrap()["metadata"]["generation"],
        2
    );
    let stale = json!({"metadata": {"resourceVersion": version, "labels": {"team": "b"}}});
    let (status, _) = code(
        deployments
            .patch("web", &PatchParams::default(), &Patch::Merge(&stale))
            .await,
    );
    assert_eq!(status, 409);
    // An apply that changes nothing changes no version.
    let before = fake.get(DEPLOYMENTS, "web").unwrap();
    apply(&deployments, "op", &image).await.unwrap();
    assert_eq!(fake.get(DEPLOYMENTS, "web").unwrap(), before);
}

#[tokio::test]
async fn immutable_fields_are_refused_with_the_api_servers_messages() {
    let (_fake, client) = Fake::start();
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "ns"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
    let stateful_sets = api::<StatefulSet>(&client);
    apply(&stateful_sets, "op", &sts).await.unwrap();
    let mut classed = sts.clone();
    classed["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = json!("fast");
    let (status, message) = code(apply(&stateful_sets, "op", &classed).await);
    assert_eq!(status, 422);
    assert!(
        message.starts_with("StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas'"),
        "{message}"
    );
    let mut renamed = sts.clone();
    renamed["spec"]["serviceName"] = json!("db2");
    assert_eq!(code(apply(&stateful_sets, "op", &renamed).await).0, 422);
    let mut scaled = sts.clone();
    scaled["spec"]["replicas"] = json!(3);
    assert!(
        apply(&stateful_sets, "op", &scaled).await.is_ok(),
        "replicas may change"
    );

    let deployments = api::<Deployment>(&client);
    apply(&deployments, "op", &deployment(None)).await.unwrap();
    let mut reselected = deployment(None);
    reselected["spec"]["selector"]["matchLabels"]["tier"] = json!("x");
    let (status, message) = code(apply(&deployments, "op", &reselected).await);
    assert_eq!(status, 422);
    assert!(
        message.contains("spec.selector: Invalid value"),
        "{message}"
    );

    let services = api::<Service>(&client);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "ns"},
                     "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}});
    apply(&services, "op", &svc).await.unwrap();
    let mut headed = svc.clone();
    headed["spec"]["clusterIP"] = json!("10.96.0.9");
    let (status, message) = code(apply(&services, "op", &headed).await);
    assert_eq!(status, 422);
    assert!(message.contains("may not change once set"), "{message}");

    let secrets = api::<Secret>(&client);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
                        "immutable": true, "data": {"k": "djE="}});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(secret.clone()).unwrap(),
        )
        .await
        .unwrap();
    let change = json!({"data": {"k": "djI="}});
    let (status, message) = code(
        secrets
            .patch("s", &PatchParams::default(), &Patch::Merge(&change))
            .await,
    );
    assert_eq!(status, 422);
    assert!(
        message.contains("field is immutable when `immutable` is set"),
        "{message}"
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_and_orphaning_releases_dependents() {
    let (fake, client) = Fake::start();
    let maps = api::<ConfigMap>(&client);
    let owner = maps
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "owner", "finalizers": ["example.com/hold"]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let uid = owner.metadata.uid.unwrap();
    let dependent = json!({"metadata": {"name": "dep", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}});
    maps.create(
        &PostParams::default(),
        &serde_json::from_value(dependent).unwrap(),
    )
    .await
    .unwrap();

    // A finalizer keeps the owner, marked as being deleted; the dependent is not collected.
    maps.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    let held = fake.get(CONFIG_MAPS, "owner").unwrap();
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    assert!(fake.collect_garbage().is_empty());
    assert!(fake.get(CONFIG_MAPS, "dep").is_some());
    // The finalizer removed: the owner goes, then the collector takes the dependent.
    let release = json!({"metadata": {"finalizers": []}});
    maps.patch("owner", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    assert!(fake.get(CONFIG_MAPS, "owner").is_none());
    assert_eq!(fake.collect_garbage(), ["configmaps/dep"]);

    // Orphan: the dependent stays, without its reference.
    let owner = maps
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap(),
        )
        .await
        .unwrap();
    let dependent = json!({"metadata": {"name": "dep", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}]}});
    maps.create(
        &PostParams::default(),
        &serde_json::from_value(dependent).unwrap(),
    )
    .await
    .unwrap();
    maps.delete("owner", &DeleteParams::orphan()).await.unwrap();
    assert!(fake.collect_garbage().is_empty());
    assert!(fake.get(CONFIG_MAPS, "owner").is_none());
    let orphan = fake.get(CONFIG_MAPS, "dep").unwrap();
    assert_eq!(orphan["metadata"]["ownerReferences"], json!([]));
}

#[tokio::test]
async fn stack_rules_run_on_create_and_update_including_the_name_rules() {
    let (fake, client) = Fake::start();
    let stacks = api::<operator::crd::MicroserviceStack>(&client);
    let mut stack = crate::common::load("minimal");
    stack.metadata.namespace = Some("ns".into());
    stack.metadata.name = Some("1demo".into());
    let (status, message) = code(stacks.create(&PostParams::default(), &stack).await);
    assert_eq!(status, 422);
    assert!(message.contains("DNS-1035"), "{message}");

    stack.metadata.name = Some("demo".into());
    let created = stacks.create(&PostParams::default(), &stack).await.unwrap();
    let mut resized = created.clone();
    resized.spec.postgres.storage = "512Mi".into();
    let (status, message) = code(
        stacks
            .replace("demo", &PostParams::default(), &resized)
            .await,
    );
    assert_eq!(status, 422);
    assert!(message.contains("storage can only grow"), "{message}");
    assert_eq!(
        fake.get(
            "/apis/natstack.dev/v1alpha1/namespaces/ns/microservicestacks",
            "demo"
        )
        .unwrap()["metadata"]["generation"],
        1
    );
}

#[tokio::test]
async fn a_jobs_template_is_immutable() {
    let (_fake, client) = Fake::start();
    let jobs = api::<k8s_openapi::api::batch::v1::Job>(&client);
    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "init", "namespace": "ns"},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "init", "image": image}]}}}})
    };
    apply(&jobs, "op", &job("init:1")).await.unwrap();
    let (status, message) = code(apply(&jobs, "op", &job("init:2")).await);
    assert_eq!(status, 422);
    assert!(
        message.starts_with("Job.batch \"init\" is invalid: spec.template: Invalid value"),
        "{message}"
    );
}
