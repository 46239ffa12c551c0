//! Writes the API server refuses for reasons the fake does not model: a client in front of the
//! [`Fake`] that answers chosen applies with a `422 Invalid` Status, as the API server does for
//! an object its validation rejects, and passes every other request on to the fake. (Changes
//! to immutable fields the fake refuses itself.)

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use super::Fake;

/// One refused apply: the resource plural, the object's name and the Status to answer.
struct Rule {
    resource: String,
    name: String,
    status: Value,
}

/// Handle on the refusals of a client made by [`Rejections::start`].
#[derive(Clone, Default)]
pub struct Rejections {
    rules: Arc<Mutex<Vec<Rule>>>,
}

impl Rejections {
    /// A fake, a client whose writes may be refused, and the handle choosing which.
    pub fn start() -> (Fake, kube::Client, Self) {
        let (fake, inner) = Fake::start();
        let rejections = Self::default();
        let rules = rejections.rules.clone();
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let refusal = (request.method() == http::Method::PATCH)
                    .then(|| {
                        let path = request.uri().path();
                        let rules = rules.lock().unwrap();
                        rules
                            .iter()
                            .find(|r| path.ends_with(&format!("/{}/{}", r.resource, r.name)))
                            .map(|r| r.status.clone())
                    })
                    .flatten();
                let response = match refusal {
                    Some(status) => Response::builder()
                        .status(StatusCode::UNPROCESSABLE_ENTITY)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&status).expect("json")))
                        .expect("response"),
                    None => inner.send(request).await.expect("the fake answers"),
                };
                send.send_response(response);
            }
        });
        (fake, kube::Client::new(service, "default"), rejections)
    }

    fn add(&self, resource: &str, name: &str, status: Value) {
        self.rules.lock().unwrap().push(Rule {
            resource: resource.to_owned(),
            name: name.to_owned(),
            status,
        });
    }

    /// Refuses applies of `resource`/`name` as invalid, for a reason other than immutability.
    pub fn invalid(&self, resource: &str, name: &str, field: &str, message: &str) {
        self.add(
            resource,
            name,
            json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
                   "message": format!("{name} is invalid: {field}: Invalid value: {message}"),
                   "reason": "Invalid", "code": 422,
                   "details": {"name": name,
                               "causes": [{"reason": "FieldValueInvalid", "message": message,
                                           "field": field}]}}),
        );
    }
}
