//! What a failed claim is diagnosed from: the claim, its metric with the
//! direction resolved, the truth it failed against, the tool's reading and
//! the run's evidence, with the helpers every diagnosis step shares.

use super::evidence::{who_for, Evidence};
use super::reading::Reading;
use crate::record::ToolRecord;
use crate::spec::Claim;
use crate::units::{num, range};
use tracecheck_model::{Layer, Metric, Truth};

pub struct Context<'a> {
    pub claim: &'a Claim,
    /// The claim's metric with its direction resolved.
    pub metric: Metric,
    pub per_process: bool,
    /// The truth the claim failed against.
    pub truth: &'a Truth,
    pub reading: &'a Reading,
    pub ev: &'a Evidence<'a>,
    pub tool: &'a ToolRecord,
    /// What the parser passed over in the tool's stdout.
    pub unparsed: &'a [String],
}

impl Context<'_> {
    pub fn within(&self, v: u64, t: &Truth) -> bool {
        self.within_range(v, t.lo, t.hi)
    }

    /// Is `v` within the claim's tolerance of `lo..=hi`?
    pub fn within_range(&self, v: u64, lo: u64, hi: u64) -> bool {
        let (lo, hi) = self.claim.tolerance.widen(lo, hi);
        (lo..=hi).contains(&v)
    }

    pub fn truth_at(&self, m: Metric) -> Option<&Truth> {
        self.ev.truth.best(m, &who_for(m.layer, self.per_process))
    }

    pub fn what(&self) -> String {
        let m = self.metric;
        let dir = m
            .fixed_direction()
            .map(|d| format!("{} ", d.as_str()))
            .unwrap_or_default();
        match m.layer {
            Layer::Disk => format!("disk {dir}{}", noun(m)),
            Layer::Block => format!("block-layer {dir}{}", noun(m)),
            Layer::Syscall => format!("system-call {dir}{}", noun(m)),
            Layer::Vfs => format!("VFS {dir}{}", noun(m)),
            Layer::Pagecache => "page-cache misses".to_string(),
            Layer::Cpu => "CPU time".to_string(),
            Layer::Net => match m.quantity {
                tracecheck_model::Quantity::Accepts => "TCP connections accepted".to_string(),
                tracecheck_model::Quantity::Listens => "TCP listen() calls".to_string(),
                _ => "TCP connections opened".to_string(),
            },
            Layer::Process => match m.quantity {
                tracecheck_model::Quantity::Threads => "threads created".to_string(),
                tracecheck_model::Quantity::Exits => "process exits".to_string(),
                _ => "execs".to_string(),
            },
        }
    }

    /// "reports 352,321,536 B of disk read bytes for tcw-1a2b3c, whose disk
    /// read 16,777,216 B (diskstats)"
    pub fn opening(&self) -> String {
        let t = self.truth;
        let samples = self
            .claim
            .sample_hz
            .map(|hz| {
                format!(
                    " ({} samples at {hz} Hz)",
                    num(crate::spec::samples_of(self.reading.reported, hz))
                )
            })
            .unwrap_or_default();
        format!(
            "reports {} {}{samples} of {} for {}, where the truth is {} {} ({})",
            num(self.reading.reported),
            self.metric.unit(),
            self.what(),
            if self.per_process {
                format!("the workload ({})", self.ev.subject.comm)
            } else {
                format!("the {} workload", self.ev.workload)
            },
            range(t.lo, t.hi),
            self.metric.unit(),
            t.source.as_str()
        )
    }
}

fn noun(m: Metric) -> &'static str {
    match m.quantity {
        tracecheck_model::Quantity::Bytes => "bytes",
        tracecheck_model::Quantity::Ops => "operations",
        tracecheck_model::Quantity::StatCalls => "stat calls",
        tracecheck_model::Quantity::KillCalls => "kill() calls",
        tracecheck_model::Quantity::SleepCalls => "sleep calls",
        tracecheck_model::Quantity::SyncCalls => "sync calls",
        tracecheck_model::Quantity::SetuidCalls => "setuid calls",
        tracecheck_model::Quantity::Connects | tracecheck_model::Quantity::Accepts => "connections",
        tracecheck_model::Quantity::Listens => "listens",
        tracecheck_model::Quantity::Exits => "exits",
        tracecheck_model::Quantity::Threads => "threads",
        tracecheck_model::Quantity::Time => "time",
        tracecheck_model::Quantity::Latency if m.layer == tracecheck_model::Layer::Syscall => {
            "read-family calls"
        }
        tracecheck_model::Quantity::Latency | tracecheck_model::Quantity::Size => "requests",
    }
}
