//! `/metrics`: clean for Prometheus' linter, labelled by endpoint and status only (never by a
//! product id), with the database pool's gauges.

use contract::Envelope;
use contract::products::{GetProduct, ProductIdParams};
use runtime::test_support::metrics::{assert_not_labelled, assert_promtool_clean, series};

use crate::support::start;

#[tokio::test]
async fn metrics_pass_promtool_and_stay_few_whatever_ids_are_asked_for() {
    let (stack, app) = start().await;
    let ask = |id: i64| app.call::<GetProduct>(Envelope::params(ProductIdParams::new(id)));
    assert_eq!(ask(900_000).await.unwrap_err().status(), 404);
    let before = series(&app.metrics().await);
    for id in 900_001..900_200 {
        assert_eq!(ask(id).await.unwrap_err().status(), 404);
    }
    let text = app.metrics().await;
    assert_promtool_clean(&text);
    assert_eq!(series(&text), before, "200 ids added series:\n{text}");
    assert_not_labelled(&text, &["900001", "900199"]);
    for needle in [
        r#"natstack_service_requests_total{endpoint="get",code="404"} 200"#,
        "natstack_db_pool_connections_in_use ",
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
