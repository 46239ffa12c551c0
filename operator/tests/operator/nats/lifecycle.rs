//! A new service reaches NATS by a config reload, not a restart; stopping a server runs lame
//! duck first.

use std::process::Command;
use std::time::Duration;

use contract::Envelope;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use operator::crd::ServiceSpec;
use operator::manifests::nats::{
    LAME_DUCK_GRACE_SECS, LAME_DUCK_SECS, RELOAD_POLL_SECS, USERS_FILE,
};
use runtime::CallOptions;
use runtime::config::{ExposeSecret, NatsArgs};
use runtime::serve::{RequestContext, ServiceBuilder};
use runtime::test_support::{nats_server_bin, wait_for_instance, wait_until};

use super::support::{Ports, Rendered, Server, errors_for, pod_paths, serve, substitute};
use crate::common;

// `orders.ping`, served by the new service.
contract::operation! {
    /// Ping
    Ping: "orders"."ping", GET "/orders/ping", auth Public, status 200,
        params (), query (), body (), response String
}

async fn ping(
    _: (),
    _: RequestContext,
    _: Envelope<(), (), ()>,
) -> Result<String, contract::ServiceError> {
    Ok("pong".to_owned())
}

/// Runs the rendered reloader container's command with the pod's paths moved under the
/// server's folder and a 0.1 s poll instead of the rendered one; each round it has looked is
/// a line of the file `rounds`. Stopped on drop.
struct Reloader {
    child: std::process::Child,
    rounds: std::path::PathBuf,
}

impl Reloader {
    fn start(rendered: &Rendered, server: &Server) -> Self {
        let command = rendered.container("reloader").command.clone().unwrap();
        assert_eq!(command[..2], ["sh", "-c"]);
        let mut substitutions = pod_paths(server.dir.path());
        substitutions.push((
            format!("sleep {RELOAD_POLL_SECS} "),
            "sleep 0.1 ".to_owned(),
        ));
        let rounds = server.dir.path().join("rounds");
        substitutions.push((
            "now=$(sum)".to_owned(),
            format!("now=$(sum); echo round >> {}", rounds.display()),
        ));
        let script = substitute(&command[2], &substitutions);
        assert!(script.contains("sleep 0.1 "), "{script}");
        assert!(script.contains("echo round"), "{script}");
        let bin_dir = nats_server_bin().unwrap().parent().unwrap().to_owned();
        let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .spawn()
            .expect("sh runs");
        Self { child, rounds }
    }

