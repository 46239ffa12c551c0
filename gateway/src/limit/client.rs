//! Which address a request comes from: the socket's peer, or, when that peer is a trusted
//! proxy, the address it reports in `X-Forwarded-For`.
//!
//! Each proxy appends the address it received the request from, so the list is read from the
//! right, skipping trusted proxies: the first untrusted address is the client. Entries further
//! left were written by the client itself and prove nothing. Without a trusted peer the header
//! is ignored, so a client cannot pick the address it is limited by.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The `X-Forwarded-For` header.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client address of a request from `peer` with `headers`.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |addr: &IpAddr| trusted.iter().any(|net| net.contains(addr));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Every header line, in order; each line a comma-separated list.
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.into_iter().rev() {
        let Ok(addr) = hop.parse::<IpAddr>() else {
            // A malformed entry ends what can be believed.
            break;
        };
        client = addr;
        if !is_trusted(&addr) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let headers = forwarded(&["198.51.100.7, 203.0.113.9", "10.0.0.2"]);
        // Untrusted peer: the header is the client's own claim.
        assert_eq!(
            client_addr(ip("192.0.2.1"), &headers, &trusted),
            ip("192.0.2.1")
        );
        // Trusted peer: the rightmost untrusted hop, not the leftmost (client-written) one.
        assert_eq!(
            client_addr(ip("10.0.0.1"), &headers, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        let garbled = forwarded(&["203.0.113.9, not-an-ip, 10.0.0.3"]);
        assert_eq!(
            client_addr(ip("10.0.0.1"), &garbled, &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(client_addr(ip("10.0.0.1"), &headers, &[]), ip("10.0.0.1"));
    }
}
