//! `/metrics`: clean for Prometheus' linter, labelled by endpoint and status only (never by a
//! product id), with the database pool's gauges.

use contract::Envelope;
use contract::products::{GetProduct, ProductIdParams};
use runtime::test_support::metrics::assert_unknown_ids_leave_metrics_bounded;

use crate::support::start;

#[tokio::test]
async fn metrics_pass_promtool_and_stay_few_whatever_ids_are_asked_for() {
    let (stack, app) = start().await;
    let client = &app;
    let ask = |i: usize| async move {
        let id = ProductIdParams::new(900_000 + i64::try_from(i).unwrap());
        let reply = client.call::<GetProduct>(Envelope::params(id)).await;
        reply.unwrap_err().status()
    };
    let max = stack.database().database_max_connections;
    assert_unknown_ids_leave_metrics_bounded(&app, ask, &["900001", "900199"], max).await;
    app.stop().await;
}
