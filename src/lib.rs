//! Roster: a self-hosted workspaces service. See `docs/ARCHITECTURE.md` for the map.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod job_threads;
pub mod mail;
pub mod outbox;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod webhooks;
