//! What a check leaves behind: the record of one tool × workload run (every
//! number, the tool's output, the verdicts, where the time went), written
//! to the JSON-lines file as soon as the check ends and read back from a
//! guest's report. Data only.

use crate::establish::Unestablished;
use crate::verdict::{Status, Verdict};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tracecheck_model::GroundTruth;
use tracecheck_workloads::diskstats::DiskDelta;
use tracecheck_workloads::scratch_disk::Settled;

/// Why the tool could not be checked; each becomes an ERROR verdict for
/// the tool (not for tracecheck).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolFailure {
    /// exec failed (missing binary, permission).
    DidNotStart { error: String },
    /// The tool exited before it printed its readiness signal.
    ExitedBeforeReady { status: String },
    /// No readiness signal within the spec's `ready_timeout`.
    NeverReady { waited_ms: u64 },
}

impl ToolFailure {
    pub fn describe(&self, tool: &str) -> String {
        match self {
            ToolFailure::DidNotStart { error } => format!("{tool} did not start: {error}"),
            ToolFailure::ExitedBeforeReady { status } => {
                format!("{tool} exited ({status}) before it was ready: it never attached")
            }
            ToolFailure::NeverReady { waited_ms } => format!(
                "{tool} never became ready: no readiness signal in {:.1} s (see `ready` in the spec)",
                *waited_ms as f64 / 1000.0
            ),
        }
    }
}

/// How the tool ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StopRecord {
    /// Signals sent, in order (`SIGINT`, `SIGINT`, `SIGTERM`, `SIGKILL`).
    pub signals: Vec<String>,
    /// Exit status in words (`exit 0`, `killed by SIGKILL`).
    pub status: String,
    pub exit_code: Option<i32>,
    /// True when the first stop signal was not enough.
    pub escalated: bool,
    /// Time from the first stop signal to exit.
    pub stop_ms: u64,
}

/// Everything recorded about one run of the tool.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolRecord {
    pub command: Vec<String>,
    pub ready_ms: Option<u64>,
    pub failure: Option<ToolFailure>,
    pub stop: StopRecord,
    pub stdout: String,
    pub stderr_tail: Vec<String>,
    /// Events the tool said it dropped (`Lost N events`, `Possibly lost N
    /// samples`, on stdout or stderr), summed over its whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_events: Option<LostEvents>,
    /// A tool built before it runs (a SystemTap module, built on the host
    /// for the guest's kernel): what the build cost. The start-up in
    /// `ready_ms` is then the module's load alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<ModuleBuild>,
    /// The BPF programs the tool's processes held when it was stopped, and
    /// how often each ran over its whole run (the kernel's run counts): a
    /// program loaded that never ran is a probe that did not fire, or did
    /// not attach. Empty for tools without BPF (ftrace, SystemTap).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bpf_programs: Vec<tracecheck_witness::programs::ProgramRun>,
    /// The kernel's limit on perf sampling (`kernel.perf_event_max_sample_rate`,
    /// per second) when the tool started and when it stopped: the kernel
    /// lowers it when perf interrupts take too long, and no profiler then
    /// samples faster, whatever it asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf_sample_limit: Option<SampleLimit>,
    /// What a tool that traces through ftrace (perf-tools) did in tracefs:
    /// the events it enabled, the probes it made and their hits, the trace
    /// buffer's fate, read just before it was stopped. None for a tool that
    /// did neither (BPF tools attach through perf events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftrace: Option<FtraceUse>,
}

/// A tool's use of ftrace, read just before it was stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FtraceUse {
    /// Trace events enabled then that were not before it started
    /// (`block:block_rq_issue`).
    pub events: Vec<String>,
    /// The kprobe and uprobe events it made, with their hits so far.
    pub probes: Vec<ProbeHits>,
    /// The trace buffer's counters, summed over CPUs, since it was last
    /// cleared (perf-tools clear it as they start).
    pub buffer: Option<FtraceBuffer>,
}

