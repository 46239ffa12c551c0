//! The suite every rendered stack must pass through its gateway, over the launcher's client.

use serde_json::json;
pub use testbed::http::Api;

/// The suite: accounts and tokens, customers and products reads and writes, admin-only
/// deletes, refresh and logout. `admin` is the bootstrap admin's email and password.
pub async fn suite(api: &Api, admin: (&str, &str)) {
    api.wait_for("/.well-known/jwks.json", None, 200).await;
    // Fresh names on every run, so the suite can run again against the same stack.
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let email = format!("user{}-{run}@example.com", std::process::id());
    let letter = |n: u32| char::from(b'A' + u8::try_from(n % 26).unwrap_or(0));
    let customer_id = format!("RN{}{}{}", letter(run / 676), letter(run / 26), letter(run));
    let password = "correct horse battery staple";
    // Usernames are unique too: two stacks may share one database server.
    let username = format!("rendered-{}-{run}", std::process::id());
    let account = json!({"username": username, "email": email, "password": password});
    api.expect("POST", "/auth/register", None, Some(account), 201)
        .await;
    // Logs in: the token pair.
    let login = |email: &str, password: &str| {
        let body = json!({"email": email, "password": password});
        async move {
            let reply = api.expect("POST", "/auth/login", None, Some(body), 200);
            reply.await.body
        }
    };
    let pair = login(&email, password).await;
    let token = pair["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = pair["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    // The gateway accepts auth's tokens: same issuer and audience.
    let me = api.expect("GET", "/auth/me", Some(&token), None, 200).await;
    assert_eq!(me.body["email"], email.as_str());
    api.expect("GET", "/customers", None, None, 401).await;
    let user = Some(token.as_str());

    let customers = api
        .wait_for("/customers?country=Germany&limit=5", user, 200)
        .await;
    assert!(
        customers.body["total"].as_u64().unwrap_or(0) > 0,
        "{}",
        customers.body
    );
    api.expect("GET", "/customers/ALFKI", user, None, 200).await;
    let customer = format!("/customers/{customer_id}");
    let company = json!({"customer_id": customer_id, "company_name": "Rendered Stack Ltd", "country": "Norway"});
    api.expect("POST", "/customers", user, Some(company), 201)
        .await;
    let city = Some(json!({"city": "Oslo"}));
    let patched = api.expect("PATCH", &customer, user, city, 200).await;
    assert_eq!(patched.body["city"], "Oslo");
    // A user may not delete.
    api.expect("DELETE", &customer, user, None, 403).await;

    let products = api
        .wait_for("/products?limit=3&sort=product_id", user, 200)
        .await;
    assert_eq!(
        products.body["data"].as_array().map(Vec::len),
        Some(3),
        "{}",
        products.body
    );
    for path in ["/categories", "/suppliers"] {
        api.expect("GET", path, user, None, 200).await;
    }
    let tea = json!({"product_name": "Rendered Tea", "category_id": 1, "unit_price": "4.50"});
    let product = api.expect("POST", "/products", user, Some(tea), 201).await;
    let product_id = product.body["product_id"].as_i64().expect("product id");

    let admin_token = login(admin.0, admin.1).await["access_token"]
        .as_str()
        .expect("admin token")
        .to_owned();
    // The admin deletes a customer and a product.
    for path in [customer.clone(), format!("/products/{product_id}")] {
        api.expect("DELETE", &path, Some(&admin_token), None, 204)
            .await;
    }
    api.expect("GET", &customer, user, None, 404).await;

    let refreshed = api
        .expect(
            "POST",
            "/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
            200,
        )
        .await;
    let new_refresh = refreshed.body["refresh_token"]
        .as_str()
        .expect("new refresh")
        .to_owned();
    let body = json!({"refresh_token": new_refresh});
    api.expect("POST", "/auth/logout", None, Some(body.clone()), 204)
        .await;
    // A logged-out refresh token.
    api.expect("POST", "/auth/refresh", None, Some(body), 401)
        .await;
}
