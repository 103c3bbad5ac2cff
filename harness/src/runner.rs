//! One check, start to end: prepare the workload's files, start the tool,
//! wait until it is ready, snapshot diskstats, run the workload as its own
//! process, let writeback settle, stop the tool, parse, establish the truth,
//! judge every claim. Emits events; never prints.

use crate::compare::{judge, Evidence, Subject, Unestablished};
use crate::env::diskstats::DiskDelta;
use crate::env::scratch::{ScratchDisk, Settled};
use crate::error::HarnessError;
use crate::establish::establish;
use crate::select::Plan;
use crate::spec::{Claim, ToolSpec};
use crate::tool::{RunningTool, ToolRecord};
use crate::verdict::{Status, Verdict};
use serde::{Deserialize, Serialize};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tracecheck_model::GroundTruth;

/// Limits for one check.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long writeback and completions may take to settle.
    pub settle: Duration,
    /// How long one workload phase may run.
    pub workload: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            settle: Duration::from_secs(60),
            workload: Duration::from_secs(120),
        }
    }
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

/// Progress, for the reporter.
pub enum Event<'a> {
    CheckStart {
        index: usize,
        total: usize,
        tool: &'a str,
        workload: &'a str,
    },
    Phase(&'a str),
    CheckDone(&'a CheckRecord),
}

/// A distinctive process name for one run: `tcw-` and 6 hex digits.
pub fn fresh_comm() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let x = (t.as_nanos() as u64 ^ (std::process::id() as u64).rotate_left(24))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("tcw-{:06x}", x >> 40)
}

/// The workload groups a spec needs: each plan once, with the claims that
/// run on it.
pub fn plan_checks(spec: &ToolSpec) -> Vec<(&'static Plan, Vec<&Claim>)> {
    let mut out: Vec<(&'static Plan, Vec<&Claim>)> = Vec::new();
    for c in &spec.claims {
        let plans = if c.workloads.is_empty() {
            crate::select::for_metric(c.metric)
        } else {
            c.workloads.clone()
        };
        for p in plans {
            match out.iter_mut().find(|(q, _)| q.name == p.name) {
                Some((_, cs)) => cs.push(c),
                None => out.push((p, vec![c])),
            }
        }
    }
    out
}

/// How to start the workload generator: this same binary's hidden
/// `workload` subcommand, so one binary serves host and guest alike.
fn workload_command(
    phase: &str,
    plan: &Plan,
    dir: &Path,
    extra: &[String],
) -> Result<Command, HarnessError> {
    let mut cmd = Command::new(tracecheck_exe()?);
    cmd.arg("workload")
        .arg(phase)
        .arg(plan.kind)
        .args(plan.args)
        .arg("--dir")
        .arg(dir)
        .args(extra);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            Ok(())
        });
    }
    Ok(cmd)
}

/// The `tracecheck` binary that serves as the workload generator: this
/// process when it is `tracecheck`, otherwise (a bench or test harness
/// linking the library) the `tracecheck` binary beside it or one directory
/// up (cargo's `deps/`), or `$TRACECHECK_BIN`. Never the calling program
/// itself, which would start another copy of whatever it is.
pub fn tracecheck_exe() -> Result<PathBuf, HarnessError> {
    if let Some(p) = std::env::var_os("TRACECHECK_BIN") {
        return Ok(p.into());
    }
    let me = std::env::current_exe().map_err(HarnessError::io("locate the running binary"))?;
    if me.file_name().is_some_and(|n| n == "tracecheck") {
        return Ok(me);
    }
    let dir = me.parent().unwrap_or(Path::new("."));
    [dir.join("tracecheck"), dir.join("../tracecheck")]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            HarnessError::Other(format!(
                "cannot find the tracecheck binary next to {} (build it, or set TRACECHECK_BIN)",
                me.display()
            ))
        })
}

