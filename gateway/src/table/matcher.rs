//! Matching a request path against the routed templates, with `matchit` (axum's own router).
//!
//! A literal segment beats a parameter at the same position, so `/products/search` is never
//! read as `/products/{id}`; matchit backtracks, so `/products/search/stock` still reaches
//! `/products/{id}/stock`. Parameters are renamed by position before insertion: templates
//! that differ only in parameter names (`/x/{id}`, `/x/{name}`) are one shape to matchit, and
//! for each method the first of them by path serves it. HEAD resolves to the path's GET route.

use std::collections::BTreeMap;

use contract::HttpMethod;

use super::route::Route;

/// What a request path and method resolve to.
#[derive(Debug)]
pub enum Match<'a> {
    /// A route, with its decoded path parameters.
    Found(&'a Route, BTreeMap<String, String>),
    /// The path exists, but not with this method; the allowed methods.
    MethodNotAllowed(Vec<HttpMethod>),
    /// No template matches the path.
    NotFound,
    /// A path segment is not valid percent-encoded UTF-8.
    BadPath,
}

/// The path router over a table's routes.
#[derive(Debug, Clone, Default)]
pub(super) struct Matcher {
    /// Template shape → method → index into the table's routes.
    router: matchit::Router<BTreeMap<HttpMethod, usize>>,
}

impl Matcher {
    /// A matcher for `routes` (valid templates, as `EndpointMeta` checks them).
    pub(super) fn new(routes: &[Route]) -> Self {
        let mut by_path: Vec<(usize, &Route)> = routes.iter().enumerate().collect();
        by_path.sort_by(|(_, a), (_, b)| a.path.cmp(&b.path).then(a.method.cmp(&b.method)));
        let mut shapes: BTreeMap<String, BTreeMap<HttpMethod, usize>> = BTreeMap::new();
        for (index, route) in by_path {
            shapes
                .entry(shape(&route.path))
                .or_default()
                .entry(route.method)
                .or_insert(index);
        }
        let mut router = matchit::Router::new();
        for (shape, methods) in shapes {
            // Shapes are distinct and built from checked templates, so matchit takes each.
            if let Err(e) = router.insert(shape, methods) {
                tracing::warn!(error = %e, "route template not routable");
            }
        }
        Self { router }
    }

    /// Resolves `method` and `path` against `routes` (the ones the matcher was built from).
    pub(super) fn find<'a>(
        &self,
        routes: &'a [Route],
        method: &http::Method,
        path: &str,
    ) -> Match<'a> {
        // A trailing or doubled slash is a different path, not the same one.
        if path != "/" && (path.ends_with('/') || path.contains("//")) {
            return Match::NotFound;
        }
        let Ok(matched) = self.router.at(path) else {
            return Match::NotFound;
        };
        let methods = matched.value;
        // HEAD is GET without the body (RFC 9110 §9.3.2); hyper leaves the body out.
        let method = if method == http::Method::HEAD {
            &http::Method::GET
        } else {
            method
        };
        let index = HttpMethod::parse(method.as_str()).and_then(|m| methods.get(&m));
        let Some(&index) = index else {
            return Match::MethodNotAllowed(methods.keys().copied().collect());
        };
        let route = &routes[index];
        let mut params = BTreeMap::new();
        for (name, (_, raw)) in route.path_params().into_iter().zip(matched.params.iter()) {
            match percent_encoding::percent_decode_str(raw).decode_utf8() {
                Ok(value) => {
                    params.insert(name.to_owned(), value.into_owned());
                }
                Err(_) => return Match::BadPath,
            }
        }
        Match::Found(route, params)
    }
}

/// The template with its parameters named by position: `/a/{id}/b/{x}` → `/a/{0}/b/{1}`.
fn shape(template: &str) -> String {
    let mut position = 0;
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                position += 1;
                format!("{{{}}}", position - 1)
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
