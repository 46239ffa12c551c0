//! Text rewriting for a container run on this machine: its mount paths replaced by the
//! folders they are made into, and credentials kept out of what is printed.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::net::replace_whole;

/// `text` with every mount path (at the start of a path: after the start, a space, `=`, `:` or
/// a quote, and followed by `/` or the end of the path) replaced by its host directory, in one
/// pass, so a replacement is never rewritten again by a shorter mount path.
pub(super) fn replace_paths(text: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    'scan: while i < text.len() {
        let starts_path =
            i == 0 || matches!(bytes[i - 1], b' ' | b'=' | b':' | b'"' | b'\'' | b'\n');
        if starts_path && bytes[i] == b'/' {
            // Longest first: the caller sorted them.
            for (path, host) in mounts {
                if text[i..].starts_with(path.as_str()) {
                    let end = i + path.len();
                    let ends = end == text.len() || !is_path_char(bytes[end]) || bytes[end] == b'/';
                    if ends {
                        out.push_str(&host.to_string_lossy());
                        i = end;
                        continue 'scan;
                    }
                }
            }
        }
        let c = text[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

pub(super) fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// A `mongodb://user:password@host...` URL whose host is in `hosts`, without the user,
/// password and `authSource` (the stand-in cannot authenticate anyone) and `replicaSet` (it
/// is a single server, which a driver told to expect a replica set would never select);
/// `None` for any other value.
#[must_use]
pub fn without_credentials(value: &str, hosts: &[String]) -> Option<String> {
    let rest = value.strip_prefix("mongodb://")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (userinfo, host_and_rest) = rest[..authority_end]
        .rsplit_once('@')
        .map(|(u, h)| (u, format!("{h}{}", &rest[authority_end..])))?;
    let _ = userinfo;
    let host = host_and_rest
        .split([':', '/', '?'])
        .next()
        .unwrap_or_default();
    if !hosts.iter().any(|h| h == host) {
        return None;
    }
    let (base, query) = host_and_rest
        .split_once('?')
        .map_or((host_and_rest.as_str(), ""), |(b, q)| (b, q));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("authSource=") && !p.starts_with("replicaSet="))
        .collect();
    Some(if kept.is_empty() {
        format!("mongodb://{base}")
    } else {
        format!("mongodb://{base}?{}", kept.join("&"))
    })
}

/// `0.0.0.0` (every interface) → the pod's own address: pods share this machine's interfaces.
pub(super) fn bind_to(text: &str, ip: Ipv4Addr) -> String {
    replace_whole(text, "0.0.0.0", &ip.to_string(), |c| {
        c.is_ascii_digit() || c == '.'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_replaced_once_and_only_at_path_starts() {
        // The first replacement starts with the second mount path: it must not be rewritten.
        let mounts = vec![
            (
                "/var/lib/postgresql/data".to_owned(),
                PathBuf::from("/srv/pods/p/data"),
            ),
            ("/srv".to_owned(), PathBuf::from("/srv/pods/p/srv")),
        ];
        assert_eq!(
            replace_paths("/var/lib/postgresql/data/pgdata", &mounts),
            "/srv/pods/p/data/pgdata"
        );
        assert_eq!(replace_paths("HOME=/srv", &mounts), "HOME=/srv/pods/p/srv");
        assert_eq!(
            replace_paths("/srvfoo a/srv /srv/", &mounts),
            "/srvfoo a/srv /srv/pods/p/srv/"
        );
        assert_eq!(
            without_credentials(
                "mongodb://auth:pw@127.1.1.2:27017/auth?authSource=auth&tls=false",
                &["127.1.1.2".to_owned()]
            )
            .as_deref(),
            Some("mongodb://127.1.1.2:27017/auth?tls=false")
        );
        assert_eq!(
            without_credentials(
                "mongodb://u:p@127.1.1.2:27017/auth?replicaSet=shop-mongodb&ssl=false",
                &["127.1.1.2".to_owned()]
            )
            .as_deref(),
            Some("mongodb://127.1.1.2:27017/auth?ssl=false")
        );
        assert_eq!(
            without_credentials("mongodb://a:b@other:1/x", &["127.1.1.2".to_owned()]),
            None
        );
        assert_eq!(
            bind_to("listen: 0.0.0.0:4222", Ipv4Addr::new(127, 1, 2, 3)),
            "listen: 127.1.2.3:4222"
        );
    }
}
