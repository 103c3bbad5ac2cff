//! Checks in disposable QEMU guests (`--vm debian-6.1`): one guest boots
//! for all of a spec's checks on a Debian distribution kernel and runs this
//! same `tracecheck` binary there as an agent,
//! `tracecheck check SPEC --workload W1 --workload W2 ... --scratch-device
//! serial:scratch --scratch-device serial:scratch2 ... --environment LABEL
//! --format json`, with a dedicated virtio scratch disk per workload,
//! freshly formatted: a host environment inside the guest, told which
//! guest it is. The agent runs the checks as this machine would (one tool
//! run for all of them where the claims allow it, each workload under its
//! own name, on its own disk). The verdicts and records are the
//! guest's own; the host only reads its JSON back.
//!
//! What happens to the guest is a fact about the tool, never a harness
//! failure: a kernel panic or oops becomes an ERROR verdict "the tool
//! crashed the kernel" with the console's panic lines, a hang "the guest
//! hung", a guest that never booted or vanished an ERROR naming that. When
//! a spec's guest does not bring back all its checks, each missing check
//! runs again in a fresh guest of its own, so the verdict is its own, and
//! the run goes on.

use super::Check;
use super::{tracecheck_exe, Environment, Event, Limits, Together, ToolRuns};
use crate::error::HarnessError;
use crate::judge;
use crate::record::{CheckRecord, ModuleBuild, ToolRecord};
use crate::spec::{StapSource, ToolSpec};
use crate::verdict::{Diagnosis, Finding};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tracecheck_vm::{
    build_image, choose_accel, run_guest, Accel, BuildOptions, GuestOutcome, GuestSpec, HangReason,
    Image, KernelTarget, Outcome, Share, StapError, StapKit,
};

/// Console lines quoted in a verdict about a hung or vanished guest.
const SERIAL_TAIL: usize = 15;
/// Panic lines quoted in a "crashed the kernel" verdict.
const PANIC_LINES: usize = 25;
/// Guest paths that are fresh tmpfs in the guest, so host files there are
/// invisible through the shared host root and must be shared explicitly.
const GUEST_TMPFS: &[&str] = &["/tmp", "/var/tmp", "/run", "/root"];

/// Boots one guest per spec (and one per check that guest lost) on one
/// kernel target.
pub struct GuestEnvironment {
    pub target: KernelTarget,
    pub image: Image,
    pub accel: Accel,
    /// The `tracecheck` binary the guest runs (seen through the shared root).
    pub exe: PathBuf,
    pub scratch_mib: u64,
    pub settle: Duration,
    pub boot_timeout: Duration,
    /// Added to the spec's `ready_timeout` to bound one guest check.
    pub run_margin: Duration,
    pub quiet: bool,
    /// The VM cache (SystemTap is unpacked and its modules built there).
    pub cache_dir: PathBuf,
    /// SystemTap for this guest's kernel, set up at the first SystemTap spec.
    stap: OnceLock<StapKit>,
}

/// Where a spec's SystemTap script is: shipped in the kit's examples, or a
/// file of its own.
fn script_path(kit: &StapKit, source: &StapSource) -> PathBuf {
    match source {
        StapSource::Example(rel) => kit.example(rel),
        StapSource::File(p) => p.clone(),
    }
}

/// Why a SystemTap script could not be built, and the end of stap's stderr.
type Unbuilt = (Diagnosis, Vec<String>);

/// A SystemTap spec's module, built on the host for the guest's kernel.
struct BuiltModule {
    /// The unpacked SystemTap (staprun, stapio), seen by the guest through
    /// the shared host root.
    root: PathBuf,
    module: PathBuf,
    build: ModuleBuild,
}

/// The part of the guest's `--format json` report the host needs.
#[derive(Deserialize)]
struct GuestReport {
    checks: Vec<CheckRecord>,
}