/// One kprobe or uprobe event and how often it fired (`kprobe_profile`,
/// `uprobe_profile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeHits {
    pub name: String,
    pub hits: u64,
    /// Times a kprobe could not run (kprobe_profile's last column); uprobes
    /// have none.
    pub misses: Option<u64>,
}

/// The trace buffer's counters (`per_cpu/cpuN/stats`), summed over CPUs.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct FtraceBuffer {
    /// Events a reader took from it (`read events`).
    pub read: u64,
    /// Events still in it, never read (`entries`): what the tool had not
    /// read when it was stopped.
    pub unread: u64,
    /// Events overwritten before any reader took them (`overrun`).
    pub overwritten: u64,
    /// Events that never made it in (`dropped events`).
    pub dropped: u64,
}

/// `kernel.perf_event_max_sample_rate` around a tool's run.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SampleLimit {
    pub at_start: u64,
    pub at_stop: u64,
}

/// The kernel's perf sampling limit now, if it can be read.
pub fn perf_sample_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How a tool's kernel module was built for the kernel it ran on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModuleBuild {
    /// The builder (`stap 4.8-2`).
    pub builder: String,
    pub kernel: String,
    /// Found already built: this run did not build it.
    pub cached: bool,
    /// What building it took, when it was built.
    pub build_ms: u64,
    /// What this run spent on it: the build, or finding it cached.
    pub this_run_ms: u64,
    /// It needed the kernel's debug info (`linux-image-KVER-dbg`).
    pub debuginfo: bool,
    /// It needs guru mode (`-g`): embedded C, or a guru-only operation.
    pub guru: bool,
}

/// The loss a tool reported itself.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct LostEvents {
    /// Events it said were lost.
    pub events: u64,
    /// How many notices said so.
    pub notices: u64,
}

/// Where the time of a check went, so the harness's own overhead is known.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Timings {
    pub prepare_ms: u64,
    /// From starting the tool to its being ready: the tool's own start-up.
    pub tool_start_ms: u64,
    pub workload_ms: u64,
    pub settle_ms: u64,
    /// Starting and stopping tracecheck's own probes (the witness).
    #[serde(default)]
    pub witness_ms: u64,
    /// From the stop signal to the tool's exit, its output complete: the
    /// tool's own exit (bpftrace 0.17 takes ~180 ms: detaching, then a
    /// last 100 ms poll of its buffers before it prints its maps).
    #[serde(default)]
    pub tool_exit_ms: u64,
    /// Stopping the tool in all: its exit and then the harness reading the
    /// rest of its output.
    pub tool_stop_ms: u64,
    pub total_ms: u64,
}

impl Timings {
    /// The harness's own part: everything except what the tool itself
    /// takes to start and to exit, and the workload.
    pub fn harness_ms(&self) -> u64 {
        self.total_ms
            .saturating_sub(self.tool_start_ms + self.tool_exit_ms + self.workload_ms)
    }
}

/// One run of the tool that served several checks of a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SharedToolRun {
    /// How many checks the run served.
    pub checks: usize,
    /// This check's place among them, from 0, in the order they ran.
    pub position: usize,
}

/// The layout version the report and the records carry in their `schema`
/// field (docs/schema/). Raise it when a field is renamed or removed or
/// changes its meaning (adding a field does not), and say what changed in
/// docs/schema/README.md.
pub const SCHEMA_VERSION: u32 = 1;

/// For serde's `default`: records without the field are version 1.
fn schema_v1() -> u32 {
    1
}

