//! The rate-limit settings: `RATE_LIMITS` (a quota per route class) and `TRUSTED_PROXIES`
//! (whose `X-Forwarded-For` is believed).
//!
//! `RATE_LIMITS` is `off`, or comma-separated `class=rate` entries, a rate being `N/s`, `N/m`
//! or `N/h` with an optional `:burst M` (the default burst is `N`), or `off` for that class:
//! `auth=10/s:burst 20,write=50/s,read=off`. A class left out is not limited.

use std::num::NonZeroU32;

use governor::Quota;
use ipnet::IpNet;

use super::Class;

/// A quota per route class; `None` leaves the class unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// The public auth routes (register, login, refresh).
    pub auth: Option<Quota>,
    /// Other POST, PUT, PATCH and DELETE routes.
    pub write: Option<Quota>,
    /// Everything else (GET).
    pub read: Option<Quota>,
}

/// Why a `RATE_LIMITS` or `TRUSTED_PROXIES` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitConfigError {
    /// An entry is not `class=rate`, or names no class.
    #[error("`{0}` is not `auth|write|read=N/s|m|h[:burst M]` or `off`")]
    Entry(String),
    /// A trusted proxy is neither an address nor a CIDR range.
    #[error("`{0}` is not an IP address or CIDR range")]
    Proxy(String),
}

impl RateLimits {
    /// No class limited.
    pub const OFF: Self = Self {
        auth: None,
        write: None,
        read: None,
    };

    /// Parses a `RATE_LIMITS` value.
    pub fn parse(value: &str) -> Result<Self, LimitConfigError> {
        let mut limits = Self::OFF;
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("off") {
            return Ok(limits);
        }
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || LimitConfigError::Entry(entry.to_owned());
            let (class, rate) = entry.split_once('=').ok_or_else(bad)?;
            let slot = match class.trim() {
                "auth" => &mut limits.auth,
                "write" => &mut limits.write,
                "read" => &mut limits.read,
                _ => return Err(bad()),
            };
            *slot = quota(rate.trim()).ok_or_else(bad)?;
        }
        Ok(limits)
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

/// `N/s|m|h[:burst M]` as a quota (`Some(None)`: `off`); `None` when malformed.
fn quota(rate: &str) -> Option<Option<Quota>> {
    if rate.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    let (rate, burst) = match rate.split_once(':') {
        Some((rate, burst)) => (
            rate.trim(),
            Some(burst.trim().strip_prefix("burst")?.trim()),
        ),
        None => (rate, None),
    };
    let (count, unit) = rate.split_once('/')?;
    let count = count.trim().parse::<NonZeroU32>().ok()?;
    let quota = match unit.trim() {
        "s" => Quota::per_second(count),
        "m" => Quota::per_minute(count),
        "h" => Quota::per_hour(count),
        _ => return None,
    };
    Some(Some(match burst {
        Some(burst) => quota.allow_burst(burst.parse::<NonZeroU32>().ok()?),
        None => quota,
    }))
}

/// Parses `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges.
pub fn parse_trusted_proxies(value: &str) -> Result<Vec<IpNet>, LimitConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| LimitConfigError::Proxy(p.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    #[test]
    fn rate_limits_parse() {
        assert_eq!(RateLimits::parse("off").unwrap(), RateLimits::OFF);
        assert_eq!(RateLimits::parse(" ").unwrap(), RateLimits::OFF);
        let limits = RateLimits::parse("auth=10/s:burst 20, write=30/m ,read=off").unwrap();
        assert_eq!(
            limits.auth,
            Some(Quota::per_second(n(10)).allow_burst(n(20)))
        );
        assert_eq!(limits.write, Some(Quota::per_minute(n(30))));
        assert_eq!(limits.read, None);
        let hourly = RateLimits::parse("read=3600/h").unwrap().read.unwrap();
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
            assert!(RateLimits::parse(bad).is_err(), "{bad}");
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
