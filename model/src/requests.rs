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
    /// The number `m` reads of this request; none for a call's time,
    /// which no request has (calls are [`RequestSamples::calls`]).
    pub fn get(&self, m: Measure) -> Option<u64> {
        match m {
            Measure::DeviceTime => Some(self.issue_ns),
            Measure::QueueTime => Some(self.queue_ns),
            Measure::Size => Some(self.bytes as u64),
            Measure::CallTime => None,
        }
    }
}

/// One read-family system call, as the witness timed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallSample {
    /// From its entry (raw_syscalls:sys_enter) to its exit (sys_exit), on
    /// the kernel's monotonic clock.
    pub ns: u64,
    /// When it entered, on the same clock (CLOCK_MONOTONIC, which
    /// bpf_ktime_get_ns reads): where it lies inside the workload's own
    /// clock readings around the call.
    #[serde(default)]
    pub entered_ns: u64,
    /// The calling thread's id.
    #[serde(default)]
    pub tid: u32,
    /// The calling task's name at its exit.
    pub comm: String,
}

/// One read-family call on the workload's own clock (CLOCK_MONOTONIC, read
/// just before the call and just after it returned), by the thread that
/// made it: it encloses the kernel's entry-to-exit time of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClockedCall {
    pub tid: u32,
    pub start_ns: u64,
    pub end_ns: u64,
}

/// How far apart two readings of CLOCK_MONOTONIC may be taken to be: the
/// workload reads it through the vDSO, the witness through
/// bpf_ktime_get_ns, from the same clocksource.
pub const CLOCK_READ_SLACK_NS: u64 = 1_000;

/// A witnessed call paired with the workload's reading around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairedCall {
    /// The witness's entry-to-exit time.
    pub kernel_ns: u64,
    /// The workload's clock around the same call.
    pub own_ns: u64,
}

impl PairedCall {
    /// The time on the workload's clock outside the kernel's entry and
    /// exit: the syscall path, the clock reads, and any wait for a CPU
    /// before the call entered or after it returned.
    pub fn gap(&self) -> u64 {
        self.own_ns.saturating_sub(self.kernel_ns)
    }
}

/// The gaps ([`PairedCall::gap`]) of the calls [`pair_calls`] pairs, sorted:
/// what the read-latency truth and the judge's slack both read.
pub fn call_gaps(
    own: &[ClockedCall],
    witnessed: &[CallSample],
    comm: &str,
) -> Result<Vec<u64>, String> {
    let mut gaps: Vec<u64> = pair_calls(own, witnessed, comm)?
        .iter()
        .map(PairedCall::gap)
        .collect();
    gaps.sort_unstable();
    Ok(gaps)
}

/// Pairs each of the workload's clocked calls with the witness's timing of
/// it: thread by thread (a thread's calls follow one another), in order.
/// Each thread must have as many calls on both sides, and each witnessed
/// call must lie inside the workload's readings around it; otherwise the
/// error says which thread and call did not.
pub fn pair_calls(
    own: &[ClockedCall],
    witnessed: &[CallSample],
    comm: &str,
) -> Result<Vec<PairedCall>, String> {
    use std::collections::BTreeMap;
    let mut by_tid: BTreeMap<u32, (Vec<ClockedCall>, Vec<&CallSample>)> = BTreeMap::new();
    for c in own {
        by_tid.entry(c.tid).or_default().0.push(*c);
    }
    for w in witnessed.iter().filter(|w| w.comm == comm) {
        by_tid.entry(w.tid).or_default().1.push(w);
    }
    let mut out = Vec::with_capacity(own.len());
    for (tid, (mut mine, mut seen)) in by_tid {
        if mine.len() != seen.len() {
            return Err(format!(
                "thread {tid} made {} read-family calls by its own clock, and the witness timed {} of its calls",
                mine.len(),
                seen.len()
            ));
        }
        mine.sort_unstable_by_key(|c| c.start_ns);
        seen.sort_unstable_by_key(|w| w.entered_ns);
        for (i, (m, w)) in mine.iter().zip(&seen).enumerate() {
            let exited = w.entered_ns + w.ns;
            if w.entered_ns + CLOCK_READ_SLACK_NS < m.start_ns
                || exited > m.end_ns + CLOCK_READ_SLACK_NS
            {
                return Err(format!(
                    "thread {tid}'s call {} of {} ran from {} to {} ns by the witness, outside {} to {} ns on the workload's clock around it",
                    i + 1,
                    mine.len(),
                    w.entered_ns,
                    exited,
                    m.start_ns,
                    m.end_ns
                ));
            }
            out.push(PairedCall {
                kernel_ns: w.ns,
                own_ns: m.end_ns.saturating_sub(m.start_ns),
            });
        }
    }
    Ok(out)
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
                .filter_map(|s| s.get(m))
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
        assert_eq!(s.get(Measure::DeviceTime), Some(2_000_000));
        assert_eq!(s.get(Measure::QueueTime), Some(9_000_000));
        assert_eq!(s.get(Measure::Size), Some(4096));
        assert_eq!(s.get(Measure::CallTime), None);
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

    #[test]
    fn calls_pair_thread_by_thread_inside_the_workloads_readings() {
        let own = |tid, start_ns, end_ns| ClockedCall {
            tid,
            start_ns,
            end_ns,
        };
        let seen = |tid, entered_ns, ns| CallSample {
            ns,
            entered_ns,
            tid,
            comm: "tcw-1".into(),
        };
        // Two threads' calls overlap in time; each pairs with its own.
        let mine = [own(7, 100, 400), own(8, 150, 300), own(7, 500, 900)];
        let witnessed = [
            seen(8, 160, 100),
            seen(7, 510, 300),
            seen(7, 110, 250),
            CallSample {
                comm: "other".into(),
                ..seen(7, 0, 9)
            },
        ];
        let p = pair_calls(&mine, &witnessed, "tcw-1").unwrap();
        let gaps: Vec<u64> = p.iter().map(PairedCall::gap).collect();
        assert_eq!(gaps, [50, 100, 50]);
        // A call the witness saw end after the workload's reading.
        let late = [seen(8, 160, 100), seen(7, 510, 300), seen(7, 110, 2_000)];
        let e = pair_calls(&mine, &late, "tcw-1").unwrap_err();
        assert!(e.contains("thread 7's call 1 of 2"), "{e}");
        // One call unseen.
        let e = pair_calls(&mine, &witnessed[..2], "tcw-1").unwrap_err();
        assert!(e.contains("thread 7 made 2"), "{e}");
    }
}