/// Everything recorded about one tool × workload run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckRecord {
    /// The version of the record layout (docs/schema/); records written
    /// before it was kept are version 1.
    #[serde(default = "schema_v1")]
    pub schema: u32,
    /// The tool's name, from its spec's `[tool] name`.
    pub tool: String,
    /// The spec file the claims come from.
    pub spec: PathBuf,
    /// The workload plan's name (`tracecheck workloads` lists them).
    pub workload: String,
    /// Where the check ran: `host (kernel ...)` or the guest target.
    pub environment: String,
    /// The scratch device, e.g. `loop0 (7:0)`.
    pub device: String,
    /// The fresh process name the workload ran under.
    pub comm: String,
    /// What the workload did and the truths that follow (absent when it
    /// never ran).
    pub ground_truth: Option<GroundTruth>,
    /// The scratch device's /proc/diskstats delta over the workload and
    /// the settle after it.
    pub diskstats: Option<DiskDelta>,
    /// How writeback settled after the workload.
    pub settle: Option<Settled>,
    /// Truths the workload, diskstats and the witness disagreed on: a
    /// claim on one of them is ERROR "cannot establish the truth".
    pub unestablished: Vec<Unestablished>,
    /// tracecheck's own reference probes over the workload and settle
    /// window, when they could be loaded.
    pub witness: Option<tracecheck_witness::WitnessReport>,
    /// Why the witness is missing, when it is.
    pub witness_error: Option<String>,
    /// How the tool was started, became ready and stopped, and what it printed.
    pub tool_run: ToolRecord,
    /// One verdict per claim and direction.
    pub verdicts: Vec<Verdict>,
    /// Where the check's time went.
    pub timings: Timings,
    /// With `--repeat`: which run of the check this is (0-based). The
    /// check's merged record, which reports read, has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_run: Option<usize>,
    /// Set when this check's workload ran beside one run of the tool shared
    /// with the spec's other checks. The tool's stdout and stderr are then
    /// that whole run's, and the timings' prepare, tool start and tool stop
    /// are the run's, split evenly among its checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_run_shared: Option<SharedToolRun>,
    /// Set when this is the check's second measurement, made because the
    /// truth of the first could not be established: why it could not. The
    /// first is in the record file as run 1 of 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_again_after: Option<String>,
}

impl CheckRecord {
    /// A record with nothing measured yet: identity fields only.
    pub fn unmeasured(
        tool: &str,
        spec: &Path,
        workload: &str,
        environment: String,
        device: String,
        comm: &str,
    ) -> CheckRecord {
        CheckRecord {
            schema: SCHEMA_VERSION,
            tool: tool.to_string(),
            spec: spec.to_owned(),
            workload: workload.to_string(),
            environment,
            device,
            comm: comm.to_string(),
            ground_truth: None,
            diskstats: None,
            settle: None,
            unestablished: Vec::new(),
            witness: None,
            witness_error: None,
            tool_run: ToolRecord::default(),
            verdicts: Vec::new(),
            timings: Timings::default(),
            repeat_run: None,
            tool_run_shared: None,
            measured_again_after: None,
        }
    }

    pub fn worst(&self) -> Status {
        worst(self.verdicts.iter().map(|v| v.status))
    }
}

