//! The API tests: real HTTP against the real router, on SQLite and on PostgreSQL.

mod helpers;
mod smtp;

mod account_deletion;
mod accounts;
mod api_key_changes;
mod api_keys;
mod audit;
mod bad_input;
mod invitation_races;
mod invitations;
mod members;
mod operations;
mod owners;
mod pupil;
mod replicas;
mod resilience;
mod revocation;
mod sessions;
mod spatialflow;
mod spatialflow_limits;
mod tenancy;
mod tokens;
mod usage;
mod workspaces;
