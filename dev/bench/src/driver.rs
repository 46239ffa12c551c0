//! The PostgreSQL driver question (issue 30): is sqlx the floor of a service's read?
//!
//! The products service's read of one product (its statement, its twelve columns decoded) is
//! run from this process at [`CONCURRENCY`] concurrent queries against the system's
//! PostgreSQL, alternately ([`ROUNDS`] each) through
//!
//! - **sqlx** as the services use it: the pool of `runtime::pg::pool` (no ping before use) and
//!   rows read by position (`runtime::row!`); the pool pings every connection it takes back;
//! - **tokio-postgres** through deadpool-postgres: the statement prepared once per
//!   connection, the connection recycled without a round trip (`RecyclingMethod::Fast`).
//!
//! Both pools have the services' default size. It prints queries per second, p99 and CPU µs
//! per query of this process (the driver's client side) and of PostgreSQL, so the cost of the
//! driver is read apart from the services' other work.

use std::sync::Arc;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::FutureExt;
use rust_decimal::Decimal;
use tokio_postgres::NoTls;

use crate::cli::Options;
use crate::cpu::CpuMeter;
use crate::load::{self, Call, Target};
use crate::memory::{Kind, Tracked};
use crate::system::System;
use crate::table::Table;

/// The name `--only` selects this scenario by.
pub const SELECTOR: &str = "driver";
/// Queries in flight at once.
pub const CONCURRENCY: usize = 64;
/// Runs per driver, alternating.
const ROUNDS: usize = 2;
/// The product read.
const PRODUCT_ID: i64 = 7;

/// The products service's statement for `GET /products/{id}`.
const SELECT_PRODUCT: &str = "SELECT p.product_id, p.product_name, p.supplier_id, \
     s.company_name AS supplier_name, p.category_id, c.category_name, p.quantity_per_unit, \
     p.unit_price, p.units_in_stock, p.units_on_order, p.reorder_level, p.discontinued \
     FROM products p LEFT JOIN categories c ON c.category_id = p.category_id \
     LEFT JOIN suppliers s ON s.supplier_id = p.supplier_id WHERE p.product_id = $1";

