//! The API tests: real HTTP against the real router, on SQLite and on PostgreSQL.

mod helpers;

mod accounts;
mod api_keys;
mod bad_input;
mod operations;
mod replicas;
mod sessions;
mod tokens;
mod members;
mod workspaces;
mod owners;
mod revocation;
mod tenancy;
