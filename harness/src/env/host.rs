//! This machine's kernel: checks on a scratch block device of their own (a
//! new loop device, or a given device such as a guest's virtio disk).
//!
//! One check, start to end: prepare the workload's files, start the tool,
//! wait until it is ready, snapshot diskstats and start the witness, run
//! the workload as its own process, let writeback settle, stop the tool,
//! parse, establish the truth, judge every claim. Emits events; never
//! prints.

use super::Check;
use super::{tracecheck_exe, Environment, Event, Limits, ToolRuns};
use crate::error::HarnessError;
use crate::establish::{cross_check_witness, establish, Unestablished};
use crate::judge::{self, Evidence, Siblings, Subject};
use crate::record::{CheckRecord, Timings, ToolRecord};
use crate::select::Plan;
use crate::spec::ToolSpec;
use crate::tool::RunningTool;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tracecheck_model::{GroundTruth, Metric};
use tracecheck_witness::{Attribution, Witness, WitnessConfig, WitnessReport};
use tracecheck_workloads::diskstats::DiskDelta;
use tracecheck_workloads::scratch_disk::{resolve_device, ScratchDisk, Settled};

/// Where bpftrace and bcc find kprobes; absent on kernels without them
/// (CONFIG_KPROBE_EVENTS unset), like this project's own host.
const KPROBE_EVENTS: &str = "/sys/kernel/tracing/kprobe_events";

/// Checks on this machine's kernel.
pub struct HostEnvironment {
    disk: ScratchDisk,
    limits: Limits,
    label: String,
}

impl HostEnvironment {
    pub(super) fn disk(&self) -> &ScratchDisk {
        &self.disk
    }

    pub(super) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A check's record before anything is measured.
    pub(super) fn blank_record(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        run: &WorkloadRun<'_>,
    ) -> CheckRecord {
        CheckRecord::unmeasured(
            &spec.name,
            &spec.path,
            check.plan.name,
            self.describe(),
            format!("{} ({})", self.disk.name, self.disk.dev_string()),
            &run.comm,
        )
    }
}

impl HostEnvironment {
    /// Mount tracefs if needed, and make the scratch disk: format `device`
    /// (a path, or `serial:NAME`), or a new loop device of `size_mib`.
    /// `label` replaces the description (a guest's agent is told which
    /// guest it is).
    pub fn prepare(
        device: Option<&str>,
        size_mib: u64,
        limits: Limits,
        label: Option<String>,
        quiet: bool,
    ) -> Result<HostEnvironment, HarnessError> {
        ensure_tracefs()?;
        let disk = match device {
            Some(d) => ScratchDisk::on_device(&resolve_device(d)?)?,
            None => {
                if !quiet {
                    eprintln!("tracecheck: making a {size_mib} MiB scratch disk...");
                }
                ScratchDisk::create(size_mib)?
            }
        };
        let mut env = HostEnvironment::on_disk(disk, limits);
        if let Some(l) = label {
            env.label = l;
        }
        Ok(env)
    }

    /// Checks on an existing scratch disk.
    pub fn on_disk(disk: ScratchDisk, limits: Limits) -> HostEnvironment {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        HostEnvironment {
            disk,
            limits,
            label: format!("host (kernel {})", release.trim()),
        }
    }

    /// What to tell a user whose tool failed here, when this kernel
    /// explains it: kprobe attach errors mean different things on a kernel
    /// with and without kprobes.
    fn advice(&self, tool: &ToolRecord) -> Option<String> {
        let kprobe_failed = tool.stderr_tail.iter().any(|l| {
            l.contains("kprobe_events")
                || l.contains("Error attaching probe: 'kretprobe")
                || l.contains("Error attaching probe: 'kprobe")
        });
        if !kprobe_failed {
            return None;
        }
        if !Path::new(KPROBE_EVENTS).exists() {
            return Some(
                "this kernel has no kprobes; check the tool in a guest with `--vm debian-6.1`"
                    .into(),
            );
        }
        Some(format!(
            "this kernel has kprobes, so the probed function is missing or inlined in {}: look for it in /proc/kallsyms",
            self.label
        ))
    }

    /// The record for a check whose tool never got going.
    pub(super) fn unmeasured(
        &self,
        check: &Check<'_>,
        mut record: CheckRecord,
        tool: ToolRecord,
        t0: Instant,
        mut timings: Timings,
    ) -> CheckRecord {
        let failure = tool
            .failure
            .as_ref()
            .map(|f| f.describe(&tool.command[0]))
            .unwrap_or_else(|| "the tool did not run".into());
        let why = judge::tool_failed(failure, &tool, self.advice(&tool).as_deref());
        record.verdicts = judge::unmeasured(&check.claims, check.plan.name, &tool, &why);
        timings.total_ms = t0.elapsed().as_millis() as u64;
        record.tool_run = tool;
        record.timings = timings;
        record
    }
}

