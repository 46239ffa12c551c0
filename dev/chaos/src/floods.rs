//! Memory floods from unauthenticated clients: unfinished heads and slow bodies, each from
//! many loopback addresses (`127.0.0.2` and up, below the per-address cap) so that what every
//! connection and body may hold is what is measured. The gateway's resident memory is sampled
//! throughout from `/proc/<pid>/status` while a healthy client keeps reading, and must stay
//! under the operator's default memory limit.

use std::sync::Arc;

use anyhow::Result;
use testbed::flood::{Sampler, Sources, answers, mib, open as flood};

use crate::report::Outcome;
use crate::scenarios::{Chaos, api_addr};

/// The operator's default memory limit of the gateway container; the suite's gateway runs
/// with the limits rendered for it.
pub const GATEWAY_MEMORY: u64 = 128 * 1024 * 1024;
/// Flood connections from one address (below the default per-address cap of 64).
const PER_ADDRESS: usize = 60;

/// A healthy client's reads during a flood: how many of `count` were answered 200.
async fn healthy_reads(c: &Chaos, count: u64) -> u64 {
    let mut ok = 0;
    for _ in 0..count {
        let status = c
            .api
            .try_call("GET", "/products?limit=1", Some(&c.token), None)
            .await
            .map_or(0, |r| r.status);
        ok += u64::from(status == 200);
    }
    ok
}

/// Records the figures common to both floods and requires what both promise.
fn conclude(o: &mut Outcome, peak: u64, healthy: (u64, u64)) {
    let (ok, sent) = healthy;
    o.sent += sent;
    if ok < sent {
        *o.failed.entry(0).or_default() += sent - ok;
    }
    o.require(peak < GATEWAY_MEMORY, || {
        format!("the gateway reached {:.1} MiB resident", mib(peak))
    });
    o.require(ok == sent, || {
        format!("{} of {sent} healthy reads failed", sent - ok)
    });
}

/// 1,000 connections each holding an unfinished head just under the read buffer (the most a
/// head may hold), then 1,000 sending heads of 256 KiB (cut off with 431).
pub async fn unfinished_heads(c: &mut Chaos, heads: usize) -> Result<Outcome> {
    let mut o = Outcome::new("unfinished heads");
    let api = api_addr(&c.api)?;
    let sampler = Sampler::start(c.pid_of(contract::deploy::GATEWAY)?.as_raw().unsigned_abs());
    let head = Arc::new(b"GET /products HTTP/1.1\r\nhost: chaos\r\nx-pad: ".to_vec());
    let spread = Sources {
        first: 2,
        per_address: PER_ADDRESS,
    };
    let held = flood(
        api,
        heads,
        spread,
        head.clone(),
        Arc::new(vec![b'a'; 15 * 1024]),
    )
    .await;
    let healthy = healthy_reads(c, 20).await;
    let opened = held.len();
    drop(held);
    let mut cut = flood(api, heads, spread, head, Arc::new(vec![b'a'; 256 * 1024])).await;
    let healthy = healthy + healthy_reads(c, 20).await;
    let cut_off = answers(&mut cut).await.get(&431).copied().unwrap_or(0);
    drop(cut);
    let peak = sampler.finish().await;
    o.sent = 2 * heads as u64;
    o.note = format!(
        "{opened} heads of 15 KiB held, then {heads} of 256 KiB ({cut_off} answered 431): \
         gateway peak {:.1} MiB resident (limit {:.0} MiB)",
        mib(peak),
        mib(GATEWAY_MEMORY)
    );
    conclude(&mut o, peak, (healthy, 40));
    Ok(o)
}

/// Slow 1 MB bodies: `bodies` from one address to `GET /.well-known/jwks.json` (closed by the
/// per-address cap, or refused unread: that route takes no body), then `bodies` from many
/// addresses to `POST /auth/login`, all but the last byte sent (the body budget answers 503
/// beyond it).
pub async fn slow_bodies(c: &mut Chaos, bodies: usize) -> Result<Outcome> {
    // 1 MB: under the body limit (1 MiB less the envelope's room in a NATS message).
    const SIZE: usize = 1_000_000;
    let mut o = Outcome::new("slow bodies");
    let api = api_addr(&c.api)?;
    let sampler = Sampler::start(c.pid_of(contract::deploy::GATEWAY)?.as_raw().unsigned_abs());
    let body = Arc::new(vec![b' '; SIZE - 1]);
    let head = |method: &str, path: &str| {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: chaos\r\ncontent-type: application/json\r\n\
             content-length: {SIZE}\r\n\r\n"
        );
        Arc::new(head.into_bytes())
    };
    let one = Sources {
        first: 2,
        per_address: bodies,
    };
    let jwks = head("GET", "/.well-known/jwks.json");
    let mut from_one = flood(api, bodies, one, jwks, body.clone()).await;
    let one_address = answers(&mut from_one).await;
    let healthy = healthy_reads(c, 20).await;
    drop(from_one);
    let login = head("POST", "/auth/login");
    let mut spread = flood(
        api,
        bodies,
        Sources {
            first: 3,
            per_address: PER_ADDRESS,
        },
        login,
        body,
    )
    .await;
    let healthy = healthy + healthy_reads(c, 20).await;
    let many = answers(&mut spread).await;
    drop(spread);
    let peak = sampler.finish().await;
    o.sent = 2 * bodies as u64;
    let count = |answers: &std::collections::BTreeMap<u16, u64>, status| {
        answers.get(&status).copied().unwrap_or(0)
    };
    o.note = format!(
        "{bodies} from one address: {} closed at once, {} answered 400; {bodies} from {} \
         addresses: {} answered 503; gateway peak {:.1} MiB resident (limit {:.0} MiB)",
        count(&one_address, 0),
        count(&one_address, 400),
        bodies.div_ceil(PER_ADDRESS),
        count(&many, 503),
        mib(peak),
        mib(GATEWAY_MEMORY)
    );
    conclude(&mut o, peak, (healthy, 40));
    Ok(o)
}
