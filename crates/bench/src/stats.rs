//! What a run measured: every latency (exact percentiles, no histogram rounding) and the
//! failures by kind.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::Failure;

/// One worker's measurements.
#[derive(Debug, Default)]
pub struct Recorder {
    latencies_ns: Vec<u64>,
    errors: BTreeMap<String, u64>,
    /// The first detail seen for each error kind, to say what went wrong.
    samples: BTreeMap<String, String>,
}

impl Recorder {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            latencies_ns: Vec::with_capacity(capacity),
            ..Self::default()
        }
    }

    /// Records one operation that took `elapsed` and ended as `outcome`.
    pub fn record(&mut self, elapsed: Duration, outcome: Result<(), Failure>) {
        match outcome {
            Ok(()) => self
                .latencies_ns
                .push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)),
            Err(failure) => self.fail(failure),
        }
    }

    pub fn fail(&mut self, failure: Failure) {
        *self.errors.entry(failure.key.clone()).or_default() += 1;
        self.samples.entry(failure.key).or_insert(failure.detail);
    }
}

/// The merged measurements of a run.
#[derive(Debug)]
pub struct Report {
    /// `calls`, `flows` or `ceiling`.
    pub mode: &'static str,
    pub concurrency: usize,
    /// The measured window: warm-up excluded.
    pub elapsed: Duration,
    /// Successful operations' latencies, sorted.
    latencies_ns: Vec<u64>,
    pub errors: BTreeMap<String, u64>,
    pub samples: BTreeMap<String, String>,
}

impl Report {
    pub fn merge(
        mode: &'static str,
        concurrency: usize,
        elapsed: Duration,
        recorders: Vec<Recorder>,
    ) -> Self {
        let mut latencies_ns = Vec::new();
        let mut errors = BTreeMap::new();
        let mut samples = BTreeMap::new();
        for recorder in recorders {
            latencies_ns.extend(recorder.latencies_ns);
            for (key, count) in recorder.errors {
                *errors.entry(key).or_default() += count;
            }
            for (key, sample) in recorder.samples {
                samples.entry(key).or_insert(sample);
            }
        }
        latencies_ns.sort_unstable();
        Self {
            mode,
            concurrency,
            elapsed,
            latencies_ns,
            errors,
            samples,
        }
    }

    pub fn ok(&self) -> u64 {
        self.latencies_ns.len() as u64
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful operations per second of the measured window.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The mean latency of successful operations, in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.latencies_ns.is_empty() {
            return 0.0;
        }
        let total: u128 = self.latencies_ns.iter().map(|&ns| u128::from(ns)).sum();
        total as f64 / self.latencies_ns.len() as f64 / 1e6
    }

    /// The latency below which `percent` % of successful operations completed (nearest rank).
    pub fn percentile_ms(&self, percent: f64) -> f64 {
        let sorted = &self.latencies_ns;
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e6
    }

    fn errors_by_kind(&self) -> String {
        if self.errors.is_empty() {
            return "none".to_owned();
        }
        let mut out = String::new();
        for (key, count) in &self.errors {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "{key}:{count}");
        }
        out
    }

    /// `key=value` pairs on one line, for scripts.
    pub fn to_kv(&self) -> String {
        format!(
            "mode={} concurrency={} seconds={:.3} ok={} errors={} rate={:.1} mean_ms={:.3} \
             p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3} errors_by_kind={}",
            self.mode,
            self.concurrency,
            self.elapsed.as_secs_f64(),
            self.ok(),
            self.error_count(),
            self.rate(),
            self.mean_ms(),
            self.percentile_ms(50.0),
            self.percentile_ms(90.0),
            self.percentile_ms(99.0),
            self.percentile_ms(100.0),
            self.errors_by_kind(),
        )
    }

    /// A few lines for a person.
    pub fn to_text(&self) -> String {
        let unit = if self.mode == "flows" {
            "flows"
        } else {
            "requests"
        };
        let mut out = format!(
            "{mode} at c={c} for {secs:.2} s: {ok} {unit} ok, {rate:.0} {unit}/s\n\
             latency ms: mean {mean:.3}  p50 {p50:.3}  p90 {p90:.3}  p99 {p99:.3}  max {max:.3}\n\
             errors: {errors}\n",
            mode = self.mode,
            c = self.concurrency,
            secs = self.elapsed.as_secs_f64(),
            ok = self.ok(),
            rate = self.rate(),
            mean = self.mean_ms(),
            p50 = self.percentile_ms(50.0),
            p90 = self.percentile_ms(90.0),
            p99 = self.percentile_ms(99.0),
            max = self.percentile_ms(100.0),
            errors = self.errors_by_kind(),
        );
        for (key, sample) in &self.samples {
            let _ = writeln!(out, "  {key}: {sample}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(latencies_ms: &[u64], failures: &[&str]) -> Report {
        let mut recorder = Recorder::default();
        for &ms in latencies_ms {
            recorder.record(Duration::from_millis(ms), Ok(()));
        }
        for &key in failures {
            recorder.record(Duration::ZERO, Err(Failure::new(key, "detail")));
        }
        Report::merge(
            "calls",
            2,
            Duration::from_secs(2),
            vec![recorder, Recorder::default()],
        )
    }

    #[test]
    fn percentiles_are_nearest_rank_over_successes() {
        let report = report(&(1..=100).rev().collect::<Vec<_>>(), &["401", "401", "io"]);
        assert_eq!(report.ok(), 100);
        assert_eq!(report.percentile_ms(50.0), 50.0);
        assert_eq!(report.percentile_ms(99.0), 99.0);
        assert_eq!(report.percentile_ms(100.0), 100.0);
        assert_eq!(report.mean_ms(), 50.5);
        assert_eq!(report.rate(), 50.0);
        assert_eq!(report.error_count(), 3);
    }

    #[test]
    fn kv_line_names_errors_by_kind() {
        let line = report(&[1, 2], &["401", "io", "401"]).to_kv();
        assert!(line.contains("ok=2 errors=3 rate=1.0"), "{line}");
        assert!(line.ends_with("errors_by_kind=401:2,io:1"), "{line}");
        let empty = report(&[], &[]);
        assert_eq!(empty.percentile_ms(50.0), 0.0);
        assert!(empty.to_kv().ends_with("errors_by_kind=none"));
        assert!(empty.to_text().contains("errors: none"));
    }
}
