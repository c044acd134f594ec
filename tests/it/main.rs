//! The integration tests, in one binary: each file below was a test binary of its own, and each
//! linked the whole crate (polars included) again.

mod common;

mod cli;
mod events;
mod hostile;
mod learn;
mod no_panic;
mod nomenclature;
mod quality;
mod review;
mod security;
mod shard;
mod snapshots;
