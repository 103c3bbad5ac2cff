//! The judge: one claim, the tool's parsed output and the evidence of one
//! workload run in; verdicts out. Pure: no I/O, no printing, and no
//! knowledge of where the check ran. Advice that depends on the
//! environment (such as "use `--vm`") arrives in the evidence, from the
//! environment that knows it is true.
//!
//! - [`evidence`]: who the check was about, the truths, picking the best one;
//! - [`reading`]: the claim's map read out of the tool's output;
//! - [`diagnose`]: for a failed claim, what the number does match.

mod context;
mod diagnose;
mod distribution;
pub mod evidence;
mod fix;
mod mistakes;
mod per_cpu;
pub mod reading;

use crate::record::ToolRecord;
use crate::spec::Claim;
use crate::verdict::{Diagnosis, Finding, Status, TruthUsed, Verdict};
use context::Context;
use diagnose::diagnose;
use evidence::who_for;
pub use evidence::{Evidence, Siblings, Subject};
use reading::read_map;
use tracecheck_model::{Directed, Direction, Metric, ToolOutput};

/// The metrics a claim is judged on: its own, or one per direction when it
/// reads the direction from a key.
fn judged_metrics(claim: &Claim) -> Vec<(Metric, Option<Direction>)> {
    match claim.metric.direction {
        Directed::Fixed(d) => vec![(claim.metric, Some(d))],
        Directed::FromKey => [Direction::Read, Direction::Write]
            .into_iter()
            .map(|d| (claim.metric.with_direction(d), Some(d)))
            .collect(),
        // Every entry counts, whatever its direction.
        Directed::Undirected | Directed::Both => vec![(claim.metric, None)],
    }
}

/// Is `metric`'s truth unknown here? A sum of reads and writes is unknown
/// when either part is.
fn unestablished(
    unest: &[crate::establish::Unestablished],
    metric: Metric,
) -> Option<&crate::establish::Unestablished> {
    unest.iter().find(|u| {
        u.metric == metric
            || (metric.is_both()
                && [Direction::Read, Direction::Write]
                    .iter()
                    .any(|d| u.metric == metric.with_direction(*d)))
    })
}

/// A verdict with nothing decided yet: ERROR until judged.
fn blank(claim: &Claim, metric: Metric, workload: &str, tool: &ToolRecord) -> Verdict {
    let mut notes = Vec::new();
    if tool.stop.escalated {
        notes.push(format!(
            "the tool did not stop on its first {}; sent {} ({})",
            tool.stop
                .signals
                .first()
                .map(String::as_str)
                .unwrap_or("signal"),
            tool.stop.signals.join(", then "),
            tool.stop.status
        ));
    }
    Verdict {
        claim: claim.name.clone(),
        metric,
        // A latency claim's numbers are its sample counts; its times are
        // in the histogram comparison.
        unit: if metric.is_distribution() {
            "samples".to_string()
        } else {
            metric.unit().to_string()
        },
        workload: workload.to_string(),
        status: Status::Error,
        reported: None,
        truth: None,
        accepted: None,
        tolerance: claim.tolerance.to_string(),
        diagnosis: None,
        fix: None,
        others: Vec::new(),
        notes,
        histogram: None,
    }
}

/// The diagnosis for a tool that could not be judged: `sentence`, the
/// environment's `advice` if it has one, and the end of the tool's stderr.
pub fn tool_failed(sentence: String, tool: &ToolRecord, advice: Option<&str>) -> Diagnosis {
    let mut s = sentence;
    if let Some(a) = advice {
        s.push_str("\n  hint: ");
        s.push_str(a);
    }
    if !tool.stderr_tail.is_empty() {
        s.push_str("\n  its stderr ended with:");
        for l in &tool.stderr_tail {
            s.push_str("\n    ");
            s.push_str(l);
        }
    }
    Diagnosis {
        finding: Finding::ToolFailed,
        sentence: s,
    }
}

