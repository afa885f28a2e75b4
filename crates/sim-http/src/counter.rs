//! The counters both servers keep of what happened since start-up or the last reset, for a
//! tester to assert on (`GET /control/state`).

use std::sync::atomic::{AtomicU64, Ordering};

/// One count. Relaxed atomics: each count is read on its own, never as part of an invariant
/// with another, so no ordering between them is needed.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// One more.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Back to zero.
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_counts_and_resets() {
        let counter = Counter::default();
        counter.bump();
        counter.bump();
        assert_eq!(counter.get(), 2);
        counter.reset();
        assert_eq!(counter.get(), 0);
    }
}
