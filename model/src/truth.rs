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
        self.truths
            .iter()
            .filter(|t| t.metric == metric && &t.who == who)
            .min_by_key(|t| t.source.rank())
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
