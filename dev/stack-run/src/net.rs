//! Addresses and names: the harness's stand-in for cluster DNS.
//!
//! Each stack gets a random `/24` inside `127.0.0.0/8` (all of it reaches the loopback interface
//! on Linux with no set-up), Services take addresses from the bottom half and pods from the top
//! half, so every pod can bind the same ports as in a cluster without colliding with another
//! pod or another stack. A [`Names`] table maps the in-cluster DNS names to those addresses, and
//! [`Names::rewrite`] applies it to the strings a container reads (env values, args, mounted
//! config files), like a resolver that answers before the process asks.

use std::net::Ipv4Addr;

use rand::Rng as _;

/// The addresses of one stack.
#[derive(Debug)]
pub struct Subnet {
    prefix: [u8; 3],
    next_service: u8,
    next_pod: u8,
}

impl Subnet {
    /// A random `/24` in `127.64.0.0`–`127.250.255.255` that nothing on this machine listens in
    /// (checked by binding its first address).
    #[must_use]
    pub fn random() -> Self {
        let mut rng = rand::thread_rng();
        loop {
            let prefix = [127, rng.gen_range(64..=250), rng.r#gen()];
            let probe = Ipv4Addr::new(prefix[0], prefix[1], prefix[2], 1);
            if std::net::TcpListener::bind((probe, 0)).is_ok() {
                return Self {
                    prefix,
                    next_service: 1,
                    next_pod: 128,
                };
            }
        }
    }

    /// The next Service address.
    ///
    /// # Panics
    /// After 127 Services.
    pub fn service(&mut self) -> Ipv4Addr {
        assert!(
            self.next_service < 128,
            "more than 127 Services in one stack"
        );
        self.next_service += 1;
        self.addr(self.next_service - 1)
    }

    /// The next pod address.
    ///
    /// # Panics
    /// After 127 pods.
    pub fn pod(&mut self) -> Ipv4Addr {
        assert!(self.next_pod < 255, "more than 127 pods in one stack");
        self.next_pod += 1;
        self.addr(self.next_pod - 1)
    }

    fn addr(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.prefix[0], self.prefix[1], self.prefix[2], last)
    }
}

/// In-cluster DNS names and the addresses they resolve to.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Longest first, so `a.b.svc.cluster.local` wins over `a.b.svc`.
    entries: Vec<(String, Ipv4Addr)>,
}

impl Names {
    /// Adds `name` and the forms a pod in `namespace` may use for it: `name.svc` must be given
    /// fully qualified up to `.svc`; `.cluster.local` is added.
    pub fn add(&mut self, fqdn_to_svc: &str, addr: Ipv4Addr) {
        self.entries
            .push((format!("{fqdn_to_svc}.cluster.local"), addr));
        self.entries.push((fqdn_to_svc.to_owned(), addr));
        self.entries.sort_by_key(|e| std::cmp::Reverse(e.0.len()));
    }

    /// The address of a name, if known.
    #[must_use]
    pub fn resolve(&self, name: &str) -> Option<Ipv4Addr> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, addr)| *addr)
    }

    /// `text` with every known name replaced by its address. A name matches only as a whole
    /// host name: not preceded or followed by a character that would continue it.
    #[must_use]
    pub fn rewrite(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, addr) in &self.entries {
            out = replace_whole(&out, name, &addr.to_string(), is_host_char);
        }
        out
    }
}

/// Whether `c` can be part of a host name.
fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.'
}

/// `text` with each occurrence of `from` that `boundary` does not continue on either side
/// replaced by `to`.
#[must_use]
pub fn replace_whole(text: &str, from: &str, to: &str, continues: fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        // A trailing dot ends a sentence or a fully qualified name, not the host name.
        let after_continues = after.is_some_and(|c| c != '.' && continues(c))
            || (after == Some('.')
                && rest[at + from.len() + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric()));
        out.push_str(&rest[..at]);
        if before.is_some_and(continues) || after_continues {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_replaced_only_as_whole_host_names() {
        let mut names = Names::default();
        names.add("demo-nats.shop.svc", Ipv4Addr::new(127, 9, 9, 1));
        names.add(
            "demo-nats-0.demo-nats-headless.shop.svc",
            Ipv4Addr::new(127, 9, 9, 129),
        );
        assert_eq!(
            names.rewrite("nats://demo-nats.shop.svc:4222"),
            "nats://127.9.9.1:4222"
        );
        assert_eq!(
            names.rewrite("nats://demo-nats-0.demo-nats-headless.shop.svc.cluster.local:6222"),
            "nats://127.9.9.129:6222"
        );
        assert_eq!(
            names.rewrite("x-demo-nats.shop.svc y.demo-nats.shop.svc demo-nats.shop.svcs"),
            "x-demo-nats.shop.svc y.demo-nats.shop.svc demo-nats.shop.svcs"
        );
        assert_eq!(names.rewrite("at demo-nats.shop.svc."), "at 127.9.9.1.");
    }

    #[test]
    fn subnets_hand_out_distinct_addresses() {
        let mut subnet = Subnet::random();
        let a = subnet.service();
        let b = subnet.service();
        let p = subnet.pod();
        assert!(a != b && b != p && a.is_loopback() && p.is_loopback());
    }
}
