//! Where every part of the system listens: free loopback ports (tests, the benchmark) or fixed
//! ones (`make run`), each fixed one named by the variable that moves it, so a port another
//! program holds is an error that says what to set.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};

use testbed::free_port;

use crate::error::LaunchError;

/// One listening address.
#[derive(Debug, Clone, Copy)]
pub struct Address {
    /// The address.
    pub addr: SocketAddr,
    /// The variable that sets it, for a fixed address (`None`: a free port found at start).
    pub variable: Option<&'static str>,
}

impl Address {
    /// A loopback port that is free now.
    pub fn free() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            variable: None,
        }
    }

    /// A fixed address, set by `variable`.
    pub fn fixed(addr: SocketAddr, variable: &'static str) -> Self {
        Self {
            addr,
            variable: Some(variable),
        }
    }

    /// A fixed loopback port, set by `variable`.
    pub fn loopback(port: u16, variable: &'static str) -> Self {
        Self::fixed(SocketAddr::from(([127, 0, 0, 1], port)), variable)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Fails with [`LaunchError::PortInUse`] when a fixed address cannot be bound.
    fn check_free(&self) -> Result<(), LaunchError> {
        match self.variable {
            Some(variable) if TcpListener::bind(self.addr).is_err() => {
                Err(LaunchError::PortInUse {
                    port: self.port(),
                    variable,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Every address of the system.
#[derive(Debug, Clone)]
pub struct Ports {
    /// nats-server's client port.
    pub nats: Address,
    /// PostgreSQL.
    pub postgres: Address,
    /// nx-27017 (MongoDB wire protocol).
    pub mongo: Address,
    /// The gateway's HTTP API.
    pub gateway: Address,
    /// Health addresses (`/livez`, `/readyz`, `/metrics`) by component; a component not
    /// listed gets a free port.
    pub health: BTreeMap<&'static str, Address>,
}

impl Ports {
    /// Free loopback ports for everything.
    pub fn free() -> Self {
        Self {
            nats: Address::free(),
            postgres: Address::free(),
            mongo: Address::free(),
            gateway: Address::free(),
            health: BTreeMap::new(),
        }
    }

    /// Whether any address is a free port found at start (rather than a fixed one).
    pub(crate) fn has_free(&self) -> bool {
        self.all().any(|a| a.variable.is_none())
    }

    /// The same addresses with every free port found again; fixed ones stay.
    pub(crate) fn refreshed(&self) -> Self {
        let fresh = |a: &Address| {
            if a.variable.is_some() {
                *a
            } else {
                Address::free()
            }
        };
        Self {
            nats: fresh(&self.nats),
            postgres: fresh(&self.postgres),
            mongo: fresh(&self.mongo),
            gateway: fresh(&self.gateway),
            health: self.health.iter().map(|(k, a)| (*k, fresh(a))).collect(),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Address> {
        [&self.nats, &self.postgres, &self.mongo, &self.gateway]
            .into_iter()
            .chain(self.health.values())
    }

    /// The health address of `component`.
    pub(crate) fn health_of(&self, component: &str) -> Address {
        self.health
            .get(component)
            .copied()
            .unwrap_or_else(Address::free)
    }

    /// Fails, naming the variable to set, when a fixed port is taken.
    pub fn check_free(&self) -> Result<(), LaunchError> {
        self.all().try_for_each(Address::check_free)
    }
}
