//! Benchmarks of Lift for Rust; see `broadcast.rs` and `BENCHMARKS.md` at the workspace root.
//! What a benchmark and a binary share lives here.

pub mod lambda;
pub mod simulation;
