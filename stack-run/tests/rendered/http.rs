//! The suite every rendered stack must pass through its gateway, over the launcher's client.

pub use launcher::http::{Api, Reply};
use serde_json::json;

/// Asserts a status, showing the body when it differs.
#[track_caller]
pub fn expect(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
}

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
    let registered = api
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"username": "rendered-user", "email": email, "password": "correct horse battery staple"})),
        )
        .await;
    expect(&registered, 201, "register");
    let login = api
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"email": email, "password": "correct horse battery staple"})),
        )
        .await;
    expect(&login, 200, "login");
    let token = login.body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = login.body["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let me = api.call("GET", "/auth/me", Some(&token), None).await;
    expect(
        &me,
        200,
        "me (the gateway accepts auth's tokens: same issuer and audience)",
    );
    assert_eq!(me.body["email"], email.as_str());
    expect(
        &api.call("GET", "/customers", None, None).await,
        401,
        "customers without a token",
    );

    let customers = api
        .wait_for("/customers?country=Germany&limit=5", Some(&token), 200)
        .await;
    assert!(
        customers.body["total"].as_u64().unwrap_or(0) > 0,
        "{}",
        customers.body
    );
    expect(
        &api.call("GET", "/customers/ALFKI", Some(&token), None)
            .await,
        200,
        "get ALFKI",
    );
    let created = api
        .call(
            "POST",
            "/customers",
            Some(&token),
            Some(json!({"customer_id": customer_id, "company_name": "Rendered Stack Ltd", "country": "Norway"})),
        )
        .await;
    expect(&created, 201, "create customer");
    let patched = api
        .call(
            "PATCH",
            &format!("/customers/{customer_id}"),
            Some(&token),
            Some(json!({"city": "Oslo"})),
        )
        .await;
    expect(&patched, 200, "patch customer");
    assert_eq!(patched.body["city"], "Oslo");
    expect(
        &api.call(
            "DELETE",
            &format!("/customers/{customer_id}"),
            Some(&token),
            None,
        )
        .await,
        403,
        "a user may not delete",
    );

    let products = api
        .wait_for("/products?limit=3&sort=product_id", Some(&token), 200)
        .await;
    assert_eq!(
        products.body["data"].as_array().map(Vec::len),
        Some(3),
        "{}",
        products.body
    );
    expect(
        &api.call("GET", "/categories", Some(&token), None).await,
        200,
        "categories",
    );
    expect(
        &api.call("GET", "/suppliers", Some(&token), None).await,
        200,
        "suppliers",
    );
    let product = api
        .call(
            "POST",
            "/products",
            Some(&token),
            Some(json!({"product_name": "Rendered Tea", "category_id": 1, "unit_price": "4.50"})),
        )
        .await;
    expect(&product, 201, "create product");
    let product_id = product.body["product_id"].as_i64().expect("product id");

    let admin_login = api
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"email": admin.0, "password": admin.1})),
        )
        .await;
    expect(&admin_login, 200, "admin login");
    let admin_token = admin_login.body["access_token"]
        .as_str()
        .expect("admin token")
        .to_owned();
    expect(
        &api.call(
            "DELETE",
            &format!("/customers/{customer_id}"),
            Some(&admin_token),
            None,
        )
        .await,
        204,
        "admin deletes a customer",
    );
    expect(
        &api.call(
            "DELETE",
            &format!("/products/{product_id}"),
            Some(&admin_token),
            None,
        )
        .await,
        204,
        "admin deletes a product",
    );
    expect(
        &api.call(
            "GET",
            &format!("/customers/{customer_id}"),
            Some(&token),
            None,
        )
        .await,
        404,
        "deleted",
    );

    let refreshed = api
        .call(
            "POST",
            "/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    expect(&refreshed, 200, "refresh");
    let new_refresh = refreshed.body["refresh_token"]
        .as_str()
        .expect("new refresh")
        .to_owned();
    expect(
        &api.call(
            "POST",
            "/auth/logout",
            None,
            Some(json!({"refresh_token": new_refresh})),
        )
        .await,
        204,
        "logout",
    );
    expect(
        &api.call(
            "POST",
            "/auth/refresh",
            None,
            Some(json!({"refresh_token": new_refresh})),
        )
        .await,
        401,
        "a logged-out refresh token",
    );
}
