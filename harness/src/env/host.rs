//! This machine's kernel: checks on a scratch block device of their own (a
//! new loop device, or given devices such as a guest's virtio disks, one
//! per check).
//!
//! One check, start to end: prepare the workload's files, start the tool,
//! wait until it is ready, snapshot diskstats and start the witness, run
//! the workload as its own process, let writeback settle, stop the tool,
//! parse, establish the truth, judge every claim (the pieces are in
//! `rig.rs`). A spec whose claims are all keyed by process runs its checks
//! beside one run of the tool instead (`shared.rs`). Emits events; never
//! prints.

use super::rig::{Rig, WorkloadRun};
use super::shared::{run_beside_one_tool, shares_tool_run};
use super::Check;
use super::{Environment, Event, Limits, Together, ToolRuns};
use crate::error::HarnessError;
use crate::judge::Siblings;
use crate::record::{CheckRecord, Timings};
use crate::spec::ToolSpec;
use crate::tool::RunningTool;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tracecheck_workloads::scratch_disk::{open_scratch, ScratchDisk};

/// Checks on this machine's kernel.
pub struct HostEnvironment {
    rig: Rig,
}

impl HostEnvironment {
    /// Mount tracefs if needed, and make the scratch disk: format `device`
    /// (a path, or `serial:NAME`), or a new loop device of `size_mib`.
    /// `label` replaces the description (a guest's agent is told which
    /// guest it is).
    pub fn prepare(
        devices: &[String],
        size_mib: u64,
        limits: Limits,
        label: Option<String>,
        quiet: bool,
    ) -> Result<HostEnvironment, HarnessError> {
        ensure_tracefs()?;
        ensure_debugfs_tracing(quiet);
        let own = devices.is_empty();
        let disks = if own {
            if !quiet {
                eprintln!("tracecheck: making a {size_mib} MiB scratch disk...");
            }
            vec![ScratchDisk::create(size_mib)?]
        } else {
            // Each formatted now: a fresh filesystem per check (guests).
            devices
                .iter()
                .map(|d| Ok(open_scratch(d)?))
                .collect::<Result<_, HarnessError>>()?
        };
        let mut env = HostEnvironment::on_disks(disks, limits);
        if own {
            // Latency plans get a FUSE-delayed disk (no null_blk here).
            env.rig.make_delayed_disks(size_mib);
        }
        if let Some(l) = label {
            env.rig.label = l;
        }
        Ok(env)
    }

    /// Checks on an existing scratch disk.
    pub fn on_disk(disk: ScratchDisk, limits: Limits) -> HostEnvironment {
        HostEnvironment::on_disks(vec![disk], limits)
    }

    /// Checks on existing scratch disks, each run on the next.
    fn on_disks(disks: Vec<ScratchDisk>, limits: Limits) -> HostEnvironment {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        HostEnvironment {
            rig: Rig::new(disks, limits, format!("host (kernel {})", release.trim())),
        }
    }
}

impl Environment for HostEnvironment {
    fn describe(&self) -> String {
        self.rig.label.clone()
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
        let run = WorkloadRun::new(&self.rig, check.plan, interrupted)?;

        on_event(Event::Phase("preparing files"));
        run.prepare()?;
        timings.prepare_ms = t0.elapsed().as_millis() as u64;

        let mut record = self.rig.blank_record(spec, check, &run);
        let spec = run.tool_spec(spec);
        // A tool given the workload's pid starts once the workload is set
        // up and held, its input already cold and the witness watching.
        let (spec, held, watch) = if spec.needs_pid() {
            let watch = run.watch(check.sample_hz(), &mut timings)?;
            let held = run.hold()?;
            (spec.for_pid(held.pid()), Some(held), Some(watch))
        } else {
            (spec, None, None)
        };
        let spec = &spec;
        on_event(Event::Phase("starting the tool"));
        let t_tool = Instant::now();
        let mut tool = match RunningTool::start(spec) {
            Ok(t) => t,
            Err(rec) => return Ok(self.rig.unmeasured(check, record, *rec, t0, timings)),
        };
        // The witness loads while the tool starts (see WorkloadRun::watch).
        let watch = match watch {
            Some(w) => w,
            None => run.watch(check.sample_hz(), &mut timings)?,
        };
        if let Err(f) = tool.wait_ready(spec, interrupted) {
            if interrupted.load(Ordering::Relaxed) {
                return Err(HarnessError::Interrupted);
            }
            let rec = tool.abandon(f);
            return Ok(self.rig.unmeasured(check, record, rec, t0, timings));
        }
        timings.tool_start_ms = t_tool.elapsed().as_millis() as u64;

        let measured = run.measure(watch, held, on_event, &mut timings)?;

        on_event(Event::Phase("stopping the tool"));
        let t_stop = Instant::now();
        tool.outlast_interval(spec);
        let tool_rec = tool.stop(spec.stop, spec.stop_timeout);
        timings.tool_stop_ms = t_stop.elapsed().as_millis() as u64;
        timings.tool_exit_ms = tool_rec.stop.stop_ms;

        self.rig.judge_measured(
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
    ) -> Option<Result<Together, HarnessError>> {
        let together =
            tool_runs == ToolRuns::SharedWherePossible && checks.len() > 1 && shares_tool_run(spec);
        together.then(|| run_beside_one_tool(&self.rig, spec, checks, interrupted, on_event))
    }
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

/// perf-tools (and older scripts) use the tracing directory under debugfs,
/// `/sys/kernel/debug/tracing`; on a machine that mounts only tracefs it is
/// missing, and they fail with "accessing tracing ... debugfs mounted?".
/// Mount debugfs there (the kernel puts tracefs under it), as a user
/// running them would. A failure is left to show in the tool's own error.
pub fn ensure_debugfs_tracing(quiet: bool) {
    let debug = Path::new("/sys/kernel/debug");
    if debug.join("tracing").is_dir() {
        return;
    }
    let mounted = nix::mount::mount(
        Some("debugfs"),
        debug,
        Some("debugfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    if !quiet {
        match mounted {
            Ok(()) => eprintln!(
                "tracecheck: mounted debugfs on {} (tools such as perf-tools use its tracing directory)",
                debug.display()
            ),
            Err(e) => eprintln!(
                "tracecheck: warning: could not mount debugfs on {}: {e}; tools that use its tracing directory will fail",
                debug.display()
            ),
        }
    }
}
