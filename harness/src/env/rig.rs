//! What checks on this machine's kernel run on: the scratch disk, the
//! limits and the label reports show ([`Rig`]); one workload run on it
//! ([`WorkloadRun`]: its files, then its measured run beside the witness);
//! and how what a run measured is judged ([`Rig::judge_measured`]). Both
//! ways of running checks here use it: one tool run per check (`host.rs`)
//! and one tool run for a spec's checks (`shared.rs`).

use super::inputs::Inputs;
use super::Check;
use super::{tracecheck_exe, Event, Limits};
use crate::error::HarnessError;
use crate::establish::{
    allow_empty_requests, cross_check_witness, establish, establish_call_latency,
    establish_latency, establish_sizes, requests_unknown, Unestablished,
};
use crate::judge::{self, Evidence, Siblings, Subject};
use crate::record::{CheckRecord, Timings, ToolRecord};
use crate::select::Plan;
use crate::spec::ToolSpec;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tracecheck_model::{GroundTruth, Metric};
use tracecheck_witness::{Attribution, Witness, WitnessConfig, WitnessReport};
use tracecheck_workloads::diskstats::{DiskCounters, DiskDelta};
use tracecheck_workloads::scratch_disk::{ScratchDisk, Settled};

/// Where bpftrace and bcc find kprobes; absent on kernels without them
/// (CONFIG_KPROBE_EVENTS unset), like this project's own host.
const KPROBE_EVENTS: &str = "/sys/kernel/tracing/kprobe_events";

/// The scratch disks checks run on, their limits, and how reports name
/// where they ran.
pub struct Rig {
    scratch: Vec<Scratch>,
    /// On a rig that makes its own disks (this machine, no devices
    /// given): the size of the disk of known latency a plan that needs one
    /// gets, made at its first such run ([`ScratchDisk::delayed`]).
    delayed_mib: Option<u64>,
    delayed: std::sync::OnceLock<Scratch>,
    /// How many runs have taken a disk so far.
    taken: AtomicUsize,
    pub(super) limits: Limits,
    pub(super) label: String,
}

/// One scratch disk and the inputs written on it.
struct Scratch {
    disk: ScratchDisk,
    inputs: Inputs,
}

impl Rig {
    /// Checks on `disks`: with one, every check runs on it; with several
    /// (a guest gets one per workload), each run takes the next, so each
    /// check has a freshly made filesystem of its own (a run measured
    /// again after them all starts over at the first).
    pub(super) fn new(disks: Vec<ScratchDisk>, limits: Limits, label: String) -> Rig {
        assert!(!disks.is_empty(), "a rig needs a scratch disk");
        Rig {
            scratch: disks
                .into_iter()
                .map(|disk| Scratch {
                    inputs: Inputs::under(disk.path()),
                    disk,
                })
                .collect(),
            taken: AtomicUsize::new(0),
            delayed_mib: None,
            delayed: std::sync::OnceLock::new(),
            limits,
            label,
        }
    }

    /// Give plans that need a device of known latency one of `size_mib`,
    /// made when the first of them runs.
    pub(super) fn make_delayed_disks(&mut self, size_mib: u64) {
        self.delayed_mib = Some(size_mib);
    }

    /// The disk a run of `plan` is to use: the next of the rig's disks,
    /// or, for a plan that needs a device of known latency on a rig that
    /// makes its own, the delayed disk.
    fn scratch_for(&self, plan: &Plan) -> Result<&Scratch, HarnessError> {
        if let (Some(ns), Some(mib)) = (plan.known_latency_ns(), self.delayed_mib) {
            if let Some(s) = self.delayed.get() {
                return Ok(s);
            }
            let disk = ScratchDisk::delayed(mib, ns)?;
            // Checks run one at a time; were two to race, the loser's
            // disk is dropped (unmounted) here.
            let _ = self.delayed.set(Scratch {
                inputs: Inputs::under(disk.path()),
                disk,
            });
            return Ok(self.delayed.get().expect("just set"));
        }
        let n = self.taken.fetch_add(1, Ordering::Relaxed);
        Ok(&self.scratch[n % self.scratch.len()])
    }

