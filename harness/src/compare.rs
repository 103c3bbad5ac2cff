//! Comparison: one claim, the tool's parsed output and the workload's truth
//! in; verdicts out. Pure: no I/O, no printing, and no knowledge of where
//! the check ran.

use crate::diagnose::{diagnose, Context};
use crate::spec::{Claim, KeyKind};
use crate::tool::ToolRecord;
use crate::verdict::{Diagnosis, Finding, Status, TruthUsed, Verdict};
use std::collections::BTreeMap;
use tracecheck_model::{
    Direction, GroundTruth, Layer, MapEntry, Metric, Source, ToolOutput, Truth, Who,
};

/// Who and what the check is about: the workload's processes and the
/// scratch device.
#[derive(Debug, Clone)]
pub struct Subject {
    pub comm: String,
    pub pids: Vec<u32>,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub dev_name: String,
}

impl Subject {
    /// Does a printed device key name the scratch device? Tools print it as
    /// `7:3`, `loop3`, the kernel's dev_t (`major << 20 | minor`, what block
    /// tracepoints carry), or the userspace encoding (`major << 8 | minor`
    /// for small numbers).
    pub fn is_device(&self, key: &str) -> bool {
        let k = key.trim().trim_matches('"');
        if k == self.dev_name
            || k == format!("{}:{}", self.dev_major, self.dev_minor)
            || k == format!("{},{}", self.dev_major, self.dev_minor)
        {
            return true;
        }
        match k.parse::<u64>() {
            Ok(n) => {
                let (ma, mi) = (self.dev_major as u64, self.dev_minor as u64);
                n == (ma << 20 | mi) || n == ((mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12))
            }
            Err(_) => false,
        }
    }
}

/// A layer/direction whose truth tracecheck could not establish: the
/// workload's design and /proc/diskstats disagree beyond explained bounds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Unestablished {
    pub metric: Metric,
    pub why: String,
}

/// Everything known about one workload run.
pub struct Evidence<'a> {
    pub truth: &'a GroundTruth,
    pub unestablished: &'a [Unestablished],
    pub subject: &'a Subject,
}

/// Preference among sources for the same quantity: what was counted beats
/// what was measured beats what was designed.
fn rank(s: Source) -> u8 {
    match s {
        Source::Workload => 0,
        Source::Diskstats => 1,
        Source::Witness => 2,
        Source::Design => 3,
    }
}

/// The best truth for `metric` charged to `who`.
pub fn pick<'t>(truths: &'t [Truth], metric: Metric, who: &Who) -> Option<&'t Truth> {
    truths
        .iter()
        .filter(|t| t.metric == metric && &t.who == who)
        .min_by_key(|t| rank(t.source))
}

/// Who a claim's number is charged to at `layer`: the workload's processes
/// when the claim is keyed per process, otherwise the whole device for the
/// disk and block layers.
pub fn who_for(layer: Layer, per_process: bool) -> Who {
    match layer {
        Layer::Disk | Layer::Block if !per_process => Who::Device,
        _ => Who::Workload,
    }
}

/// What the tool reported for one direction, split by who it charged.
#[derive(Debug, Default)]
pub struct Reading {
    pub map_printed: bool,
    pub reported: u64,
    /// Same direction and device, other processes.
    pub others: BTreeMap<String, u64>,
    /// Same process and device, opposite direction.
    pub opposite: u64,
    pub duplicates: usize,
    pub bad_direction_keys: Vec<String>,
}

fn key_at<'e>(claim: &Claim, e: &'e MapEntry, kind: KeyKind) -> Option<&'e str> {
    claim
        .keys
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| e.keys.get(i))
        .map(|s| s.as_str())
}

/// Read the claim's map for direction `dir`. `Err` when the map's shape
/// does not fit the claim's keys (a spec mistake, reported as ERROR).
pub fn read_map(
    claim: &Claim,
    out: &ToolOutput,
    dir: Option<Direction>,
    subject: &Subject,
) -> Result<Reading, String> {
    let mut r = Reading::default();
    let Some(map) = out.map(&claim.map) else {
        return Ok(r);
    };
    r.map_printed = true;
    if let Some(e) = map
        .entries
        .iter()
        .find(|e| e.keys.len() != claim.keys.len())
    {
        return Err(format!(
            "the spec says {} has {} key(s) [{}] but the tool printed {} key(s): [{}]",
            claim.map,
            claim.keys.len(),
            claim
                .keys
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            e.keys.len(),
            e.keys.join(", ")
        ));
    }
    let per_process = claim.has_key(KeyKind::Comm) || claim.has_key(KeyKind::Pid);
    let mut bad = Vec::new();
    let (sums, dups) = map.sum_by(|e| {
        if let Some(d) = key_at(claim, e, KeyKind::Device) {
            if !subject.is_device(d) {
                return None;
            }
        }
        let edir = match key_at(claim, e, KeyKind::Direction) {
            Some(k) => match Direction::from_key(k) {
                Some(d) => Some(d),
                None => {
                    // Flushes (`FN`) and discards carry no data; only
                    // unreadable keys with bytes behind them are worth a note.
                    if e.value.as_count() > 0 {
                        bad.push(k.to_string());
                    }
                    return None;
                }
            },
            None => None,
        };
        let same_dir = match (dir, edir) {
            (Some(want), Some(got)) => want == got,
            _ => true,
        };
        let comm = key_at(claim, e, KeyKind::Comm);
        let pid = key_at(claim, e, KeyKind::Pid);
        let mine = !per_process
            || comm.is_some_and(|c| c == subject.comm)
            || pid
                .and_then(|p| p.trim().parse::<u32>().ok())
                .is_some_and(|p| subject.pids.contains(&p));
        let label = comm.or(pid).unwrap_or("").to_string();
        Some(match (mine, same_dir) {
            (true, true) => (0u8, String::new()),
            (true, false) => (1, String::new()),
            (false, true) => (2, label),
            (false, false) => (3, label),
        })
    });
    r.duplicates = dups;
    bad.sort();
    bad.dedup();
    r.bad_direction_keys = bad;
    for ((class, label), v) in sums {
        match class {
            0 => r.reported += v,
            1 => r.opposite += v,
            2 => *r.others.entry(label).or_insert(0) += v,
            _ => {}
        }
    }
    Ok(r)
}

