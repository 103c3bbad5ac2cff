//! Every request on the scratch device as the witness saw it (its times
//! and its size), and the questions a distribution claim asks of them: how
//! many samples fall in a histogram's bucket, where the median lies.
//!
//! A latency or size truth is a distribution, not a number: the witness
//! timed and sized every request on the scratch device, and a tool's
//! histogram is held against those samples bucket by bucket.

use crate::metric::{Layer, Metric, Quantity};
use serde::{Deserialize, Serialize};

/// One request, as the witness timed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestSample {
    /// From its (last) issue to the device until it ended: the device's
    /// service time.
    pub issue_ns: u64,
    /// From the request's allocation for a bio (the kernel's
    /// `rq->start_time_ns`, where iostat's await starts) until it ended:
    /// queueing included. 0 when the kernel did not stamp it.
    pub queue_ns: u64,
    /// Its size when issued.
    pub bytes: u32,
    pub write: bool,
    /// The task that issued it (the submitter on O_DIRECT, a flusher on
    /// writeback): what bitesize keys its histograms by.
    #[serde(default)]
    pub comm: String,
}

/// Which number of a request a distribution metric reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Issue to end (`disk.latency`).
    DeviceTime,
    /// Creation to end, queueing included (`block.latency`).
    QueueTime,
    /// Bytes (`disk.request_size`).
    Size,
    /// A read-family system call's entry to its exit
    /// (`syscall.read_latency`): the calls, not the requests.
    CallTime,
}

impl Measure {
    /// The measure a metric reads, if it is a distribution.
    pub fn of(m: Metric) -> Option<Measure> {
        match (m.quantity, m.layer) {
            (Quantity::Latency, Layer::Block) => Some(Measure::QueueTime),
            (Quantity::Latency, Layer::Syscall) => Some(Measure::CallTime),
            (Quantity::Latency, _) => Some(Measure::DeviceTime),
            (Quantity::Size, _) => Some(Measure::Size),
            _ => None,
        }
    }

    pub fn is_time(self) -> bool {
        self != Measure::Size
    }
}

impl RequestSample {
    /// The number `m` reads of this request (a call's time is no
    /// request's: 0).
    pub fn get(&self, m: Measure) -> u64 {
        match m {
            Measure::DeviceTime => self.issue_ns,
            Measure::QueueTime => self.queue_ns,
            Measure::Size => self.bytes as u64,
            Measure::CallTime => 0,
        }
    }
}

/// One read-family system call, as the witness timed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallSample {
    /// From its entry (raw_syscalls:sys_enter) to its exit (sys_exit), on
    /// the kernel's monotonic clock.
    pub ns: u64,
    /// The calling task's name at its exit.
    pub comm: String,
}

/// Every request the witness timed on the scratch device during one check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestSamples {
    pub samples: Vec<RequestSample>,
    /// Requests that ended beyond the witness's room for samples.
    pub lost: u64,
    /// Requests that ended without the witness having seen their issue
    /// (issued before it attached).
    pub unissued: u64,
    /// The watched processes' read-family calls (read, pread64, readv,
    /// preadv, preadv2), every one whatever it returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallSample>,
    /// Calls that ended beyond the witness's room for samples, or whose
    /// entry it did not see (entered before it attached).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub calls_untimed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RequestSamples {
    /// Every sample's `m`, sorted; only those issued by `comm` when it
    /// is given.
    pub fn sorted(&self, m: Measure, comm: Option<&str>) -> Vec<u64> {
        let mine = |c: &str| comm.is_none_or(|want| c == want);
        let mut v: Vec<u64> = if m == Measure::CallTime {
            self.calls
                .iter()
                .filter(|s| mine(&s.comm))
                .map(|s| s.ns)
                .collect()
        } else {
            self.samples
                .iter()
                .filter(|s| mine(&s.comm))
                .map(|s| s.get(m))
                .collect()
        };
        v.sort_unstable();
        v
    }

    /// Did the kernel stamp every request's allocation time? Without it
    /// queue-to-end latency is unknown.
    pub fn has_queue_times(&self) -> bool {
        !self.samples.is_empty() && self.samples.iter().all(|s| s.queue_ns > 0)
    }
}

/// The `q`-quantile (0..=1) of sorted values, by the nearest rank.
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// How many of the sorted values lie in `[lo, hi)` (`hi` `None`: no upper
/// bound).
pub fn count_in(sorted: &[u64], lo: u64, hi: Option<u64>) -> u64 {
    let from = sorted.partition_point(|&v| v < lo);
    let to = match hi {
        Some(h) => sorted.partition_point(|&v| v < h),
        None => sorted.len(),
    };
    to.saturating_sub(from) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_bucket_counts() {
        let v = vec![1, 2, 2, 3, 10];
        assert_eq!(quantile(&v, 0.5), Some(2));
        assert_eq!(quantile(&v, 0.99), Some(10));
        assert_eq!(quantile(&v, 0.0), Some(1));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(count_in(&v, 2, Some(3)), 2);
        assert_eq!(count_in(&v, 3, None), 2);
        assert_eq!(count_in(&v, 11, None), 0);
    }

    #[test]
    fn a_sample_reads_by_layer() {
        let s = RequestSample {
            issue_ns: 2_000_000,
            queue_ns: 9_000_000,
            bytes: 4096,
            write: false,
            comm: "tcw-1".into(),
        };
        assert_eq!(s.get(Measure::DeviceTime), 2_000_000);
        assert_eq!(s.get(Measure::QueueTime), 9_000_000);
        assert_eq!(s.get(Measure::Size), 4096);
        let disk = Metric::parse("disk.latency").unwrap();
        assert_eq!(Measure::of(disk), Some(Measure::DeviceTime));
        assert_eq!(
            Measure::of(Metric::parse("disk.request_size").unwrap()),
            Some(Measure::Size)
        );
        assert_eq!(Measure::of(Metric::parse("disk.read_bytes").unwrap()), None);
        let l = RequestSamples {
            samples: vec![s],
            ..RequestSamples::default()
        };
        assert!(l.has_queue_times());
        assert_eq!(l.sorted(Measure::Size, Some("tcw-1")), [4096]);
        assert!(l.sorted(Measure::Size, Some("other")).is_empty());
    }
}
