//! The SpatialFlow dialect (`/spatialflow/api/v1`): error shapes and traps, and its own budgets.
//! The official SDK's suite (`tests/sdk/spatialflow`) drives every operation end to end.

mod account;
mod errors;
mod limits;
mod mfa;
mod shapes;
