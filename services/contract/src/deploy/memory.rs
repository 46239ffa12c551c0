//! Memory sizing both sides compute alike: auth's hashing slots and the gateway's connection cap
//! and body budget for a memory limit (the operator renders them, the binaries default to them).

/// Memory auth needs besides its hashing slots: the process at rest plus its runtime under load
/// (worker and blocking-pool threads, NATS and MongoDB buffers), with room to spare. Measured:
/// 18 MiB resident at rest, a peak of 95 MiB with 4 slots under 64 concurrent logins.
pub const AUTH_BASE_MEMORY_BYTES: u64 = 48 * 1024 * 1024;

/// How many password hashes auth may run at once within `memory_limit` bytes: what is left
/// after [`AUTH_BASE_MEMORY_BYTES`], divided by the memory of one hash; at least 1. The operator
/// renders `ARGON2_MAX_CONCURRENT` with it, and auth uses it for its own default.
#[must_use]
pub fn argon2_slots(memory_limit: u64, memory_kib: u64) -> u64 {
    let per_hash = memory_kib.max(1).saturating_mul(1024);
    (memory_limit.saturating_sub(AUTH_BASE_MEMORY_BYTES) / per_hash).max(1)
}

/// Memory the gateway needs besides its connections and request bodies: the process at rest
/// plus its runtime under load (worker threads, the NATS connection, route table, limiter
/// state), with room to spare. Measured: 15 MiB resident at rest (debug build).
pub const GATEWAY_BASE_MEMORY_BYTES: u64 = 32 * 1024 * 1024;
/// The most one client connection costs the gateway without a body: a full read buffer
/// (16 KiB, an unfinished head), hyper's connection and the connection's task, rounded up.
/// Measured: 22–27 KiB a connection with 1,000 heads of 15 KiB held (41 MiB resident).
pub const GATEWAY_CONNECTION_BYTES: u64 = 48 * 1024;
/// The gateway's connection cap when nothing sizes it (`MAX_CONNECTIONS`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
/// The gateway's request-body budget when nothing sizes it (`BODY_BUDGET_BYTES`).
pub const DEFAULT_BODY_BUDGET_BYTES: u64 = 64 * 1024 * 1024;
/// The gateway's per-address connection cap (`MAX_CONNECTIONS_PER_ADDRESS`).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: u32 = 64;

/// The gateway's limits that follow from its memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayMemory {
    /// `MAX_CONNECTIONS`.
    pub max_connections: u32,
    /// `BODY_BUDGET_BYTES`.
    pub body_budget_bytes: u64,
}

/// The connection cap and request-body budget that keep the gateway within `memory_limit`
/// bytes. A quarter of what is left after [`GATEWAY_BASE_MEMORY_BYTES`] holds request bodies
/// (a body is held up to twice while it becomes the NATS message), the rest connections at
/// [`GATEWAY_CONNECTION_BYTES`] each:
///
/// ```text
/// free              = memory_limit − GATEWAY_BASE_MEMORY_BYTES
/// BODY_BUDGET_BYTES = free / 8            (held twice: a quarter of free)
/// MAX_CONNECTIONS   = (free − 2 × BODY_BUDGET_BYTES) / GATEWAY_CONNECTION_BYTES
/// ```
///
/// At the operator's default of 128 MiB: a 12 MiB budget and 1,536 connections. Never below
/// 1 MiB of budget or 64 connections (a limit that small is not a working gateway anyway).
#[must_use]
pub fn gateway_memory(memory_limit: u64) -> GatewayMemory {
    let free = memory_limit.saturating_sub(GATEWAY_BASE_MEMORY_BYTES);
    let body_budget_bytes = (free / 8).max(1024 * 1024);
    let connections = free.saturating_sub(2 * body_budget_bytes) / GATEWAY_CONNECTION_BYTES;
    GatewayMemory {
        max_connections: u32::try_from(connections)
            .unwrap_or(u32::MAX)
            .clamp(64, 1_000_000),
        body_budget_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_slots_fit_the_memory_limit() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(argon2_slots(128 * MIB, 19_456), 4);
        assert_eq!(argon2_slots(32 * MIB, 19_456), 1, "at least one");
        assert_eq!(argon2_slots(1024 * MIB, 19_456), 51);
    }

    #[test]
    fn gateway_limits_fit_the_memory_limit() {
        const MIB: u64 = 1024 * 1024;
        let at_default = gateway_memory(128 * MIB);
        assert_eq!(at_default.body_budget_bytes, 12 * MIB);
        assert_eq!(at_default.max_connections, 1536);
        let worst = GATEWAY_BASE_MEMORY_BYTES
            + 2 * at_default.body_budget_bytes
            + u64::from(at_default.max_connections) * GATEWAY_CONNECTION_BYTES;
        assert!(worst <= 128 * MIB, "{worst}");
        assert_eq!(gateway_memory(16 * MIB).max_connections, 64, "at least 64");
        assert_eq!(gateway_memory(16 * MIB).body_budget_bytes, MIB);
    }
}
