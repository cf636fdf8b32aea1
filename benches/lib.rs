//! Benchmarks of Lift for Rust; see `broadcast.rs` and `BENCHMARKS.md` at the workspace root.
//! What a benchmark and a binary share lives here.

pub mod lambda;
pub mod simulation;

/// Whether this runs under `cargo bench` (which passes `--bench`) rather than as a check under
/// `cargo test --all-targets` (which runs a `harness = false` bench without it): a check runs
/// small sizes, or nothing, and measures nothing.
pub fn benchmarking() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}
