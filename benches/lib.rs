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

/// Two things measured in turns, and the median of the rounds' ratios with their range: how a
/// benchmark compares lift with a baseline on a machine whose speed moves by tens of percent
/// within seconds (criterion's groups, measured one after the other, can each catch a different
/// moment; here both see the machine as it is in each round).
pub struct Turns {
    /// The median of the rounds' ratios, `a`'s time over `b`'s.
    pub median: f64,
    /// The lowest round's ratio.
    pub low: f64,
    /// The highest round's ratio.
    pub high: f64,
}

/// `rounds` rounds of `time(true)` (side `a`) and `time(false)` (side `b`), who goes first
/// alternating; each round's ratio is `a`'s time over `b`'s.
pub fn in_turns(rounds: usize, mut time: impl FnMut(bool) -> f64) -> Turns {
    assert!(rounds > 0, "at least one round");
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (a, b) = if round % 2 == 0 {
                let a = time(true);
                (a, time(false))
            } else {
                let b = time(false);
                (time(true), b)
            };
            a / b
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    Turns {
        median: ratios[rounds / 2],
        low: ratios[0],
        high: ratios[rounds - 1],
    }
}