/// Verdicts for claims whose check measured nothing (the tool did not
/// start or attach, or its guest died): one ERROR per claim and judged
/// metric, each with `why`.
pub fn unmeasured(
    claims: &[&Claim],
    workload: &str,
    tool: &ToolRecord,
    why: &Diagnosis,
) -> Vec<Verdict> {
    claims
        .iter()
        .flat_map(|c| {
            judged_metrics(c).into_iter().map(|(metric, _)| Verdict {
                diagnosis: Some(why.clone()),
                ..blank(c, metric, workload, tool)
            })
        })
        .collect()
}

/// Why a tool's reading is no measurement: it printed no entry at all for
/// the claim, and its stderr says some of its probes did not attach (bpftrace
/// 0.17 warns "could not attach probe kprobe:..., skipping" and runs on
/// with the rest). `None` when the tool printed something, or nothing says
/// its probes failed.
fn blind(reading: &reading::Reading, tool: &ToolRecord) -> Option<String> {
    if reading.entries > 0 {
        return None;
    }
    let failed: Vec<&String> = tool
        .stderr_tail
        .iter()
        .filter(|l| mistakes::attach_failure(l))
        .collect();
    Some(format!(
        "the tool printed no entry for this claim ({}): its silence here is no measurement, whatever the truth",
        mistakes::unattached_phrase(&failed)?
    ))
}

/// A latency or size claim: the right number of samples (one per
/// request), then the histogram's shape against the witness's samples.
fn judge_distribution(
    v: &mut Verdict,
    claim: &Claim,
    out: &ToolOutput,
    reading: &reading::Reading,
    truth: &tracecheck_model::Truth,
    ev: &Evidence<'_>,
) {
    let buckets = match distribution::tool_histogram(claim, out, ev.subject) {
        Ok(b) => b,
        Err(e) => {
            v.diagnosis = Some(Diagnosis {
                finding: Finding::ToolFailed,
                sentence: e,
            });
            return;
        }
    };
    let Some(lat) = &ev.truth.tallies.requests else {
        v.diagnosis = Some(Diagnosis {
            finding: Finding::TruthUnknown,
            sentence: "tracecheck cannot establish the truth here: the witness saw no request"
                .into(),
        });
        return;
    };
    let lens = distribution::Lens::of(claim, ev.subject).with_gap(&ev.truth.tallies, lat);
    v.histogram = Some(distribution::comparison(&buckets, lat, lens));
    let (lo, hi) = v.accepted.unwrap_or((truth.lo, truth.hi));
    v.status = Status::Fail;
    if !(lo..=hi).contains(&reading.reported) {
        let mut d = distribution::miscount(
            &buckets,
            lat,
            lens,
            claim.has_key(crate::spec::KeyKind::Device),
        );
        let elsewhere: u64 = reading.others.values().sum();
        // Another process's calls are no misattribution: the claim keyed
        // by comm leaves them out by design.
        let requests = lens.measure != tracecheck_model::Measure::CallTime;
        if requests && lens.comm.is_some() && reading.reported < truth.lo && elsewhere > 0 {
            let names: Vec<String> = reading
                .others_largest_first()
                .iter()
                .take(3)
                .map(|(k, n)| format!("{k} ({n})"))
                .collect();
            d.sentence.push_str(&format!(
                "; {elsewhere} samples are under other names ({}): a key taken when the request ends names \
                 whoever is on the CPU then, not the task that issued it",
                names.join(", ")
            ));
        }
        v.diagnosis = Some(d);
    } else if let Some(d) = distribution::misfit(claim, &buckets, lat, lens) {
        v.diagnosis = Some(d);
    } else {
        v.status = Status::Pass;
        return;
    }
    v.fix = Some(fix::suggestion(claim.metric, claim.per_process()));
}

