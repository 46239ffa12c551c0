//! The gateway's own endpoints, CORS and the health listener.

use serde_json::Value;

use super::support::{Http, Reply, World, admin_token, user_token};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let world = World::start().await;
    let http = world.http();
    // Liveness by the health listener's name, and by the older one.
    assert_eq!(http.get("/livez").await.json()["status"], "ok");
    assert_eq!(http.get("/healthz").await.json()["status"], "ok");
    let ready = http.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["checks"]["routing_table"], "ok");
    assert_eq!(ready.json()["checks"]["nats"], "ok");
    assert_eq!(world.gateway.health.get("/livez").await.status, 200);
    assert_eq!(world.gateway.health.get("/readyz").await.status, 200);

    assert_eq!(
        http.get_as("/widgets/7", &user_token("u")).await.status,
        200
    );
    assert_eq!(http.get("/nope").await.status, 404);
    let health = &world.gateway.health;
    let metrics = health.get("/metrics").await;
    assert_eq!(
        metrics.header("content-type"),
        Some(runtime::exposition::CONTENT_TYPE)
    );
    let text = metrics.text();
    let problems = runtime::test_support::promtool::check_metrics(&text).unwrap();
    assert!(problems.is_empty(), "promtool check metrics:\n{problems}");
    for needle in [
        r#"natstack_gateway_http_requests_total{method="GET",route="/widgets/{id}",status="200"} 1"#,
        r#"natstack_gateway_service_instances{service="widgets"} 1"#,
        r#"natstack_gateway_service_instances{service="garbage"} 0"#,
        r#"natstack_gateway_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        "natstack_gateway_http_request_duration_seconds_bucket",
        "natstack_gateway_routes ",
        "natstack_gateway_discovery_polls_total{outcome=\"ok\"}",
        "natstack_gateway_jwks_fetches_total{outcome=\"ok\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    world.stop().await;
}

#[tokio::test]
async fn openapi_is_assembled_from_discovered_endpoints() {
    let world = World::start().await;
    let doc = world.http().get("/openapi.json").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let get = &doc["paths"]["/widgets/{id}"]["get"];
    assert_eq!(get["summary"], "Get a widget");
    assert_eq!(get["parameters"][0]["name"], "id");
    assert_eq!(get["parameters"][0]["in"], "path");
    assert_eq!(get["security"][0]["bearer"], serde_json::json!([]));
    assert!(get["responses"]["401"].is_object());
    assert!(get["responses"]["403"].is_null(), "user level: no 403");
    let delete = &doc["paths"]["/widgets/{id}"]["delete"];
    assert!(delete["responses"]["204"].is_object());
    assert!(delete["responses"]["403"].is_object());
    assert_eq!(
        doc["paths"]["/widgets"]["post"]["responses"]["201"]["description"],
        "Success"
    );
    assert_eq!(
        doc["paths"]["/widgets"]["get"]["security"],
        serde_json::json!([])
    );
    assert!(doc["paths"]["/.well-known/jwks.json"]["get"].is_object());
    assert!(doc["components"]["schemas"]["Error"].is_object());

    // The schemas the services publish over NATS: bodies, responses, named types.
    assert_eq!(get["operationId"], "widgets_get");
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Seen"
    );
    let fail = &doc["paths"]["/widgets/fail"]["post"];
    assert_eq!(fail["requestBody"]["required"], true);
    assert_eq!(
        fail["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/FailBody"
    );
    let fail_body = &doc["components"]["schemas"]["FailBody"];
    assert_eq!(fail_body["properties"]["status"]["type"], "integer");
    let jwks = &doc["paths"]["/.well-known/jwks.json"]["get"];
    assert_eq!(
        jwks["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Jwks"
    );
    assert!(
        !doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .any(|p| p.contains("schema")),
        "the schema endpoints are not routes"
    );
    world.stop().await;
}

#[tokio::test]
async fn openapi_is_served_with_a_strong_etag() {
    let world = World::start().await;
    let first = world.http().get("/openapi.json").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with('"'), "strong: {etag}");
    let again = world
        .http()
        .get_with("/openapi.json", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let other = world
        .http()
        .get_with("/openapi.json", &[("if-none-match", "\"stale\"")])
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body, first.body);
    world.stop().await;
}