/// Directions a claim is judged in: its own, or both when it reads the
/// direction from a key; `None` for directionless metrics.
fn directions(claim: &Claim) -> Vec<Option<Direction>> {
    match claim.metric.direction {
        Some(d) => vec![Some(d)],
        None if claim.has_key(KeyKind::Direction) => {
            vec![Some(Direction::Read), Some(Direction::Write)]
        }
        None => vec![None],
    }
}

/// Judge one claim against one workload run.
pub fn judge(
    claim: &Claim,
    output: Result<&ToolOutput, &str>,
    tool: &ToolRecord,
    ev: &Evidence<'_>,
) -> Vec<Verdict> {
    let per_process = claim.has_key(KeyKind::Comm) || claim.has_key(KeyKind::Pid);
    let mut verdicts = Vec::new();
    for dir in directions(claim) {
        let metric = match dir {
            Some(d) => claim.metric.with_direction(d),
            None => claim.metric,
        };
        let mut v = Verdict {
            claim: claim.name.clone(),
            metric: metric.name().to_string(),
            unit: metric.unit().to_string(),
            workload: ev.truth.workload.clone(),
            status: Status::Error,
            reported: None,
            truth: None,
            accepted: None,
            tolerance: claim.tolerance.to_string(),
            diagnosis: None,
            others: Vec::new(),
            notes: Vec::new(),
        };
        if tool.stop.escalated {
            v.notes.push(format!(
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
        if let Some(f) = &tool.failure {
            v.diagnosis = Some(Diagnosis {
                finding: Finding::ToolFailed,
                sentence: with_stderr(f.describe(&tool.command[0]), tool),
            });
            verdicts.push(v);
            continue;
        }
        let out = match output {
            Ok(o) => o,
            Err(e) => {
                v.diagnosis = Some(Diagnosis {
                    finding: Finding::ToolFailed,
                    sentence: with_stderr(
                        format!("the tool printed output tracecheck cannot parse: {e}"),
                        tool,
                    ),
                });
                verdicts.push(v);
                continue;
            }
        };
        let who = who_for(metric.layer, per_process);
        if let Some(u) = ev.unestablished.iter().find(|u| u.metric == metric) {
            v.diagnosis = Some(Diagnosis {
                finding: Finding::TruthUnknown,
                sentence: format!("tracecheck cannot establish the truth here: {}", u.why),
            });
            verdicts.push(v);
            continue;
        }
        let Some(truth) = pick(&ev.truth.truths, metric, &who) else {
            v.status = Status::Skip;
            v.notes.push(format!(
                "no ground truth for {} on the {} workload",
                metric.name(),
                ev.truth.workload
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
        if (accepted.0..=accepted.1).contains(&reading.reported) {
            v.status = Status::Pass;
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
            };
            v.diagnosis = Some(diagnose(&ctx));
        }
        verdicts.push(v);
    }
    verdicts
}

/// Verdicts for claims whose check never measured anything (the tool did
/// not start or attach, or its guest died): `judge` shapes them, one per
/// claim and direction, against empty evidence, and `tool` says why.
pub fn judge_unmeasured(claims: &[&Claim], workload: &str, tool: &ToolRecord) -> Vec<Verdict> {
    let truth = GroundTruth {
        workload: workload.to_string(),
        comm: String::new(),
        pids: vec![],
        params: Default::default(),
        truths: vec![],
        needs_writeback: false,
        elapsed_ns: 0,
    };
    let subject = Subject {
        comm: String::new(),
        pids: vec![],
        dev_major: 0,
        dev_minor: 0,
        dev_name: String::new(),
    };
    let ev = Evidence {
        truth: &truth,
        unestablished: &[],
        subject: &subject,
    };
    claims
        .iter()
        .flat_map(|c| judge(c, Err("not run"), tool, &ev))
        .collect()
}

fn with_stderr(mut s: String, tool: &ToolRecord) -> String {
    // The commonest reason a tool cannot attach on this kind of host.
    if tool.stderr_tail.iter().any(|l| {
        l.contains("kprobe_events")
            || l.contains("Error attaching probe: 'kretprobe")
            || l.contains("Error attaching probe: 'kprobe")
    }) {
        s.push_str("\n  hint: this kernel has no kprobes; check the tool in a guest with `--vm debian-6.1`");
    }
    if !tool.stderr_tail.is_empty() {
        s.push_str("\n  its stderr ended with:");
        for l in &tool.stderr_tail {
            s.push_str("\n    ");
            s.push_str(l);
        }
    }
    s
}
