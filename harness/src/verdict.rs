//! Verdicts: the result of holding one claim against one workload's truth.
//! A failed claim is a normal result, not an error.

use serde::{Deserialize, Serialize};
use tracecheck_model::{Metric, Source, Truth};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The reported number is within the truth's bounds and the tolerance.
    Pass,
    /// The tool reported something else (see the diagnosis).
    Fail,
    /// The check could not judge: the tool did not run properly, or
    /// tracecheck could not establish the truth.
    Error,
    /// No truth exists for this metric on this workload.
    Skip,
    /// With `--repeat`, the verdict changed between runs of the same check.
    Flaky,
}

impl Verdict {
    /// The tool's number with its unit, or `-`, as the reports print it.
    pub fn reported_text(&self) -> String {
        self.reported
            .map(|x| format!("{} {}", crate::units::num(x), self.unit))
            .unwrap_or_else(|| "-".into())
    }

    /// The truth's range with its unit and source, or `-`.
    pub fn truth_text(&self) -> String {
        self.truth
            .as_ref()
            .map(|t| {
                format!(
                    "{} {} ({})",
                    crate::units::range(t.lo, t.hi),
                    self.unit,
                    t.source.as_str()
                )
            })
            .unwrap_or_else(|| "-".into())
    }
}

impl Finding {
    /// The finding as the JSON report and JUnit name it (`part_of_call_family`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::Skip => "SKIP",
            Status::Flaky => "FLAKY",
        }
    }
}

/// What a failed claim's number actually matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    ReportedNothing,
    /// Nothing in the claim's direction for any task, beside entries in
    /// the other direction: the tool misses reads or writes entirely.
    MissesDirection,
    /// The claim's map never appeared, and the tool printed lines the
    /// parser could not read instead.
    UnparsedOutput,
    CountsCacheHitsAsDisk,
    CountsPageCacheWritesAsDisk,
    CountsDiskNotSyscalls,
    OtherLayer,
    UnitFactor,
    DoubleCounting,
    WrongDirection,
    OtherTasks,
    /// Reads and writes added up under one direction (bcc#4871).
    BothDirections,
    /// One direction only, where the claim adds reads and writes up.
    OneDirectionOnly,
    /// Bios counted where the claim counts device requests, or the reverse.
    BiosNotRequests,
    RequestsNotBios,
    /// The length asked for, not the bytes a call returned.
    RequestedNotReturned,
    /// Only some calls of a system-call family (read but not readv...).
    PartOfCallFamily,
    /// Exec attempts (failed ones included), forks, or execve() without
    /// execveat() counted as execs.
    ExecAttempts,
    ForksNotExecs,
    MissesExecveat,
    /// Every new task, forked processes too, counted as threads.
    NewTasksNotThreads,
    /// A profiler that samples one CPU alone (a timer that fires on one
    /// CPU: bpftrace's `interval:hz`, where `profile:hz` fires on each).
    OneCpuOnly,
    /// A profiler whose samples match another rate than the claim's
    /// `sample_hz`.
    WrongSampleRate,
    /// Rates printed per interval that are not the interval's counts per
    /// second of it: times each interval's printed length they miss the
    /// truth (perf stat's `/sec` divides by the task's CPU time).
    RateNotPerInterval,
    /// A profiler short of its rate because the kernel lowered its limit
    /// on perf sampling (`kernel.perf_event_max_sample_rate`) below the
    /// claim's rate during the run: the machine's limit, not the tool's
    /// mistake (an ERROR, not a FAIL).
    SamplingThrottled,
    /// A profiler's claim on a machine that did not deliver samples at
    /// its rate: the tool missed the workload's CPU time, but within the
    /// tolerance of what tracecheck's own sampler counted beside it at the
    /// same rate, give or take that sampler's own miss (an ERROR, not a
    /// FAIL).
    SamplerOff,
    /// A profiler right in total but not CPU by CPU (its `cpu` key).
    WrongCpu,
    /// The workload's entry printed under its comm as a Python bytes
    /// literal (`b'tcw-...'`).
    BytesLiteralKey,
    /// The workload's entry under its comm garbled (perf-tools' iosnoop
    /// strips the first `-<digits>` from `tcw-3b2f2e-229`, the ftrace
    /// TASK-PID field, and prints `tcwb2f2e-229`).
    GarbledComm,
    /// Nothing under the workload's comm, its rows under ftrace's `<...>`
    /// or the name its process had before it took its comm: a tool that
    /// reads the task name from ftrace's output (perf-tools) gets the
    /// name ftrace saved at a context switch.
    StaleComm,
    /// Short by no more than the events the tool itself said it lost
    /// (`Possibly lost N samples`, `Lost N events`).
    LostEvents,
    /// Short by no more than the events ftrace's trace buffer overwrote or
    /// dropped before the tool read them, or still held unread when it was
    /// stopped (a tool that reads trace_pipe, as perf-tools' snoops do):
    /// loss the tool does not report, counted by the kernel.
    FtraceLost,
    /// Every page-cache insertion (writes too) counted as a read miss.
    AllPageInsertions,
    /// Every page read (cache hits too) counted as a miss.
    PageAccesses,
    /// Only I/O inside read() calls: page faults missed.
    MissesFaults,
    /// Writeback charged to the task that dirtied the pages.
    ChargesDirtier,
    /// Every task's exit counted as a process's, threads included.
    CountsThreadExits,
    /// IPv4 TCP connections alone, IPv6 missed.
    Ipv4Only,
    /// Established TCP connections alone, refused connect() attempts
    /// missed.
    EstablishedOnly,
    /// A device's first request missed (counted only against the one
    /// before it).
    MissesFirstRequest,
    /// tkill() and tgkill() counted as kill() calls.
    CountsThreadKills,
    /// kill() calls to the caller's process group (pid 0) missed.
    MissesGroupKills,
    /// Keyed by thread id where the claim keys by process: the other
    /// threads' I/O went under their own ids.
    KeyedByThread,
    /// A latency or size histogram in another unit than the claim's (µs
    /// under a ns label, sectors under bytes): it fits the truth once
    /// rescaled.
    WrongUnit,
    /// A latency histogram of another span: queueing counted as device
    /// time, or the reverse.
    WrongSpan,
    /// A latency or size histogram that fits no plausible unit or span.
    WrongShape,
    /// A latency or size histogram with more or fewer samples than
    /// requests.
    MissingSamples,
    Unexplained,
    ToolFailed,
    TruthUnknown,
    /// The guest kernel panicked or oopsed while the tool ran (`--vm`).
    KernelCrashed,
    /// The guest stopped making progress and was killed (`--vm`).
    GuestHung,
    /// The guest never ran the check, or stopped without an exit (`--vm`).
    GuestFailed,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Diagnosis {
    pub finding: Finding,
    /// One or two sentences in plain words, with the numbers.
    pub sentence: String,
}

