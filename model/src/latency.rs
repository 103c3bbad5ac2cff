//! Per-request latencies as the witness measured them, and the questions a
//! latency claim asks of them: how many samples fall in a histogram's
//! bucket, where the median lies.
//!
//! A latency truth is a distribution, not a number: the witness timed every
//! request on the scratch device (issue to end, and allocation to end), and
//! a tool's histogram is held against those samples bucket by bucket.

use crate::metric::Layer;
use serde::{Deserialize, Serialize};

/// One request, as the witness timed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestLatency {
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
}

impl RequestLatency {
    /// The latency a metric at `layer` means: the disk's service time, or
    /// the block layer's time with queueing.
    pub fn at(&self, layer: Layer) -> u64 {
        match layer {
            Layer::Block => self.queue_ns,
            _ => self.issue_ns,
        }
    }
}

/// Every request the witness timed on the scratch device during one check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Latencies {
    pub samples: Vec<RequestLatency>,
    /// Requests that ended beyond the witness's room for samples.
    pub lost: u64,
    /// Requests that ended without the witness having seen their issue
    /// (issued before it attached).
    pub unissued: u64,
}

impl Latencies {
    /// The samples' latencies at `layer`, sorted.
    pub fn sorted(&self, layer: Layer) -> Vec<u64> {
        let mut v: Vec<u64> = self.samples.iter().map(|s| s.at(layer)).collect();
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
        let s = RequestLatency {
            issue_ns: 2_000_000,
            queue_ns: 9_000_000,
            bytes: 4096,
            write: false,
        };
        assert_eq!(s.at(Layer::Disk), 2_000_000);
        assert_eq!(s.at(Layer::Block), 9_000_000);
        let l = Latencies {
            samples: vec![s],
            ..Latencies::default()
        };
        assert!(l.has_queue_times());
    }
}
