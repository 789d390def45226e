//! The Pupil Cloud v2 dialect (`/pupil/v2`): the envelope, tolerant parsing, the owner rule.
//! The contract suite (`tests/contract/pupil`) drives every operation end to end.

mod contract;
mod shapes;
