//! `/metrics`: clean for Prometheus' linter, labelled by endpoint and status only (never by a
//! customer id), with the database pool's gauges.

use contract::Envelope;
use contract::customers::{CustomerIdParams, GetCustomer};
use runtime::test_support::metrics::assert_unknown_ids_leave_metrics_bounded;

use crate::support::start;

#[tokio::test]
async fn metrics_pass_promtool_and_stay_few_whatever_ids_are_asked_for() {
    let (stack, app) = start().await;
    let client = &app;
    let ask = |i: usize| async move {
        let id = CustomerIdParams::new(format!("ZQ{i:03}"));
        let reply = client.call::<GetCustomer>(Envelope::params(id)).await;
        reply.unwrap_err().status()
    };
    let max = stack.database().database_max_connections;
    assert_unknown_ids_leave_metrics_bounded(&app, ask, &["ZQ0", "ZQ1"], max).await;
    app.stop().await;
}