impl GuestEnvironment {
    /// Find or build the target's image (the first use downloads its
    /// kernel packages) and choose the accelerator.
    pub fn prepare(
        target: KernelTarget,
        cache_dir: Option<&Path>,
        scratch_mib: u64,
        limits: &Limits,
        quiet: bool,
    ) -> Result<GuestEnvironment, HarnessError> {
        let mut opts = BuildOptions::default();
        if let Some(d) = cache_dir {
            opts.cache_dir = d.to_owned();
        }
        if !quiet {
            eprintln!(
                "tracecheck: preparing the {target} guest image in {} (the first use downloads ~170 MB)...",
                opts.cache_dir.display()
            );
        }
        let vm_err = |what: &str, e: tracecheck_vm::VmError| {
            HarnessError::Other(format!("{what} for {target}: {e}"))
        };
        let image = build_image(target, &opts).map_err(|e| vm_err("cannot build the image", e))?;
        let accel = choose_accel(&image, &opts.cache_dir)
            .map_err(|e| vm_err("cannot choose an accelerator", e))?;
        Ok(GuestEnvironment {
            target,
            image,
            accel,
            exe: tracecheck_exe()?,
            scratch_mib,
            settle: limits.settle,
            boot_timeout: Duration::from_secs(120),
            run_margin: Duration::from_secs(120),
            quiet,
            cache_dir: opts.cache_dir.clone(),
            stap: OnceLock::new(),
        })
    }

