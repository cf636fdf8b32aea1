//! Lift against a baseline measured in turns: the figure a group's summary line gives for
//! `lift/ceiling`.
//!
//! Criterion measures one benchmark after the other, each for 5-10 s; on these machines the
//! speed moves by tens of percent within seconds, so two means taken a minute apart can each
//! catch a different moment (the loopback group's lift/ceiling read 0.77, 0.87 and 1.14 in three
//! runs of the same broadcast path). Here the two take turns, one broadcast series each, who
//! goes first alternating, and the figure is the median of the rounds' ratios; the spread of the
//! rounds is printed beside it.

use std::future::Future;
use std::time::{Duration, Instant};

/// A round's side lasts at least this long (a few broadcasts, once the first says how long one
/// takes).
const SIDE: Duration = Duration::from_millis(250);

/// A side's length under a CPU quota: at 128 MB the sender runs 7.2 ms in each 100 ms period,
/// so a quarter of a second is two or three periods and a round's ratio moves by a third with
/// where the periods fall (0.68 to 1.31 in one run); 2 s is twenty periods.
pub(crate) const QUOTA_SIDE: Duration = Duration::from_secs(2);

/// The median of the rounds' ratios and their range.
pub(crate) struct Rounds {
    pub(crate) median: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
    pub(crate) rounds: usize,
    /// Broadcasts per side in each round.
    pub(crate) repeats: usize,
}

impl Rounds {
    /// `GROUP interleaved: ROUNDS rounds of REPEATS broadcasts per side, lift/BASE median R
    /// (rounds R to R)`.
    pub(crate) fn print(&self, group: &str, base: &str) {
        self.print_as(group, &format!("lift/{base}"));
    }

    /// The same line for another pair than lift and a baseline (`signed/ceiling`).
    pub(crate) fn print_as(&self, group: &str, pair: &str) {
        println!(
            "{group} interleaved: {} rounds of {} broadcasts per side, {pair} median {:.2} \
             (rounds {:.2} to {:.2})",
            self.rounds, self.repeats, self.median, self.low, self.high
        );
    }
}

/// Lift's throughput over the baseline's (the baseline's time over lift's) for the same
/// broadcasts (or any sender's over another's), in turns (`lift_benches::in_turns`, lift first
/// in the even rounds): 21 rounds, each side at least [`SIDE`] long; a check (`cargo test
/// --all-targets`) runs 3 rounds of one broadcast each.
pub(crate) fn interleaved<L, B, FL, FB>(
    runtime: &tokio::runtime::Runtime,
    lift: L,
    base: B,
) -> Rounds
where
    L: Fn() -> FL,
    B: Fn() -> FB,
    FL: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    interleaved_sides(runtime, SIDE, lift, base)
}

/// [`interleaved`], each side at least `side` long.
pub(crate) fn interleaved_sides<L, B, FL, FB>(
    runtime: &tokio::runtime::Runtime,
    side: Duration,
    lift: L,
    base: B,
) -> Rounds
where
    L: Fn() -> FL,
    B: Fn() -> FB,
    FL: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    let benchmarking = lift_benches::benchmarking();
    let rounds = if benchmarking { 21 } else { 3 };
    let time = |repeats: usize, lift_side: bool| {
        let started = Instant::now();
        for _ in 0..repeats {
            if lift_side {
                runtime.block_on(lift());
            } else {
                runtime.block_on(base());
            }
        }
        started.elapsed().as_secs_f64()
    };
    // Warm both, and size a side from the slower of them.
    let one = time(1, true).max(time(1, false));
    let repeats = if benchmarking {
        (side.as_secs_f64() / one).ceil().max(1.0) as usize
    } else {
        1
    };
    // The rounds' ratios are lift's time over the baseline's; their inverses (the throughput
    // ratio) have the inverse median, the range turned round.
    let turns = lift_benches::in_turns(rounds, |lift_side| time(repeats, lift_side));
    Rounds {
        median: 1.0 / turns.median,
        low: 1.0 / turns.high,
        high: 1.0 / turns.low,
        rounds,
        repeats,
    }
}
