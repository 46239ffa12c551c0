//! Domain events under faults: write load through the gateway (products and customers
//! created, renamed and deleted), one SSE client on `GET /events` that resumes with
//! `Last-Event-ID` whenever its stream ends, kill -9 of a products instance (started again)
//! and of nats-server (started again on its stored JetStream data). At the end every
//! acknowledged write's event must have reached the client exactly once, in order per entity,
//! and the client must have received exactly what the `EVENTS` stream holds.

mod follow;
mod verdict;
mod writes;

use std::time::Duration;

use anyhow::{Context as _, Result};
use async_nats::jetstream;
use nix::sys::signal::{Signal, kill};
use testbed::poll;
use tokio::time::Instant;

use crate::report::Outcome;
use crate::scenarios::{Chaos, SECOND};

/// Writers per entity kind.
const WRITERS: usize = 2;
/// When the products instance is killed, from the start of the load.
const KILL_INSTANCE_AT: Duration = Duration::from_secs(2);
/// When nats-server is killed.
const KILL_NATS_AT: Duration = Duration::from_secs(7);
/// The whole load.
const LOAD: Duration = Duration::from_secs(14);
/// How long the events of the last writes may take to arrive once the load stopped.
const DRAIN: Duration = Duration::from_secs(60);

/// The scenario; see the module documentation.
pub async fn delivery(c: &mut Chaos) -> Result<Outcome> {
    let mut o = Outcome::new("events");
    // A fresh token: the stream ends when the token expires.
    let token = crate::login(&c.api).await?;
    let after = last_sequence(&c.system.nats_url()).await?;
    let cut_before = cut_off(c).await;
    let follower = follow::Follower::start(&c.api, &token, after);
    let start = Instant::now();
    let load = writes::start(&c.api, &token, WRITERS, start + LOAD);
    tokio::time::sleep_until(start + KILL_INSTANCE_AT).await;
    kill(c.pid_of(SECOND)?, Signal::SIGKILL)?;
    c.restore_second().await?;
    tokio::time::sleep_until(start + KILL_NATS_AT).await;
    kill(c.pid_of("nats-server")?, Signal::SIGKILL)?;
    c.system.restart("nats-server").await?;
    let sent = writes::finish(load).await;
    // Settled: the client has everything the stream holds, and every acknowledged write's
    // event is among it (the relays publish what the faults left in the outboxes).
    let url = c.system.nats_url();
    let drained = Instant::now();
    let last = std::cell::Cell::new(after);
    let settled = poll(
        DRAIN,
        Duration::from_millis(100),
        || {
            let (url, received) = (url.clone(), follower.received());
            let (sent, last) = (&sent, &last);
            async move {
                let Ok(now) = last_sequence(&url).await else {
                    return false;
                };
                last.set(now);
                let newest = received.last().map_or(after, |d| d.seq);
                newest >= now && verdict::judge(sent, &received, &[]).lost == 0
            }
        },
        || Ok::<_, anyhow::Error>(()),
    )
    .await?;
    let drain = drained.elapsed();
    let (delivered, reopened) = follower.stop().await;
    let cut = cut_off(c).await.saturating_sub(cut_before);
    let stream = stored(&url, after, last.get()).await?;
    let counts = verdict::judge(&sent, &delivered, &stream);
    o.sent = sent.sent;
    o.add_failed(&sent.failed);
    o.note = format!(
        "writes acked {} → events delivered {} (stream {}), lost {}, duplicated {}, \
         from unacked writes {}; SSE reopened {reopened}× ({cut} cut off as slow by the gateway); \
         drained in {:.2}s",
        counts.acked,
        counts.delivered,
        counts.in_stream,
        counts.lost,
        counts.duplicated,
        counts.unacknowledged,
        drain.as_secs_f64(),
    );
    o.require(settled, || {
        format!("the events had not all arrived {DRAIN:?} after the load")
    });
    o.require(counts.acked > 0, || "no write was acknowledged".to_owned());
    o.require(counts.holds(), || counts.problems.join("; "));
    Ok(o)
}

/// Event streams the gateway cut off because the client fell a buffer behind (a burst of
/// events after nats-server came back outruns the client's reading).
async fn cut_off(c: &Chaos) -> u64 {
    let text = testbed::http::get(c.gateway_health, "/metrics").await.1;
    text.lines()
        .find_map(|l| l.strip_prefix("natstack_gateway_events_streams_cut_off_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The `EVENTS` stream's last sequence.
async fn last_sequence(url: &str) -> Result<u64> {
    let client = async_nats::connect(url).await?;
    let mut stream = jetstream::new(client)
        .get_stream(contract::events::STREAM)
        .await
        .context("the events stream")?;
    Ok(stream.info().await?.state.last_sequence)
}

/// The `(sequence, CloudEvent id)` of every products and customers event stored after
/// `after` up to `last`.
async fn stored(url: &str, after: u64, last: u64) -> Result<Vec<(u64, String)>> {
    let client = async_nats::connect(url).await?;
    let stream = jetstream::new(client)
        .get_stream(contract::events::STREAM)
        .await
        .context("the events stream")?;
    let mut out = Vec::new();
    for seq in after + 1..=last {
        let message = stream
            .get_raw_message(seq)
            .await
            .with_context(|| format!("event {seq}"))?;
        let followed = [contract::deploy::PRODUCTS, contract::deploy::CUSTOMERS]
            .iter()
            .any(|s| {
                message
                    .subject
                    .starts_with(&format!("{}.{s}.", contract::events::SUBJECT_PREFIX))
            });
        if !followed {
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&message.payload)?;
        let id = json
            .get("id")
            .and_then(|v| v.as_str())
            .with_context(|| format!("event {seq} has no id"))?;
        out.push((seq, id.to_owned()));
    }
    Ok(out)
}
