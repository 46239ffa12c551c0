//! Abusive clients at the connection level, over raw TCP: slow or idle connections are closed,
//! the connection caps (in all and per address) hold, slow bodies get a 408, oversized bodies a readable 413, and h2c
//! is refused.

use std::time::Duration;

use runtime::test_support::wait_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::{WAIT, World};

/// A raw connection to the gateway's API.
pub async fn connect(world: &World) -> TcpStream {
    let addr = world.http().base.trim_start_matches("http://").to_owned();
    TcpStream::connect(addr).await.unwrap()
}

/// Everything the gateway sends until it closes the connection; `None` when it is still open
/// after [`WAIT`]. A reset ends the read like a close, keeping what arrived before it.
pub async fn read_to_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    let read = tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

/// Reads one response on a kept-alive connection (head and a `Content-Length` body); `None`
/// when the connection closes first.
pub async fn read_response(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |n| n.trim().parse::<usize>().unwrap());
            if received.len() >= end + 4 + length {
                return Some(text);
            }
        }
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return None,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no response within {WAIT:?}"),
        }
    }
}

/// Asserts the gateway answers `status` with the error `code`, then closes the connection.
pub async fn assert_error_then_close(conn: &mut TcpStream, status: u16, code: &str) {
    let reply = read_to_close(conn)
        .await
        .expect("the gateway closes after answering");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with(&format!("HTTP/1.1 {status} ")), "{reply}");
    assert!(reply.contains(&format!("\"code\":\"{code}\"")), "{reply}");
}

pub const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n";

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let world =
        World::start_with(|c| c.server.header_read_timeout = Duration::from_millis(300)).await;

    let mut slow = connect(&world).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: gate")
        .await
        .unwrap();
    assert!(
        read_to_close(&mut slow).await.is_some(),
        "a connection that never finishes its headers is closed"
    );

    let mut idle = connect(&world).await;
    idle.write_all(HEALTHZ).await.unwrap();
    let answered = read_to_close(&mut idle)
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(answered.starts_with(b"HTTP/1.1 200"), "{answered:?}");
    world.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    const CAP: u32 = 4;
    let world = World::start_with(|c| c.server.max_connections = CAP).await;
    // Keep-alive connections, each served once (so holding its slot), until one is refused;
    // the test client's own pooled connection may hold a slot too.
    let mut served = Vec::new();
    let mut refused = false;
    for _ in 0..=CAP {
        let mut conn = connect(&world).await;
        conn.write_all(HEALTHZ).await.unwrap();
        if read_response(&mut conn).await.is_some() {
            served.push(conn);
        } else {
            refused = true;
            break;
        }
    }
    assert!(refused, "{} connections open at once", served.len());
    assert!(served.len() <= CAP as usize);

    drop(served);
    let http = world.http().clone();
    wait_until("slots are free again", WAIT, || {
        let world_addr = http.base.trim_start_matches("http://").to_owned();
        async move {
            let mut conn = TcpStream::connect(world_addr).await.unwrap();
            conn.write_all(HEALTHZ).await.unwrap();
            read_response(&mut conn).await.is_some()
        }
    })
    .await;
    world.stop().await;
}

/// A raw connection to the gateway's API from loopback address `127.0.0.<host>`.
pub async fn connect_from(world: &World, host: u8) -> std::io::Result<TcpStream> {
    let addr = world
        .http()
        .base
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, host], 0)))?;
    socket.connect(addr).await
}

/// Opens kept-alive connections from `127.0.0.<host>`, each served once, until one is
/// refused or `most` are open; returns those served.
async fn fill_from(world: &World, host: u8, most: u32) -> (Vec<TcpStream>, bool) {
    let mut served = Vec::new();
    for _ in 0..most {
        let mut conn = connect_from(world, host).await.unwrap();
        conn.write_all(HEALTHZ).await.unwrap();
        if read_response(&mut conn).await.is_some() {
            served.push(conn);
        } else {
            return (served, true);
        }
    }
    (served, false)
}

#[tokio::test]
async fn connections_beyond_the_cap_of_an_address_are_closed_at_once() {
    const CAP: u32 = 3;
    let world = World::start_with(|c| {
        c.server.max_connections_per_address = CAP;
        c.limits.trusted_proxies = vec!["127.0.0.4/32".parse().unwrap()];
    })
    .await;
    let (served, refused) = fill_from(&world, 2, CAP + 1).await;
    assert!(
        refused,
        "{} connections open at once from one address",
        served.len()
    );
    assert_eq!(served.len(), CAP as usize);
    // Other addresses have their own; a trusted proxy is not capped.
    let (other, refused) = fill_from(&world, 3, CAP).await;
    assert!(!refused && other.len() == CAP as usize);
    let (proxy, refused) = fill_from(&world, 4, 3 * CAP).await;
    assert!(!refused, "a trusted proxy was capped at {}", proxy.len());

    drop(served);
    let w = &world;
    wait_until("the address's slots are free again", WAIT, || async move {
        let mut conn = connect_from(w, 2).await.unwrap();
        conn.write_all(HEALTHZ).await.unwrap();
        read_response(&mut conn).await.is_some()
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_length_gets_408() {
    let world =
        World::start_with(|c| c.server.body_read_timeout = Duration::from_millis(300)).await;
    let mut conn = connect(&world).await;
    conn.write_all(
        b"POST /widgets/fail HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
          content-length: 100\r\n\r\n{\"status\":",
    )
    .await
    .unwrap();
    assert_error_then_close(&mut conn, 408, "request_timeout").await;
    world.stop().await;
}

#[tokio::test]
async fn an_oversized_upload_reads_its_413() {
    let world = World::start().await;
    let size = 8 * 1024 * 1024;
    let mut conn = connect(&world).await;
    let head = format!(
        "POST /widgets/fail HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
         content-length: {size}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    // The whole body, in pieces, as a client that reads the answer only once it has sent
    // its request (as most do): the upload must not be cut off under it.
    let chunk = vec![b' '; 64 * 1024];
    for sent in 0..size / chunk.len() {
        let written = conn.write_all(&chunk).await;
        assert!(
            written.is_ok(),
            "upload cut off after {sent} chunks: {written:?}"
        );
        tokio::task::yield_now().await;
    }
    assert_error_then_close(&mut conn, 413, "payload_too_large").await;
    world.stop().await;
}

#[tokio::test]
async fn h2c_prior_knowledge_is_refused() {
    let world = World::start().await;
    let mut conn = connect(&world).await;
    // The HTTP/2 connection preface, then an empty SETTINGS frame.
    conn.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let reply = read_to_close(&mut conn)
        .await
        .expect("the gateway closes an HTTP/2 connection");
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 "),
        "not an HTTP/1.1 answer: {reply:?}"
    );
    world.stop().await;
}
