//! The promises that hold across every surface: races, tenancy, revocation, replicas and
//! resilience.

mod invitation_races;
mod owners;
mod replicas;
mod resilience;
mod revocation;
mod tenancy;