    fn accel_word(&self) -> &'static str {
        match self.accel {
            Accel::Kvm => "KVM",
            Accel::Tcg => "TCG",
        }
    }

    /// The guest's shell command: this binary as the agent for `workloads`,
    /// in that order.
    pub fn command(
        &self,
        spec_path: &Path,
        workloads: &[&str],
        tool_runs: ToolRuns,
        stap: Option<(&Path, &Path)>,
    ) -> String {
        let settle_ms = self.settle.as_millis();
        let mut only = String::new();
        if let Some((root, module)) = stap {
            only.push_str(" --stap-root ");
            only.push_str(&sh_quote(&root.display().to_string()));
            only.push_str(" --stap-module ");
            only.push_str(&sh_quote(&module.display().to_string()));
        }
        for w in workloads {
            only.push_str(" --workload ");
            only.push_str(&sh_quote(w));
        }
        if tool_runs == ToolRuns::PerWorkload {
            only.push_str(" --tool-run-per-workload");
        }
        // A fresh scratch disk for each workload (Self::boot attaches them).
        // A plan that needs a device of known latency gets a null_blk
        // device instead (the virtio disk stays unused).
        for i in 0..workloads.len().max(1) {
            let known = workloads
                .get(i)
                .and_then(|w| crate::select::plan(w))
                .and_then(|p| p.known_latency_ns());
            match known {
                Some(ns) => only.push_str(&format!(" --scratch-device nullb:{ns}")),
                None => {
                    only.push_str(" --scratch-device serial:");
                    only.push_str(&tracecheck_vm::qemu::scratch_serial(i as u32));
                }
            }
        }
        format!(
            "exec {} check {}{only} --environment {} \
             --format json --record /dev/null -q --scratch-size {} --settle-timeout {settle_ms}ms",
            sh_quote(&self.exe.display().to_string()),
            sh_quote(&spec_path.display().to_string()),
            sh_quote(&self.describe()),
            self.scratch_mib
        )
    }

    /// Host directories the guest must be given: the spec's directory and
    /// the binary's, and a SystemTap module's and staprun's, when they lie
    /// where the guest has fresh tmpfs (a VM cache under /var/tmp), or
    /// always when the guest's root is not this machine's.
    fn shares(&self, spec_path: &Path, stap: Option<&BuiltModule>) -> Vec<Share> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut wanted: Vec<PathBuf> = [spec_path, self.exe.as_path()]
            .iter()
            .filter_map(|p| p.parent().map(Path::to_owned))
            .collect();
        if let Some(b) = stap {
            wanted.push(b.root.clone());
            wanted.extend(b.module.parent().map(Path::to_owned));
        }
        // A guest with a root of its own (debian-13) sees nothing of this
        // machine's unless it is shared.
        let own_root = self.image.root_dir.is_some();
        for d in wanted {
            let hidden = own_root || GUEST_TMPFS.iter().any(|t| d.starts_with(t));
            if hidden && !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        dirs.into_iter()
            // A guest path with blanks cannot be a share; the check then
            // fails in the guest with tracecheck's own message.
            .filter(|d| !d.display().to_string().contains(char::is_whitespace))
            .map(|d| Share {
                guest: d.display().to_string(),
                host: d,
                writable: false,
            })
            .collect()
    }

    /// Boot one guest for `checks` of `spec`, one after another in it.
    fn boot(
        &self,
        spec: &ToolSpec,
        checks: &[&Check<'_>],
        tool_runs: ToolRuns,
        stap: Option<&BuiltModule>,
    ) -> Result<(GuestOutcome, Duration), HarnessError> {
        let spec_path = spec
            .path
            .canonicalize()
            .unwrap_or_else(|_| spec.path.clone());
        let workloads: Vec<&str> = checks.iter().map(|c| c.plan.name).collect();
        let mut gs = GuestSpec::new(
            &self.image,
            self.accel,
            self.command(
                &spec_path,
                &workloads,
                tool_runs,
                stap.map(|b| (b.root.as_path(), b.module.as_path())),
            ),
        );
        gs.scratch_disk_bytes = Some(self.scratch_mib << 20);
        gs.scratch_disks = workloads.len().max(1) as u32;
        gs.shares = self.shares(&spec_path, stap);
        gs.boot_timeout = self.boot_timeout;
        gs.run_timeout =
            (spec.ready_timeout + self.settle + self.run_margin) * checks.len().max(1) as u32;
        let out = run_guest(&gs).map_err(|e| {
            HarnessError::Other(format!("cannot start a {} guest: {e}", self.target))
        })?;
        if !self.quiet {
            eprintln!(
                "      guest {} after {:.1} s (booted in {:.1} s)",
                describe_outcome(&out.outcome),
                out.total.as_secs_f64(),
                out.boot_to_command.unwrap_or_default().as_secs_f64()
            );
        }
        Ok((out, gs.run_timeout))
    }

    fn boot_for(&self, spec: &ToolSpec, check: &Check<'_>) -> Result<CheckRecord, HarnessError> {
        let stap = match self.stap_module(spec)? {
            Some(Err(why)) => return Ok(self.unbuilt_record(spec, check, why)),
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let (out, run_timeout) = self.boot(spec, &[check], ToolRuns::PerWorkload, stap.as_ref())?;
        let mut rec = self.record_from(spec, check, &out, run_timeout);
        if let Some(b) = stap {
            rec.tool_run.build = Some(b.build);
        }
        Ok(rec)
    }

    /// For a SystemTap spec, its module built on this host for the guest's
    /// kernel (or found built); `Some(Err)` when stap cannot build it,
    /// which is the verdict. `None` for any other tool.
    fn stap_module(
        &self,
        spec: &ToolSpec,
    ) -> Result<Option<Result<BuiltModule, Unbuilt>>, HarnessError> {
        let Some(script) = &spec.stap else {
            return Ok(None);
        };
        let t0 = Instant::now();
        let kit = match self.stap.get() {
            Some(k) => k,
            None => {
                if !self.quiet {
                    eprintln!(
                        "      setting up SystemTap for {} in {} (the first time fetches Debian's systemtap packages and the kernel's kbuild)",
                        self.image.kver,
                        self.cache_dir.display()
                    );
                }
                let kit = StapKit::prepare(&self.image, &self.cache_dir).map_err(|e| {
                    HarnessError::Other(format!("cannot set up SystemTap for {}: {e}", self.target))
                })?;
                self.stap.get_or_init(|| kit)
            }
        };
        let path = script_path(kit, &script.source);
        if !path.is_file() {
            return Err(HarnessError::Other(format!(
                "{}: SystemTap {} ships no example {}",
                spec.path.display(),
                kit.version,
                path.display()
            )));
        }
        let guru = script
            .options
            .iter()
            .any(|o| o == "-g" || o == "--guru-mode")
            || std::fs::read_to_string(&path).is_ok_and(|t| t.contains("%{"));
        let name = script.file_name();
        match kit.build(
            &path,
            &script.build_options(),
            &script.args,
            &script.module_name,
        ) {
            Ok(m) => {
                let build = ModuleBuild {
                    builder: format!("stap {}", kit.version),
                    kernel: kit.kver.clone(),
                    cached: m.cached,
                    build_ms: (m.build_secs * 1000.0) as u64,
                    this_run_ms: t0.elapsed().as_millis() as u64,
                    debuginfo: m.debuginfo,
                    guru,
                };
                if !self.quiet {
                    eprintln!(
                        "      {name}: module for {} {} ({:.1} s{})",
                        kit.kver,
                        if m.cached { "found built" } else { "built" },
                        if m.cached {
                            t0.elapsed().as_secs_f64()
                        } else {
                            m.build_secs
                        },
                        if m.debuginfo {
                            ", with the kernel's debug info"
                        } else {
                            ""
                        }
                    );
                }
                Ok(Some(Ok(BuiltModule {
                    root: kit.root.clone(),
                    module: m.path,
                    build,
                })))
            }
            Err(StapError::Build(f)) => {
                let sentence = format!(
                    "{name} cannot run on {}: {}; stap's first error: {}",
                    kit.kver, f.reason, f.first_error
                );
                Ok(Some(Err((
                    Diagnosis {
                        finding: Finding::ToolFailed,
                        sentence,
                    },
                    f.stderr_tail,
                ))))
            }
            Err(StapError::Setup(e)) => Err(HarnessError::Other(format!(
                "cannot build {name} for {}: {e}",
                self.target
            ))),
        }
    }

    /// The record of a check whose SystemTap script could not be built:
    /// no guest booted, and every claim gets the build's ERROR.
    fn unbuilt_record(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        (why, stderr): Unbuilt,
    ) -> CheckRecord {
        let tool_rec = ToolRecord {
            command: spec.command.clone(),
            stderr_tail: stderr,
            ..ToolRecord::default()
        };
        self.failed_record(spec, check, tool_rec, why, 0)
    }

    /// Turn what the guest did into the check's record.
    fn record_from(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        out: &GuestOutcome,
        run_timeout: Duration,
    ) -> CheckRecord {
        let (finding, sentence) = match &out.outcome {
            Outcome::Exited { code } => {
                if let Some(rec) = parse_report(&out.stdout, check.plan.name) {
                    return rec;
                }
                (
                    Finding::GuestFailed,
                    with_lines(
                        format!(
                            "tracecheck could not run the check in the {} guest (exit {code})",
                            self.target
                        ),
                        "its stderr ended with:",
                        tail(&lines(&out.stderr), SERIAL_TAIL),
                    ),
                )
            }
            Outcome::Hung {
                reason: HangReason::HungTask,
            } => {
                // The guest runs with hung_task_panic: a task stuck inside
                // the kernel is found within seconds, without waiting for
                // the wall-clock timeout.
                let panic: Vec<String> = out.panic_lines.iter().take(PANIC_LINES).cloned().collect();
                (
                    Finding::GuestHung,
                    with_lines(
                        format!(
                            "the tool hung the kernel ({} {}): a task stayed blocked inside the kernel past the guest's hung-task timeout, and the watchdog stopped the guest",
                            self.target, self.image.kver
                        ),
                        "the console said:",
                        panic,
                    ),
                )
            }
            Outcome::KernelPanic => {
                let panic: Vec<String> = out.panic_lines.iter().take(PANIC_LINES).cloned().collect();
                (
                    Finding::KernelCrashed,
                    with_lines(
                        format!(
                            "the tool crashed the kernel ({} {}): the guest's kernel panicked while the check ran",
                            self.target, self.image.kver
                        ),
                        "the console said:",
                        panic,
                    ),
                )
            }
            Outcome::Hung { reason } => (
                Finding::GuestHung,
                with_lines(
                    format!(
                        "the guest hung ({}; the VM was killed)",
                        match reason {
                            HangReason::WallTimeout => format!(
                                "the check did not end within {} s",
                                run_timeout.as_secs()
                            ),
                            HangReason::Silent => "no output for too long".to_string(),
                            HangReason::HungTask => unreachable!("matched above"),
                        }
                    ),
                    "the last console lines:",
                    out.last_serial_lines(SERIAL_TAIL).to_vec(),
                ),
            ),
            Outcome::NoBoot { reason } => (
                Finding::GuestFailed,
                with_lines(
                    format!("the {} guest did not boot: {reason}", self.target),
                    "the last console lines:",
                    out.last_serial_lines(SERIAL_TAIL).to_vec(),
                ),
            ),
            Outcome::Vanished { qemu_status } => (
                Finding::GuestFailed,
                with_lines(
                    format!(
                        "the {} guest vanished while the check ran (qemu {qemu_status}), with no panic on its console",
                        self.target
                    ),
                    "the last console lines:",
                    out.last_serial_lines(SERIAL_TAIL).to_vec(),
                ),
            ),
        };
        let tool_rec = ToolRecord {
            command: spec.command.clone(),
            stdout: out.stdout.clone(),
            stderr_tail: tail(&lines(&out.stderr), SERIAL_TAIL),
            ..ToolRecord::default()
        };
        let total_ms = out.total.as_millis() as u64;
        self.failed_record(
            spec,
            check,
            tool_rec,
            Diagnosis { finding, sentence },
            total_ms,
        )
    }

    /// An ERROR verdict saying `why` for every claim of the check.
    fn failed_record(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        tool_rec: ToolRecord,
        why: Diagnosis,
        total_ms: u64,
    ) -> CheckRecord {
        let verdicts = judge::unmeasured(&check.claims, check.plan.name, &tool_rec, &why);
        let mut rec = CheckRecord::unmeasured(
            &spec.name,
            &spec.path,
            check.plan.name,
            self.describe(),
            "scratch (guest virtio disk)".to_string(),
            "",
        );
        rec.tool_run = tool_rec;
        rec.verdicts = verdicts;
        rec.timings.total_ms = total_ms;
        rec
    }
}

impl GuestEnvironment {
    /// The report card of `spec`'s tool, measured in a fresh guest by this
    /// same binary (`tracecheck card --format json`); for a SystemTap
    /// script, with its module built here first, and whether it needs guru
    /// mode found by building it without `-g` too.
    pub fn card(&self, spec: &ToolSpec) -> Result<crate::card::Card, HarnessError> {
        let stap = match self.stap_module(spec)? {
            Some(Err((why, _))) => {
                return Ok(crate::card::Card {
                    tool: spec.name.clone(),
                    environment: self.describe(),
                    start_failure: Some(why.sentence),
                    ..Default::default()
                })
            }
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let guru_reason = match (&spec.stap, self.stap.get()) {
            (Some(script), Some(kit)) if stap.as_ref().is_some_and(|b| b.build.guru) => {
                let path = script_path(kit, &script.source);
                let plain: Vec<String> = script
                    .build_options()
                    .into_iter()
                    .filter(|o| o != "-g" && o != "--guru-mode")
                    .collect();
                match kit.build(&path, &plain, &script.args, &script.module_name) {
                    Err(StapError::Build(f)) => Some(f.first_error),
                    _ => None,
                }
            }
            _ => None,
        };
        let spec_path = spec
            .path
            .canonicalize()
            .unwrap_or_else(|_| spec.path.clone());
        let mut command = format!(
            "exec {} card {} --format json --environment {}",
            sh_quote(&self.exe.display().to_string()),
            sh_quote(&spec_path.display().to_string()),
            sh_quote(&self.describe()),
        );
        if let Some(b) = &stap {
            command.push_str(&format!(
                " --stap-root {} --stap-module {}",
                sh_quote(&b.root.display().to_string()),
                sh_quote(&b.module.display().to_string())
            ));
        }
        // A tool that watches one disk gets a scratch disk of its own to
        // watch, as in a check.
        let disk = spec.names_the_device();
        if disk {
            command.push_str(" --scratch-device serial:");
            command.push_str(&tracecheck_vm::qemu::scratch_serial(0));
        }
        let mut gs = GuestSpec::new(&self.image, self.accel, command);
        if disk {
            gs.scratch_disk_bytes = Some(self.scratch_mib << 20);
            gs.scratch_disks = 1;
        }
        gs.shares = self.shares(&spec_path, stap.as_ref());
        gs.boot_timeout = self.boot_timeout;
        gs.run_timeout = spec.ready_timeout * 2 + spec.stop_timeout * 2 + self.run_margin;
        let out = run_guest(&gs).map_err(|e| {
            HarnessError::Other(format!("cannot start a {} guest: {e}", self.target))
        })?;
        let mut card: crate::card::Card = match &out.outcome {
            Outcome::Exited { .. } => serde_json::from_str(out.stdout.trim()).map_err(|e| {
                HarnessError::Other(format!(
                    "the {} guest printed no report card ({e}); its stderr ended with: {}",
                    self.target,
                    tail(&lines(&out.stderr), 5).join(" | ")
                ))
            })?,
            other => crate::card::Card {
                tool: spec.name.clone(),
                environment: self.describe(),
                start_failure: Some(format!(
                    "the guest did not finish the card: {}",
                    describe_outcome(other)
                )),
                ..Default::default()
            },
        };
        if let Some(b) = stap {
            card.build = Some(b.build);
        }
        card.guru_reason = guru_reason;
        Ok(card)
    }
}

impl Environment for GuestEnvironment {
    /// `guest debian-6.1 (kernel 6.1.0-56-amd64, TCG)`
    fn describe(&self) -> String {
        let mut userland = String::new();
        if !self.image.userland.is_empty() {
            // Read back by results::Env: the tools' versions there.
            userland = format!(
                ", userland {}: {}",
                self.target.suite(),
                self.image.userland.join(" ")
            );
        }
        format!(
            "guest {} (kernel {}, {}{userland})",
            self.target,
            self.image.kver,
            self.accel_word()
        )
    }

    fn run_check(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        interrupted: &AtomicBool,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<CheckRecord, HarnessError> {
        let phase = format!("booting {} guest ({})", self.target, self.accel_word());
        on_event(Event::Phase(&phase));
        let rec = self.boot_for(spec, check)?;
        // A Ctrl-C during the guest takes effect once it returns.
        if interrupted.load(Ordering::Relaxed) {
            return Err(HarnessError::Interrupted);
        }
        Ok(rec)
    }

    /// One guest for all of the spec's checks; the agent in it decides, as
    /// this machine would, whether one tool run serves them. A guest that
    /// does not bring back every check's record (the tool crashed or hung
    /// it) is followed by one fresh guest per missing check, so that each
    /// gets the verdict of its own run.
    fn run_together(
        &self,
        spec: &ToolSpec,
        checks: &[Check<'_>],
        tool_runs: ToolRuns,
        interrupted: &AtomicBool,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Option<Result<Together, HarnessError>> {
        (checks.len() > 1)
            .then(|| self.in_one_guest(spec, checks, tool_runs, interrupted, on_event))
    }
}

impl GuestEnvironment {
    fn in_one_guest(
        &self,
        spec: &ToolSpec,
        checks: &[Check<'_>],
        tool_runs: ToolRuns,
        interrupted: &AtomicBool,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<Together, HarnessError> {
        let n = checks.len();
        let phase = format!(
            "booting one {} guest ({}) for {n} checks",
            self.target,
            self.accel_word()
        );
        on_event(Event::Phase(&phase));
        let all: Vec<&Check<'_>> = checks.iter().collect();
        let stap = match self.stap_module(spec)? {
            Some(Err(why)) => {
                return Ok(Together {
                    records: checks
                        .iter()
                        .map(|c| self.unbuilt_record(spec, c, why.clone()))
                        .collect(),
                    stopped: None,
                })
            }
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let (out, _) = self.boot(spec, &all, tool_runs, stap.as_ref())?;
        // Read once; only a guest that exited normally has a report.
        let mut reports = match out.outcome {
            Outcome::Exited { .. } => parse_reports(&out.stdout),
            _ => Vec::new(),
        };
        let mut found: Vec<Option<CheckRecord>> = checks
            .iter()
            .map(|c| {
                let i = reports.iter().position(|r| r.workload == c.plan.name)?;
                Some(reports.swap_remove(i))
            })
            .collect();
        if let Some(b) = &stap {
            for r in found.iter_mut().flatten() {
                r.tool_run.build = Some(b.build.clone());
            }
        }
        let missing = found.iter().filter(|r| r.is_none()).count();
        if missing > 0 && !self.quiet {
            eprintln!(
                "      {missing} of {n} checks did not come back from that guest ({}): each runs again in a guest of its own",
                describe_outcome(&out.outcome)
            );
        }
        let mut done = Together {
            records: Vec::with_capacity(n),
            stopped: None,
        };
        for (index, (check, rec)) in checks.iter().zip(&mut found).enumerate() {
            if interrupted.load(Ordering::Relaxed) {
                done.stopped = Some(HarnessError::Interrupted);
                break;
            }
            on_event(Event::start_of(index, n, spec, check));
            let rec = match rec.take() {
                Some(r) => r,
                None => match self.run_check(spec, check, interrupted, on_event) {
                    Ok(r) => r,
                    Err(e) => {
                        done.stopped = Some(e);
                        break;
                    }
                },
            };
            done.records.push(rec);
        }
        Ok(done)
    }
}

/// The records in a guest's `--format json` report (none if it is not one).
fn parse_reports(stdout: &str) -> Vec<CheckRecord> {
    serde_json::from_str::<GuestReport>(stdout.trim()).map_or_else(|_| Vec::new(), |r| r.checks)
}

/// The record for `workload` in a guest's `--format json` report.
fn parse_report(stdout: &str, workload: &str) -> Option<CheckRecord> {
    parse_reports(stdout)
        .into_iter()
        .find(|c| c.workload == workload)
}

fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Exited { code } => format!("exited {code}"),
        Outcome::KernelPanic => "kernel panicked".into(),
        Outcome::Hung { .. } => "hung".into(),
        Outcome::NoBoot { .. } => "did not boot".into(),
        Outcome::Vanished { .. } => "vanished".into(),
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

fn tail(v: &[String], n: usize) -> Vec<String> {
    v[v.len().saturating_sub(n)..].to_vec()
}

fn with_lines(mut s: String, heading: &str, lines: Vec<String>) -> String {
    if !lines.is_empty() {
        s.push_str("\n  ");
        s.push_str(heading);
        for l in lines {
            s.push_str("\n    ");
            s.push_str(l.trim_end());
        }
    }
    s
}

/// Single-quote for /bin/sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(sh_quote("/a b/c"), "'/a b/c'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    fn env_with(root_dir: Option<PathBuf>, userland: Vec<String>, exe: &str) -> GuestEnvironment {
        GuestEnvironment {
            target: KernelTarget::Debian13,
            image: Image {
                target: "debian-13".into(),
                package: "linux-image-6.12.118+deb13-amd64".into(),
                package_version: "6.12.118-1".into(),
                kver: "6.12.118+deb13-amd64".into(),
                key: "0".into(),
                vmlinux: "/nonexistent".into(),
                initramfs: "/nonexistent".into(),
                modules_dir: "/nonexistent".into(),
                headers_packages: Vec::new(),
                headers_dir: None,
                root_dir,
                userland,
            },
            accel: Accel::Tcg,
            exe: exe.into(),
            scratch_mib: 64,
            settle: Duration::from_secs(1),
            boot_timeout: Duration::from_secs(1),
            run_margin: Duration::from_secs(1),
            quiet: true,
            cache_dir: "/nonexistent".into(),
            stap: OnceLock::new(),
        }
    }

    #[test]
    fn a_guest_with_a_root_of_its_own_is_given_the_binary_and_the_spec_wherever_they_are() {
        let guests = |e: &GuestEnvironment| -> Vec<String> {
            e.shares(Path::new("/work/x/spec/spec.toml"), None)
                .into_iter()
                .map(|s| s.guest)
                .collect()
        };
        // This machine's root: only what the guest's tmpfs would hide.
        let shared_root = env_with(None, vec![], "/work/x/target/release/tracecheck");
        assert!(guests(&shared_root).is_empty());
        let in_var_tmp = env_with(None, vec![], "/var/tmp/t/tracecheck");
        assert_eq!(guests(&in_var_tmp), ["/var/tmp/t"]);
        // Debian 13's own root: both, at their own paths.
        let own = env_with(
            Some("/cache/roots/debian-13-x/root".into()),
            vec!["bpfcc-tools=0.31.0+ds-7".into(), "bpftrace=0.23.2-1".into()],
            "/work/x/target/release/tracecheck",
        );
        assert_eq!(guests(&own), ["/work/x/spec", "/work/x/target/release"]);
        // And it says whose tools it runs, for results::Env to read back.
        let d = own.describe();
        assert!(
            d.ends_with("userland trixie: bpfcc-tools=0.31.0+ds-7 bpftrace=0.23.2-1)"),
            "{d}"
        );
        assert_eq!(
            crate::results::Env::parse(&d).tool_versions(),
            ["bpfcc-tools 0.31.0+ds-7", "bpftrace 0.23.2-1"]
        );
        assert!(!shared_root.describe().contains("userland"));
    }

    #[test]
    fn a_report_without_the_workload_is_no_record() {
        assert!(parse_report("not json", "direct-read").is_none());
        assert!(parse_report(r#"{"checks": []}"#, "direct-read").is_none());
    }
}