/// Judge one claim against one workload run.
pub fn judge(
    claim: &Claim,
    output: Result<&ToolOutput, &str>,
    tool: &ToolRecord,
    ev: &Evidence<'_>,
) -> Vec<Verdict> {
    let per_process = claim.per_process();
    let mut verdicts = Vec::new();
    for (metric, dir) in judged_metrics(claim) {
        let mut v = blank(claim, metric, ev.workload, tool);
        if let Some(f) = &tool.failure {
            v.diagnosis = Some(tool_failed(f.describe(&tool.command[0]), tool, ev.advice));
            verdicts.push(v);
            continue;
        }
        let out = match output {
            Ok(o) => o,
            Err(e) => {
                v.diagnosis = Some(tool_failed(
                    format!("the tool printed output tracecheck cannot parse: {e}"),
                    tool,
                    ev.advice,
                ));
                verdicts.push(v);
                continue;
            }
        };
        let who = who_for(metric.layer, per_process);
        if let Some(u) = unestablished(ev.unestablished, metric) {
            v.diagnosis = Some(Diagnosis {
                finding: Finding::TruthUnknown,
                sentence: format!("tracecheck cannot establish the truth here: {}", u.why),
            });
            verdicts.push(v);
            continue;
        }
        let Some(truth) = ev.truth.best(metric, &who) else {
            v.status = Status::Skip;
            v.notes.push(format!(
                "no ground truth for {} on the {} workload",
                metric.name(),
                ev.workload
            ));
            verdicts.push(v);
            continue;
        };
        let reading = match read_map(claim, out, dir, ev.subject) {
            Ok(r) => r,
            Err(e) => {
                v.diagnosis = Some(Diagnosis {
                    finding: Finding::ToolFailed,
                    sentence: e,
                });
                verdicts.push(v);
                continue;
            }
        };
        if reading.duplicates > 0 {
            v.notes.push(format!(
                "{} printed {} duplicate key line(s); their values were summed",
                claim.map, reading.duplicates
            ));
        }
        if !reading.bad_direction_keys.is_empty() {
            v.notes.push(format!(
                "keys that name no direction were left out: {}",
                reading.bad_direction_keys.join(", ")
            ));
        }
        let accepted = claim.tolerance.widen(truth.lo, truth.hi);
        v.reported = Some(reading.reported);
        v.truth = Some(TruthUsed::from(truth));
        v.accepted = Some(accepted);
        let mut others: Vec<(String, u64)> = reading
            .others
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        others.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.others = others;
        if let Some(why) = blind(&reading, tool) {
            // A zero is only evidence from a tool that could have seen
            // something: one whose probes did not attach and that printed
            // no entry at all would "pass" every workload with no I/O.
            v.reported = None;
            v.diagnosis = Some(tool_failed(why, tool, ev.advice));
        } else if metric.is_distribution() {
            judge_distribution(&mut v, claim, out, &reading, truth, ev);
        } else if (accepted.0..=accepted.1).contains(&reading.reported) {
            v.status = Status::Pass;
            if let Some(d) = per_cpu::misfit(claim, &reading, truth, &ev.truth.tallies) {
                v.status = Status::Fail;
                v.diagnosis = Some(d);
                v.fix = Some(fix::suggestion(metric, per_process));
            }
        } else {
            v.status = Status::Fail;
            let ctx = Context {
                claim,
                metric,
                per_process,
                truth,
                reading: &reading,
                ev,
                tool,
                unparsed: &out.unparsed,
            };
            let d = diagnose(&ctx);
            // The machine, not the tool: no verdict on the tool's number.
            if matches!(d.finding, Finding::SamplingThrottled | Finding::SamplerOff) {
                v.status = Status::Error;
            }
            v.diagnosis = Some(d);
            v.fix = Some(
                match claim.table.as_ref().and_then(|t| t.rate_over.as_ref()) {
                    Some(_) => fix::rate_suggestion(metric),
                    None => fix::suggestion(metric, per_process),
                },
            );
        }
        verdicts.push(v);
    }
    verdicts
}
