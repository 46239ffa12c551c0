//! `natstack-run`, what `make run` starts: the whole system on this machine, on loopback, with
//! no Kubernetes, its data kept in `.run/` until `make clean`.
//!
//! It starts everything in order through [`launcher::System`], waits until the gateway routes
//! every service, prints the URL, an admin login and curl lines, then stays in the foreground
//! until Ctrl-C or SIGTERM, or until a process exits (with the end of its log). Stopping
//! signals every process at once and waits for all of them together. The signal handlers stay
//! installed while it stops, so a second Ctrl-C is ignored instead of killing the launcher
//! half-way; the stop is bounded anyway (10 s, then SIGKILL), and the children die with the
//! launcher if it is killed (see the launcher's `child` module).
//!
//! - [`cli`]: the variables and their defaults;
//! - [`admin`]: the administrator login and the token signing key kept in `.run/`;
//! - [`banner`]: what it prints once the system is up.

mod admin;
mod banner;
mod cli;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use contract::deploy::{self, env};
use launcher::System;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::Cli;

/// A progress line. Write errors are ignored: a closed stdout must not stop the launcher
/// from stopping the system.
fn say(message: &str) {
    let _ = writeln!(std::io::stdout(), "\x1b[1;34m[run]\x1b[0m {message}");
}

/// An error line.
fn complain(message: &str) {
    eprintln!("\x1b[1;31m[run]\x1b[0m {message}");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: children are spawned from it, and it lives as long as they do (their
    // parent-death signal is tied to the spawning thread).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            complain(&format!("cannot start the tokio runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli)).unwrap_or_else(|e| {
        complain(&format!("{e:#}"));
        ExitCode::FAILURE
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Installed first, so a Ctrl-C during the start stops what has started.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;

    let ports = cli.ports();
    ports.check_free()?;
    let data = cli.data_dir.clone();
    launcher::files::data_dir(&data)?;
    launcher::files::private_dir(&data.join("logs"))?;
    let (email, password) = admin::login(&cli, &data)?;
    let bin_dir = launcher::binaries::beside_current_exe()?;
    let mut builder = System::builder(bin_dir)
        .build_hint("`make run` builds them")
        .data_dir(&data)
        .ports(ports)
        .admin(&email, &password)
        // As in a cluster: each component its own NATS user, no anonymous clients.
        .nats_auth(true)
        .env(env::RUST_LOG, &cli.rust_log)
        .env(env::LOG_FORMAT, &cli.log_format)
        .component_env(deploy::GATEWAY, env::RATE_LIMITS, &cli.rate_limits)
        .progress(say);
    // A signing key kept in .run/, so tokens survive a restart.
    if let Some(key) = admin::signing_key(&data) {
        builder = builder.component_env(
            deploy::AUTH,
            env::JWT_PRIVATE_KEY_FILE,
            key.display().to_string(),
        );
    }

    let mut system = tokio::select! {
        system = builder.start() => system?,
        () = recv(&mut interrupt) => return Ok(stopped(130)),
        () = recv(&mut terminate) => return Ok(stopped(143)),
    };
    banner::print(
        &system.gateway_url(),
        &system.gateway_health_url(),
        &email,
        &password,
    );

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let code = loop {
        tokio::select! {
            () = recv(&mut interrupt) => break 130,
            () = recv(&mut terminate) => break 143,
            _ = tick.tick() => {
                if let Err(e) = system.check_alive() {
                    complain(&e.to_string());
                    break 1;
                }
            }
        }
    };
    say("stopping");
    system.stop();
    Ok(stopped(code))
}

/// Waits for one delivery of a signal.
async fn recv(signal: &mut tokio::signal::unix::Signal) {
    // `None` only when the runtime shuts down: then wait forever, the other branch decides.
    if signal.recv().await.is_none() {
        std::future::pending::<()>().await;
    }
}

/// The exit after everything stopped: 130 after SIGINT, 143 after SIGTERM, as a shell does.
fn stopped(code: u8) -> ExitCode {
    say("stopped; data kept in .run/ (make clean deletes it)");
    ExitCode::from(code)
}
