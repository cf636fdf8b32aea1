//! [`Pacer`]: a send rate, kept by handing out evenly spaced start times.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Spaces sends `interval` apart, however many tasks ask: each caller is given the next free
/// slot and waits for it. The rate holds on average over any stretch, with no burst beyond one
/// slot (a slot missed while nobody asked is not saved up).
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer of `per_second` sends a second (at least one).
    pub(crate) fn new(per_second: f64) -> Self {
        Pacer {
            interval: Duration::from_secs_f64(1.0 / per_second.max(1.0)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's slot, unless the next free slot is at or past `cutoff`: then
    /// `false` at once, and no slot is taken.
    pub(crate) async fn wait(&self, cutoff: Instant) -> bool {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            if slot >= cutoff {
                return false;
            }
            *next = slot + self.interval;
            slot
        };
        if slot > Instant::now() {
            tokio::time::sleep_until(slot.into()).await;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Pacer;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn slots_are_spaced_by_the_rate() {
        let pacer = Pacer::new(1000.0);
        let started = Instant::now();
        let far = started + Duration::from_secs(60);
        for _ in 0..50 {
            assert!(pacer.wait(far).await);
        }
        // 50 slots at 1 ms: the 50th starts 49 ms after the first.
        assert!(started.elapsed() >= Duration::from_millis(49));
    }

    #[tokio::test]
    async fn no_slot_is_handed_out_past_the_cutoff() {
        let pacer = Pacer::new(10.0); // a slot every 100 ms
        let cutoff = Instant::now() + Duration::from_millis(250);
        let mut granted = 0;
        while pacer.wait(cutoff).await {
            granted += 1;
        }
        assert_eq!(granted, 3); // at 0, 100 and 200 ms
    }
}
