//! The connection pool's gauges, read from the pool at each scrape: connections in use, idle,
//! and the most the pool opens. In use over max is how saturated the pool is; a request that
//! finds it full waits up to [`super::ACQUIRE_TIMEOUT`] and is then answered 503.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use sqlx::PgPool;

/// Connections checked out of the pool, running a statement or holding a transaction.
pub const IN_USE: &str = "natstack_db_pool_connections_in_use";
/// Open connections waiting in the pool.
pub const IDLE: &str = "natstack_db_pool_connections_idle";
/// The most connections the pool opens (`DATABASE_MAX_CONNECTIONS`).
pub const MAX: &str = "natstack_db_pool_connections_max";

/// Reads `pool`'s state at each scrape.
#[derive(Debug)]
struct PoolCollector {
    pool: PgPool,
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let open = i64::from(self.pool.size());
        let idle = i64::try_from(self.pool.num_idle()).unwrap_or(i64::MAX);
        let max = i64::from(self.pool.options().get_max_connections());
        for (name, help, value) in [
            (
                IN_USE,
                "Database connections checked out of the pool",
                (open - idle).max(0),
            ),
            (IDLE, "Open database connections idle in the pool", idle),
            (MAX, "The most database connections the pool opens", max),
        ] {
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// Registers `pool`'s gauges in `registry`.
pub fn register(registry: &mut Registry, pool: &PgPool) {
    registry.register_collector(Box::new(PoolCollector { pool: pool.clone() }));
}