#[tokio::test]
async fn services_shows_what_discovery_sees() {
    let world = World::start().await;
    let view = world.gateway.health.get("/services").await.json();
    let services = view["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["auth", "widgets"]);
    let widgets = &services[1];
    assert_eq!(widgets["versions"], serde_json::json!(["1.0.0"]));
    assert_eq!(widgets["instances"].as_array().unwrap().len(), 1);
    let endpoints: Vec<&Value> = widgets["endpoints"].as_array().unwrap().iter().collect();
    assert!(
        endpoints
            .iter()
            .any(|e| e["subject"] == "widgets.get" && e["routed"] == true)
    );
    assert_eq!(view["conflicts"], serde_json::json!([]));
    world.stop().await;
}

/// `GET /widgets` from a page at `origin`.
async fn get_from(http: &Http, origin: &str) -> Reply {
    http.get_with("/widgets", &[("origin", origin)]).await
}

#[tokio::test]
async fn cors_follows_the_configured_origins() {
    let world = World::start_with(|c| {
        c.cors = gateway::Cors::parse(Some("https://app.example"));
    })
    .await;
    let http = world.http();
    let asks = [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization,content-type",
        ),
    ];
    let preflight = http.send("OPTIONS", "/widgets", &asks, None).await;
    assert!(preflight.status < 300, "{}", preflight.status);
    // A CORS header of a reply, empty when missing.
    let cors = |reply: &Reply, name: &str| {
        let value = reply.header(&format!("access-control-{name}"));
        value.unwrap_or_default().to_owned()
    };
    assert_eq!(cors(&preflight, "allow-origin"), "https://app.example");
    assert!(cors(&preflight, "allow-methods").contains("POST"));
    let reply = get_from(http, "https://app.example").await;
    assert_eq!(cors(&reply, "allow-origin"), "https://app.example");
    assert!(cors(&reply, "expose-headers").contains("x-request-id"));
    let reply = get_from(http, "https://evil.example").await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    world.stop().await;

    // Off when unset.
    let world = World::start().await;
    let reply = get_from(world.http(), "https://app.example").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    world.stop().await;
}

