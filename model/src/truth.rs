//! Ground truth: what is known to have happened, at which layer, charged to
//! whom, how exactly, and why.
//!
//! A workload states what it knows exactly (it made the system calls) and
//! what its design implies below (a cold 16 MiB file read once must move
//! 16 MiB from disk, plus at most a few metadata blocks). The harness adds
//! what it measured (/proc/diskstats deltas for the scratch device) and what
//! the reference witness saw. Every number carries its source and a reason.

use crate::metric::Metric;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who the kernel charges for the quantity.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// The workload's own processes (its `comm` and `pids`).
    Workload,
    /// Kernel threads acting later on the workload's behalf: writeback
    /// flushers (`kworker/u*`), the ext4 journal (`jbd2/*`).
    Kernel,
    /// The whole scratch device, no attribution (diskstats).
    Device,
}

/// Where a truth comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The workload made these calls itself and counted them: exact.
    Workload,
    /// Implied by the workload's design, with kernel-added slack explained
    /// in `why` (readahead, metadata, journal).
    Design,
    /// /proc/diskstats delta of the scratch device (what iostat prints).
    Diskstats,
    /// tracecheck's own reference probes.
    Witness,
}

impl Source {
    /// Preference among sources for the same quantity: what was counted
    /// beats what was measured beats what was designed.
    pub fn rank(self) -> u8 {
        match self {
            Source::Workload => 0,
            Source::Diskstats => 1,
            Source::Witness => 2,
            Source::Design => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Workload => "workload",
            Source::Design => "workload design",
            Source::Diskstats => "diskstats",
            Source::Witness => "witness",
        }
    }
}

/// One known quantity: `lo..=hi`, exact when equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Truth {
    pub metric: Metric,
    pub who: Who,
    pub lo: u64,
    pub hi: u64,
    pub source: Source,
    /// Why the bounds are what they are, in plain words.
    pub why: String,
}

impl Truth {
    pub fn exact(
        metric: Metric,
        who: Who,
        value: u64,
        source: Source,
        why: impl Into<String>,
    ) -> Truth {
        Truth {
            metric,
            who,
            lo: value,
            hi: value,
            source,
            why: why.into(),
        }
    }

    pub fn bounded(
        metric: Metric,
        who: Who,
        lo: u64,
        hi: u64,
        source: Source,
        why: impl Into<String>,
    ) -> Truth {
        debug_assert!(lo <= hi, "truth bounds inverted for {metric}");
        Truth {
            metric,
            who,
            lo,
            hi,
            source,
            why: why.into(),
        }
    }

    pub fn is_exact(&self) -> bool {
        self.lo == self.hi
    }

    /// A representative value (the midpoint) for ratios in diagnoses.
    pub fn mid(&self) -> u64 {
        self.lo + (self.hi - self.lo) / 2
    }
}

/// What one workload run printed on stdout as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroundTruth {
    /// Workload kind, e.g. `cached-reread`.
    pub workload: String,
    /// The distinctive process name (comm) the workload ran under.
    pub comm: String,
    /// Every pid that did the workload's I/O (the main process first).
    pub pids: Vec<u32>,
    /// Parameters as given, for the report.
    pub params: BTreeMap<String, serde_json::Value>,
    pub truths: Vec<Truth>,
    /// Exact tallies kept beside the truths, from which the quantities a
    /// wrong script would report are computed (see [`crate::neighbour`]).
    #[serde(default)]
    pub tallies: Tallies,
    /// True when part of the disk truth is written after the workload exits
    /// (buffered writes without fsync). Informational: the harness settles
    /// writeback after every workload, whatever this says.
    pub needs_writeback: bool,
    pub elapsed_ns: u64,
}

/// What one system call of a family did, as the workload counted it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct CallTally {
    /// Calls made (every call, including one returning 0 at end of file).
    pub calls: u64,
    /// Bytes the calls returned (transferred).
    pub bytes: u64,
    /// Bytes the calls asked for (their length arguments).
    pub requested: u64,
}

