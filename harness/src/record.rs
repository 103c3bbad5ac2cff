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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ToolRecord {
    pub command: Vec<String>,
    pub ready_ms: Option<u64>,
    pub failure: Option<ToolFailure>,
    pub stop: StopRecord,
    pub stdout: String,
    pub stderr_tail: Vec<String>,
}

/// Where the time of a check went, so the harness's own overhead is known.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timings {
    pub prepare_ms: u64,
    pub tool_start_ms: u64,
    pub workload_ms: u64,
    pub settle_ms: u64,
    pub tool_stop_ms: u64,
    pub total_ms: u64,
}

impl Timings {
    /// Everything except the tool's start-up and the workload itself.
    pub fn harness_ms(&self) -> u64 {
        self.total_ms
            .saturating_sub(self.tool_start_ms + self.workload_ms)
    }
}

/// Everything recorded about one tool × workload run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckRecord {
    pub tool: String,
    pub spec: PathBuf,
    pub workload: String,
    pub environment: String,
    pub device: String,
    pub comm: String,
    pub ground_truth: Option<GroundTruth>,
    pub diskstats: Option<DiskDelta>,
    pub settle: Option<Settled>,
    pub unestablished: Vec<Unestablished>,
    /// tracecheck's own reference probes over the workload and settle
    /// window, when they could be loaded.
    pub witness: Option<tracecheck_witness::WitnessReport>,
    /// Why the witness is missing, when it is.
    pub witness_error: Option<String>,
    pub tool_run: ToolRecord,
    pub verdicts: Vec<Verdict>,
    pub timings: Timings,
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
        }
    }

    pub fn worst(&self) -> Status {
        worst(self.verdicts.iter().map(|v| v.status))
    }
}

pub fn worst(it: impl Iterator<Item = Status>) -> Status {
    it.fold(Status::Pass, |a, b| match (a, b) {
        (Status::Error, _) | (_, Status::Error) => Status::Error,
        (Status::Fail, _) | (_, Status::Fail) => Status::Fail,
        (Status::Skip, x) | (x, Status::Skip) => x,
        _ => Status::Pass,
    })
}
