//! The widgets test service: endpoints that echo what they saw, fail on request, or wait at a
//! gate; and a service that answers garbage.

use super::*;

/// What a widget endpoint saw, echoed back.
#[derive(Debug, Default, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct Seen {
    pub endpoint: String,
    pub params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub body: Value,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub roles: Vec<String>,
    pub traceparent: Option<String>,
}

type Params = contract::Params;
type Query = contract::Query;

operation! {
    /// List widgets
    pub ListWidgets: "widgets"."list", GET "/widgets", auth Public, status 200,
        params Empty, query Query, body (), response Seen;

    /// Search widgets
    pub SearchWidgets: "widgets"."search", GET "/widgets/search", auth Public, status 200,
        params Empty, query Query, body (), response Seen;

    /// Get a widget
    pub GetWidget: "widgets"."get", GET "/widgets/{id}", auth User, status 200,
        params Params, query Query, body (), response Seen;

    /// Create a widget
    pub CreateWidget: "widgets"."create", POST "/widgets", auth User, status 201,
        params Empty, query Query, body Value, response Seen;

    /// Delete a widget
    pub DeleteWidget: "widgets"."delete", DELETE "/widgets/{id}", auth Admin, status 204,
        params Params, query Query, body (), response ();

    /// Fail as asked
    pub FailWidget: "widgets"."fail", POST "/widgets/fail", auth Public, status 200,
        params Empty, query Empty, body FailBody, response ();

    /// Wait at the gate
    pub SlowWidget: "widgets"."slow", GET "/widgets/slow", auth Public, status 200,
        params Empty, query Empty, body (), response String
}

#[derive(Debug, Default, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct FailBody {
    pub status: u16,
    pub message: String,
}

#[derive(Clone, Default)]
pub struct Widgets {
    pub gate: Gate,
    pub slow_started: Arc<AtomicUsize>,
}

impl Widgets {
    pub fn open_gate(&self) {
        self.gate.open();
    }
}

fn seen<P: Serialize, Q: Serialize>(
    endpoint: &str,
    ctx: &RequestContext,
    params: P,
    query: Q,
    body: Value,
) -> Seen {
    let to_map = |v: Value| serde_json::from_value(v).unwrap_or_default();
    Seen {
        endpoint: endpoint.into(),
        params: to_map(serde_json::to_value(params).unwrap()),
        query: to_map(serde_json::to_value(query).unwrap()),
        body,
        request_id: ctx.request_id.clone(),
        user_id: ctx.caller.as_ref().map(|c| c.user_id.clone()),
        roles: ctx
            .caller
            .as_ref()
            .map(|c| c.roles.clone())
            .unwrap_or_default(),
        traceparent: ctx
            .headers
            .get("traceparent")
            .map(|v| v.as_str().to_owned()),
    }
}

pub fn widgets(state: Widgets, version: &str) -> ServiceBuilder<Widgets> {
    ServiceBuilder::new("widgets", version, "gateway test service", state)
        .endpoint::<ListWidgets, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<ListWidgets>| async move {
                Ok(seen("list", &ctx, r.params, r.query, Value::Null))
            },
        )
        .endpoint::<SearchWidgets, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<SearchWidgets>| async move {
                Ok(seen("search", &ctx, r.params, r.query, Value::Null))
            },
        )
        .endpoint::<GetWidget, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<GetWidget>| async move {
                if r.params.get("id").map(String::as_str) == Some("missing") {
                    return Err(ServiceError::not_found("no such widget"));
                }
                Ok(seen("get", &ctx, r.params, r.query, Value::Null))
            },
        )
        .endpoint::<CreateWidget, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<CreateWidget>| async move {
                Ok(seen("create", &ctx, r.params, r.query, r.body))
            },
        )
        .endpoint::<DeleteWidget, _>(
            |_, _: RequestContext, _: contract::RequestOf<DeleteWidget>| async move { Ok(()) },
        )
        .endpoint::<FailWidget, _>(
            |_, _: RequestContext, r: contract::RequestOf<FailWidget>| async move {
                Err(failure(r.body.status, r.body.message))
            },
        )
        .endpoint::<SlowWidget, _>(
            |state: Widgets, _: RequestContext, _: contract::RequestOf<SlowWidget>| async move {
                state.slow_started.fetch_add(1, Ordering::SeqCst);
                state.gate.wait().await;
                Ok("done".to_owned())
            },
        )
}

/// Waits until the server knows nobody serves `subject` any more (an unsubscribe travels
/// asynchronously after a service stops).
pub async fn wait_no_responders(client: &async_nats::Client, subject: &str) {
    wait_until(&format!("nobody serves {subject}"), WAIT, || {
        let client = client.clone();
        let subject = subject.to_owned();
        async move {
            let request = async_nats::Request::new().timeout(Some(Duration::from_millis(500)));
            matches!(
                client.send_request(subject, request).await,
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders
            )
        }
    })
    .await;
}

pub async fn start_widgets(client: &async_nats::Client, state: Widgets) -> Running {
    Running::spawn(widgets(state, "1.0.0").start(client).await.unwrap())
}

/// A raw Services API service whose endpoint answers with bytes that are not JSON: a cut-off
/// object, or (when the query says `kind=utf8`) a well-formed object whose string is not UTF-8.
pub async fn start_garbage(client: &async_nats::Client) -> JoinHandle<()> {
    use async_nats::service::ServiceExt;
    use futures::StreamExt;
    let service = client
        .service_builder()
        .queue_group("q")
        .start("garbage", "1.0.0")
        .await
        .unwrap();
    let mut endpoint = service
        .endpoint_builder()
        .name("get")
        .metadata(HashMap::from([
            ("http.method".to_owned(), "GET".to_owned()),
            ("http.path".to_owned(), "/garbage".to_owned()),
            ("auth".to_owned(), "public".to_owned()),
        ]))
        .add("garbage.get")
        .await
        .unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        let _service = service;
        while let Some(request) = endpoint.next().await {
            let reply: &'static [u8] = if request.message.payload.windows(4).any(|w| w == b"utf8") {
                b"{\"name\":\"caf\xe9\"}"
            } else {
                b"{not json"
            };
            let _ = request.respond(Ok(Bytes::from_static(reply))).await;
        }
    })
}