/// Exact counts the workload kept beyond its truths: per system call name,
/// and of its processes. Empty for workloads that have nothing to add.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tallies {
    /// By system call name (`read`, `readv`, `pread64`, `openat2`, ...).
    #[serde(default)]
    pub syscalls: BTreeMap<String, CallTally>,
    /// fork() calls made under the workload's comm.
    #[serde(default)]
    pub forks: u64,
    /// execve()/execveat() calls made, failed ones included.
    #[serde(default)]
    pub exec_attempts: u64,
    /// Successful execs made through execveat() (the rest used execve()).
    #[serde(default)]
    pub execveat: u64,
    /// kill() calls whose pid was 0 (the caller's process group), of all
    /// the kill() calls in `syscalls`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kill_group: u64,
    /// TCP connections made (and accepted) over IPv6, of all of them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tcp_v6: u64,
    /// listen() calls on IPv6 sockets, of all of them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tcp_v6_listens: u64,
    /// connect() attempts refused (a SYN sent, a RST back), of all the
    /// active opens.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tcp_refused: u64,
    /// Pages inserted into the page cache by writes (not read misses).
    #[serde(default)]
    pub pagecache_write_inserts: u64,
    /// Bytes read from disk by page faults rather than inside read() calls.
    #[serde(default)]
    pub fault_read_bytes: u64,
    /// What the process's main thread (tid = pid) did by itself, by call
    /// name, when other threads shared the calls; empty when one thread
    /// made them all. A script keyed by thread id charges the process only
    /// this much.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub main_thread: BTreeMap<String, CallTally>,
    /// The thread ids (tid ≠ pid) of the other threads that made calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread_ids: Vec<u32>,
    /// CPU time (ns) of the workload's threads pinned to each CPU, by CPU
    /// number: what a profiler that samples one CPU alone would see.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cpu_ns: BTreeMap<u32, u64>,
    /// The workload's read-family calls on its own clock, read just before
    /// each call and just after it returned, by thread: each encloses the
    /// kernel's entry-to-exit time of its call, which the witness measures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_calls_clocked: Vec<crate::requests::ClockedCall>,
    /// Every request on the scratch device, timed by the witness: the
    /// truth a latency or request-size claim's histogram is held against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<crate::requests::RequestSamples>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Tallies {
    /// One call's tally (zero when the workload never made it).
    pub fn call(&self, name: &str) -> CallTally {
        self.syscalls.get(name).copied().unwrap_or_default()
    }

    /// The sum over `names`.
    pub fn sum(&self, names: &[&str]) -> CallTally {
        sum_of(&self.syscalls, names)
    }

    /// The main thread's sum over `names`; `None` when one thread made
    /// every call.
    pub fn main_thread_sum(&self, names: &[&str]) -> Option<CallTally> {
        (!self.main_thread.is_empty()).then(|| sum_of(&self.main_thread, names))
    }
}

fn sum_of(calls: &BTreeMap<String, CallTally>, names: &[&str]) -> CallTally {
    names.iter().fold(CallTally::default(), |a, n| {
        let t = calls.get(*n).copied().unwrap_or_default();
        CallTally {
            calls: a.calls + t.calls,
            bytes: a.bytes + t.bytes,
            requested: a.requested + t.requested,
        }
    })
}

impl GroundTruth {
    /// The best truth for `metric` charged to `who`: counted beats
    /// measured beats designed.
    pub fn best(&self, metric: Metric, who: &Who) -> Option<&Truth> {
        best_of(&self.truths, metric, who)
    }

    /// Replace the truths of the `rw_` metrics (reads and writes added
    /// up, [`crate::Directed::Both`]) with ones made anew from the best read
    /// and write truths of each `who` that has both. Call it again whenever
    /// the truths change: the harness does once diskstats and the witness
    /// are in.
    pub fn add_both_directions(&mut self) {
        self.truths = with_both_directions(std::mem::take(&mut self.truths));
    }

