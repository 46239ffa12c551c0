//! The login flood: 400 addresses guess at the administrator's password through the gateway
//! while the administrator logs in from another. Each guesser has a loopback source address
//! of its own (127.0.x.y; Linux routes all of 127/8 to the loopback interface), so the
//! gateway sees 400 clients, forwards 400 addresses and auth throttles 400 pairs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use testbed::poll;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpSocket;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report::Outcome;
use crate::scenarios::{Chaos, DEADLINE};
use crate::{ADMIN_EMAIL, ADMIN_PASSWORD};

/// Guessing addresses.
const ADDRESSES: u16 = 400;
/// No guesser is faster than the gateway's default `auth` rate limit per address (2/s).
const GUESS_INTERVAL: Duration = Duration::from_millis(500);
/// The README's promise: the administrator gets in within this, flood or not.
const ADMIN_BOUND: Duration = Duration::from_secs(3);
/// Guesses checked before the administrator tries: the account is well past its delay
/// threshold (10).
const FAILURES_FIRST: u64 = 100;

/// The status and `Retry-After` of one `POST /auth/login` sent from `from`; status 0 when no
/// answer came (refused, reset, or nothing within the deadline and a margin).
async fn login_from(api: SocketAddr, from: Ipv4Addr, password: &str) -> (u16, Option<u64>) {
    let body = serde_json::json!({"email": ADMIN_EMAIL, "password": password}).to_string();
    let request = format!(
        "POST /auth/login HTTP/1.1\r\nHost: chaos\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
        let mut stream = socket.connect(api).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let Ok(Ok(reply)) = tokio::time::timeout(DEADLINE + Duration::from_secs(2), exchange).await
    else {
        return (0, None);
    };
    let head = String::from_utf8_lossy(&reply);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let retry_after = head.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().ok())?
    });
    (status, retry_after)
}

/// The `i`th guessing address: 127.0.1.1 onwards, clear of 127.0.0.1, where the
/// administrator and the rest of the suite connect from.
fn guesser(i: u16) -> Ipv4Addr {
    let [hi, lo] = (i + 1).to_be_bytes();
    Ipv4Addr::new(127, 0, 1 + hi, lo.max(1))
}

/// Guesses from `from` until `stop`, counting the checked (401) ones in `checked`: the
/// statuses answered, in order.
async fn guess(
    api: SocketAddr,
    from: Ipv4Addr,
    stop: Arc<AtomicBool>,
    checked: Arc<AtomicU64>,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let next = Instant::now() + GUESS_INTERVAL;
        let password = format!("wrong-guess-{}", statuses.len());
        let (status, retry_after) = login_from(api, from, &password).await;
        if status == 401 {
            checked.fetch_add(1, Ordering::Relaxed);
        }
        statuses.push(status);
        // Waiting out `Retry-After` as a client should; a locked pair's long one only up to a
        // second, so the guesser keeps knocking.
        let wait = Duration::from_secs(retry_after.unwrap_or(0)).min(Duration::from_secs(1));
        tokio::time::sleep_until(next.max(Instant::now() + wait)).await;
    }
    statuses
}

/// 400 addresses guess while the administrator logs in: the administrator gets in within
/// [`ADMIN_BOUND`], waiting out any `Retry-After` on the way.
pub async fn login_flood(c: &mut Chaos) -> Result<Outcome> {
    let mut o = Outcome::new("login flood");
    let api: SocketAddr = c
        .api
        .base()
        .trim_start_matches("http://")
        .parse()
        .context("the gateway address")?;
    let stop = Arc::new(AtomicBool::new(false));
    let checked = Arc::new(AtomicU64::new(0));
    let mut guessers = JoinSet::new();
    let flood_started = Instant::now();
    for i in 0..ADDRESSES {
        guessers.spawn(guess(api, guesser(i), stop.clone(), checked.clone()));
        // Spread over one guess interval, as independent clients would start.
        tokio::time::sleep(GUESS_INTERVAL / u32::from(ADDRESSES)).await;
    }
    let under_way = poll(
        Duration::from_secs(60),
        Duration::from_millis(50),
        || {
            let checked = checked.clone();
            async move { checked.load(Ordering::Relaxed) >= FAILURES_FIRST }
        },
        || Ok::<_, anyhow::Error>(()),
    )
    .await?;

    let started = Instant::now();
    let mut tries = 0;
    let mut admin_failed = BTreeMap::<u16, u64>::new();
    let admin = loop {
        tries += 1;
        let (status, retry_after) = login_from(api, Ipv4Addr::LOCALHOST, ADMIN_PASSWORD).await;
        if status == 200 {
            break Some(started.elapsed());
        }
        *admin_failed.entry(status).or_default() += 1;
        if started.elapsed() > Duration::from_secs(30) {
            break None;
        }
        let wait = Duration::from_secs(retry_after.unwrap_or(0));
        tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
    };
    let flood = flood_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut by_status = BTreeMap::<u16, u64>::new();
    while let Some(statuses) = guessers.join_next().await {
        for s in statuses? {
            *by_status.entry(s).or_default() += 1;
        }
    }
    o.sent = by_status.values().sum::<u64>() + tries;
    // The guessers' 401s and 429s are the throttle working; anything else is a failure.
    let guess_failures: BTreeMap<u16, u64> = by_status
        .iter()
        .filter(|(s, _)| !matches!(**s, 401 | 429))
        .map(|(s, n)| (*s, *n))
        .collect();
    o.add_failed(&guess_failures);
    o.add_failed(&admin_failed);
    let count = |s: u16| by_status.get(&s).copied().unwrap_or(0);
    o.note = match admin {
        Some(took) => format!(
            "admin logged in after {:.2}s ({tries} tries) during {ADDRESSES} addresses' \
             guessing ({:.0}s): {} guesses 401, {} 429",
            took.as_secs_f64(),
            flood.as_secs_f64(),
            count(401),
            count(429),
        ),
        None => format!("admin still out after 30 s ({tries} tries)"),
    };
    o.require(admin.is_some_and(|t| t <= ADMIN_BOUND), || {
        format!("the admin needed {admin:?} to log in")
    });
    o.require(under_way, || {
        format!("only {} guesses were checked in 60 s: no flood", count(401))
    });
    Ok(o)
}
