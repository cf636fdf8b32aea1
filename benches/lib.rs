//! Benchmarks of Lift for Rust; see `broadcast.rs` and `BENCHMARKS.md` at the workspace root.
