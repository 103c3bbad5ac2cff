//! Where checks run. An [`Environment`] is prepared once (a scratch disk on
//! this machine, or a guest image), then runs one check at a time and
//! describes itself; [`check_spec`] is the loop every environment shares.
//!
//! - [`host`]: this machine's kernel, on a scratch block device;
//! - [`guest`]: disposable QEMU guests on Debian kernels, each running this
//!   same binary as a host-environment agent on the guest's own disk.

pub mod guest;
pub mod host;
mod inputs;
mod rig;
pub mod shared;

use crate::error::HarnessError;
use crate::record::CheckRecord;
use crate::select::{for_metric, Plan};
use crate::spec::{Claim, ToolSpec};
use crate::verdict::Verdict;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// Progress, for the reporter.
pub enum Event<'a> {
    CheckStart {
        index: usize,
        total: usize,
        tool: &'a str,
        workload: &'a str,
    },
    Phase(&'a str),
    /// With `--repeat`: one run of a check (recorded, not reported alone).
    RunDone {
        run: usize,
        of: usize,
        record: &'a CheckRecord,
    },
    /// A check's final record (with `--repeat`, the runs merged).
    CheckDone(&'a CheckRecord),
}

/// One check: a workload plan and the spec's claims judged on it.
#[derive(Debug)]
pub struct Check<'s> {
    pub plan: &'static Plan,
    pub claims: Vec<&'s Claim>,
    /// Lines the tool wrote to stderr on earlier checks of this run whose
    /// claims all passed: its start-up noise, not evidence of a failure.
    pub known_stderr: Vec<String>,
}

impl Check<'_> {
    /// The rate the witness's sampler runs at for this check: its
    /// profilers' claims' (`sample_hz`), the highest if they differ.
    pub fn sample_hz(&self) -> Option<u32> {
        self.claims.iter().filter_map(|c| c.sample_hz).max()
    }
}

/// The checks a spec needs: each workload plan once, with the claims that
/// run on it, in the order the claims name them.
pub fn checks_of(spec: &ToolSpec) -> Vec<Check<'_>> {
    let mut out: Vec<Check<'_>> = Vec::new();
    for c in &spec.claims {
        let plans = if c.workloads.is_empty() {
            for_metric(c.metric, c.per_process())
        } else {
            c.workloads.clone()
        };
        for p in plans {
            match out.iter_mut().find(|k| k.plan.name == p.name) {
                Some(k) => k.claims.push(c),
                None => out.push(Check {
                    plan: p,
                    claims: vec![c],
                    known_stderr: Vec::new(),
                }),
            }
        }
    }
    out
}

/// [`checks_of`], kept to the ones on the workloads in `only`
/// (`--workload`, repeatable; empty keeps all), in `only`'s order.
pub fn checks_for<'s>(spec: &'s ToolSpec, only: &[String]) -> Result<Vec<Check<'s>>, HarnessError> {
    let mut checks = checks_of(spec);
    if only.is_empty() {
        return Ok(checks);
    }
    let names: Vec<&str> = checks.iter().map(|k| k.plan.name).collect();
    let mut kept = Vec::with_capacity(only.len());
    for name in only {
        if kept.iter().any(|k: &Check<'_>| k.plan.name == name) {
            continue;
        }
        if let Some(i) = checks.iter().position(|k| k.plan.name == name) {
            kept.push(checks.remove(i));
        } else if let Some(plan) = crate::select::plan(name) {
            // A plan outside the spec's defaults: every claim runs on it.
            kept.push(Check {
                plan,
                claims: spec.claims.iter().collect(),
                known_stderr: Vec::new(),
            });
        } else {
            return Err(HarnessError::Other(format!(
                "{} has no check on workload `{name}`, and no workload has that name; its workloads are: {} (all: {})",
                spec.path.display(),
                names.join(", "),
                crate::select::names().join(", ")
            )));
        }
    }
    Ok(kept)
}

impl<'a> Event<'a> {
    /// The start of `check`, the `index`th of `total` of `spec`'s.
    pub fn start_of(index: usize, total: usize, spec: &'a ToolSpec, check: &Check<'_>) -> Self {
        Event::CheckStart {
            index,
            total,
            tool: &spec.name,
            workload: check.plan.name,
        }
    }
}

