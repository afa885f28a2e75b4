//! Resident memory of a process, from `/proc/<pid>/status` (Linux), sampled while a soak runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

/// How often the sampler looks.
const EVERY: Duration = Duration::from_millis(100);

/// The resident set size of `pid` in bytes (`VmRSS`), or `None` where `/proc` does not say.
pub fn read(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Samples the RSS of a process until stopped, keeping the highest value.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Option<u64>>,
}

impl Sampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut peak = read(pid);
            while !stopped.load(Ordering::Relaxed) {
                tokio::time::sleep(EVERY).await;
                peak = peak.max(read(pid));
            }
            peak
        });
        Self { stop, task }
    }

    /// Stops sampling and returns the peak seen.
    pub async fn peak(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status =
            "Name:\tmcp-oauth-sim\nVmHWM:\t   20000 kB\nVmRSS:\t   14436 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(14_436 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_set_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(read(std::process::id()).is_some_and(|bytes| bytes > 0));
        }
    }
}
