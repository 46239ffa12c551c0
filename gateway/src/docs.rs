//! `GET /docs`: an interactive page for the live API description (`/openapi.json`), with
//! "try it out" against this gateway.
//!
//! The page is Swagger UI (swagger-ui-dist from the npm registry, refreshed by
//! `dev/scripts/docs/fetch-swagger-ui.sh`), embedded in the binary: clusters are often
//! air-gapped, so the page must not load anything from the internet. Its assets are served
//! with their release as the `ETag`, cached by the browser until that changes.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get};

use crate::error::ApiError;

/// The Swagger UI release embedded (its `VERSION` file).
pub const SWAGGER_UI_VERSION: &str = include_str!("../assets/swagger-ui/VERSION");

/// One embedded file: its name under `/docs/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const PAGE: &str = include_str!("../assets/docs/index.html");

const ASSETS: [Asset; 3] = [
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/swagger-ui/swagger-ui.css"),
    },
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/docs/init.js"),
    },
];

/// What the page may load: only this origin (scripts, styles, the document, "try it out"
/// calls), plus the inline SVG icons and `data:` images Swagger UI draws.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The routes `/docs`, `/docs/` and `/docs/{asset}`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> [(&'static str, MethodRouter<S>); 3] {
    [
        ("/docs", get(page)),
        ("/docs/", get(|| async { Redirect::permanent("/docs") })),
        ("/docs/{asset}", get(asset)),
    ]
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// The assets change only with a release of the gateway (`init.js`) or of Swagger UI.
fn etag() -> HeaderValue {
    let tag = format!(
        "\"{}-swagger-ui-{}\"",
        env!("CARGO_PKG_VERSION"),
        SWAGGER_UI_VERSION.trim()
    );
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"docs\""))
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return ApiError::no_route().into_response();
    };
    let etag = etag();
    let cached = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        ),
    ];
    if headers.get(header::IF_NONE_MATCH) == Some(&etag) {
        return (StatusCode::NOT_MODIFIED, cached).into_response();
    }
    let content_type = HeaderValue::from_static(asset.content_type);
    (cached, [(header::CONTENT_TYPE, content_type)], asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    async fn get(path: &str, if_none_match: Option<&HeaderValue>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        let router = routes::<()>()
            .into_iter()
            .fold(axum::Router::new(), |app, (path, route)| {
                app.route(path, route)
            });
        router
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_page_loads_only_embedded_assets() {
        let page = get("/docs", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .starts_with("default-src 'self'")
        );
        let html = page.into_body().collect().await.unwrap().to_bytes();
        let html = std::str::from_utf8(&html).unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        for asset in ASSETS {
            assert!(
                html.contains(&format!("/docs/{}", asset.name)),
                "{}",
                asset.name
            );
            let response = get(&format!("/docs/{}", asset.name), None).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            assert_eq!(response.headers()[header::CONTENT_TYPE], asset.content_type);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), asset.body.len());
        }
        assert_eq!(
            get("/docs/", None).await.status(),
            StatusCode::PERMANENT_REDIRECT
        );
    }

    #[tokio::test]
    async fn assets_revalidate_by_etag_and_unknown_ones_are_404() {
        let first = get("/docs/swagger-ui.css", None).await;
        let tag = first.headers()[header::ETAG].clone();
        let again = get("/docs/swagger-ui.css", Some(&tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let missing = get("/docs/nothing.js", None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
