//! A rendered 3-server cluster forms its routes, and a server without the route credential is
//! refused: it never becomes a route, and its clients never see the cluster's messages.

use std::time::Duration;

use futures::StreamExt;
use operator::manifests::nats::ROUTES_FILE;
use runtime::test_support::wait_until;

use super::support::{Ports, Rendered, Server};
use crate::common;

/// Starts the three servers of `rendered` (the `nats-cluster` fixture) on `ports` and waits
/// until each has routes to the other two.
async fn start_cluster(rendered: &Rendered, ports: &[Ports]) -> Vec<Server> {
    // The route URLs name the pods' DNS names; here server i listens on its own loopback port.
    let routes: Vec<(String, String)> = ports[..3]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("ha-nats-{i}.ha-nats-headless.shop.svc:6222"),
                format!("127.0.0.1:{}", p.cluster),
            )
        })
        .collect();
    let mut servers = Vec::new();
    for (i, p) in ports[..3].iter().enumerate() {
        servers.push(Server::rendered(rendered, &format!("ha-nats-{i}"), *p, &routes).await);
    }
    for (i, server) in servers.iter_mut().enumerate() {
        let mut others: Vec<String> = (0..3)
            .filter(|j| *j != i)
            .map(|j| format!("ha-nats-{j}"))
            .collect();
        others.sort();
        server
            .wait_for(
                &format!("ha-nats-{i} has routes to {others:?}"),
                Duration::from_secs(20),
                async |s| s.route_names().await == others,
            )
            .await;
    }
    servers
}

#[tokio::test]
async fn the_cluster_forms_and_refuses_a_server_without_the_route_credential() {
    let rendered = Rendered::new(common::load("nats-cluster"));
    let ports = Ports::distinct(4);
    let servers = start_cluster(&rendered, &ports).await;

    // The rogue knows the route URLs and the cluster name, not the credential, and lets
    // anyone in.
    let rendered_routes = rendered.secret_file(ROUTES_FILE);
    let start = rendered_routes.find("routes: [").unwrap();
    let route_list: Vec<String> = ports[..3]
        .iter()
        .map(|p| format!("    \"nats://127.0.0.1:{}\"", p.cluster))
        .collect();
    let rogue_routes = format!(
        "cluster {{\n  name: \"ha\"\n  listen: 0.0.0.0:6222\n  routes: [\n{}\n  ]\n}}\n",
        route_list.join("\n")
    );
    assert!(rendered_routes[..start].contains("authorization"));
    let rogue_config = "server_name: $POD_NAME\nlisten: 0.0.0.0:4222\nhttp: 0.0.0.0:8222\n\
                        include \"../secret/routes.conf\"\n";
    let rogue = Server::start(
        "rogue",
        [
            ("config/nats.conf", rogue_config),
            ("secret/routes.conf", &rogue_routes),
            ("secret/users.conf", ""),
        ],
        ports[3],
        &[],
    )
    .await;
    let eavesdropper = async_nats::connect(rogue.url()).await.unwrap();
    let mut overheard = eavesdropper.subscribe(">").await.unwrap();
    eavesdropper.flush().await.unwrap();

    // The rogue tried and was refused.
    wait_until(
        "the cluster refuses the rogue's route",
        Duration::from_secs(20),
        || async {
            servers
                .iter()
                .any(|s| s.log().contains("authentication error"))
        },
    )
    .await;

    // A request with a bearer token reaches the service on another server, not the rogue.
    let gateway = rendered.connect("gateway", &servers[0].url()).await;
    let customers = rendered.connect("customers", &servers[2].url()).await;
    let mut requests = customers.subscribe("customers.list").await.unwrap();
    customers.flush().await.unwrap();
    let delivered = async {
        loop {
            gateway
                .publish("customers.list", "Authorization: Bearer secret".into())
                .await
                .unwrap();
            gateway.flush().await.unwrap();
            if let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(100), requests.next()).await
            {
                return m;
            }
        }
    };
    let message = tokio::time::timeout(Duration::from_secs(20), delivered)
        .await
        .expect("a request crosses the cluster");
    assert_eq!(message.payload, "Authorization: Bearer secret");

    assert!(
        tokio::time::timeout(Duration::from_millis(500), overheard.next())
            .await
            .is_err(),
        "the rogue's client read a cluster message"
    );
    for server in &servers {
        let names = server.route_names().await;
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(!names.contains(&"rogue".to_owned()), "{names:?}");
    }
}

#[tokio::test]
async fn jetstream_clusters_over_the_routes_and_replicates_the_events_stream() {
    let rendered = Rendered::new(common::load("nats-cluster"));
    let ports = Ports::distinct(3);
    let servers = start_cluster(&rendered, &ports).await;
    // The gateway's settings, as the operator renders them for three servers.
    let settings = contract::events::StreamSettings {
        replicas: contract::events::StreamSettings::replicas_for(3),
        ..contract::events::StreamSettings::default()
    };
    assert_eq!(settings.replicas, 3);
    let gateway = rendered.connect("gateway", &servers[0].url()).await;
    // JetStream's meta group elects a leader first; until then the stream cannot be created.
    let info = std::sync::Arc::new(std::sync::Mutex::new(None));
    wait_until(
        "the replicated events stream is created",
        Duration::from_secs(30),
        || {
            let (gateway, info) = (gateway.clone(), info.clone());
            async move {
                let created = runtime::events::stream::ensure(&gateway, &settings).await;
                let ok = created.is_ok();
                *info.lock().unwrap() = created.ok();
                ok
            }
        },
    )
    .await;
    let info = info.lock().unwrap().take().unwrap();
    assert_eq!(info.config.num_replicas, 3);
    let cluster = info.cluster.expect("a clustered stream");
    assert_eq!(cluster.name.as_deref(), Some("ha"));
    assert!(cluster.leader.is_some());
    assert_eq!(cluster.replicas.len(), 2, "{:?}", cluster.replicas);

    // A service on another server publishes; the stream acknowledges once stored on a quorum.
    let customers = rendered.connect("customers", &servers[2].url()).await;
    let ack = async_nats::jetstream::new(customers)
        .publish("events.customers.created", "{}".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.stream, contract::events::STREAM);
    assert_eq!(ack.sequence, 1);
}
