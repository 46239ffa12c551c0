//! The operator's integration tests, one binary (one link on a small machine):
//!
//! - [`builders`], [`policies`], [`nats_objects`]: the pure builders over every fixture stack;
//! - [`monitoring`]: `spec.monitoring` and `spec.telemetry` in the built children;
//! - [`pods`], [`autoscaling`]: pod settings for real clusters and HorizontalPodAutoscalers;
//! - [`cel`], [`crds`]: the CRD's own rules and its golden file;
//! - [`reconcile`]: whole reconciles against a fake API server ([`fake`]);
//! - [`day2`]: day-2 scenarios (edits, Secrets, deletion, upgrades) against that server;
//! - [`pipeline`]: the reconcile pipeline on day 2: rejected children, stuck rollouts, lost credentials,
//!   Events per message;
//! - [`shutdown`]: stopping with the API server unreachable;
//! - [`nats`], [`provisioning`]: what the operator renders, run for real (nats-server,
//!   PostgreSQL);
//! - [`e2e`]: against a real cluster, ignored by default (`make e2e`).
//!
//! Fixture stacks and deterministic Secret data are in [`common`].

mod autoscaling;
mod builders;
mod cel;
mod common;
mod crds;
mod day2;
mod e2e;
mod engines;
mod fake;
mod monitoring;
mod names;
mod nats;
mod nats_objects;
mod pipeline;
mod pods;
mod policies;
mod provisioning;
mod reconcile;
mod shutdown;
