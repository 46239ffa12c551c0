//! The variables `make run` documents, each with its default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use contract::deploy::{self, env::dev};
use launcher::{Address, Ports};

/// Starts nats-server, PostgreSQL, nx-27017, auth, customers, products and the gateway on this
/// machine (`make run`); Ctrl-C stops them all. Every port is fixed, so a port in use is an
/// error naming the variable that moves it.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Where the data stays between runs (PostgreSQL, nx-27017, the admin login, logs).
    #[arg(long, default_value = ".run")]
    pub data_dir: PathBuf,
    /// The gateway's HTTP address.
    #[arg(long, env = dev::GATEWAY_ADDR, default_value = "127.0.0.1:8080")]
    pub gateway_addr: SocketAddr,
    /// nats-server's port (loopback).
    #[arg(long, env = dev::NATS_PORT, default_value_t = deploy::NATS_PORT)]
    pub nats_port: u16,
    /// PostgreSQL's port (loopback; not 5432, to leave a system PostgreSQL alone).
    #[arg(long, env = dev::PG_PORT, default_value_t = 5433)]
    pub pg_port: u16,
    /// nx-27017's port (loopback).
    #[arg(long, env = dev::MONGO_PORT, default_value_t = deploy::MONGODB_PORT)]
    pub mongo_port: u16,
    /// The gateway's health address (`/livez`, `/readyz`, `/metrics`).
    #[arg(long, env = dev::HEALTH_GATEWAY, default_value = "127.0.0.1:9190")]
    pub health_gateway: SocketAddr,
    /// auth's health address.
    #[arg(long, env = dev::HEALTH_AUTH, default_value = "127.0.0.1:9191")]
    pub health_auth: SocketAddr,
    /// customers' health address.
    #[arg(long, env = dev::HEALTH_CUSTOMERS, default_value = "127.0.0.1:9192")]
    pub health_customers: SocketAddr,
    /// products' health address.
    #[arg(long, env = dev::HEALTH_PRODUCTS, default_value = "127.0.0.1:9193")]
    pub health_products: SocketAddr,
    /// The administrator's email (with `ADMIN_PASSWORD`; otherwise generated once into
    /// `.run/admin.env`).
    #[arg(long, env = deploy::env::ADMIN_EMAIL)]
    pub admin_email: Option<String>,
    /// The administrator's password.
    #[arg(long, env = deploy::env::ADMIN_PASSWORD, hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Log filter of the services and the gateway.
    #[arg(long, env = deploy::env::RUST_LOG, default_value = "info")]
    pub rust_log: String,
    /// The gateway's rate limits (`off` turns them off).
    #[arg(long, env = deploy::env::RATE_LIMITS, default_value = deploy::DEFAULT_RATE_LIMITS)]
    pub rate_limits: String,
    /// Log format of the services and the gateway (`pretty` or `json`).
    #[arg(long, env = deploy::env::LOG_FORMAT, default_value = "pretty")]
    pub log_format: String,
}

impl Cli {
    /// Every address, named by its variable.
    pub fn ports(&self) -> Ports {
        Ports {
            nats: Address::loopback(self.nats_port, dev::NATS_PORT),
            postgres: Address::loopback(self.pg_port, dev::PG_PORT),
            mongo: Address::loopback(self.mongo_port, dev::MONGO_PORT),
            gateway: Address::fixed(self.gateway_addr, dev::GATEWAY_ADDR),
            health: BTreeMap::from([
                (
                    deploy::GATEWAY,
                    Address::fixed(self.health_gateway, dev::HEALTH_GATEWAY),
                ),
                (
                    deploy::AUTH,
                    Address::fixed(self.health_auth, dev::HEALTH_AUTH),
                ),
                (
                    deploy::CUSTOMERS,
                    Address::fixed(self.health_customers, dev::HEALTH_CUSTOMERS),
                ),
                (
                    deploy::PRODUCTS,
                    Address::fixed(self.health_products, dev::HEALTH_PRODUCTS),
                ),
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["natstack-run"]).unwrap();
        let ports = cli.ports();
        assert_eq!(ports.nats.port(), 4222);
        assert_eq!(ports.postgres.port(), 5433);
        assert_eq!(ports.mongo.port(), 27017);
        assert_eq!(ports.gateway.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(
            ports.health[deploy::AUTH].addr.to_string(),
            "127.0.0.1:9191"
        );
    }
}
