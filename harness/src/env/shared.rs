//! One start of the tool for all of a spec's checks on this machine's
//! kernel, when every claim is keyed by process (issue 12: the tool's start
//! is most of a check's time, 7–16 s for bpftrace in a TCG guest).
//!
//! The order keeps each check as clean as one of its own:
//! 1. every workload's input files are written and settled first, so the
//!    tool never sees any preparation (a check of its own prepares before
//!    the tool starts, too);
//! 2. the tool starts once and is waited for;
//! 3. the workloads run one after another, each under its own fresh
//!    process name, each with its own witness, diskstats window and
//!    settle, exactly as in a check of its own;
//! 4. the tool stops, and each check is judged on the one output: its own
//!    process's entries are its reading, and the other workloads' entries
//!    ([`Siblings`]) are passed over, so they are neither counted nor taken
//!    for "other tasks".
//!
//! Claims that are not keyed by process (device-wide, system-wide) would
//! see every workload at once, so such specs keep one tool run per
//! workload ([`shares_tool_run`]).

use super::rig::{Measured, Rig, WorkloadRun};
use super::{Check, Event, Together};
use crate::error::HarnessError;
use crate::judge::Siblings;
use crate::record::{CheckRecord, SharedToolRun, Timings};
use crate::spec::ToolSpec;
use crate::tool::RunningTool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Can one run of the tool serve all of `spec`'s checks? Only when every
/// claim is keyed by process (comm or pid): then each workload's part of
/// the output is told apart by its fresh name and pids.
/// Nor when its command names the scratch disk (`{dev}`): each workload
/// has a disk of its own.
pub fn shares_tool_run(spec: &ToolSpec) -> bool {
    !spec.claims.is_empty()
        && spec.claims.iter().all(|c| c.per_process())
        && !spec.names_the_device()
        && !spec.needs_pid()
}

/// How many whole milliseconds of `ms` one of `n` checks bears.
fn share(ms: u128, n: usize) -> u64 {
    (ms / n.max(1) as u128) as u64
}

/// All of `checks` beside one run of the tool (see the module's comment).
/// At Ctrl-C (or a workload's failure) the workloads measured so far are
/// still judged, and [`Together::stopped`] says what stopped the rest.
pub(super) fn run_beside_one_tool(
    rig: &Rig,
    spec: &ToolSpec,
    checks: &[Check<'_>],
    interrupted: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Together, HarnessError> {
    let n = checks.len();
    let t0 = Instant::now();
    let runs: Vec<WorkloadRun<'_>> = checks
        .iter()
        .map(|c| WorkloadRun::new(rig, c.plan, interrupted))
        .collect::<Result<_, _>>()?;
    let phase = format!("preparing the files of {n} workload(s) for one run of the tool");
    on_event(Event::Phase(&phase));
    for r in &runs {
        r.prepare_files()?;
    }
    // Every disk, the runs' and the ones earlier checks left files on to
    // delete (see WorkloadRun::prepare).
    rig.settle_all()?;
    let prepare_ms = t0.elapsed().as_millis();

    let records: Vec<CheckRecord> = checks
        .iter()
        .zip(&runs)
        .enumerate()
        .map(|(i, (c, r))| {
            let mut rec = rig.blank_record(spec, c, r);
            rec.tool_run_shared = Some(SharedToolRun {
                checks: n,
                position: i,
            });
            rec
        })
        .collect();

    on_event(Event::Phase("starting the tool (one run for the spec)"));
    let t_tool = Instant::now();
    let mut tool = match RunningTool::start(spec) {
        Ok(t) => t,
        Err(rec) => {
            return Ok(all_unmeasured(rig, checks, records, *rec, t0));
        }
    };
    if let Err(f) = tool.wait_ready(spec, interrupted) {
        if interrupted.load(Ordering::Relaxed) {
            return Err(HarnessError::Interrupted);
        }
        let rec = tool.abandon(f);
        return Ok(all_unmeasured(rig, checks, records, rec, t0));
    }
    let tool_start_ms = t_tool.elapsed().as_millis();

    let mut measured: Vec<(Measured, Timings)> = Vec::new();
    let mut stopped_by = None;
    for (index, (check, run)) in checks.iter().zip(&runs).enumerate() {
        if interrupted.load(Ordering::Relaxed) {
            stopped_by = Some(HarnessError::Interrupted);
            break;
        }
        on_event(Event::start_of(index, n, spec, check));
        let mut timings = Timings::default();
        let t_check = Instant::now();
        match run
            .watch(check.sample_hz(), &mut timings)
            .and_then(|w| run.measure(w, None, on_event, &mut timings))
        {
            Ok(m) => {
                timings.total_ms = t_check.elapsed().as_millis() as u64;
                measured.push((m, timings));
            }
            Err(e) => {
                stopped_by = Some(e);
                break;
            }
        }
    }

    on_event(Event::Phase("stopping the tool"));
    let t_stop = Instant::now();
    tool.outlast_interval(spec);
    let tool_rec = tool.stop(spec.stop, spec.stop_timeout);
    let tool_stop_ms = t_stop.elapsed().as_millis();

    let all: Vec<Siblings> = (0..measured.len())
        .map(|i| siblings_of(measured.iter().map(|(m, _)| m.truth()), i))
        .collect();
    let mut done = Vec::with_capacity(measured.len());
    let judged = measured.into_iter().zip(records).zip(all).enumerate();
    for (i, (((m, mut timings), mut rec), siblings)) in judged {
        rig.judge_measured(spec, &checks[i], &mut rec, m, tool_rec.clone(), siblings);
        timings.prepare_ms = share(prepare_ms, n);
        timings.tool_start_ms = share(tool_start_ms, n);
        timings.tool_stop_ms = share(tool_stop_ms, n);
        timings.tool_exit_ms = share(tool_rec.stop.stop_ms.into(), n);
        timings.total_ms += timings.prepare_ms + timings.tool_start_ms + timings.tool_stop_ms;
        rec.timings = timings;
        done.push(rec);
    }
    drop(runs);
    Ok(Together {
        records: done,
        stopped: stopped_by,
    })
}

/// Every check's record when the one tool run never got going.
fn all_unmeasured(
    rig: &Rig,
    checks: &[Check<'_>],
    records: Vec<CheckRecord>,
    tool: crate::record::ToolRecord,
    t0: Instant,
) -> Together {
    let records = checks
        .iter()
        .zip(records)
        .map(|(c, rec)| rig.unmeasured(c, rec, tool.clone(), t0, Timings::default()))
        .collect();
    Together {
        records,
        stopped: None,
    }
}

/// The processes of every measured workload but the `i`th.
fn siblings_of<'a>(
    truths: impl Iterator<Item = &'a tracecheck_model::GroundTruth>,
    i: usize,
) -> Siblings {
    let mut s = Siblings::default();
    for (j, t) in truths.enumerate() {
        if j != i {
            s.comms.push(t.comm.clone());
            s.ids.extend(&t.pids);
            s.ids.extend(&t.tallies.thread_ids);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_part_is_split_evenly_and_never_divides_by_zero() {
        assert_eq!(share(900, 3), 300);
        assert_eq!(share(10, 0), 10);
    }
}
