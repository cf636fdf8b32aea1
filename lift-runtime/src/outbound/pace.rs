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

    /// Waits for this caller's slot.
    pub(crate) async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        if slot > Instant::now() {
            tokio::time::sleep_until(slot.into()).await;
        }
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
        for _ in 0..50 {
            pacer.wait().await;
        }
        // 50 slots at 1 ms: the 50th starts 49 ms after the first.
        assert!(started.elapsed() >= Duration::from_millis(49));
    }
}
