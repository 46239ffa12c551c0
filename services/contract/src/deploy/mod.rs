//! The deployment contract: the names and defaults both sides must agree on.
//!
//! The operator renders these names and the binaries read them: environment variable names
//! ([`env`](mod@env)), ports, health paths, the built-in service names, and the defaults a binary falls
//! back to and the operator's stack defaults repeat. Every such name and value is written once,
//! here: a rename is one edit, the operator's env-contract test (every rendered variable is one
//! the target binary reads, every variable a binary requires is rendered) checks the rest, and
//! the workspace test `env_names` fails when an environment variable name is written as a
//! literal anywhere else.

pub mod env;

mod defaults;
mod memory;

pub use defaults::*;
pub use memory::*;

/// Port of `/livez`, `/readyz` and `/metrics` in every binary.
pub const HEALTH_PORT: u16 = 9090;
/// Port of the gateway's HTTP API.
pub const GATEWAY_HTTP_PORT: u16 = 8080;
/// Port of the gateway's cluster Service (forwarded to [`GATEWAY_HTTP_PORT`]).
pub const GATEWAY_SERVICE_PORT: u16 = 80;
/// NATS client port.
pub const NATS_PORT: u16 = 4222;
/// NATS cluster (route) port, between the servers of a clustered NATS.
pub const NATS_CLUSTER_PORT: u16 = 6222;
/// NATS monitoring port (`/healthz`, `/varz`).
pub const NATS_MONITOR_PORT: u16 = 8222;
/// Port of the prometheus-nats-exporter sidecar's `/metrics` on the NATS pods.
pub const NATS_EXPORTER_PORT: u16 = 7777;
/// PostgreSQL port.
pub const POSTGRES_PORT: u16 = 5432;
/// MongoDB wire-protocol port.
pub const MONGODB_PORT: u16 = 27017;

/// Liveness path (the process runs).
pub const LIVEZ_PATH: &str = "/livez";
/// Readiness path (connected to NATS and its database, registered).
pub const READYZ_PATH: &str = "/readyz";
/// Prometheus metrics path.
pub const METRICS_PATH: &str = "/metrics";

/// Series label naming the stack a target belongs to (relabelled from the pod label
/// `app.kubernetes.io/instance`); the alert rules and dashboards in `monitoring/` use it.
pub const METRIC_LABEL_STACK: &str = "natstack_stack";
/// Series label naming the component a target is (relabelled from the pod label
/// `app.kubernetes.io/name`).
pub const METRIC_LABEL_COMPONENT: &str = "natstack_component";

/// The auth service's name (Services API name, NATS subject prefix, component name).
pub const AUTH: &str = "auth";
/// The customers service's name.
pub const CUSTOMERS: &str = "customers";
/// The products service's name.
pub const PRODUCTS: &str = "products";
/// The gateway's component name (and NATS user).
pub const GATEWAY: &str = "gateway";
/// The NATS servers' component name (labels and child names; the `natstack_component` of the
/// exporter's series).
pub const NATS: &str = "nats";

/// Series label of a target's namespace (the prometheus-operator sets it on every target).
pub const METRIC_LABEL_NAMESPACE: &str = "namespace";
/// Series label of a target's pod (the prometheus-operator sets it on every pod target).
pub const METRIC_LABEL_POD: &str = "pod";
/// Placeholder of the stack's namespace in `monitoring/rules/stack.rules.yaml`.
pub const RULES_NAMESPACE_PLACEHOLDER: &str = "__NAMESPACE__";
/// Placeholder of the stack's name in `monitoring/rules/stack.rules.yaml`.
pub const RULES_STACK_PLACEHOLDER: &str = "__STACK__";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_addresses_use_the_default_ports() {
        assert!(DEFAULT_HEALTH_ADDR.ends_with(&format!(":{HEALTH_PORT}")));
        assert!(DEFAULT_LISTEN_ADDR.ends_with(&format!(":{GATEWAY_HTTP_PORT}")));
        assert!(DEFAULT_NATS_URL.ends_with(&format!(":{NATS_PORT}")));
        assert!(DEFAULT_MONGODB_URL.ends_with(&format!(":{MONGODB_PORT}")));
    }

    #[test]
    fn default_route_owners_name_the_builtin_services() {
        let owners = crate::routes::RouteOwners::parse(DEFAULT_ROUTE_OWNERS).unwrap();
        assert_eq!(
            owners.services().collect::<Vec<_>>(),
            [AUTH, CUSTOMERS, PRODUCTS]
        );
    }
}