/// How a spec's checks use the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolRuns {
    /// One run of the tool for all of a spec's checks where its claims
    /// allow it (every claim keyed by process; [`shared::shares_tool_run`]),
    /// one per check otherwise.
    #[default]
    SharedWherePossible,
    /// A fresh run of the tool for every check (`--tool-run-per-workload`).
    PerWorkload,
}

/// A place checks run in.
pub trait Environment {
    /// One line naming it, as reports show it: `host (kernel 6.18.44)`,
    /// `guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)`.
    fn describe(&self) -> String;

    /// Run one check (one workload, the spec's claims on it). What happens
    /// to the tool (did not start, crashed the kernel, hung) is a verdict
    /// in the record; `Err` is for tracecheck's own failures and Ctrl-C.
    fn run_check(
        &self,
        spec: &ToolSpec,
        check: &Check<'_>,
        interrupted: &AtomicBool,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<CheckRecord, HarnessError>;

    /// All of a spec's `checks` at once, where this environment has a
    /// faster way than one by one (one tool run, one guest): announces each
    /// check (`CheckStart`) and its phases through `on_event`, and returns
    /// the records for [`check_spec`] to report. `None` when it has no such
    /// way, and the checks then run one by one.
    fn run_together(
        &self,
        _spec: &ToolSpec,
        _checks: &[Check<'_>],
        _tool_runs: ToolRuns,
        _interrupted: &AtomicBool,
        _on_event: &mut dyn FnMut(Event<'_>),
    ) -> Option<Result<Together, HarnessError>> {
        None
    }
}

/// What a spec's checks run together gave.
pub struct Together {
    /// The records of the checks that finished, in the order they ran.
    pub records: Vec<CheckRecord>,
    /// What stopped the others (Ctrl-C, tracecheck's own failure), if
    /// anything did.
    pub stopped: Option<HarnessError>,
}

/// A check whose truth tracecheck could not establish is measured once
/// more, alone, with a fresh run of the tool. Its truth is held against
/// three witnesses that must agree, and another process's I/O in the
/// window or an event the witness missed can break that agreement once
/// without saying anything about the tool. The first measurement stays in
/// the record file (as run 1 of 2) and the second record says why it was
/// made; a second failure to establish the truth is the verdict. Returns
/// the record to report, and what stopped the second measurement, if
/// anything did (the first is then reported).
fn measured_again(
    env: &dyn Environment,
    spec: &ToolSpec,
    check: &Check<'_>,
    mut first: CheckRecord,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> (CheckRecord, Option<HarnessError>) {
    if !first.verdicts.iter().any(Verdict::truth_unknown) || interrupted.load(Ordering::Relaxed) {
        return (first, None);
    }
    // Why for the claims it concerns (others' truths may be unknown too,
    // a latency's on a device of no known latency, to no one's concern).
    let unknown = |m: &tracecheck_model::Metric| {
        first
            .verdicts
            .iter()
            .any(|v| v.truth_unknown() && v.metric == *m)
    };
    let mut why: Vec<String> = first
        .unestablished
        .iter()
        .filter(|u| unknown(&u.metric))
        .map(|u| u.why.clone())
        .collect();
    if why.is_empty() {
        why = first.unestablished.iter().map(|u| u.why.clone()).collect();
    }
    why.dedup();
    // A latency on a device whose latency nobody set, or that serves
    // queued requests one at a time after their issue, stays unknown there.
    if why.iter().all(|w| {
        w == crate::establish::NO_KNOWN_LATENCY || w.contains(crate::establish::QUEUED_AFTER_ISSUE)
    }) {
        return (first, None);
    }
    on_event(Event::Phase(
        "tracecheck could not establish the truth; measuring this workload again, alone",
    ));
    first.repeat_run = Some(0);
    on_event(Event::RunDone {
        run: 0,
        of: 2,
        record: &first,
    });
    match env.run_check(spec, check, interrupted, on_event) {
        Ok(mut second) => {
            let why = if why.is_empty() {
                "the first measurement's truth could not be established".to_string()
            } else {
                why.join("; ")
            };
            for v in &mut second.verdicts {
                v.notes.push(format!(
                    "measured a second time, alone: tracecheck could not establish the first measurement's truth ({why})"
                ));
            }
            second.measured_again_after = Some(why);
            (second, None)
        }
        Err(e) => {
            first.repeat_run = None;
            (first, Some(e))
        }
    }
}

/// Which of a spec's checks run, and how.
pub struct Choices<'a> {
    /// Only the checks on these workloads (`--workload`); empty for all.
    pub only: &'a [String],
    /// Of those, the ones this job runs (`--shard`), by workload name.
    pub keep: &'a dyn Fn(&str) -> bool,
    /// Runs of each check (`--repeat`).
    pub repeat: usize,
    pub tool_runs: ToolRuns,
}

impl Choices<'_> {
    /// Every check, once, the default way.
    pub const ALL: Choices<'static> = Choices {
        only: &[],
        keep: &|_| true,
        repeat: 1,
        tool_runs: ToolRuns::SharedWherePossible,
    };
}

/// Every check of `spec` that `choices` keeps, in `env`: announce each, run
/// it, report it done. Stops at Ctrl-C between checks; finished checks have
/// already been reported through `on_event`.
pub fn check_spec(
    env: &dyn Environment,
    spec: &ToolSpec,
    choices: &Choices<'_>,
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<CheckRecord>, HarnessError> {
    let Choices {
        only,
        keep,
        repeat,
        tool_runs,
    } = *choices;
    let checks: Vec<Check<'_>> = checks_for(spec, only)?
        .into_iter()
        .filter(|c| keep(c.plan.name))
        .collect();
    // A repeated check runs alone each time, so its runs are independent.
    if repeat <= 1 {
        if let Some(together) = env.run_together(spec, &checks, tool_runs, interrupted, on_event) {
            let Together { records, stopped } = together?;
            let mut stopped = stopped;
            let mut out = Vec::with_capacity(records.len());
            // The records come in the checks' order, the unfinished left off.
            for (check, rec) in checks.iter().zip(records) {
                let rec = if stopped.is_none() {
                    let (rec, e) = measured_again(env, spec, check, rec, interrupted, on_event);
                    stopped = e;
                    rec
                } else {
                    rec
                };
                on_event(Event::CheckDone(&rec));
                out.push(rec);
            }
            return match stopped {
                Some(e) => Err(e),
                None => Ok(out),
            };
        }
    }
    let total = checks.len();
    let mut records: Vec<CheckRecord> = Vec::new();
    // What the tool printed to stderr on this spec's passing checks so far.
    let mut known_stderr: Vec<String> = Vec::new();
    for (index, mut check) in checks.into_iter().enumerate() {
        check.known_stderr = known_stderr.clone();
        if interrupted.load(Ordering::Relaxed) {
            return Err(HarnessError::Interrupted);
        }
        on_event(Event::start_of(index, total, spec, &check));
        let repeat = repeat.max(1);
        let mut runs = Vec::with_capacity(repeat);
        for run in 0..repeat {
            if run > 0 && interrupted.load(Ordering::Relaxed) {
                return Err(HarnessError::Interrupted);
            }
            let mut rec = env.run_check(spec, &check, interrupted, on_event)?;
            if repeat > 1 {
                rec.repeat_run = Some(run);
                on_event(Event::RunDone {
                    run,
                    of: repeat,
                    record: &rec,
                });
            }
            runs.push(rec);
        }
        let rec = crate::record::merge_repeats(runs);
        let (rec, stopped) = if repeat == 1 {
            measured_again(env, spec, &check, rec, interrupted, on_event)
        } else {
            (rec, None)
        };
        on_event(Event::CheckDone(&rec));
        if let Some(e) = stopped {
            return Err(e);
        }
        if !rec.verdicts.is_empty()
            && rec
                .verdicts
                .iter()
                .all(|v| v.status == crate::verdict::Status::Pass)
        {
            known_stderr.extend(rec.tool_run.stderr_tail.iter().cloned());
        }
        records.push(rec);
    }
    Ok(records)
}

/// The `tracecheck` binary: the workload generator on the host, the agent
/// in a guest. This process when it is `tracecheck`, otherwise (a bench or
/// test harness linking the library) the `tracecheck` binary beside it or
/// one directory up (cargo's `deps/`), or `$TRACECHECK_BIN`. Never the
/// calling program itself, which would start another copy of whatever it is.
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
