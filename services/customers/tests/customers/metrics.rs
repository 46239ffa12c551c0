//! `/metrics`: clean for Prometheus' linter, labelled by endpoint and status only (never by a
//! customer id), with the database pool's gauges.

use contract::Envelope;
use contract::customers::{CustomerIdParams, GetCustomer};
use runtime::test_support::metrics::{assert_not_labelled, assert_promtool_clean, series};

use crate::support::start;

#[tokio::test]
async fn metrics_pass_promtool_and_stay_few_whatever_ids_are_asked_for() {
    let (stack, app) = start().await;
    let ask = |i: usize| {
        app.call::<GetCustomer>(Envelope::params(CustomerIdParams::new(format!("ZQ{i:03}"))))
    };
    assert_eq!(ask(0).await.unwrap_err().status(), 404);
    let before = series(&app.metrics().await);
    for i in 1..200 {
        assert_eq!(ask(i).await.unwrap_err().status(), 404);
    }
    let text = app.metrics().await;
    assert_promtool_clean(&text);
    assert_eq!(series(&text), before, "200 ids added series:\n{text}");
    assert_not_labelled(&text, &["ZQ0", "ZQ1"]);
    for needle in [
        r#"natstack_service_requests_total{endpoint="get",code="404"} 200"#,
        "natstack_service_request_duration_seconds_count{endpoint=\"get\"} 200",
        "natstack_db_pool_connections_in_use ",
        "natstack_db_pool_connections_idle ",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    let max = stack.database().database_max_connections;
    assert!(
        text.contains(&format!("natstack_db_pool_connections_max {max}\n")),
        "{text}"
    );
    app.stop().await;
}
