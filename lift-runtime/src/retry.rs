//! The one retry policy of the runtime: exponential backoff with full jitter, never past a
//! cutoff. Management API sends (429, 5xx, network errors) and DynamoDB batch leftovers
//! (`UnprocessedItems`, `UnprocessedKeys`) both pause with it.
//!
//! A small policy of our own rather than a crate such as `backon`: the callers need "no pause
//! that would end past the invocation's cutoff" and "give up after N attempts" around their
//! own loops (a batch retries what is left, not the same request), which is ten lines here.

use std::time::{Duration, Instant};

/// How often and how long to wait between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The pause before the first retry (an upper bound: the pause is jittered below it).
    pub base: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Backoff {
    /// The pause before the next attempt after `attempts` attempts failed: up to base ×
    /// 2^(attempts − 1), capped at `max`, with full jitter. `None` when no attempt is left or
    /// the pause would end at or past `cutoff`.
    pub(crate) fn pause(&self, attempts: u32, cutoff: Option<Instant>) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exp = attempts.saturating_sub(1).min(16);
        let pause = self
            .base
            .saturating_mul(1 << exp)
            .min(self.max)
            .mul_f64(fastrand::f64());
        match cutoff {
            Some(cutoff) if Instant::now() + pause >= cutoff => None,
            _ => Some(pause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        max_attempts: 4,
        base: Duration::from_millis(10),
        max: Duration::from_millis(25),
    };

    #[test]
    fn pauses_grow_within_the_cap_and_stop_after_the_attempts() {
        for _ in 0..100 {
            assert!(POLICY.pause(1, None).unwrap() <= Duration::from_millis(10));
            assert!(POLICY.pause(2, None).unwrap() <= Duration::from_millis(20));
            assert!(POLICY.pause(3, None).unwrap() <= Duration::from_millis(25));
        }
        assert_eq!(POLICY.pause(4, None), None);
    }

    #[test]
    fn no_pause_past_the_cutoff() {
        assert_eq!(POLICY.pause(1, Some(Instant::now())), None);
        let later = Instant::now() + Duration::from_secs(5);
        assert!(POLICY.pause(1, Some(later)).is_some());
    }
}