impl Environment for HostEnvironment {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn run_check(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        interrupted: &AtomicBool,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<CheckRecord, HarnessError> {
        let t0 = Instant::now();
        let mut timings = Timings::default();
        let run = WorkloadRun::new(&self.disk, check.plan, &self.limits, interrupted)?;

        on_event(Event::Phase("preparing files"));
        run.prepare()?;
        timings.prepare_ms = t0.elapsed().as_millis() as u64;

        on_event(Event::Phase("starting the tool"));
        let t_tool = Instant::now();
        let mut record = self.blank_record(spec, check, &run);
        let mut tool = match RunningTool::start(spec) {
            Ok(t) => t,
            Err(rec) => return Ok(self.unmeasured(check, record, *rec, t0, timings)),
        };
        if let Err(f) = tool.wait_ready(spec, interrupted) {
            if interrupted.load(Ordering::Relaxed) {
                return Err(HarnessError::Interrupted);
            }
            let rec = tool.abandon(f);
            return Ok(self.unmeasured(check, record, rec, t0, timings));
        }
        timings.tool_start_ms = t_tool.elapsed().as_millis() as u64;

        let measured = run.measure(on_event, &mut timings)?;

        on_event(Event::Phase("stopping the tool"));
        let t_stop = Instant::now();
        let tool_rec = tool.stop(spec.stop, spec.stop_timeout);
        timings.tool_stop_ms = t_stop.elapsed().as_millis() as u64;

        self.judge_measured(
            spec,
            check,
            &mut record,
            measured,
            tool_rec,
            Siblings::default(),
        );
        drop(run);
        timings.total_ms = t0.elapsed().as_millis() as u64;
        record.timings = timings;
        Ok(record)
    }

    /// One run of the tool for the spec's checks, when its claims allow it.
    fn run_together(
        &self,
        spec: &ToolSpec,
        checks: &[Check<'_>],
        tool_runs: ToolRuns,
        interrupted: &AtomicBool,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Option<Result<Vec<CheckRecord>, HarnessError>> {
        let together = tool_runs == ToolRuns::SharedWherePossible
            && checks.len() > 1
            && super::shared::shares_tool_run(spec);
        together.then(|| self.run_beside_one_tool(spec, checks, interrupted, on_event))
    }
}

impl HostEnvironment {
    /// Establish the truth of one measured workload, judge the check's
    /// claims on what the tool printed, and fill the record with all of it.
    pub(super) fn judge_measured(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        record: &mut CheckRecord,
        measured: Measured,
        tool_rec: ToolRecord,
        siblings: Siblings,
    ) {
        let Measured {
            truth: mut gt,
            delta,
            settled,
            witnessed,
        } = measured;
        let unestablished = establish_truth(
            &mut gt,
            &delta,
            &settled,
            witnessed,
            &self.disk.name,
            record,
        );
        let subject = Subject {
            comm: gt.comm.clone(),
            pids: gt.pids.clone(),
            dev_major: self.disk.major,
            dev_minor: self.disk.minor,
            dev_name: self.disk.name.clone(),
            siblings,
        };
        let advice = self.advice(&tool_rec);
        let ev = Evidence {
            workload: check.plan.name,
            truth: &gt,
            unestablished: &unestablished,
            subject: &subject,
            advice: advice.as_deref(),
            known_stderr: &check.known_stderr,
        };
        let parsed = tracecheck_probes::parse(spec.format, &tool_rec.stdout);
        let parsed = parsed.as_ref().map_err(|e| e.to_string());
        for c in &check.claims {
            let out = parsed.as_ref().map(|o| *o).map_err(String::as_str);
            record.verdicts.extend(judge::judge(c, out, &tool_rec, &ev));
        }
        record.ground_truth = Some(gt);
        record.diskstats = Some(delta);
        record.settle = Some(settled);
        record.unestablished = unestablished;
        record.tool_run = tool_rec;
    }
}

/// What one workload run measured, before the tool is judged.
pub(super) struct Measured {
    truth: GroundTruth,
    delta: DiskDelta,
    settled: Settled,
    witnessed: Result<WitnessReport, String>,
}

impl Measured {
    /// The workload's own account of what it did.
    pub(super) fn truth(&self) -> &GroundTruth {
        &self.truth
    }
}

/// The truth for the check: the workload's account held against diskstats
/// and the witness. Anything that does not agree is "unestablished".
fn establish_truth(
    gt: &mut GroundTruth,
    delta: &DiskDelta,
    settled: &Settled,
    witnessed: Result<WitnessReport, String>,
    dev_name: &str,
    record: &mut CheckRecord,
) -> Vec<Unestablished> {
    let mut unest = establish(gt, delta, dev_name);
    match witnessed {
        Ok(w) => {
            let who = Attribution {
                comm_prefix: Some(gt.comm.clone()),
                pids: gt.pids.clone(),
            };
            unest.extend(cross_check_witness(gt, w.truths(&who)));
            record.witness = Some(w);
        }
        Err(e) => record.witness_error = Some(e),
    }
    if !settled.quiet {
        // The device was still busy when the bound ran out: the counters
        // may be short, so the disk truths cannot be trusted.
        for name in [
            "disk.read_bytes",
            "disk.write_bytes",
            "disk.read_ios",
            "disk.write_ios",
            "block.read_bytes",
            "block.write_bytes",
        ] {
            unest.push(Unestablished {
                metric: Metric::parse(name).expect("vocabulary name"),
                why: format!(
                    "the device was still busy {} ms after the workload ended",
                    settled.waited_ms
                ),
            });
        }
    }
    unest
}

/// One workload plan on the scratch disk, under a fresh process name, in a
/// directory of its own.
pub(super) struct WorkloadRun<'a> {
    disk: &'a ScratchDisk,
    plan: &'a Plan,
    limits: &'a Limits,
    interrupted: &'a AtomicBool,
    comm: String,
    dir: std::path::PathBuf,
}

impl<'a> WorkloadRun<'a> {
    pub(super) fn new(
        disk: &'a ScratchDisk,
        plan: &'a Plan,
        limits: &'a Limits,
        interrupted: &'a AtomicBool,
    ) -> Result<Self, HarnessError> {
        let comm = fresh_comm();
        let dir = disk.fresh_dir(&comm)?;
        Ok(WorkloadRun {
            disk,
            plan,
            limits,
            interrupted,
            comm,
            dir,
        })
    }

    fn dev_args(&self) -> Vec<String> {
        vec!["--expect-dev".to_string(), self.disk.dev_string()]
    }

    /// Write the input files, and settle them on disk before anyone measures.
    fn prepare(&self) -> Result<(), HarnessError> {
        self.prepare_files()?;
        self.disk.settle(self.limits.settle)?;
        Ok(())
    }

    /// Write the input files, without waiting for the disk to settle.
    pub(super) fn prepare_files(&self) -> Result<(), HarnessError> {
        self.run_phase("prepare", &self.dev_args()).map(drop)
    }

    /// Run the workload beside the witness, wait for writeback to settle,
    /// and take diskstats' delta over exactly the witness's window.
    pub(super) fn measure(
        &self,
        on_event: &mut dyn FnMut(Event<'_>),
        timings: &mut Timings,
    ) -> Result<Measured, HarnessError> {
        // The third witness: tracecheck's own probes. A witness that cannot
        // load is noted, not fatal.
        let witness = Witness::start(WitnessConfig {
            dev_major: self.disk.major,
            dev_minor: self.disk.minor,
            comm_prefix: Some(self.comm.clone()),
            pids: vec![],
        })
        .map_err(|e| e.to_string());
        on_event(Event::Phase("running the workload"));
        let before = self.disk.counters()?;
        let t_w = Instant::now();
        let mut args = self.dev_args();
        args.extend(["--comm".to_string(), self.comm.clone()]);
        let out = self.run_phase("run", &args)?;
        timings.workload_ms = t_w.elapsed().as_millis() as u64;
        let truth: GroundTruth =
            serde_json::from_str(&out).map_err(|e| HarnessError::Workload {
                kind: self.plan.name.to_string(),
                msg: format!("printed ground truth tracecheck cannot read: {e}"),
            })?;

        on_event(Event::Phase("waiting for writeback to settle"));
        let t_s = Instant::now();
        let settled = self.disk.settle(self.limits.settle)?;
        timings.settle_ms = t_s.elapsed().as_millis() as u64;
        let delta = self.disk.counters()?.since(&before);
        let witnessed = witness.and_then(|w| w.stop().map_err(|e| e.to_string()));
        Ok(Measured {
            truth,
            delta,
            settled,
            witnessed,
        })
    }

    /// Run a workload phase to completion (bounded), returning its stdout.
    fn run_phase(&self, phase: &str, extra: &[String]) -> Result<String, HarnessError> {
        let err = |msg: String| HarnessError::Workload {
            kind: self.plan.name.to_string(),
            msg,
        };
        let mut child = workload_command(phase, self.plan, &self.dir, extra)?
            .spawn()
            .map_err(|e| err(format!("cannot start: {e}")))?;
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
            let interrupted = self.interrupted.load(Ordering::Relaxed);
            if interrupted || start.elapsed() > self.limits.workload {
                let _ = child.kill();
                let _ = child.wait();
                if interrupted {
                    return Err(HarnessError::Interrupted);
                }
                return Err(err(format!(
                    "did not finish within {} s; killed",
                    self.limits.workload.as_secs()
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
}

/// The check's files go with it, however it ends (a tool that never
/// started, an error, Ctrl-C), so the scratch disk never fills up over a
/// run; their deletion is settled before the next measurement.
impl Drop for WorkloadRun<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
        .args(plan.workload.to_args())
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

/// bpftrace and bcc find tracepoints through tracefs. A fresh machine may
/// not have it mounted (seen here: bpftrace then finds no tracepoints at
/// all), so mount it when it is missing.
pub fn ensure_tracefs() -> Result<(), HarnessError> {
    let dir = Path::new("/sys/kernel/tracing");
    if dir.join("events").is_dir() {
        return Ok(());
    }
    nix::mount::mount(
        Some("tracefs"),
        dir,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| {
        HarnessError::Scratch(format!(
            "tracefs is not mounted and mounting it on {} failed: {e}",
            dir.display()
        ))
    })
}