/// The finished checks in a record file written by `--record` (JSON lines),
/// in order; each repeated run's own record is left out, since the check's
/// merged record follows it. A line that is not a check record is an error
/// naming the file and line.
pub fn read_checks(path: &Path) -> Result<Vec<CheckRecord>, crate::error::HarnessError> {
    use crate::error::HarnessError;
    let text = std::fs::read_to_string(path).map_err(|e| {
        HarnessError::Other(format!("cannot read record file {}: {e}", path.display()))
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: CheckRecord = serde_json::from_str(line).map_err(|e| {
            HarnessError::Other(format!(
                "{}:{}: not a tracecheck check record (one JSON object a line, as --record writes): {e}",
                path.display(),
                i + 1
            ))
        })?;
        if r.repeat_run.is_none() {
            out.push(r);
        }
    }
    Ok(out)
}

/// The runs of one check (`--repeat`) as one record: the last run's, with
/// every verdict whose status changed between runs marked FLAKY and the
/// runs' statuses and numbers in a note.
pub fn merge_repeats(mut runs: Vec<CheckRecord>) -> CheckRecord {
    let mut last = runs.pop().expect("at least one run");
    last.repeat_run = None;
    if runs.is_empty() {
        return last;
    }
    let n = runs.len() + 1;
    for (i, v) in last.verdicts.iter_mut().enumerate() {
        let mut seen: Vec<(Status, Option<u64>)> = runs
            .iter()
            .map(|r| {
                r.verdicts
                    .get(i)
                    .filter(|o| o.claim == v.claim && o.metric == v.metric)
                    .map(|o| (o.status, o.reported))
                    .unwrap_or((Status::Error, None))
            })
            .collect();
        seen.push((v.status, v.reported));
        if seen.iter().all(|s| s.0 == seen[0].0) {
            v.notes.push(format!("{} in all {n} runs", v.status.word()));
            continue;
        }
        let list: Vec<String> = seen
            .iter()
            .enumerate()
            .map(|(k, (s, r))| match r {
                Some(r) => format!("run {}: {} ({})", k + 1, s.word(), crate::units::num(*r)),
                None => format!("run {}: {}", k + 1, s.word()),
            })
            .collect();
        v.notes.push(format!(
            "the verdict changed between runs: {}",
            list.join(", ")
        ));
        v.status = Status::Flaky;
    }
    last
}

pub fn worst(it: impl Iterator<Item = Status>) -> Status {
    it.fold(Status::Pass, |a, b| match (a, b) {
        (Status::Error, _) | (_, Status::Error) => Status::Error,
        (Status::Flaky, _) | (_, Status::Flaky) => Status::Flaky,
        (Status::Fail, _) | (_, Status::Fail) => Status::Fail,
        (Status::Skip, x) | (x, Status::Skip) => x,
        _ => Status::Pass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;
    use tracecheck_model::Metric;

    fn run(statuses: &[(Status, u64)]) -> CheckRecord {
        let mut r =
            CheckRecord::unmeasured("t", Path::new("s"), "w", "host".into(), "loop0".into(), "c");
        r.verdicts = statuses
            .iter()
            .enumerate()
            .map(|(i, (s, n))| Verdict {
                claim: format!("claim {i}"),
                metric: Metric::parse("disk.read_bytes").unwrap(),
                unit: "B".into(),
                workload: "w".into(),
                status: *s,
                reported: Some(*n),
                truth: None,
                accepted: None,
                tolerance: "1%".into(),
                diagnosis: None,
                fix: None,
                others: vec![],
                notes: vec![],
                histogram: None,
            })
            .collect();
        r
    }

    #[test]
    fn a_verdict_that_changes_between_runs_is_flaky_with_every_number() {
        let merged = merge_repeats(vec![
            run(&[(Status::Pass, 100), (Status::Fail, 7)]),
            run(&[(Status::Fail, 150), (Status::Fail, 7)]),
            run(&[(Status::Pass, 101), (Status::Fail, 7)]),
        ]);
        assert_eq!(merged.verdicts[0].status, Status::Flaky);
        let note = merged.verdicts[0].notes.last().unwrap();
        assert!(
            note.contains("run 2: FAIL (150)") && note.contains("run 3: PASS (101)"),
            "{note}"
        );
        assert_eq!(merged.verdicts[1].status, Status::Fail);
        assert_eq!(
            merged.verdicts[1].notes.last().unwrap(),
            "FAIL in all 3 runs"
        );
        assert_eq!(merged.worst(), Status::Flaky);
    }

    #[test]
    fn one_run_is_left_as_it_is() {
        let merged = merge_repeats(vec![run(&[(Status::Pass, 1)])]);
        assert_eq!(merged.verdicts[0].status, Status::Pass);
        assert!(merged.verdicts[0].notes.is_empty());
    }
}
