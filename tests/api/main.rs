//! The API tests: real HTTP against the real router, on SQLite and on PostgreSQL, in folders
//! that mirror the surfaces (`native/`, `spatialflow/`, `pupil/`) and the promises that span
//! them (`invariants/`: races, tenancy, revocation, replicas, resilience, statements), and one
//! story through the store's verbs (`store.rs`).

mod helpers;
mod receiver;
mod smtp;

mod console;
mod invariants;
mod native;
mod pupil;
mod spatialflow;
mod store;
