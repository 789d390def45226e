//! The promises that hold across every surface: races, tenancy, revocation, replicas, key
//! rotation, client addresses behind proxies, resilience, and what an authenticated read costs.

mod connections;
mod custom_roles;
mod fair_writes;
mod hostile_input;
mod invitation_races;
mod key_rotation;
mod owners;
mod ownership_races;
mod proxies;
mod replicas;
mod require_mfa;
mod resilience;
mod revocation;
mod role_words;
mod statements;
mod tenancy;
mod webhook_crash;
mod webhook_delivery;