/// Run a workload phase to completion (bounded), returning its stdout.
fn run_workload(
    mut cmd: Command,
    what: &str,
    limit: Duration,
    interrupted: &AtomicBool,
) -> Result<String, HarnessError> {
    let err = |msg: String| HarnessError::Workload {
        kind: what.to_string(),
        msg,
    };
    let mut child = cmd.spawn().map_err(|e| err(format!("cannot start: {e}")))?;
    let mut out = child.stdout.take().expect("piped");
    let mut errp = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut errp, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| err(e.to_string()))? {
            break s;
        }
        if interrupted.load(Ordering::Relaxed) || start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            if interrupted.load(Ordering::Relaxed) {
                return Err(HarnessError::Interrupted);
            }
            return Err(err(format!(
                "did not finish within {} s; killed",
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    if !status.success() {
        return Err(err(format!(
            "{}: {}",
            crate::tool::describe_status(status),
            stderr.trim()
        )));
    }
    Ok(stdout)
}

/// Run every check of `spec` on the host scratch disk.
pub fn check_spec(
    spec: &ToolSpec,
    disk: &ScratchDisk,
    limits: &Limits,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<CheckRecord>, HarnessError> {
    check_spec_only(spec, None, disk, limits, interrupted, on_event)
}

/// [`plan_checks`], kept to the one workload named by `only` (`--workload`).
pub fn select_checks<'s>(
    spec: &'s ToolSpec,
    only: Option<&str>,
) -> Result<Vec<(&'static Plan, Vec<&'s Claim>)>, HarnessError> {
    let checks = plan_checks(spec);
    let Some(name) = only else {
        return Ok(checks);
    };
    let names: Vec<&str> = checks.iter().map(|(p, _)| p.name).collect();
    let kept: Vec<_> = checks.into_iter().filter(|(p, _)| p.name == name).collect();
    if kept.is_empty() {
        return Err(HarnessError::Other(format!(
            "{} has no check on workload `{name}`; its workloads are: {}",
            spec.path.display(),
            names.join(", ")
        )));
    }
    Ok(kept)
}

/// [`check_spec`], optionally only on one workload.
pub fn check_spec_only(
    spec: &ToolSpec,
    only: Option<&str>,
    disk: &ScratchDisk,
    limits: &Limits,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<CheckRecord>, HarnessError> {
    for_each_check(
        spec,
        only,
        interrupted,
        on_event,
        |plan, claims, on_event| check_one(spec, plan, claims, disk, limits, interrupted, on_event),
    )
}

/// The loop every environment shares: select the spec's checks, announce
/// each, run it with `one` (on the host, or in a fresh guest), report it
/// done. Stops at Ctrl-C between checks; finished checks have already been
/// reported through `on_event`.
pub fn for_each_check<'s>(
    spec: &'s ToolSpec,
    only: Option<&str>,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
    mut one: impl FnMut(
        &'static Plan,
        &[&'s Claim],
        &mut dyn FnMut(Event<'_>),
    ) -> Result<CheckRecord, HarnessError>,
) -> Result<Vec<CheckRecord>, HarnessError> {
    let checks = select_checks(spec, only)?;
    let total = checks.len();
    let mut records = Vec::new();
    for (index, (plan, claims)) in checks.into_iter().enumerate() {
        if interrupted.load(Ordering::Relaxed) {
            return Err(HarnessError::Interrupted);
        }
        on_event(Event::CheckStart {
            index,
            total,
            tool: &spec.name,
            workload: plan.name,
        });
        let rec = one(plan, &claims, on_event)?;
        on_event(Event::CheckDone(&rec));
        records.push(rec);
    }
    Ok(records)
}

fn check_one(
    spec: &ToolSpec,
    plan: &Plan,
    claims: &[&Claim],
    disk: &ScratchDisk,
    limits: &Limits,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<CheckRecord, HarnessError> {
    let t0 = Instant::now();
    let mut timings = Timings::default();
    let comm = fresh_comm();
    let dir = disk.fresh_dir(&comm)?;
    let dev = disk.dev_string();
    let dev_args = vec!["--expect-dev".to_string(), dev.clone()];

    on_event(Event::Phase("preparing files"));
    run_workload(
        workload_command("prepare", plan, &dir, &dev_args)?,
        plan.name,
        limits.workload,
        interrupted,
    )?;
    // The preparation's own writes must be on disk before anyone measures.
    disk.settle(limits.settle)?;
    timings.prepare_ms = t0.elapsed().as_millis() as u64;

    on_event(Event::Phase("starting the tool"));
    let t_tool = Instant::now();
    let mut record = CheckRecord::unmeasured(
        &spec.name,
        &spec.path,
        plan.name,
        host_environment(),
        format!("{} ({dev})", disk.name),
        &comm,
    );
    let mut tool = match RunningTool::start(spec) {
        Ok(t) => t,
        Err(rec) => return Ok(finish_failed(record, *rec, claims, plan, t0, timings)),
    };
    if let Err(f) = tool.wait_ready(spec, interrupted) {
        if interrupted.load(Ordering::Relaxed) {
            return Err(HarnessError::Interrupted);
        }
        let rec = tool.abandon(f);
        return Ok(finish_failed(record, rec, claims, plan, t0, timings));
    }
    timings.tool_start_ms = t_tool.elapsed().as_millis() as u64;

    // The third witness: tracecheck's own probes, over exactly the window
    // diskstats covers. A witness that cannot load is noted, not fatal.
    let witness = tracecheck_witness::Witness::start(tracecheck_witness::WitnessConfig {
        dev_major: disk.major,
        dev_minor: disk.minor,
        comm_prefix: Some(comm.clone()),
        pids: vec![],
    })
    .map_err(|e| e.to_string());
    on_event(Event::Phase("running the workload"));
    let before = disk.counters()?;
    let t_w = Instant::now();
    let mut args = dev_args.clone();
    args.extend(["--comm".to_string(), comm.clone()]);
    let out = run_workload(
        workload_command("run", plan, &dir, &args)?,
        plan.name,
        limits.workload,
        interrupted,
    )?;
    timings.workload_ms = t_w.elapsed().as_millis() as u64;
    let mut gt: GroundTruth = serde_json::from_str(&out).map_err(|e| HarnessError::Workload {
        kind: plan.name.to_string(),
        msg: format!("printed ground truth tracecheck cannot read: {e}"),
    })?;

    on_event(Event::Phase("waiting for writeback to settle"));
    let t_s = Instant::now();
    let settled = disk.settle(limits.settle)?;
    timings.settle_ms = t_s.elapsed().as_millis() as u64;
    let delta = disk.counters()?.since(&before);
    let witnessed = witness.and_then(|w| w.stop().map_err(|e| e.to_string()));

    on_event(Event::Phase("stopping the tool"));
    let t_stop = Instant::now();
    let tool_rec = tool.stop(spec.stop, spec.stop_timeout);
    timings.tool_stop_ms = t_stop.elapsed().as_millis() as u64;

    let mut unest = establish(&mut gt, &delta, &disk.name);
    match &witnessed {
        Ok(w) => {
            let who = tracecheck_witness::Attribution {
                comm_prefix: Some(gt.comm.clone()),
                pids: gt.pids.clone(),
            };
            unest.extend(crate::establish::cross_check_witness(
                &mut gt,
                w.truths(&who),
            ));
        }
        Err(e) => record.witness_error = Some(e.clone()),
    }
    record.witness = witnessed.ok();
    if !settled.quiet {
        // The device was still busy when the bound ran out: the counters
        // may be short, so the disk truths cannot be trusted.
        for m in [
            "disk.read_bytes",
            "disk.write_bytes",
            "disk.read_ios",
            "disk.write_ios",
            "block.read_bytes",
            "block.write_bytes",
        ] {
            let metric = tracecheck_model::Metric::parse(m).expect("vocabulary name");
            unest.push(Unestablished {
                metric,
                why: format!(
                    "the device was still busy {} ms after the workload ended",
                    settled.waited_ms
                ),
            });
        }
    }
    let subject = Subject {
        comm: gt.comm.clone(),
        pids: gt.pids.clone(),
        dev_major: disk.major,
        dev_minor: disk.minor,
        dev_name: disk.name.clone(),
    };
    let parsed = tracecheck_probes::parse(spec.format, &tool_rec.stdout);
    let parsed_ref = parsed.as_ref().map_err(|e| e.to_string());
    let ev = Evidence {
        truth: &gt,
        unestablished: &unest,
        subject: &subject,
    };
    for c in claims {
        let out = match &parsed_ref {
            Ok(o) => Ok(*o),
            Err(e) => Err(e.as_str()),
        };
        record.verdicts.extend(judge(c, out, &tool_rec, &ev));
    }
    // Remove the check's files so the next check starts from the same
    // state; their deletion is settled before the next measurement.
    let _ = std::fs::remove_dir_all(&dir);
    timings.total_ms = t0.elapsed().as_millis() as u64;
    record.ground_truth = Some(gt);
    record.diskstats = Some(delta);
    record.settle = Some(settled);
    record.unestablished = unest;
    record.tool_run = tool_rec;
    record.timings = timings;
    Ok(record)
}

fn finish_failed(
    mut record: CheckRecord,
    tool_rec: ToolRecord,
    claims: &[&Claim],
    plan: &Plan,
    t0: Instant,
    mut timings: Timings,
) -> CheckRecord {
    record.verdicts = crate::compare::judge_unmeasured(claims, plan.name, &tool_rec);
    timings.total_ms = t0.elapsed().as_millis() as u64;
    record.tool_run = tool_rec;
    record.timings = timings;
    record
}

fn host_environment() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("host (kernel {})", release.trim())
}