    /// Truths for a metric charged to `who`, in the order they were stated
    /// (no ranking: the judge picks among them by source).
    pub fn find<'a>(
        &'a self,
        metric: Metric,
        who: &'a Who,
    ) -> impl Iterator<Item = &'a Truth> + 'a {
        self.truths
            .iter()
            .filter(move |t| t.metric == metric && &t.who == who)
    }
}

/// The best of `truths` for `metric` charged to `who`: counted beats
/// measured beats designed ([`Source::rank`]).
fn best_of<'t>(truths: &'t [Truth], metric: Metric, who: &Who) -> Option<&'t Truth> {
    truths
        .iter()
        .filter(|t| t.metric == metric && &t.who == who)
        .min_by_key(|t| t.source.rank())
}

/// `truths` with the truths of the `rw_` metrics made anew: for each `who`
/// with both a read and a write truth of the quantity, their sum, from the
/// best of each (counted beats measured beats designed), as sure as the
/// less sure of the two.
pub fn with_both_directions(mut truths: Vec<Truth>) -> Vec<Truth> {
    use crate::metric::{Direction, VOCABULARY};
    truths.retain(|t| !t.metric.is_both());
    let mut add = Vec::new();
    for m in VOCABULARY
        .iter()
        .filter_map(|(n, _)| Metric::parse(n))
        .filter(Metric::is_both)
    {
        for who in [Who::Workload, Who::Kernel, Who::Device] {
            let r = best_of(&truths, m.with_direction(Direction::Read), &who).cloned();
            let w = best_of(&truths, m.with_direction(Direction::Write), &who).cloned();
            let (Some(r), Some(w)) = (r, w) else {
                continue;
            };
            let source = if r.source.rank() >= w.source.rank() {
                r.source
            } else {
                w.source
            };
            add.push(Truth::bounded(
                m,
                who,
                r.lo.saturating_add(w.lo),
                r.hi.saturating_add(w.hi),
                source,
                format!("reads plus writes: {} (reads); {} (writes)", r.why, w.why),
            ));
        }
    }
    truths.extend(add);
    truths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_add_the_best_of_each_and_are_made_anew() {
        let m = |n: &str| Metric::parse(n).unwrap();
        let mut g = GroundTruth {
            workload: "w".into(),
            comm: "c".into(),
            pids: vec![1],
            params: BTreeMap::new(),
            truths: vec![
                Truth::bounded(m("disk.read_ios"), Who::Device, 10, 12, Source::Design, "r"),
                Truth::exact(m("disk.read_ios"), Who::Device, 11, Source::Diskstats, "d"),
                Truth::exact(m("disk.write_ios"), Who::Device, 3, Source::Diskstats, "w"),
                // No write truth for the workload: no sum for it.
                Truth::exact(m("disk.read_ios"), Who::Workload, 11, Source::Design, "x"),
            ],
            tallies: Tallies::default(),
            needs_writeback: false,
            elapsed_ns: 1,
        };
        g.add_both_directions();
        let t = g.best(m("disk.rw_ios"), &Who::Device).unwrap();
        assert_eq!((t.lo, t.hi, t.source), (14, 14, Source::Diskstats));
        assert!(g.best(m("disk.rw_ios"), &Who::Workload).is_none());
        g.truths.push(Truth::exact(
            m("disk.write_ios"),
            Who::Device,
            5,
            Source::Workload,
            "c",
        ));
        g.add_both_directions();
        let all: Vec<_> = g.find(m("disk.rw_ios"), &Who::Device).collect();
        assert_eq!(all.len(), 1, "made anew, not added to: {all:?}");
        assert_eq!((all[0].lo, all[0].source), (16, Source::Diskstats));
    }
}
