//! The only module that prints results: a terminal table (default) or JSON
//! with every number that went into each verdict. Progress goes to stderr;
//! results go to stdout.

use crate::record::{worst, CheckRecord};
use crate::units::num;
use crate::verdict::{Status, Verdict};
use serde::Serialize;
use tracecheck_model::Direction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table with a diagnosis under each failed claim.
    Table,
    /// One JSON document with every number behind every verdict.
    Json,
    /// A compact matrix: a line per tool and claim, a column per
    /// environment (kernel), the worst verdict over the workloads and its
    /// findings in each cell. For runs merged across kernels.
    Matrix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

pub struct Style {
    color: bool,
}

impl Style {
    pub fn new(choice: ColorChoice) -> Style {
        use std::io::IsTerminal;
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Style { color }
    }

    fn status(&self, s: Status) -> String {
        let w = format!("{:<5}", s.word());
        if !self.color {
            return w;
        }
        let code = match s {
            Status::Pass => "32",
            Status::Fail => "31;1",
            Status::Error => "35;1",
            Status::Skip => "33",
            Status::Flaky => "33;1",
        };
        format!("\x1b[{code}m{w}\x1b[0m")
    }

    fn dim(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Exit status: 0 when every claim holds, 1 when a claim fails (or the tool
/// could not be checked because of itself), 2 when tracecheck could not
/// establish the truth.
pub fn exit_code(records: &[CheckRecord]) -> i32 {
    let vs = records.iter().flat_map(|r| &r.verdicts);
    if vs.clone().any(Verdict::truth_unknown) {
        2
    } else if vs
        .clone()
        .any(|v| matches!(v.status, Status::Fail | Status::Error | Status::Flaky))
    {
        1
    } else {
        0
    }
}

/// The JSON report (`--format json`, `tracecheck merge --format json`).
#[derive(Serialize, schemars::JsonSchema)]
pub struct JsonReport<'a> {
    /// The version of this report's layout (docs/schema/): raised when a
    /// field is renamed or removed, or changes its meaning.
    pub schema: u32,
    /// The tracecheck version that wrote the report.
    pub tracecheck: &'static str,
    /// Verdicts by status, and the run's exit status.
    pub summary: Summary,
    /// Every check: one tool run beside one workload, as in the records.
    pub checks: &'a [CheckRecord],
}

#[derive(Serialize, Default, schemars::JsonSchema)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub skip: usize,
    /// Verdicts that changed between `--repeat` runs.
    #[serde(skip_serializing_if = "is_zero")]
    pub flaky: usize,
    pub exit_code: i32,
}

impl Summary {
    /// The counts in words, as every report ends: `3 passed, 1 failed,
    /// 0 errors, 0 skipped` (and `, N flaky` when any are).
    pub fn counts(&self) -> String {
        let flaky = if self.flaky > 0 {
            format!(", {} flaky", self.flaky)
        } else {
            String::new()
        };
        format!(
            "{} passed, {} failed, {} errors, {} skipped{flaky}",
            self.pass, self.fail, self.error, self.skip
        )
    }
}

/// The worst status of every verdict of `records`: the run's own.
pub fn overall(records: &[CheckRecord]) -> Status {
    worst(
        records
            .iter()
            .flat_map(|r| r.verdicts.iter().map(|v| v.status)),
    )
}

pub fn summary(records: &[CheckRecord]) -> Summary {
    let mut s = Summary {
        exit_code: exit_code(records),
        ..Default::default()
    };
    for v in records.iter().flat_map(|r| &r.verdicts) {
        match v.status {
            Status::Pass => s.pass += 1,
            Status::Fail => s.fail += 1,
            Status::Error => s.error += 1,
            Status::Skip => s.skip += 1,
            Status::Flaky => s.flaky += 1,
        }
    }
    s
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn json(records: &[CheckRecord]) -> String {
    serde_json::to_string_pretty(&JsonReport {
        schema: crate::record::SCHEMA_VERSION,
        tracecheck: env!("CARGO_PKG_VERSION"),
        summary: summary(records),
        checks: records,
    })
    .expect("report serializes")
}

/// The terminal table, grouped by tool.
pub fn table(records: &[CheckRecord], style: &Style) -> String {
    let mut o = String::new();
    let mut tools: Vec<&str> = records.iter().map(|r| r.tool.as_str()).collect();
    tools.dedup();
    for tool in tools {
        let rs: Vec<&CheckRecord> = records.iter().filter(|r| r.tool == tool).collect();
        let first = rs[0];
        o += &format!(
            "{tool}  ({})  on {}, scratch disk {}\n",
            first.spec.display(),
            first.environment,
            first.device
        );
        let claim_w = rs
            .iter()
            .flat_map(|r| &r.verdicts)
            .map(|v| v.claim.chars().count())
            .max()
            .unwrap_or(5)
            .clamp(5, 40);
        o += &format!(
            "  {:<claim_w$}  {:<26}  {:<5}  {:>16}  {}\n",
            "CLAIM", "WORKLOAD", "", "REPORTED", "TRUTH"
        );
        for r in &rs {
            for v in &r.verdicts {
                let reported = v.reported_text();
                let truth = v.truth_text();
                let claim: String = v.claim.chars().take(claim_w).collect();
                let wl = match v.metric.fixed_direction() {
                    Some(Direction::Read) => format!("{} [r]", r.workload),
                    Some(Direction::Write) => format!("{} [w]", r.workload),
                    None => r.workload.clone(),
                };
                o += &format!(
                    "  {:<claim_w$}  {:<26}  {}  {:>16}  {}\n",
                    claim,
                    wl,
                    style.status(v.status),
                    reported,
                    truth
                );
                if let Some(d) = &v.diagnosis {
                    for line in wrap(&d.sentence, 100) {
                        o += &format!("      {line}\n");
                    }
                }
                if let Some(f) = &v.fix {
                    for line in wrap(&format!("to measure it: {f}"), 100) {
                        o += &format!("      {}\n", style.dim(&line));
                    }
                }
                for n in &v.notes {
                    o += &format!("      {}\n", style.dim(&format!("note: {n}")));
                }
            }
        }
        o += "  iostat's view of the scratch disk (/proc/diskstats) during each workload:\n";
        for r in &rs {
            match r.diskstats {
                Some(d) => {
                    o += &format!(
                        "    {:<24} read {} B in {} I/Os, wrote {} B in {} I/Os, {} flushes{}\n",
                        r.workload,
                        num(d.read_bytes),
                        num(d.read_ios),
                        num(d.write_bytes),
                        num(d.write_ios),
                        num(d.flushes),
                        r.settle
                            .map(|s| format!("; waited {} ms for writeback", s.waited_ms))
                            .unwrap_or_default()
                    )
                }
                None => {
                    o += &format!(
                        "    {:<24} not measured (the tool did not run)\n",
                        r.workload
                    )
                }
            }
        }
        o += "\n";
    }
    o += &format!(
        "{}: {}\n",
        style.status(overall(records)).trim_end(),
        summary(records).counts()
    );
    o
}

fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let indent = para.len() - para.trim_start().len();
        let mut cur = " ".repeat(indent);
        let mut empty = true;
        for w in para.split_whitespace() {
            if !empty && cur.chars().count() + 1 + w.chars().count() > width {
                lines.push(cur);
                cur = " ".repeat(indent + 2);
                empty = true;
            }
            if !empty {
                cur.push(' ');
            }
            cur.push_str(w);
            empty = false;
        }
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::{judge, Evidence, Subject};
    use crate::record::Timings;
    use crate::record::ToolRecord;
    use crate::spec::{Claim, KeyKind, Tolerance};
    use std::collections::BTreeMap;
    use tracecheck_model::{
        GroundTruth, MapEntry, Metric, ParsedMap, Source, ToolOutput, Truth, Value, Who,
    };
    use tracecheck_workloads::diskstats::DiskDelta;

    /// The table a user reads for the disktop case, from fixed numbers.
    #[test]
    fn table_for_a_cache_miscount() {
        const S: u64 = 16 << 20;
        let m = |s: &str| Metric::parse(s).unwrap();
        let gt = GroundTruth {
            workload: "cached-reread".into(),
            comm: "tcw-aaaaaa".into(),
            pids: vec![1],
            params: BTreeMap::new(),
            tallies: Default::default(),
            truths: vec![
                Truth::exact(
                    m("syscall.read_bytes"),
                    Who::Workload,
                    21 * S,
                    Source::Workload,
                    "21 passes of read()",
                ),
                Truth::exact(
                    m("disk.read_bytes"),
                    Who::Workload,
                    S,
                    Source::Diskstats,
                    "cold once",
                ),
            ],
            needs_writeback: false,
            elapsed_ns: 1,
        };
        let claim = Claim {
            name: "disk read bytes per process".into(),
            map: "@disk_read".into(),
            table: None,
            metric: m("disk.read_bytes"),
            keys: vec![KeyKind::Comm],
            tolerance: Tolerance::Percent(1.0),
            workloads: vec![],
            sample_hz: None,
            hist_unit: None,
        };
        let out = ToolOutput {
            maps: vec![ParsedMap {
                name: "@disk_read".into(),
                entries: vec![
                    MapEntry {
                        keys: vec!["tcw-aaaaaa".into()],
                        value: Value::Scalar(21 * S as i64),
                    },
                    MapEntry {
                        keys: vec!["sshd".into()],
                        value: Value::Scalar(4096),
                    },
                ],
            }],
            unparsed: vec![],
            tables: vec![],
        };
        let subject = Subject {
            comm: gt.comm.clone(),
            pids: vec![1],
            dev_major: 7,
            dev_minor: 3,
            dev_name: "loop3".into(),
            siblings: Default::default(),
        };
        let tool = ToolRecord {
            command: vec!["bpftrace".into()],
            ..Default::default()
        };
        let verdicts = judge(
            &claim,
            Ok(&out),
            &tool,
            &Evidence {
                workload: "cached-reread",
                truth: &gt,
                unestablished: &[],
                subject: &subject,
                advice: None,
                known_stderr: &[],
            },
        );
        let rec = CheckRecord {
            schema: crate::record::SCHEMA_VERSION,
            tool: "disktop (bpftrace port)".into(),
            spec: "expectations/examples/disktop/spec.toml".into(),
            workload: "cached-reread".into(),
            environment: "host (kernel 6.18.44)".into(),
            device: "loop3 (7:3)".into(),
            comm: "tcw-aaaaaa".into(),
            ground_truth: Some(gt),
            diskstats: Some(DiskDelta {
                read_bytes: S,
                read_ios: 128,
                write_ios: 1,
                flushes: 1,
                ..Default::default()
            }),
            settle: Some(tracecheck_workloads::scratch_disk::Settled {
                waited_ms: 50,
                quiet: true,
            }),
            unestablished: vec![],
            witness: None,
            witness_error: None,
            tool_run: tool,
            verdicts,
            timings: Timings::default(),
            repeat_run: None,
            tool_run_shared: None,
            measured_again_after: None,
        };
        insta::assert_snapshot!(table(&[rec], &Style::new(ColorChoice::Never)));
    }
}
