//! The service host ([`runtime::host::Host`]) over real nats-server and PostgreSQL: restarts,
//! database and NATS outages, several instances, a service that starts before its database.
//! Every database-backed service gets this from the host, so it is tested here once, against
//! `notes`, a service of one table.

mod notes;
mod resilience;