/// Declares a row both drivers read by position, in the declared order: sqlx through
/// `runtime::row!`, tokio-postgres through `from_tokio`. One field list serves both, so the
/// two readings cannot disagree on a column.
macro_rules! row_for_both_drivers {
    (
        $(#[$meta:meta])*
        struct $name:ident {
            $($field:ident : $ty:ty),* $(,)?
        }
    ) => {
        runtime::row! {
            $(#[$meta])*
            struct $name {
                $($field: $ty,)*
            }
        }

        impl $name {
            /// The same row read by tokio-postgres, by position.
            fn from_tokio(row: &tokio_postgres::Row) -> Result<Self, tokio_postgres::Error> {
                let mut position = 0_usize;
                let mut next = || {
                    position += 1;
                    position - 1
                };
                // Struct fields are evaluated in the order written: the declared order.
                Ok(Self {
                    $($field: row.try_get(next())?,)*
                })
            }
        }
    };
}

row_for_both_drivers! {
    /// The products service's row, as sqlx reads it there.
    #[derive(Debug)]
    struct Row {
        product_id: i64,
        product_name: String,
        supplier_id: Option<i16>,
        supplier_name: Option<String>,
        category_id: Option<i16>,
        category_name: Option<String>,
        quantity_per_unit: Option<String>,
        unit_price: Option<Decimal>,
        units_in_stock: Option<i16>,
        units_on_order: Option<i16>,
        reorder_level: Option<i16>,
        discontinued: bool,
    }
}

/// One driver's figures, summed over its rounds.
#[derive(Debug, Default)]
struct Sum {
    queries: u64,
    seconds: f64,
    client_us: f64,
    postgres_us: f64,
    p99_ms: f64,
    errors: u64,
}

/// Runs the comparison on `system`'s PostgreSQL and returns the printed table.
pub async fn measure(system: &System, options: &Options) -> anyhow::Result<String> {
    let url = system.launched().postgres_url(contract::deploy::PRODUCTS);
    let size = contract::deploy::DEFAULT_DATABASE_MAX_CONNECTIONS;
    let sqlx_pool = runtime::pg::pool(&runtime::pg::PgArgs::url(url.clone()))?;
    let config: tokio_postgres::Config = url.parse().context("the products database URL")?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let tokio_pool = Pool::builder(manager)
        .max_size(size as usize)
        .build()
        .context("the tokio-postgres pool")?;

    let sqlx_call = Call(Arc::new(move || {
        let pool = sqlx_pool.clone();
        async move {
            sqlx::query_as::<_, Row>(SELECT_PRODUCT)
                .bind(PRODUCT_ID)
                .fetch_optional(&pool)
                .await
                .map_err(|e| e.to_string())?
                .map(drop)
                .ok_or_else(|| "no product".to_owned())
        }
        .boxed()
    }));
    let tokio_call = Call(Arc::new(move || {
        let pool = tokio_pool.clone();
        async move {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            let statement = client
                .prepare_cached(SELECT_PRODUCT)
                .await
                .map_err(|e| e.to_string())?;
            let row = client
                .query_opt(&statement, &[&PRODUCT_ID])
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "no product".to_owned())?;
            Row::from_tokio(&row).map(drop).map_err(|e| e.to_string())
        }
        .boxed()
    }));

    let tracked: Vec<Tracked> = system
        .tracked()
        .into_iter()
        .filter(|t| t.kind == Kind::LoadGenerator || t.name == "postgres")
        .collect();
    let meter = CpuMeter::new(tracked);
    let drivers = [
        ("sqlx 0.9 (PgPool)", Target::Call(sqlx_call)),
        ("tokio-postgres (deadpool)", Target::Call(tokio_call)),
    ];
    let mut sums: Vec<Sum> = drivers.iter().map(|_| Sum::default()).collect();
    for _ in 0..ROUNDS {
        for ((name, target), sum) in drivers.iter().zip(&mut sums) {
            let outcome = load::run(target, CONCURRENCY, options, &meter).await;
            let queries = outcome.latencies.len() as u64;
            let cpu = |process: &str| outcome.cpu_us.get(process).copied().unwrap_or(0.0);
            sum.queries += queries;
            sum.seconds += outcome.elapsed.as_secs_f64();
            sum.client_us += cpu(crate::report::LOAD_GENERATOR) * queries as f64;
            sum.postgres_us += cpu("postgres") * queries as f64;
            sum.p99_ms = sum.p99_ms.max(outcome.percentile(99.0).as_secs_f64() * 1e3);
            sum.errors += outcome.errors;
            tracing::info!(driver = name, queries, errors = outcome.errors, "measured");
        }
    }
    Ok(render(&drivers.map(|(name, _)| name), &sums))
}

fn render(names: &[&str], sums: &[Sum]) -> String {
    let table = Table::new()
        .left("driver", 27)
        .right("queries/s", 10)
        .right("p99 ms", 8)
        .right("client µs", 10)
        .right("postgres µs", 12)
        .right("errors", 7);
    let mut out = format!(
        "\nthe PostgreSQL driver: the products read from this process, ×{CONCURRENCY}, \
         {ROUNDS} alternating runs each (CPU µs per query):\n{}\n",
        table.header()
    );
    for (name, sum) in names.iter().zip(sums) {
        let per = |us: f64| us / sum.queries.max(1) as f64;
        let cells = [
            (*name).to_owned(),
            format!("{:.0}", sum.queries as f64 / sum.seconds.max(f64::EPSILON)),
            format!("{:.2}", sum.p99_ms),
            format!("{:.1}", per(sum.client_us)),
            format!("{:.1}", per(sum.postgres_us)),
            sum.errors.to_string(),
        ];
        out.push_str(&table.row(cells));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one field list, read by position, gives the same row through either driver.
    #[tokio::test]
    async fn both_drivers_read_the_same_row() {
        let pg = testbed::PgServer::start().await.expect("postgres starts");
        let url = pg.create_database("driver").await.expect("database");
        let select = "SELECT 7::int8 AS product_id, 'Chai'::text AS product_name, \
             1::int2 AS supplier_id, NULL::text AS supplier_name, 2::int2 AS category_id, \
             'Beverages'::text AS category_name, '10 boxes'::text AS quantity_per_unit, \
             18.25::numeric AS unit_price, 39::int2 AS units_in_stock, 0::int2 AS units_on_order, \
             NULL::int2 AS reorder_level, false AS discontinued";
        let pool = sqlx::PgPool::connect(&url).await.expect("sqlx pool");
        let by_sqlx: Row = sqlx::query_as(select)
            .fetch_one(&pool)
            .await
            .expect("sqlx row");
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("tokio-postgres connects");
        tokio::spawn(connection);
        let row = client
            .query_one(select, &[])
            .await
            .expect("tokio-postgres row");
        let by_tokio = Row::from_tokio(&row).expect("read by position");
        assert_eq!(format!("{by_tokio:?}"), format!("{by_sqlx:?}"));
        assert_eq!(by_tokio.unit_price, Some(Decimal::new(1825, 2)));
        assert_eq!(by_tokio.reorder_level, None);
    }
}
