//! The benchmark's baseline switch: [`dev::EVENTS_OUTBOX`] = `off` makes a service with an
//! outbox store no events and run no relay, so `make bench` can measure what the outbox costs
//! a write against the same service without it, in the same run. Nothing but the benchmark
//! sets it; a stack never does.
//!
//! It is process-wide because the outbox is written from inside the handlers' transactions,
//! which get a connection and nothing else.

use std::sync::atomic::{AtomicBool, Ordering};

use contract::deploy::env::dev;

static OFF: AtomicBool = AtomicBool::new(false);

/// Reads [`dev::EVENTS_OUTBOX`] once at start-up: whether the outbox is on (the default).
pub fn from_env() -> bool {
    let off = std::env::var(dev::EVENTS_OUTBOX).is_ok_and(|v| v == dev::EVENTS_OUTBOX_OFF);
    if off {
        tracing::warn!(
            variable = dev::EVENTS_OUTBOX,
            "the outbox is off: writes publish no events (a benchmark's baseline)"
        );
    }
    set_off(off);
    !off
}

/// Turns the outbox off (no event stored by [`record`](super::record)) or on again: what
/// [`from_env`] applies at start-up, and what a test of the baseline flips.
pub fn set_off(off: bool) {
    OFF.store(off, Ordering::Relaxed);
}

/// Whether the outbox was turned off.
pub fn is_off() -> bool {
    OFF.load(Ordering::Relaxed)
}