    /// Rounds the reloader has looked at the files so far.
    fn rounds(&self) -> usize {
        std::fs::read_to_string(&self.rounds).map_or(0, |r| r.lines().count())
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The minimal stack as rendered, and as rendered with a service `orders` added.
fn minimal_and_with_orders() -> (Rendered, Rendered) {
    let before = Rendered::new(common::load("minimal"));
    let mut stack = before.stack.clone();
    let orders: ServiceSpec =
        serde_json::from_value(serde_json::json!({"name": "orders"})).expect("a service spec");
    stack.spec.services.push(orders);
    (before, Rendered::new(stack))
}

/// The NATS user and password in `args`.
fn login_of(args: &NatsArgs) -> (String, String) {
    let password = args.nats_password.as_ref().unwrap().expose_secret();
    (args.nats_user.clone().unwrap(), password.to_owned())
}

/// Waits until `server` lets `login` in, as a reload of the new users does.
async fn wait_let_in(server: &Server, login: &(String, String)) {
    let user = Some((login.0.as_str(), login.1.as_str()));
    wait_until(
        "the server lets the user in",
        Duration::from_secs(20),
        || async { errors_for(server.ports.client, user, "").await.is_empty() },
    )
    .await;
}

#[tokio::test]
async fn a_new_service_is_let_in_by_a_reload_without_a_restart() {
    let (before, after) = minimal_and_with_orders();

    // The service list changes the users, not what rolls the pods.
    assert_ne!(
        after.secret_file(USERS_FILE),
        before.secret_file(USERS_FILE)
    );
    assert!(after.secret_file(USERS_FILE).contains("\"orders\""));
    assert_eq!(after.config(), before.config());
    assert_eq!(
        after.hash(),
        before.hash(),
        "adding a service must not roll NATS"
    );

    let mut server = Server::rendered(&before, "demo-nats-0", Ports::free(), &[]).await;
    let pid = server.pid();
    let _reloader = Reloader::start(&before, &server);
    let gateway = before.connect("gateway", &server.url()).await;
    let orders_args = after.nats_args("orders", &server.url());
    let orders_login = login_of(&orders_args);
    let as_orders = Some((orders_login.0.as_str(), orders_login.1.as_str()));
    assert_eq!(
        errors_for(server.ports.client, as_orders, "").await,
        ["-ERR 'Authorization Violation'"]
    );

    // The new service's pod starts before NATS knows its user, and keeps trying.
    let orders = runtime::connect::connect(&orders_args, "orders", false)
        .await
        .unwrap();

    // The kubelet updates the mounted Secret; the reloader notices and signals the server.
    server.replace_file(
        &format!("secret/{USERS_FILE}"),
        &after.secret_file(USERS_FILE),
    );
    wait_let_in(&server, &orders_login).await;
    assert!(server.log().contains("Reloaded server configuration"));

    // Same process, same connection, and the gateway's connection got its new permission.
    assert!(server.running());
    assert_eq!(server.pid(), pid);
    wait_until(
        "the waiting service connects",
        Duration::from_secs(20),
        || async { runtime::connect::is_connected(&orders) },
    )
    .await;
    let service = ServiceBuilder::new("orders", "1.0.0", "stand-in", ()).endpoint::<Ping, _>(ping);
    let (id, serving) = serve(service, &orders).await;
    wait_for_instance(&gateway, "orders", &id).await;
    let caller = runtime::Requester::new(gateway.clone()).await.unwrap();
    let reply = caller
        .call::<Ping>(
            &Envelope::default(),
            CallOptions::timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}:\n{}", server.log()));
    assert_eq!(reply, "pong");
    serving.abort();
    assert_eq!(
        gateway
            .statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_change_made_before_the_reloaders_first_look_is_loaded() {
    // The server reads its files, the Secret changes, and only then does the reloader (a
    // container started beside the server) take its first checksum: it must still reload.
    let (before, after) = minimal_and_with_orders();
    let server = Server::rendered(&before, "demo-nats-0", Ports::free(), &[]).await;
    let login = login_of(&after.nats_args("orders", &server.url()));
    let as_orders = Some((login.0.as_str(), login.1.as_str()));
    server.replace_file(
        &format!("secret/{USERS_FILE}"),
        &after.secret_file(USERS_FILE),
    );
    assert_eq!(
        errors_for(server.ports.client, as_orders, "").await,
        ["-ERR 'Authorization Violation'"],
        "the server has not read the new users yet"
    );
    let pid = server.pid();
    let _reloader = Reloader::start(&before, &server);
    wait_let_in(&server, &login).await;
    assert_eq!(server.pid(), pid, "reloaded, not restarted");
}

#[tokio::test]
async fn an_unchanged_config_is_never_reloaded() {
    // A reload re-reads the users and accounts, and a request in flight then can be lost: the
    // reloader's first look, and every one after, leaves an unchanged config alone.
    let (before, _) = minimal_and_with_orders();
    let server = Server::rendered(&before, "demo-nats-0", Ports::free(), &[]).await;
    let reloader = Reloader::start(&before, &server);
    wait_until(
        "the reloader has looked five times",
        Duration::from_secs(20),
        || async { reloader.rounds() >= 5 },
    )
    .await;
    assert!(
        !server.log().contains("Reloaded"),
        "an unchanged config was reloaded:\n{}",
        server.log()
    );
}

#[test]
fn a_single_server_stops_at_once() {
    // Lame duck moves clients to another server; alone, it would only make every restart
    // last its whole duration.
    let rendered = Rendered::new(common::load("minimal"));
    assert_eq!(rendered.pod().termination_grace_period_seconds, None);
    assert_eq!(rendered.container("nats").lifecycle, None);
}

#[tokio::test]
async fn stopping_a_server_of_a_cluster_runs_lame_duck_and_outlasts_sigterm() {
    let mut stack = common::load("minimal");
    stack.spec.nats.replicas = 3;
    let rendered = Rendered::new(stack);
    let pod = rendered.pod();
    let grace = pod.termination_grace_period_seconds.unwrap();
    assert!(
        grace > LAME_DUCK_SECS + LAME_DUCK_GRACE_SECS,
        "the kubelet would kill the server mid lame duck"
    );
    let config = rendered.config();
    assert!(
        config.contains(&format!("lame_duck_duration: {LAME_DUCK_SECS}s")),
        "{config}"
    );
    let pre_stop = rendered
        .container("nats")
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref());
    let command = pre_stop
        .and_then(|h| h.exec.as_ref())
        .and_then(|e| e.command.clone())
        .expect("a preStop command");

    let mut server = Server::rendered(&rendered, "demo-nats-0", Ports::free(), &[]).await;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let args = rendered.nats_args("gateway", &server.url());
    let client = async_nats::ConnectOptions::new()
        .user_and_password(
            args.nats_user.unwrap(),
            args.nats_password.unwrap().expose_secret().to_owned(),
        )
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event.to_string());
            }
        })
        .connect(server.url())
        .await
        .unwrap();

    // The kubelet runs preStop in the container, then sends SIGTERM.
    let command: Vec<String> = command
        .iter()
        .map(|a| substitute(a, &pod_paths(server.dir.path())))
        .collect();
    assert_eq!(command[0], "nats-server");
    let status = Command::new(nats_server_bin().unwrap())
        .args(&command[1..])
        .status()
        .unwrap();
    assert!(status.success(), "{command:?}");
    let lame_duck = async {
        while let Some(event) = events.recv().await {
            if event.contains("lame duck") {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), lame_duck)
        .await
        .expect("the client hears the server enter lame duck mode");
    let pid = i32::try_from(server.pid()).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    wait_until(
        "the server trapped SIGTERM",
        Duration::from_secs(10),
        || async { server.log().contains("Trapped \"terminated\" signal") },
    )
    .await;
    let monitor = ([127, 0, 0, 1], server.ports.monitor).into();
    let (status, _) = runtime::test_support::http_get(monitor, "/varz").await;
    assert_eq!(status, 200, "{}", server.log());
    assert!(
        server.running(),
        "SIGTERM cut lame duck short:\n{}",
        server.log()
    );
    drop(client);
}
