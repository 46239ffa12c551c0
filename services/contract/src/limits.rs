//! The gateway's abuse settings as text: `RATE_LIMITS` (a quota per route class) and
//! `TRUSTED_PROXIES` (whose `X-Forwarded-For` is believed).
//!
//! One parser, so the operator refuses exactly what the gateway would refuse at startup. The
//! gateway turns a [`Rate`] into its rate limiter's quota; this crate stays free of the limiter.
//!
//! `RATE_LIMITS` is `off`, or comma-separated `class=rate` entries, a rate being `N/s`, `N/m`
//! or `N/h` with an optional `:burst M` (the default burst is `N`), or `off` for that class:
//! `auth=10/s:burst 20,write=50/s,read=off`. A class left out is not limited.

use std::net::IpAddr;
use std::num::NonZeroU32;

use ipnet::IpNet;

/// The period a [`Rate`]'s count refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// `N/s`.
    Second,
    /// `N/m`.
    Minute,
    /// `N/h`.
    Hour,
}

/// One class's quota: `count` requests per `per`, with up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period.
    pub count: NonZeroU32,
    /// The period.
    pub per: Per,
    /// Requests allowed at once; `None` means `count`.
    pub burst: Option<NonZeroU32>,
}

/// A rate per route class; `None` leaves the class unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// The public auth routes (register, login, refresh).
    pub auth: Option<Rate>,
    /// Other POST, PUT, PATCH and DELETE routes.
    pub write: Option<Rate>,
    /// Everything else (GET).
    pub read: Option<Rate>,
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
    /// Parses a `RATE_LIMITS` value.
    ///
    /// # Errors
    /// [`LimitConfigError::Entry`] naming the first malformed entry.
    pub fn parse(value: &str) -> Result<Self, LimitConfigError> {
        // `Default` limits no class: what `off` and an empty value mean.
        let mut limits = Self::default();
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
            *slot = Rate::parse(rate.trim()).ok_or_else(bad)?;
        }
        Ok(limits)
    }
}

impl Rate {
    /// `N/s|m|h[:burst M]` as a rate (`Some(None)`: `off`); `None` when malformed.
    fn parse(rate: &str) -> Option<Option<Self>> {
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
        let per = match unit.trim() {
            "s" => Per::Second,
            "m" => Per::Minute,
            "h" => Per::Hour,
            _ => return None,
        };
        let burst = match burst {
            Some(burst) => Some(burst.parse::<NonZeroU32>().ok()?),
            None => None,
        };
        Some(Some(Self { count, per, burst }))
    }
}

/// Parses one trusted proxy: an address or a CIDR range.
///
/// # Errors
/// [`LimitConfigError::Proxy`] naming the value.
pub fn parse_trusted_proxy(value: &str) -> Result<IpNet, LimitConfigError> {
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| LimitConfigError::Proxy(value.to_owned()))
}

/// Parses `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges.
///
/// # Errors
/// [`LimitConfigError::Proxy`] naming the first malformed entry.
pub fn parse_trusted_proxies(value: &str) -> Result<Vec<IpNet>, LimitConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_trusted_proxy)
        .collect()
}

#[cfg(test)]
mod tests {
    //! The full syntax is pinned by the gateway's tests (through this parser, to governor
    //! quotas); these pin the parsed shape and the edges of the numbers.
    use super::*;
    use crate::deploy::DEFAULT_RATE_LIMITS;

    fn rate(count: u32, per: Per, burst: Option<u32>) -> Option<Rate> {
        Some(Rate {
            count: NonZeroU32::new(count)?,
            per,
            burst: burst.and_then(NonZeroU32::new),
        })
    }

    #[test]
    fn rates_keep_count_period_and_burst() {
        let limits = RateLimits::parse("write=7/h:burst 9 ,auth=OFF, read = 1 / m").unwrap();
        assert_eq!(limits.write, rate(7, Per::Hour, Some(9)));
        assert_eq!(limits.read, rate(1, Per::Minute, None));
        assert_eq!(limits.auth, None);
        let default = RateLimits::parse(DEFAULT_RATE_LIMITS).unwrap();
        assert_eq!(default.auth, rate(2, Per::Second, Some(20)));
        assert!(default.write.is_some() && default.read.is_some());
    }

    #[test]
    fn errors_name_the_entry() {
        let ok = RateLimits::parse("auth=4294967295/s:burst 1").unwrap();
        assert_eq!(ok.auth, rate(u32::MAX, Per::Second, Some(1)));
        for (value, entry) in [
            ("read=1/s, auth=4294967296/s", "auth=4294967296/s"),
            ("write=1/s:burst 0", "write=1/s:burst 0"),
            ("=1/s", "=1/s"),
            ("read=/m", "read=/m"),
        ] {
            assert_eq!(
                RateLimits::parse(value),
                Err(LimitConfigError::Entry(entry.to_owned())),
                "{value}"
            );
        }
    }

    #[test]
    fn proxies_are_addresses_or_ranges() {
        let parsed = parse_trusted_proxies(" fd00::/8,,192.168.0.7 ").unwrap();
        assert_eq!(
            parsed,
            [
                "fd00::/8".parse::<IpNet>().unwrap(),
                "192.168.0.7/32".parse().unwrap()
            ]
        );
        assert_eq!(
            parse_trusted_proxies("10.0.0.0/8, ::1/129"),
            Err(LimitConfigError::Proxy("::1/129".to_owned()))
        );
        assert!(parse_trusted_proxy("").is_err());
    }
}
