//! Connections open at once per client address: one address cannot take every connection
//! slot (or the memory each holds) by itself.
//!
//! The address is the socket's peer, the only one known before a request is read. Peers in
//! `TRUSTED_PROXIES` are not capped: behind an ingress every client arrives from the ingress's
//! few addresses, and its clients are told apart per request (`X-Forwarded-For`) by the rate
//! limits instead.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use ipnet::IpNet;

/// Open connections per address, within a cap.
#[derive(Debug)]
pub struct AddrCap {
    cap: u32,
    exempt: Vec<IpNet>,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One admitted connection; its address's count goes down when it is dropped.
#[derive(Debug)]
pub struct AddrSlot {
    addr: Option<IpAddr>,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl AddrCap {
    /// At most `cap` connections per address, except from `exempt` peers.
    pub fn new(cap: u32, exempt: Vec<IpNet>) -> Self {
        Self {
            cap,
            exempt,
            open: Arc::default(),
        }
    }

    /// A slot for a connection from `peer`, or `None` when that address has `cap` open.
    pub fn admit(&self, peer: IpAddr) -> Option<AddrSlot> {
        let peer = peer.to_canonical();
        if self.exempt.iter().any(|net| net.contains(&peer)) {
            return Some(AddrSlot {
                addr: None,
                open: self.open.clone(),
            });
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(peer).or_default();
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(AddrSlot {
            addr: Some(peer),
            open: self.open.clone(),
        })
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let Some(addr) = self.addr else { return };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        // An address with nothing open has no entry: the map holds only connected clients.
        if let Some(count) = open.get_mut(&addr) {
            *count -= 1;
            if *count == 0 {
                open.remove(&addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_at_most_its_cap_and_its_slots_come_back() {
        let cap = AddrCap::new(2, vec!["10.0.0.0/8".parse().unwrap()]);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let a = cap.admit(one).unwrap();
        let _b = cap.admit(one).unwrap();
        assert!(cap.admit(one).is_none());
        assert!(
            cap.admit(other).is_some(),
            "another address has its own cap"
        );
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(
            cap.admit(mapped).is_none(),
            "an IPv4-mapped address is the same"
        );
        drop(a);
        assert!(cap.admit(one).is_some());
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| cap.admit(proxy).unwrap()).collect();
        assert_eq!(held.len(), 5, "trusted proxies are not capped");
        drop(held);
        drop(_b);
        assert!(cap.open.lock().unwrap().is_empty());
    }
}
