//! The auth service's own metrics, on top of the request metrics every service has: password
//! verifications and failed logins by reason.
//!
//! The reason of a failed login is one of [`LoginFailure`]'s few values, never the account or
//! the client address: an attacker choosing either would otherwise choose the series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use runtime::metrics::registered;

/// Why a login was refused: the value of the `reason` label.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum LoginFailure {
    /// Unknown email or wrong password.
    BadCredentials,
    /// The (account, client address) pair is locked after repeated failures.
    Locked,
    /// The pair's next attempt must wait (backoff after a failure).
    Delayed,
    /// Too many attempts on the account are being checked at once.
    Busy,
}

impl LoginFailure {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::BadCredentials => "bad_credentials",
            Self::Locked => "locked",
            Self::Delayed => "delayed",
            Self::Busy => "busy",
        }
    }
}

/// Labels of a failed login.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    reason: &'static str,
}

/// The auth service's metrics. Cheap to clone; clones share the series.
#[derive(Debug, Clone)]
pub struct AuthMetrics {
    /// Password verifications run, real or against the dummy hash.
    pub verifications: Counter,
    login_failures: Family<FailureLabels, Counter>,
}

impl AuthMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        Self {
            verifications: registered(
                registry,
                "natstack_auth_password_verifications",
                "Password verifications run, real or against the dummy hash",
                Counter::default(),
            ),
            login_failures: registered(
                registry,
                "natstack_auth_login_failures",
                "Logins refused, by reason (bad_credentials, locked, delayed, busy)",
                Family::default(),
            ),
        }
    }

    /// Counts one refused login.
    pub fn login_failed(&self, reason: LoginFailure) {
        self.login_failures
            .get_or_create(&FailureLabels {
                reason: reason.label(),
            })
            .inc();
    }

    /// How many logins were refused for `reason`.
    pub fn login_failures(&self, reason: LoginFailure) -> u64 {
        self.login_failures
            .get_or_create(&FailureLabels {
                reason: reason.label(),
            })
            .get()
    }
}
