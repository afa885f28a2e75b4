//! The rig's clock.
//!
//! Every expiry decision reads this clock instead of the system's, so that a tester (or a test) can
//! move time forward and watch tokens expire without waiting. Clones share one offset.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time plus an adjustable offset, in milliseconds since the Unix epoch.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// A clock that reads the system time until moved.
    pub fn new() -> Self {
        Self::default()
    }

    /// Milliseconds since the Unix epoch, as the rig sees it.
    pub fn now_millis(&self) -> u64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let system = i64::try_from(system.as_millis()).unwrap_or(i64::MAX);
        system
            .saturating_add(self.offset_ms.load(Ordering::Relaxed))
            .max(0) as u64
    }

    /// Whole seconds since the Unix epoch, as the rig sees it (for `iat` and `exp`).
    pub fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(by, Ordering::Relaxed);
    }

    /// Sets how far the clock is ahead of system time, in one step, so that no reader sees a
    /// half-made move.
    pub fn set_offset_millis(&self, offset: i64) {
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// Puts the clock back on system time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }

    /// How far the clock is ahead of system time, in milliseconds.
    pub fn offset_millis(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_every_clone_and_reset_returns() {
        let clock = Clock::new();
        let other = clock.clone();
        let before = other.now_millis();
        clock.advance(Duration::from_secs(3600));
        assert!(other.now_millis() >= before + 3_600_000);
        assert_eq!(other.offset_millis(), 3_600_000);
        clock.reset();
        assert!(other.now_millis() < before + 3_600_000);
        assert_eq!(clock.offset_millis(), 0);
    }
}
