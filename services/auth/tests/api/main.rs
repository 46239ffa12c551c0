//! Auth service tests through NATS against real nats-server and nx-27017 servers.

mod accounts;
mod binary;
mod bootstrap;
mod events;
mod flood;
mod flows;
mod health;
mod helpers;
mod login;
mod logs;
mod tokens;
mod validation;
