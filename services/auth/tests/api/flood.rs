//! A login flood: guesses from 400 addresses at the admin's account, with the production
//! throttle and hashing cost, must not keep the admin (at another address, with the right
//! password) out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth::config::ThrottleArgs;
use contract::auth::{CLIENT_ADDR_HEADER, Login, LoginRequest, TokenPair};
use contract::{Envelope, ErrorCode};
use runtime::test_support::wait_until;
use runtime::{CallError, CallOptions, Requester};

use super::helpers::{AuthApp, Servers, spawn};

const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "password123";
const ADDRESSES: u32 = 400;
/// The gateway's deadline, which the guessers' calls get too.
const DEADLINE: Duration = Duration::from_secs(5);
/// The gateway's default `auth` rate limit per address is 2/s: no guesser is faster.
const GUESS_INTERVAL: Duration = Duration::from_millis(500);

/// How the guesses were answered.
#[derive(Default)]
struct Tally {
    failed: AtomicU64,
    refused: AtomicU64,
    timed_out: AtomicU64,
}

/// One login from `addr` with the gateway's deadline: the pair, or the refusal (a timeout
/// as a 504).
async fn login(requester: &Requester, addr: &str, password: &str) -> Result<TokenPair, ErrorCode> {
    let body = LoginRequest {
        email: ADMIN.into(),
        password: password.into(),
    };
    let options = CallOptions::timeout(DEADLINE).header(CLIENT_ADDR_HEADER, addr);
    match requester
        .call::<Login>(&Envelope::body(body), options)
        .await
    {
        Ok(pair) => Ok(pair),
        Err(CallError::Service { error, .. }) if error.code == ErrorCode::RateLimited => {
            // Waiting out `Retry-After` is part of the answer: encoded as the code, the wait
            // is applied by the caller.
            tokio::time::sleep(Duration::from_secs(error.retry_after_secs.unwrap_or(1))).await;
            Err(ErrorCode::RateLimited)
        }
        Err(CallError::Service { error, .. }) => Err(error.code),
        Err(CallError::TimedOut { .. }) => Err(ErrorCode::Timeout),
        Err(other) => panic!("login failed in transport: {other}"),
    }
}

/// Guesses from `addr` until `stop`, each at most every [`GUESS_INTERVAL`], waiting out
/// every `Retry-After` (a locked pair's long one only up to a second: it keeps trying).
async fn guess(requester: Requester, addr: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let next = tokio::time::Instant::now() + GUESS_INTERVAL;
        let outcome = tokio::time::timeout(
            DEADLINE + Duration::from_secs(2),
            login(&requester, &addr, &format!("guess-{n}-wrong")),
        )
        .await;
        match outcome {
            Ok(Ok(_)) => panic!("a wrong password got in"),
            Ok(Err(ErrorCode::Unauthenticated)) => &tally.failed,
            Ok(Err(ErrorCode::Timeout)) => &tally.timed_out,
            // A locked pair's `Retry-After` was cut short by the outer timeout.
            Ok(Err(_)) | Err(_) => &tally.refused,
        }
        .fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep_until(next).await;
    }
}

// The measured figure is part of what the test reports.
#[allow(clippy::print_stdout)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_logs_in_within_3_s_while_400_addresses_guess_at_it() {
    let servers = Servers::start().await;
    let mut config = servers.config();
    // What a deployment runs: the flood is about queueing behind these.
    config.throttle = ThrottleArgs::default();
    config.argon2 = auth::Config::new("").argon2;
    let app = spawn(&servers, config).await;
    app.registered("admin", ADMIN, PASSWORD).await;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let guessers: Vec<_> = (0..ADDRESSES)
        .map(|i| {
            let addr = format!("198.18.{}.{}", i / 200, i % 200 + 1);
            tokio::spawn(guess(
                app.requester.clone(),
                addr,
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    // Under way: far past the account's delay threshold (10 failures).
    wait_until(
        "the guessers fail 100 times",
        Duration::from_secs(60),
        || {
            let tally = tally.clone();
            async move { tally.failed.load(Ordering::Relaxed) >= 100 }
        },
    )
    .await;

    let started = Instant::now();
    let mut tries = 0;
    let admin = loop {
        tries += 1;
        match login(&app.requester, "192.0.2.10", PASSWORD).await {
            Ok(pair) => break pair,
            Err(code) => assert!(
                started.elapsed() < Duration::from_secs(30),
                "the admin is still out after 30 s (last: {code:?})"
            ),
        }
    };
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for guesser in guessers {
        guesser.await.unwrap();
    }
    println!(
        "admin logged in after {took:?} ({tries} tries) during a flood of {ADDRESSES} addresses: \
         {} guesses failed, {} refused with 429, {} timed out",
        tally.failed.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        tally.timed_out.load(Ordering::Relaxed),
    );
    assert!(!admin.access_token.is_empty());
    assert!(
        took <= Duration::from_secs(3),
        "the admin needed {took:?} to log in"
    );
    app.stop().await;
}
