//! What a request must be before it is served, over raw TCP: a head within the read buffer,
//! exactly one `Host`, no body where the route takes none, and bodies within the budget.

use std::sync::{Arc, Mutex};

use contract::{Empty, Operation, operation};
use runtime::test_support::wait_until;
use runtime::{RequestContext, ServiceBuilder};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::connections::{assert_error_then_close, connect, read_to_close};
use super::support::{WAIT, World};

operation! {
    /// Poke a gadget (a write that takes no body)
    pub PokeGadget: "gadgets"."poke", POST "/gadgets/poke", auth Public, status 200,
        params Empty, query Empty, body (), response ()
}

/// Sends `request` on a new connection and returns everything up to the close.
async fn exchange(world: &World, request: &[u8]) -> String {
    let mut conn = connect(world).await;
    conn.write_all(request).await.unwrap();
    let reply = read_to_close(&mut conn)
        .await
        .expect("the gateway closes the connection");
    String::from_utf8_lossy(&reply).into_owned()
}

fn status_of(reply: &str) -> u16 {
    reply
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 response: {reply:?}"))
}

#[tokio::test]
async fn a_head_beyond_the_read_buffer_gets_431() {
    let world = World::start().await;
    let head = |pad: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nhost: gateway\r\nx-pad: {}\r\nconnection: close\r\n\r\n",
            "a".repeat(pad)
        )
    };
    let fits = exchange(&world, head(12 * 1024).as_bytes()).await;
    assert_eq!(status_of(&fits), 200, "{fits}");
    let over = exchange(&world, head(20 * 1024).as_bytes()).await;
    assert_eq!(status_of(&over), 431, "{over}");
    world.stop().await;
}

#[tokio::test]
async fn a_request_needs_exactly_one_host() {
    let world = World::start().await;
    let one = exchange(
        &world,
        b"GET /widgets HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&one.await), 200);
    for request in [
        &b"GET /widgets HTTP/1.1\r\nconnection: close\r\n\r\n"[..],
        b"GET /widgets HTTP/1.1\r\nhost: a\r\nhost: b\r\nconnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nhost: a\r\nhost: a\r\nconnection: close\r\n\r\n",
    ] {
        let reply = exchange(&world, request).await;
        assert_eq!(
            status_of(&reply),
            400,
            "{}: {reply}",
            String::from_utf8_lossy(request)
        );
        assert!(reply.contains("\"code\":\"bad_request\""), "{reply}");
        assert!(reply.contains("Host header"), "{reply}");
    }
    world.stop().await;
}

#[tokio::test]
async fn a_body_is_refused_unread_where_the_route_takes_none() {
    let world = World::start().await;
    let gadgets = ServiceBuilder::new("gadgets", "1.0.0", "gateway test service", ())
        .endpoint::<PokeGadget, _>(
            |(), _: RequestContext, _: contract::RequestOf<PokeGadget>| async move { Ok(()) },
        );
    let gadgets = world.serve(gadgets, &PokeGadget::subject()).await;

    // The declared body never comes: a refusal must not wait for it.
    let declared = "content-type: application/json\r\ncontent-length: 1000000\r\n\r\n{";
    let chunked = "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{\r\n";
    for (method, path) in [
        ("GET", "/widgets"),
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        ("HEAD", "/widgets"),
        ("DELETE", "/widgets/7"),
        ("OPTIONS", "/widgets"),
        ("POST", "/gadgets/poke"),
    ] {
        for body in [declared, chunked] {
            let mut conn = connect(&world).await;
            let head = format!("{method} {path} HTTP/1.1\r\nhost: gateway\r\n{body}");
            conn.write_all(head.as_bytes()).await.unwrap();
            let reply = read_to_close(&mut conn).await.unwrap_or_else(|| {
                panic!("{method} {path} with a body: no answer, the connection left open")
            });
            let reply = String::from_utf8_lossy(&reply);
            assert_eq!(status_of(&reply), 400, "{method} {path}: {reply}");
            if method != "HEAD" {
                assert!(reply.contains("takes no request body"), "{reply}");
            }
        }
    }
    // Without a body, the same routes are served.
    let poke = world.http().send("POST", "/gadgets/poke", &[], None).await;
    assert_eq!(poke.status, 200);
    let empty = exchange(
        &world,
        b"GET /widgets HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&empty), 200, "{empty}");
    gadgets.stop().await;
    world.stop().await;
}

/// A `FailWidget` body of exactly `len` bytes, asking for a 409.
fn fail_body(len: usize) -> Vec<u8> {
    let start = br#"{"status":409,"message":""#;
    let mut body = start.to_vec();
    body.resize(len - 2, b'a');
    body.extend_from_slice(br#""}"#);
    body
}

fn fail_head(len: usize) -> String {
    format!(
        "POST /widgets/fail HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
         content-length: {len}\r\nconnection: close\r\n\r\n"
    )
}

/// Sends a whole `FailWidget` request with a body of `len` bytes; returns the reply.
async fn post_fail(world: &World, len: usize) -> String {
    let mut request = fail_head(len).into_bytes();
    request.extend(fail_body(len));
    exchange(world, &request).await
}

const BUDGET: u64 = 64 * 1024;

#[tokio::test]
async fn bodies_beyond_the_budget_get_503_with_retry_after() {
    let world = World::start_with(|c| c.body_budget_bytes = BUDGET).await;
    // A slow upload holds its whole declared length from the start.
    let held = 60_000;
    let mut slow = connect(&world).await;
    slow.write_all(fail_head(held).as_bytes()).await.unwrap();
    let body = fail_body(held);
    slow.write_all(&body[..100]).await.unwrap();

    let addr = world.http().base.trim_start_matches("http://").to_owned();
    let refused = Arc::new(Mutex::new(String::new()));
    wait_until("a body over the budget is refused", WAIT, || {
        let addr = addr.clone();
        let refused = refused.clone();
        async move {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            let mut request = fail_head(10_000).into_bytes();
            request.extend(fail_body(10_000));
            // The gateway may answer and close before the body is all sent.
            let _ = conn.write_all(&request).await;
            let reply = read_to_close(&mut conn).await.unwrap_or_default();
            let reply = String::from_utf8_lossy(&reply).into_owned();
            let over = reply.starts_with("HTTP/1.1 503");
            *refused.lock().unwrap() = reply;
            over
        }
    })
    .await;
    let refused = refused.lock().unwrap().clone();
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    assert!(refused.contains("\"code\":\"unavailable\""), "{refused}");

    // A chunked body over what is left is refused as it arrives.
    let mut chunked = connect(&world).await;
    let chunk = fail_body(8_000);
    let mut request = "POST /widgets/fail HTTP/1.1\r\nhost: gateway\r\n\
                       content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        .to_owned()
        .into_bytes();
    request.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
    request.extend(&chunk);
    request.extend(b"\r\n0\r\n\r\n");
    let _ = chunked.write_all(&request).await;
    assert_error_then_close(&mut chunked, 503, "unavailable").await;

    // What fits is served meanwhile.
    let small = post_fail(&world, 1_000).await;
    assert_eq!(status_of(&small), 409, "{small}");

    // Once the slow upload is answered, its share is free again.
    slow.write_all(&body[100..]).await.unwrap();
    let answered = read_to_close(&mut slow).await.unwrap();
    assert!(answered.starts_with(b"HTTP/1.1 409"), "{answered:?}");
    let after = post_fail(&world, 10_000).await;
    assert_eq!(status_of(&after), 409, "{after}");
    world.stop().await;
}
