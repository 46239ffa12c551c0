//! The rate-limit settings: `RATE_LIMITS` (a quota per route class) and `TRUSTED_PROXIES`
//! (whose `X-Forwarded-For` is believed).
//!
//! `RATE_LIMITS` is `off`, or comma-separated `class=rate` entries, a rate being `N/s`, `N/m`
//! or `N/h` with an optional `:burst M` (the default burst is `N`), or `off` for that class:
//! `auth=10/s:burst 20,write=50/s,read=off`. A class left out is not limited.
//!
//! The syntax lives in [`contract::limits`], so the operator checks exactly what is accepted
//! here; this module turns each class's rate into a governor [`Quota`].

use contract::limits::{Per, Rate};
use governor::Quota;

pub use contract::limits::{LimitConfigError, parse_trusted_proxies};

use super::Class;

/// A governor quota per route class, from [`contract::limits::RateLimits`] (the parsed
/// `RATE_LIMITS`); `None` leaves the class unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quotas {
    /// The public auth routes (register, login, refresh).
    pub auth: Option<Quota>,
    /// Other POST, PUT, PATCH and DELETE routes.
    pub write: Option<Quota>,
    /// Everything else (GET).
    pub read: Option<Quota>,
}

impl Quotas {
    /// No class limited.
    pub const OFF: Self = Self {
        auth: None,
        write: None,
        read: None,
    };

    /// Parses a `RATE_LIMITS` value.
    pub fn parse(value: &str) -> Result<Self, LimitConfigError> {
        contract::limits::RateLimits::parse(value).map(Self::from)
    }

    /// The quota of `class`, if it is limited.
    pub fn of(&self, class: Class) -> Option<Quota> {
        match class {
            Class::Auth => self.auth,
            Class::Write => self.write,
            Class::Read => self.read,
        }
    }
}

impl From<contract::limits::RateLimits> for Quotas {
    fn from(limits: contract::limits::RateLimits) -> Self {
        Self {
            auth: limits.auth.map(quota),
            write: limits.write.map(quota),
            read: limits.read.map(quota),
        }
    }
}

/// The governor quota of `rate`.
fn quota(rate: Rate) -> Quota {
    let quota = match rate.per {
        Per::Second => Quota::per_second(rate.count),
        Per::Minute => Quota::per_minute(rate.count),
        Per::Hour => Quota::per_hour(rate.count),
    };
    match rate.burst {
        Some(burst) => quota.allow_burst(burst),
        None => quota,
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[test]
    fn rate_limits_parse() {
        assert_eq!(Quotas::parse("off").unwrap(), Quotas::OFF);
        assert_eq!(Quotas::parse(" ").unwrap(), Quotas::OFF);
        let limits = Quotas::parse("auth=10/s:burst 20, write=30/m ,read=off").unwrap();
        assert_eq!(
            limits.auth,
            Some(Quota::per_second(n(10)).allow_burst(n(20)))
        );
        assert_eq!(limits.write, Some(Quota::per_minute(n(30))));
        assert_eq!(limits.read, None);
        let hourly = Quotas::parse("read=3600/h").unwrap().read.unwrap();
        assert_eq!(hourly.replenish_interval(), Duration::from_secs(1));
        for bad in [
            "auth",
            "auth=0/s",
            "auth=1/d",
            "auth=x/s",
            "auth=1/s:burst",
            "auth=1/s:bust 2",
            "other=1/s",
        ] {
            assert!(Quotas::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_parse() {
        let proxies = parse_trusted_proxies("10.0.0.0/8, 127.0.0.1,::1").unwrap();
        assert_eq!(proxies.len(), 3);
        assert!(proxies[1].contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_trusted_proxies("").unwrap().is_empty());
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("proxy.local").is_err());
    }
}
