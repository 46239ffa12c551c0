//! `GET /docs`: served by default from the binary's own assets, and gone when turned off.

use super::support::World;

#[tokio::test]
async fn the_api_page_is_served_by_default_and_can_be_turned_off() {
    let world = World::start().await;
    let page = world.http().get("/docs").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(page.body.to_vec()).unwrap();
    assert!(html.contains("/docs/swagger-ui-bundle.js"), "{html}");
    let bundle = world.http().get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.body.len() > 100_000, "the embedded bundle is served");
    assert!(
        bundle.header("x-request-id").is_some(),
        "observed like any route"
    );
    world.stop().await;

    let world = World::start_with(|config| config.docs = false).await;
    let off = world.http().get("/docs").await;
    assert_eq!(off.status, 404, "off means not routed: {}", off.json());
    world.stop().await;
}