#[tokio::test]
async fn without_nats_it_is_not_ready_and_answers_503() {
    let url = format!("nats://127.0.0.1:{}", runtime::test_support::free_port());
    let gateway = super::support::Gateway::spawn(super::support::config(&url)).await;
    let ready = gateway.http.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.json()["checks"]["routing_table"],
        "no routing table yet"
    );
    let reply = gateway.http.get("/widgets").await;
    assert_eq!(reply.status, 503, "not 404: the gateway cannot know yet");
    assert_eq!(reply.error_code(), "unavailable");
    assert_eq!(gateway.health.get("/services").await.status, 503);
    assert_eq!(
        gateway.http.get("/healthz").await.status,
        200,
        "alive all the same"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn client_chosen_methods_and_paths_leave_metrics_small() {
    let world = World::start().await;
    let http = world.http();
    let health = &world.gateway.health;
    let before = health.get("/metrics").await.body.len();
    for i in 0..2000 {
        let method = format!("M{i:x}");
        let path = if i % 2 == 0 {
            format!("/random/{i}")
        } else {
            format!("/widgets/{i}")
        };
        http.send(&method, &path, &[], None).await;
    }
    let text = health.get("/metrics").await.text();
    // No raw path, id or method became a label value.
    for raw in ["/random/", "/widgets/1\"", "/widgets/1999", "M7cf"] {
        assert!(!text.contains(raw), "{raw} in\n{text}");
    }
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    assert!(
        series < 200,
        "{series} series after 2000 distinct requests:\n{text}"
    );
    let problems = runtime::test_support::promtool::check_metrics(&text).unwrap();
    assert!(problems.is_empty(), "promtool check metrics:\n{problems}");
    assert!(
        text.len() < before + 16 * 1024,
        "metrics grew from {before} to {} bytes",
        text.len()
    );
    assert!(
        text.contains(r#"natstack_gateway_http_requests_total{method="OTHER",route="unmatched","#),
        "{text}"
    );
    world.stop().await;
}

#[tokio::test]
async fn operational_endpoints_stay_off_the_api_port() {
    let world = World::start().await;
    let (http, health) = (world.http(), &world.gateway.health);
    for path in ["/metrics", "/services"] {
        let reply = http.get(path).await;
        assert_eq!(reply.status, 404, "{path} on the API port");
        assert_eq!(reply.error_code(), "not_found");
        // Not even an admin token opens them there by default.
        assert_eq!(http.get_as(path, &admin_token("a")).await.status, 404);
        assert_eq!(
            health.get(path).await.status,
            200,
            "{path} on the health port"
        );
    }
    // The API description stays public by choice.
    assert_eq!(http.get("/openapi.json").await.status, 200);
    world.stop().await;
}

#[tokio::test]
async fn operational_endpoints_can_open_to_the_admin_role() {
    let world = World::start_with(|c| c.ops = gateway::OpsEndpoints::Admin).await;
    let http = world.http();
    for path in ["/metrics", "/services"] {
        assert_eq!(http.get(path).await.status, 401, "{path} without a token");
        assert_eq!(http.get_as(path, &user_token("u")).await.status, 403);
        assert_eq!(http.get_as(path, &admin_token("a")).await.status, 200);
        assert_eq!(world.gateway.health.get(path).await.status, 200);
    }
    world.stop().await;
}

/// A log writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Sends the test thread's logs at `gateway=info`, as deployed, to a new buffer until the
    /// guard is dropped. The thread's, not the process's: under `cargo test` other tests share
    /// the process, and the test's runtime (a `#[tokio::test]` is current-thread) runs the
    /// gateway's tasks on this thread.
    fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = Self::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("gateway=info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (captured, guard)
    }

    /// What was logged so far.
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_flood_of_refusals_is_one_log_line_with_its_count() {
    let (captured, _logging) = Captured::install();
    let world = World::start().await;
    for _ in 0..50 {
        assert_eq!(world.http().get("/widgets/7").await.status, 401);
    }
    world.stop().await;
    let logs = captured.text();
    let refused: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("requests refused"))
        .collect();
    // The first refusal at once, the other 49 summed until the next line is due.
    assert_eq!(refused.len(), 1, "{logs}");
    assert!(
        refused[0].contains("WARN")
            && refused[0].contains("client=127.0.0.1")
            && refused[0].contains("unauthenticated=1"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_failed_request_is_logged_with_its_request_id_at_the_default_level() {
    // At `info` the request's span is a DEBUG span, so the id must be on the lines themselves.
    let (captured, _logging) = Captured::install();
    let world = World::start().await;
    let _garbage = super::support::start_garbage(&world.client).await;
    world.gateway.wait_routed("garbage.get").await;
    let reply = world
        .http()
        .get_with("/garbage", &[("x-request-id", "req-7f3a")])
        .await;
    assert_eq!(reply.status, 502);
    world.stop().await;
    let logs = captured.text();
    let line = |what: &str| {
        logs.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line with {what:?} in:\n{logs}"))
            .to_owned()
    };
    let upstream = line("service replied with invalid JSON");
    assert!(
        upstream.contains("WARN") && upstream.contains("req-7f3a"),
        "{upstream}"
    );
    let access = line("status=502");
    assert!(
        access.contains("WARN") && access.contains("req-7f3a"),
        "{access}"
    );
}

/// A burst of 5xx answers on one route is not a WARN line each: the first is logged at once
/// with its request id, the others summed into at most one line a second with their count.
#[tokio::test]
async fn a_burst_of_server_errors_is_summed_in_the_log() {
    let (captured, _logging) = Captured::install();
    let world = World::start().await;
    let failing = serde_json::json!({"status": 503, "message": "down"});
    let started = std::time::Instant::now();
    let first = world
        .http()
        .send(
            "POST",
            "/widgets/fail",
            &[
                ("x-request-id", "first-503"),
                ("content-type", "application/json"),
            ],
            Some(failing.to_string().into_bytes()),
        )
        .await;
    assert_eq!(first.status, 503);
    for _ in 1..200 {
        let reply = world.http().fail(503, "down").await;
        assert_eq!(reply.status, 503);
    }
    let elapsed = started.elapsed();
    world.stop().await;
    let logs = captured.text();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("route=/widgets/fail") && l.contains("WARN"))
        .collect();
    assert!(
        lines[0].contains("first-503") && lines[0].contains("count=1"),
        "{logs}"
    );
    // At most one line a second after the first; the counts never exceed the requests.
    let allowed = 1 + elapsed.as_secs() as usize + 1;
    assert!(
        lines.len() <= allowed,
        "{} lines for 200 answers in {elapsed:?}:\n{logs}",
        lines.len()
    );
    let counted: u64 = lines
        .iter()
        .filter_map(|l| {
            l.split("count=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert!(counted <= 200, "{logs}");
    eprintln!(
        "200 answers of 503 in {elapsed:?}: {} WARN lines, {counted} counted",
        lines.len()
    );
}
