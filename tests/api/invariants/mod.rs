//! The promises that hold across every surface: races, tenancy, revocation, replicas and
//! resilience, and what an authenticated read costs the database.

mod connections;
mod hostile_input;
mod invitation_races;
mod owners;
mod replicas;
mod resilience;
mod revocation;
mod role_words;
mod statements;
mod tenancy;