/// The truth a verdict was judged against.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TruthUsed {
    pub lo: u64,
    pub hi: u64,
    pub source: Source,
    pub why: String,
}

impl From<&Truth> for TruthUsed {
    fn from(t: &Truth) -> Self {
        TruthUsed {
            lo: t.lo,
            hi: t.hi,
            source: t.source,
            why: t.why.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    pub claim: String,
    /// Metric with its direction resolved (`disk.read_bytes`).
    pub metric: Metric,
    pub unit: String,
    pub workload: String,
    pub status: Status,
    /// The tool's number for the workload, after summing duplicate keys.
    pub reported: Option<u64>,
    pub truth: Option<TruthUsed>,
    /// Accepted range: the truth's bounds widened by the tolerance.
    pub accepted: Option<(u64, u64)>,
    pub tolerance: String,
    pub diagnosis: Option<Diagnosis>,
    /// For a failed claim: what would measure the claimed quantity right
    /// (probe, field, key), and the correct script that proves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Other keys' values (other processes, other devices), largest first.
    pub others: Vec<(String, u64)>,
    /// Facts worth knowing (duplicate keys summed, escalated stop...).
    pub notes: Vec<String>,
    /// For a latency claim: the tool's histogram beside the truth's count
    /// in each of its buckets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<HistogramComparison>,
}

/// A tool's latency histogram and the truth, bucket by bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HistogramComparison {
    /// The unit the tool's bounds are in, as the claim says (`ns`, `µs`).
    pub unit: String,
    pub rows: Vec<BucketRow>,
    /// Truth samples below the tool's first bucket.
    pub truth_below: u64,
    pub truth_median_ns: Option<u64>,
    pub truth_p99_ns: Option<u64>,
}

/// One bucket `[lo, hi)` in the tool's unit: the tool's count and the
/// truth's samples in the same bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BucketRow {
    pub lo: i64,
    pub hi: Option<i64>,
    pub tool: u64,
    pub truth: u64,
}

impl Verdict {
    /// Is this the verdict that tracecheck could not establish the truth?
    pub fn truth_unknown(&self) -> bool {
        self.diagnosis
            .as_ref()
            .is_some_and(|d| d.finding == Finding::TruthUnknown)
    }
}