    /// Settle every disk the rig has made: the run's, after its files,
    /// and the ones earlier checks used and left files to delete.
    pub(super) fn settle_all(&self) -> Result<(), HarnessError> {
        for s in self.scratch.iter().chain(self.delayed.get()) {
            s.disk.settle(self.limits.settle)?;
        }
        Ok(())
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
            self.label.clone(),
            format!("{} ({})", run.disk.name, run.disk.dev_string()),
            &run.comm,
        )
    }

    /// What to tell a user whose tool failed here, when this kernel
    /// explains it: kprobe attach errors mean different things on a kernel
    /// with and without kprobes.
    pub(super) fn advice(&self, tool: &ToolRecord) -> Option<String> {
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
            device: (dev_major, dev_minor, dev_name),
            known_latency_ns,
        } = measured;
        let unestablished = establish_truth(
            &mut gt,
            &delta,
            &settled,
            witnessed,
            (&dev_name, known_latency_ns),
            record,
        );
        let subject = Subject {
            comm: gt.comm.clone(),
            pids: gt.pids.clone(),
            dev_major,
            dev_minor,
            dev_name,
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

/// A run's window, open: the witness and diskstats from before the run.
pub(super) struct Watch {
    witness: Result<Witness, String>,
    before: DiskCounters,
}

/// What one workload run measured, before the tool is judged.
pub(super) struct Measured {
    truth: GroundTruth,
    delta: DiskDelta,
    settled: Settled,
    witnessed: Result<WitnessReport, String>,
    /// The scratch disk it ran on: major, minor, name.
    device: (u32, u32, String),
    /// Its latency per request, when it was made with one.
    known_latency_ns: Option<u64>,
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
    (dev_name, known_latency_ns): (&str, Option<u64>),
    record: &mut CheckRecord,
) -> Vec<Unestablished> {
    let mut unest = establish(gt, delta, dev_name);
    if let Ok(w) = &witnessed {
        let empty = w.device.complete_without_data;
        allow_empty_requests(gt, empty.read.count, empty.write.count);
    }
    // Reads plus writes, from the truths diskstats just made (the empty
    // requests allowed for).
    gt.add_both_directions();
    match witnessed {
        Ok(w) => {
            let who = Attribution {
                comm_prefix: Some(gt.comm.clone()),
                pids: gt.pids.clone(),
            };
            unest.extend(cross_check_witness(gt, w.truths(&who)));
            let dataless = w.device.complete_without_data;
            let data_requests = (delta.read_ios + delta.write_ios)
                .saturating_sub(dataless.read.count + dataless.write.count);
            unest.extend(establish_latency(
                gt,
                &w.requests,
                data_requests,
                known_latency_ns,
            ));
            unest.extend(establish_call_latency(gt, &w.requests));
            unest.extend(establish_sizes(
                gt,
                &w.requests,
                data_requests,
                delta.read_bytes + delta.write_bytes,
            ));
            record.witness = Some(w);
        }
        Err(e) => {
            unest.extend(requests_unknown(&format!(
                "the witness, which times and sizes every request, did not run: {e}"
            )));
            record.witness_error = Some(e);
        }
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
    rig: &'a Rig,
    disk: &'a ScratchDisk,
    inputs: &'a Inputs,
    plan: &'a Plan,
    interrupted: &'a AtomicBool,
    comm: String,
    dir: std::path::PathBuf,
}

impl<'a> WorkloadRun<'a> {
    /// `spec` with its command's device placeholders filled in for this
    /// run's scratch disk.
    pub(super) fn tool_spec(&self, spec: &ToolSpec) -> ToolSpec {
        spec.on_scratch(self.disk)
    }

    pub(super) fn new(
        rig: &'a Rig,
        plan: &'a Plan,
        interrupted: &'a AtomicBool,
    ) -> Result<Self, HarnessError> {
        let comm = fresh_comm();
        let scratch = rig.scratch_for(plan)?;
        let dir = scratch.disk.fresh_dir(&comm)?;
        Ok(WorkloadRun {
            rig,
            disk: &scratch.disk,
            inputs: &scratch.inputs,
            plan,
            interrupted,
            comm,
            dir,
        })
    }

    fn dev_args(&self) -> Vec<String> {
        vec!["--expect-dev".to_string(), self.disk.dev_string()]
    }

    /// Write the input files, and settle them on disk before anyone
    /// measures; settle the rig's other disks too, where the check before
    /// this one deleted its files: their journal commit would otherwise
    /// land in this run, where a tool that counts every disk sees it
    /// (perf-tools' bitesize counted 265 requests for direct-mixed's 259 in
    /// a guest, which gives each check a disk of its own: the flushes and
    /// small journal writes of the previous disk's deletion).
    pub(super) fn prepare(&self) -> Result<(), HarnessError> {
        self.prepare_files()?;
        self.rig.settle_all()
    }

    /// Put the input files in place, cold, without waiting for the disk to
    /// settle: written now, or lent from an earlier check ([`Inputs`]).
    pub(super) fn prepare_files(&self) -> Result<(), HarnessError> {
        let dev = (self.disk.major, self.disk.minor);
        self.inputs.lend(&self.plan.workload, &self.dir, dev)
    }

    /// Begin watching for this run: make its input cold (again, when the
    /// run before it read the same input, in one tool run for a spec's
    /// checks; on the settled disk its pages are clean, so this does no
    /// I/O), load and attach the witness (tracecheck's own probes, the
    /// third account of the truth), then read diskstats, so that both
    /// windows are the same. Both count only the device's I/O and the
    /// witness only this run's process, so watching may begin before the
    /// tool is ready: a check of its own loads the witness while the tool
    /// starts. A witness that cannot load is noted, not fatal. With
    /// `sample_hz` (a profiler's claim), the witness also samples every
    /// CPU at that rate.
    pub(super) fn watch(
        &self,
        sample_hz: Option<u32>,
        timings: &mut Timings,
    ) -> Result<Watch, HarnessError> {
        let t = Instant::now();
        self.plan
            .workload
            .make_cold(&self.dir)
            .map_err(|e| HarnessError::Workload {
                kind: self.plan.name.to_string(),
                msg: e.to_string(),
            })?;
        let witness = Witness::start(WitnessConfig {
            dev_major: self.disk.major,
            dev_minor: self.disk.minor,
            comm_prefix: Some(self.comm.clone()),
            pids: vec![],
            sample_hz,
        })
        .map_err(|e| e.to_string());
        let before = self.disk.counters()?;
        timings.witness_ms += t.elapsed().as_millis() as u64;
        Ok(Watch { witness, before })
    }

    /// Start the workload's measured phase held (`--hold`): set up and
    /// waiting, not yet under its name, for [`WorkloadRun::measure`] to
    /// release it, so that a tool given its pid (`{pid}`) can start in
    /// between.
    pub(super) fn hold(&self) -> Result<PhaseChild, HarnessError> {
        self.spawn_phase("run", &self.run_args(), true)
    }

    fn run_args(&self) -> Vec<String> {
        let mut args = self.dev_args();
        args.extend(["--comm".to_string(), self.comm.clone()]);
        args
    }

    /// Run the workload (release it, if `held`), wait for writeback to
    /// settle, and take diskstats' delta and the witness's report over the
    /// window `watch` opened.
    pub(super) fn measure(
        &self,
        watch: Watch,
        held: Option<PhaseChild>,
        on_event: &mut dyn FnMut(Event<'_>),
        timings: &mut Timings,
    ) -> Result<Measured, HarnessError> {
        let Watch { witness, before } = watch;
        on_event(Event::Phase("running the workload"));
        let t_w = Instant::now();
        let child = match held {
            Some(h) => h.release(),
            None => self.spawn_phase("run", &self.run_args(), false)?,
        };
        let out = self.finish_phase(child)?;
        timings.workload_ms = t_w.elapsed().as_millis() as u64;
        let truth: GroundTruth =
            serde_json::from_str(&out).map_err(|e| HarnessError::Workload {
                kind: self.plan.name.to_string(),
                msg: format!("printed ground truth tracecheck cannot read: {e}"),
            })?;

        on_event(Event::Phase("waiting for writeback to settle"));
        let t_s = Instant::now();
        let settled = self.disk.settle(self.rig.limits.settle)?;
        timings.settle_ms = t_s.elapsed().as_millis() as u64;
        let delta = self.disk.counters()?.since(&before);
        let t_witness = Instant::now();
        let witnessed = witness.and_then(|w| {
            let report = w.snapshot().map_err(|e| e.to_string());
            // Detaching 12 programs takes ~10 ms; nothing waits for it, so
            // it goes on beside the rest of the check.
            std::thread::spawn(move || drop(w));
            report
        });
        timings.witness_ms += t_witness.elapsed().as_millis() as u64;
        Ok(Measured {
            truth,
            delta,
            settled,
            witnessed,
            device: (self.disk.major, self.disk.minor, self.disk.name.clone()),
            known_latency_ns: self.disk.known_latency_ns,
        })
    }

    fn workload_error(&self, msg: String) -> HarnessError {
        HarnessError::Workload {
            kind: self.plan.name.to_string(),
            msg,
        }
    }

    /// Start a workload phase; `hold`: wait until it says it is held.
    fn spawn_phase(
        &self,
        phase: &str,
        extra: &[String],
        hold: bool,
    ) -> Result<PhaseChild, HarnessError> {
        let err = |msg: String| self.workload_error(msg);
        // Its own code pages resident first, or their faults would be disk
        // reads of this workload outside the scratch disk's truth.
        let exe = tracecheck_exe()?;
        tracecheck_workloads::cache::make_resident(&exe)
            .map_err(|e| err(format!("cannot make its executable resident: {e}")))?;
        let mut cmd = workload_command(&exe, phase, self.plan, &self.dir, extra);
        if hold {
            cmd.arg("--hold").stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().map_err(|e| err(format!("cannot start: {e}")))?;
        let mut out = child.stdout.take().expect("piped");
        let mut errp = child.stderr.take().expect("piped");
        let t_err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut errp, &mut s);
            s
        });
        if hold {
            // Its first line says it is held; anything else (it failed
            // first) is its error, on stderr.
            let line = read_line(&mut out);
            if line.trim_end() != tracecheck_workloads::cli::HELD_LINE {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = t_err.join().unwrap_or_default();
                return Err(err(format!(
                    "did not wait to be released (printed {:?}): {}",
                    line.trim_end(),
                    stderr.trim()
                )));
            }
        }
        let t_out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut s);
            s
        });
        Ok(PhaseChild {
            stdin: child.stdin.take(),
            child,
            t_out: Some(t_out),
            t_err: Some(t_err),
        })
    }

    /// Wait (bounded) for a started phase to end, returning its stdout.
    fn finish_phase(&self, p: PhaseChild) -> Result<String, HarnessError> {
        let err = |msg: String| self.workload_error(msg);
        let mut p = p;
        drop(p.stdin.take());
        let child = &mut p.child;
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().map_err(|e| err(e.to_string()))? {
                break s;
            }
            let interrupted = self.interrupted.load(Ordering::Relaxed);
            if interrupted || start.elapsed() > self.rig.limits.workload {
                let _ = child.kill();
                let _ = child.wait();
                if interrupted {
                    return Err(HarnessError::Interrupted);
                }
                return Err(err(format!(
                    "did not finish within {} s; killed",
                    self.rig.limits.workload.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let join = |t: Option<std::thread::JoinHandle<String>>| {
            t.and_then(|t| t.join().ok()).unwrap_or_default()
        };
        let stdout = join(p.t_out.take());
        let stderr = join(p.t_err.take());
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

/// A started workload phase: its process and the threads reading its
/// output. Dropped unfinished (an error elsewhere), it is killed.
pub(super) struct PhaseChild {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    t_out: Option<std::thread::JoinHandle<String>>,
    t_err: Option<std::thread::JoinHandle<String>>,
}

impl PhaseChild {
    /// The process's pid, for a tool's `{pid}`.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Let a held workload go on: its stdin closed.
    fn release(mut self) -> PhaseChild {
        drop(self.stdin.take());
        self
    }
}

impl Drop for PhaseChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One line from `r`, read a byte at a time so that nothing after it is
/// taken from the pipe (empty at end of file).
fn read_line(r: &mut impl std::io::Read) -> String {
    let mut line = Vec::new();
    let mut b = [0u8];
    while let Ok(1) = r.read(&mut b) {
        if b[0] == b'\n' {
            break;
        }
        line.push(b[0]);
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// The check's files go with it, however it ends (a tool that never
/// started, an error, Ctrl-C), so the scratch disk never fills up over a
/// run; their deletion is settled before the next measurement.
impl Drop for WorkloadRun<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A distinctive process name for one run: `tcw-`, a decimal digit and 5
/// hex digits. The digit after the dash is on purpose: a tool that finds
/// the task name in ftrace's `TASK-PID` field by cutting out the first
/// `-<digits>` (perf-tools' awk) garbles every such name, so it fails on
/// every run, not on the 10 in 16 whose random name began with a digit
/// (one CI run of killsnoop-perf passed under such a lucky name).
pub fn fresh_comm() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let x = (t.as_nanos() as u64 ^ (std::process::id() as u64).rotate_left(24))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("tcw-{}{:05x}", (x >> 32) % 10, x >> 44)
}

/// How to start the workload generator `exe`: this same binary's hidden
/// `workload` subcommand, so one binary serves host and guest alike.
fn workload_command(exe: &Path, phase: &str, plan: &Plan, dir: &Path, extra: &[String]) -> Command {
    let mut cmd = Command::new(exe);
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
    cmd
}
