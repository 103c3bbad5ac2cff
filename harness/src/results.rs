//! The catalog's results across kernels, from the records of one or more
//! runs: a compact matrix (tool × claim × environment, a verdict and a
//! one-line cause each) for the terminal, and the Markdown document
//! `docs/catalog-results.md`, which adds every verdict with its diagnosis
//! and a drift section: where a tool's verdict changes from one kernel to
//! the next, and the probe or output behind the change.
//!
//! Environments are ordered by kernel version (the host's 6.18 after the
//! guests' 6.1 and 6.12), so "the first kernel where it changed" reads in
//! release order.

use crate::record::CheckRecord;
use crate::units::num;
use crate::verdict::{Status, Verdict};
use std::collections::{BTreeMap, BTreeSet};

/// Where a run happened, as the matrix names it, and its kernel's version
/// for ordering.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Env {
    /// (major, minor, patch) of the kernel release, for release order.
    pub version: (u32, u32, u32),
    /// A guest's own userland (`trixie: bpfcc-tools=0.31.0+ds-7 ...`), or
    /// empty for this machine's. On one kernel, this machine's tools come
    /// first and a newer distribution's after them, so drift between the
    /// two reads as a change of tool version.
    pub userland: String,
    /// `host` or the guest target (`debian-6.1`).
    pub label: String,
    /// The record's whole environment string.
    pub full: String,
}

impl Env {
    /// From a record's environment: `host (kernel 6.18.44-fc-v1045)` or
    /// `guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)`.
    pub fn parse(full: &str) -> Env {
        let label = match full.strip_prefix("guest ") {
            Some(rest) => rest.split_whitespace().next().unwrap_or(rest).to_string(),
            None => full.split_whitespace().next().unwrap_or(full).to_string(),
        };
        let release = full
            .split("kernel ")
            .nth(1)
            .unwrap_or("")
            .split([',', ')', ' '])
            .next()
            .unwrap_or("");
        let mut parts = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let version = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        let userland = full
            .split_once(", userland ")
            .map(|(_, u)| u.trim_end_matches(')').to_string())
            .unwrap_or_default();
        Env {
            version,
            userland,
            label,
            full: full.to_string(),
        }
    }

    /// The tools' versions of an own userland, `bpfcc-tools 0.31.0+ds-7`
    /// each; empty for this machine's.
    pub fn tool_versions(&self) -> Vec<String> {
        let list = self.userland.split_once(": ").map_or("", |(_, l)| l);
        list.split_whitespace()
            .map(|nv| nv.replacen('=', " ", 1))
            .collect()
    }

    /// The results document's column head: [`Env::short`] with the
    /// versions of the tool families the specs run, from its own userland
    /// or, for an environment that runs this machine's, from `host`
    /// (`bpftrace 0.17.0-1` lines): `debian-13 (6.12.118; bcc 0.31,
    /// bpftrace 0.23)`. Spec names carry no version, so this is where a
    /// reader learns which tool each column ran.
    pub fn column(&self, host: &[String]) -> String {
        let own = self.tool_versions();
        let lines = if own.is_empty() { host } else { &own[..] };
        let versions: Vec<String> = FAMILIES
            .iter()
            .filter_map(|(package, family)| {
                let version = lines
                    .iter()
                    .find_map(|l| l.strip_prefix(package)?.strip_prefix(' '))?;
                // Major.minor: the Debian revision and patch level say
                // nothing a reader compares columns by.
                let mm: Vec<&str> = version.split(['.', '-', '+', '~']).take(2).collect();
                Some(format!("{family} {}", mm.join(".")))
            })
            .collect();
        let (a, b, c) = self.version;
        match versions.is_empty() {
            true => self.short(),
            false => format!("{} ({a}.{b}.{c}; {})", self.label, versions.join(", ")),
        }
    }

    /// `debian-6.1 (6.1.0)`: the label and the kernel release.
    pub fn short(&self) -> String {
        let (a, b, c) = self.version;
        format!("{} ({a}.{b}.{c})", self.label)
    }
}

/// Debian packages of the tool families the catalog runs, and the name a
/// column head gives each.
const FAMILIES: &[(&str, &str)] = &[
    ("bpfcc-tools", "bcc"),
    ("bpftrace", "bpftrace"),
    ("linux-perf", "perf"),
];

/// One claim of one tool in one environment, over its workloads.
#[derive(Debug, Default, Clone)]
pub struct Cell<'a> {
    pub verdicts: Vec<(&'a CheckRecord, &'a Verdict)>,
}

impl Cell<'_> {
    /// The worst status of its workloads, FAIL over ERROR over PASS. Not
    /// `record::worst`, which puts ERROR first (one check's exit status):
    /// a cell shows the number a tool got wrong before a workload it could
    /// not run.
    pub fn status(&self) -> Status {
        let rank = |s: Status| match s {
            Status::Fail => 4,
            Status::Flaky => 3,
            Status::Error => 2,
            Status::Pass => 1,
            Status::Skip => 0,
        };
        self.verdicts
            .iter()
            .map(|(_, v)| v.status)
            .max_by_key(|s| rank(*s))
            .unwrap_or(Status::Skip)
    }

    /// The findings behind its non-passing verdicts, each once, in order.
    pub fn findings(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.verdicts
            .iter()
            .filter_map(|(_, v)| v.diagnosis.as_ref())
            .map(|d| d.finding.name())
            .filter(|f| seen.insert(f.clone()))
            .collect()
    }

    /// What this cell says, for comparing two kernels: the status of each
    /// workload and the findings. Workload lists differ only when the
    /// specs did, which is drift of another kind and still worth a line.
    fn signature(&self) -> (Status, Vec<String>) {
        (self.status(), self.findings())
    }

    /// `PASS 3/3`, `FAIL 1/3 part_of_call_family`, `ERROR tool_failed`.
    pub fn summary(&self) -> String {
        let passed = self
            .verdicts
            .iter()
            .filter(|(_, v)| v.status == Status::Pass)
            .count();
        let n = self.verdicts.len();
        let status = self.status();
        let findings = self.findings();
        match status {
            Status::Pass => format!("PASS {passed}/{n}"),
            Status::Skip => "SKIP".to_string(),
            Status::Error if passed == 0 => format!("ERROR {}", findings.join(", ")),
            _ => format!(
                "{} {}/{n} pass; {}",
                status.word(),
                passed,
                findings.join(", ")
            ),
        }
        .trim_end()
        .to_string()
    }

    /// Whether a verdict here has a number (PASS, or FAIL with the tool's
    /// number), not only "could not run".
    pub fn numeric(&self) -> bool {
        self.verdicts
            .iter()
            .any(|(_, v)| matches!(v.status, Status::Pass | Status::Fail) && v.reported.is_some())
    }
}

/// Every verdict, by tool, claim and environment.
pub struct Results<'a> {
    pub envs: Vec<Env>,
    /// tool → claim → environment's full string → cell.
    pub cells: BTreeMap<&'a str, BTreeMap<&'a str, BTreeMap<String, Cell<'a>>>>,
}

impl<'a> Results<'a> {
    pub fn new(records: &'a [CheckRecord]) -> Results<'a> {
        let mut envs: Vec<Env> = records.iter().map(|r| Env::parse(&r.environment)).collect();
        envs.sort();
        envs.dedup();
        let mut cells: BTreeMap<&str, BTreeMap<&str, BTreeMap<String, Cell>>> = BTreeMap::new();
        for r in records {
            for v in &r.verdicts {
                cells
                    .entry(r.tool.as_str())
                    .or_default()
                    .entry(v.claim.as_str())
                    .or_default()
                    .entry(r.environment.clone())
                    .or_default()
                    .verdicts
                    .push((r, v));
            }
        }
        Results { envs, cells }
    }

    /// Tools with at least one numeric verdict somewhere.
    pub fn numeric_tools(&self) -> usize {
        self.cells
            .values()
            .filter(|claims| claims.values().flat_map(|e| e.values()).any(Cell::numeric))
            .count()
    }

    /// The compact matrix: one line per tool and claim, a column per
    /// environment.
    pub fn matrix(&self) -> String {
        let mut rows: Vec<Vec<String>> = vec![];
        let mut head = vec!["TOOL".to_string(), "CLAIM".to_string()];
        head.extend(self.envs.iter().map(Env::short));
        rows.push(head);
        for (tool, claims) in &self.cells {
            for (claim, by_env) in claims {
                let mut row = vec![clip(tool, 40), clip(claim, 40)];
                row.extend(self.envs.iter().map(|e| {
                    by_env
                        .get(&e.full)
                        .map(|c| clip(&c.summary(), 44))
                        .unwrap_or_else(|| "-".into())
                }));
                rows.push(row);
            }
        }
        let cols = rows[0].len();
        let widths: Vec<usize> = (0..cols)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut o = String::new();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            o += line.join("  ").trim_end();
            o.push('\n');
        }
        o += &format!(
            "{} tools, {} with a numeric verdict (PASS or FAIL with the tool's number); {} environment(s)\n",
            self.cells.len(),
            self.numeric_tools(),
            self.envs.len()
        );
        o
    }

    /// Every tool and claim whose cell differs between two environments
    /// next to each other in kernel order, with the probe or output behind
    /// the change.
    pub fn drift(&self) -> Vec<Drift> {
        let mut out = vec![];
        for (tool, claims) in &self.cells {
            for (claim, by_env) in claims {
                let present: Vec<(&Env, &Cell)> = self
                    .envs
                    .iter()
                    .filter_map(|e| by_env.get(&e.full).map(|c| (e, c)))
                    .collect();
                for pair in present.windows(2) {
                    let ((e0, c0), (e1, c1)) = (pair[0], pair[1]);
                    if c0.signature() != c1.signature() {
                        let mut why = behind(c0, c1);
                        if e0.version == e1.version && e0.userland != e1.userland {
                            why = format!("{}; {why}", version_change(e0, e1));
                        }
                        out.push(Drift {
                            tool: tool.to_string(),
                            claim: claim.to_string(),
                            before: (e0.short(), c0.summary()),
                            after: (e1.short(), c1.summary()),
                            behind: why,
                        });
                        break;
                    }
                }
            }
        }
        out
    }
}

/// Two environments on the same kernel with different tools: what changed.
fn version_change(e0: &Env, e1: &Env) -> String {
    let host = "this machine's".to_string();
    let v0 = e0.tool_versions();
    let v1 = e1.tool_versions();
    let side = |v: &[String]| {
        if v.is_empty() {
            host.clone()
        } else {
            v.join(", ")
        }
    };
    format!(
        "same kernel, other tool versions ({} before, {} here): the change is the tool's, not the kernel's",
        side(&v0),
        side(&v1)
    )
}

/// A verdict that changed between two kernels.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub tool: String,
    pub claim: String,
    /// The environment before the change and its verdict.
    pub before: (String, String),
    /// The first environment (in kernel order) where it changed.
    pub after: (String, String),
    /// The probe or output behind it, in words.
    pub behind: String,
}

/// Lines a tool prints when a probe did not attach: bpftrace's warnings,
/// bcc's exceptions, perf-tools' and SystemTap's errors.
const ATTACH_SIGNS: &[&str] = &[
    "could not attach",
    "cannot attach",
    "failed to attach",
    "not traceable",
    "adding a kprobe",
    "while resolving probe point",
    "unknown symbol",
];

/// A tool's lines about probes that did not attach, each once, with the
/// pid-like numbers kept (they are rare there) but paths trimmed to their
/// last part, so two kernels' runs compare.
fn attach_lines(c: &Cell) -> BTreeSet<String> {
    c.verdicts
        .iter()
        .flat_map(|(r, _)| &r.tool_run.stderr_tail)
        .filter(|l| {
            let l = l.to_lowercase();
            ATTACH_SIGNS.iter().any(|s| l.contains(s))
                // A probe's own file missing (kprobe_events on a kernel
                // without kprobes), not any file.
                || (l.contains("no such file") && l.contains("probe"))
        })
        .map(|l| l.trim().chars().take(200).collect())
        .collect()
}

/// The BPF programs of a cell's tool runs, by name: the most runs any one
/// run of the tool counted (checks that shared a tool run each hold its
/// record, so summing would count it again).
fn programs(c: &Cell) -> BTreeMap<String, Option<u64>> {
    let mut out: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for p in c
        .verdicts
        .iter()
        .flat_map(|(r, _)| &r.tool_run.bpf_programs)
    {
        let e = out.entry(p.name.clone()).or_insert(p.runs);
        *e = (*e).max(p.runs);
    }
    out
}

/// What a cell's tool runs did in ftrace: each trace event it enabled
/// (`event block:block_rq_issue`, never counted: tracefs keeps no count per
/// event) and each kprobe or uprobe event it made, with its hits (the most
/// any one run counted, as for programs).
fn ftrace_probes(c: &Cell) -> BTreeMap<String, Option<u64>> {
    let mut out: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for f in c
        .verdicts
        .iter()
        .filter_map(|(r, _)| r.tool_run.ftrace.as_ref())
    {
        for e in &f.events {
            out.insert(format!("event {e}"), None);
        }
        for p in &f.probes {
            let e = out
                .entry(format!("probe {}", p.name))
                .or_insert(Some(p.hits));
            *e = (*e).max(Some(p.hits));
        }
    }
    out
}

/// The programs as the document lists them: `name (runs)`, then what the
/// tool did in ftrace: `event NAME (enabled)`, `probe NAME (N hits)`.
fn programs_line(c: &Cell) -> String {
    let ps = programs(c);
    let fs = ftrace_probes(c);
    if ps.is_empty() && fs.is_empty() {
        return "no BPF program held when stopped".into();
    }
    let bpf = ps.iter().map(|(n, r)| match r {
        Some(r) => format!("{n} ({} runs)", num(*r)),
        None => format!("{n} (runs not counted)"),
    });
    let ftrace = fs.iter().map(|(n, r)| match r {
        Some(r) => format!("{n} ({} hits)", num(*r)),
        None => format!("{n} (enabled)"),
    });
    bpf.chain(ftrace).collect::<Vec<_>>().join(", ")
}

/// What the BPF programs say about a change: programs loaded on one kernel
/// and not the other, and programs that ran on one and never on the other.
/// And the same of what the tool did in ftrace.
fn program_change(c0: &Cell, c1: &Cell) -> Vec<String> {
    let mut out = activity_change(
        &programs(c0),
        &programs(c1),
        "BPF programs",
        "loaded",
        "ran",
    );
    out.extend(activity_change(
        &ftrace_probes(c0),
        &ftrace_probes(c1),
        "ftrace events and probes",
        "enabled",
        "fired",
    ));
    out
}

/// Probes (by name, with how often each ran where counted) present on one
/// side only, or counted on both and silent on one.
fn activity_change(
    p0: &BTreeMap<String, Option<u64>>,
    p1: &BTreeMap<String, Option<u64>>,
    what: &str,
    present: &str,
    ran_verb: &str,
) -> Vec<String> {
    if p0.is_empty() && p1.is_empty() {
        return vec![];
    }
    let mut out = vec![];
    let gone: Vec<&String> = p0.keys().filter(|n| !p1.contains_key(*n)).collect();
    let new: Vec<&String> = p1.keys().filter(|n| !p0.contains_key(*n)).collect();
    if !gone.is_empty() {
        out.push(format!("{what} no longer {present}: {}", list(&gone)));
    }
    if !new.is_empty() {
        out.push(format!("{what} {present} only here: {}", list(&new)));
    }
    let ran = |r: &Option<u64>| r.is_some_and(|r| r > 0);
    let silent = |r: &Option<u64>| *r == Some(0);
    let stopped: Vec<&String> = p0
        .iter()
        .filter(|(n, r)| ran(r) && p1.get(*n).is_some_and(silent))
        .map(|(n, _)| n)
        .collect();
    let started: Vec<&String> = p0
        .iter()
        .filter(|(n, r)| silent(r) && p1.get(*n).is_some_and(ran))
        .map(|(n, _)| n)
        .collect();
    if !stopped.is_empty() {
        out.push(format!(
            "{present} but never {ran_verb} (a probe that no longer fires): {}",
            list(&stopped)
        ));
    }
    if !started.is_empty() {
        out.push(format!(
            "never {ran_verb} before, {ran_verb} now: {}",
            list(&started)
        ));
    }
    out
}

fn list(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a cell changed, from what the records hold: probes that stopped or
/// started attaching, BPF programs that stopped loading or firing, the tool's failure, output the parser could not
/// read, or the diagnosis of the new verdict when every probe attached in
/// both.
fn behind(c0: &Cell, c1: &Cell) -> String {
    // bcc compiles against the running kernel's headers; a machine without
    // them (this project's host) is a change of environment, not of the
    // kernel's probes, and says so before anything else.
    match (no_headers(c0), no_headers(c1)) {
        (false, true) => {
            return "bcc could not compile its BPF program here: this kernel's headers are missing (the host has \
                    none; each guest mounts its kernel's), so the change is the environment's, not the kernel's"
                .into()
        }
        (true, false) => {
            return "bcc could not compile its BPF program on the kernel before (no headers there), so nothing \
                    was measured to change from"
                .into()
        }
        _ => {}
    }
    let (a0, a1) = (attach_lines(c0), attach_lines(c1));
    let stopped: Vec<&String> = a1.difference(&a0).collect();
    let started: Vec<&String> = a0.difference(&a1).collect();
    let mut parts = vec![];
    // A tool that did not run on one side: its ERROR says why in its own
    // words (bcc's compiler error, stap's missing compiler), which comes
    // before any probe it then never loaded.
    let failed = |c: &Cell| c.status() == Status::Error;
    if failed(c1) != failed(c0) {
        let (side, c) = if failed(c1) {
            ("here", c1)
        } else {
            ("on the kernel before", c0)
        };
        if let Some(why) = first_diagnosis(c) {
            parts.push(format!("the tool did not run {side}: {}", clip(&why, 400)));
        }
        if let Some(e) = compile_error(c) {
            parts.push(format!(
                "the first compiler error: `{}`",
                clip(e.trim(), 200)
            ));
        }
    }
    if !stopped.is_empty() {
        parts.push(format!(
            "a probe stopped attaching; the tool said: {}",
            quote(&stopped)
        ));
    }
    if !started.is_empty() {
        parts.push(format!(
            "a probe that did not attach before attaches now (before, the tool said: {})",
            quote(&started)
        ));
    }
    parts.extend(program_change(c0, c1));
    let unparsed = |c: &Cell| c.findings().iter().any(|f| f == "unparsed_output");
    if unparsed(c1) != unparsed(c0) {
        parts.push(
            "its output format changed: the parser reads one kernel's output and not the other's"
                .into(),
        );
    }
    if parts.is_empty() {
        let why = c1
            .verdicts
            .iter()
            .chain(c0.verdicts.iter())
            .filter(|(_, v)| v.status != Status::Pass)
            .find_map(|(_, v)| v.diagnosis.as_ref())
            .map(|d| d.sentence.clone())
            .unwrap_or_else(|| "no diagnosis recorded".into());
        parts.push(format!(
            "every probe attached on both (no attach error in either run); what its probes counted changed: {why}"
        ));
    }
    parts.join("; ")
}

/// The first diagnosis sentence among a cell's verdicts.
fn first_diagnosis(c: &Cell) -> Option<String> {
    c.verdicts
        .iter()
        .find_map(|(_, v)| v.diagnosis.as_ref())
        .map(|d| d.sentence.lines().next().unwrap_or_default().to_string())
}

/// A C compiler's first `error:` line in a tool's stderr (bcc compiling its
/// BPF program against the kernel's headers).
fn compile_error<'c>(c: &'c Cell) -> Option<&'c String> {
    c.verdicts
        .iter()
        .flat_map(|(r, _)| &r.tool_run.stderr_tail)
        .find(|l| l.contains(": error: "))
}

/// bcc's words when the running kernel has no headers to compile against.
fn no_headers(c: &Cell) -> bool {
    c.verdicts
        .iter()
        .flat_map(|(r, _)| &r.tool_run.stderr_tail)
        .any(|l| {
            l.contains("Module kheaders not found")
                || (l.contains("/build)") && l.contains("No such file"))
        })
}

fn quote(lines: &[&String]) -> String {
    let shown: Vec<String> = lines.iter().take(2).map(|l| format!("`{l}`")).collect();
    let more = match lines.len() {
        0..=2 => String::new(),
        n => format!(" (and {} more)", n - 2),
    };
    format!("{}{more}", shown.join(", "))
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// What the document says about where and when it was made; the caller
/// knows the date and the tools' package versions, the records do not.
pub struct Provenance {
    pub date: String,
    pub command: String,
    /// `package version` lines (bpftrace, bpfcc-tools, perf-tools...).
    pub packages: Vec<String>,
    /// Report cards, one per tool and environment.
    pub cards: Vec<crate::card::Card>,
}

/// The tracing tools' Debian packages installed here, `name version`.
pub fn installed_packages() -> Vec<String> {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${Version}\\n"])
        .args([
            "bpftrace",
            "bpfcc-tools",
            "python3-bpfcc",
            "perf-tools-unstable",
            "linux-perf",
            "gawk",
            "mawk",
        ])
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(1).is_some())
            .map(str::to_string)
            .collect(),
        Err(_) => vec![],
    }
}

/// The Markdown results document.
pub fn markdown(records: &[CheckRecord], p: &Provenance) -> String {
    let r = Results::new(records);
    let mut o = String::new();
    o += "# Catalog results\n\n";
    o += &format!(
        "Generated {} by `{}` from a real run of every spec in `expectations/catalog` (and `expectations/systemtap` in guests); do not edit by hand.\n\n",
        p.date, p.command
    );
    o += "## Where it ran\n\n| environment | kernel | checks | time in checks |\n|---|---|---|---|\n";
    for e in &r.envs {
        let here: Vec<&CheckRecord> = records.iter().filter(|c| c.environment == e.full).collect();
        // Each check's own span; a guest's boot and a tool run shared by
        // several checks are counted in each as measured.
        let ms: u64 = here.iter().map(|c| c.timings.total_ms).sum();
        o += &format!(
            "| {} | {} | {} | {:.0} s |\n",
            e.label,
            md(&e.full),
            here.len(),
            ms as f64 / 1000.0
        );
    }
    if !p.packages.is_empty() {
        o += "\nTool versions (Debian packages) on this machine; the debian-6.1 and debian-6.12 guests run this machine's userland, so they differ from it by their kernel alone, and a guest with a userland of its own (debian-13) lists its versions in its environment above:\n\n";
        for pkg in &p.packages {
            o += &format!("- {}\n", md(pkg));
        }
    }
    o += &format!(
        "\n{} tools, {} of them with a numeric verdict (PASS, or FAIL with the tool's number) somewhere.\n",
        r.cells.len(),
        r.numeric_tools()
    );
    o += "\n## Matrix\n\nEach cell: the worst verdict over the workloads, how many passed, and the findings. `-`: not run there.\n\n";
    o += &format!(
        "| tool | claim | {} |\n|---|---|{}\n",
        r.envs
            .iter()
            .map(|e| e.column(&p.packages))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(r.envs.len())
    );
    for (tool, claims) in &r.cells {
        for (claim, by_env) in claims {
            let cells: Vec<String> = r
                .envs
                .iter()
                .map(|e| {
                    by_env
                        .get(&e.full)
                        .map(|c| md(&c.summary()))
                        .unwrap_or("-".into())
                })
                .collect();
            o += &format!("| {} | {} | {} |\n", md(tool), md(claim), cells.join(" | "));
        }
    }
    o += "\n## Drift between kernels\n\n";
    let drift = r.drift();
    if drift.is_empty() {
        o += "No verdict differs between the kernels of this run.\n";
    } else {
        o += "Each tool and claim whose verdict differs between two kernels next to each other in release order: the first kernel where it changed, and the probe or output behind it (from the tool's own words in each run, and the BPF programs it held). The host's kernel is not only a later release: it has no kprobes and no kernel headers, so a change on the host can be the environment's, and the line says so where the tool's words show it.\n\n";
        for d in &drift {
            o += &format!(
                "- **{}**, {}: {} on {} → **{} on {}**. {}\n",
                md(&d.tool),
                md(&d.claim),
                md(&d.before.1),
                d.before.0,
                md(&d.after.1),
                d.after.0,
                md(&d.behind)
            );
        }
    }
    o += "\n## Every verdict\n\n";
    for (tool, claims) in &r.cells {
        o += &format!("### {}\n\n", md(tool));
        if let Some((rec, _)) = claims
            .values()
            .flat_map(|e| e.values())
            .flat_map(|c| c.verdicts.first())
            .next()
        {
            o += &format!("Spec: `{}`\n\n", rec.spec.display());
        }
        let mut probes = vec![];
        for e in &r.envs {
            if let Some(c) = claims.values().find_map(|by_env| by_env.get(&e.full)) {
                probes.push(format!("- {}: {}\n", e.label, md(&programs_line(c))));
            }
        }
        o += "BPF programs the tool held when stopped, with the times each ran over the tool's run:\n\n";
        o += &probes.concat();
        o += "\n| claim | environment | workload | verdict | reported | truth | diagnosis |\n|---|---|---|---|---|---|---|\n";
        for (claim, by_env) in claims {
            for e in &r.envs {
                let Some(cell) = by_env.get(&e.full) else {
                    continue;
                };
                for (rec, v) in &cell.verdicts {
                    let (reported, truth) = (v.reported_text(), v.truth_text());
                    let why = v
                        .diagnosis
                        .as_ref()
                        .map(|d| format!("`{}`: {}", d.finding.name(), d.sentence))
                        .unwrap_or_default();
                    o += &format!(
                        "| {} | {} | {} | {} | {} | {} | {} |\n",
                        md(claim),
                        e.label,
                        md(&rec.workload),
                        v.status.word(),
                        reported,
                        md(&truth),
                        md(&why)
                    );
                }
            }
        }
        o.push('\n');
    }
    o += &cards(&p.cards);
    o
}

/// The report cards: a table with a row per tool and environment, one
/// tool's kernels in adjacent rows in release order, then each card whole.
fn cards(cards: &[crate::card::Card]) -> String {
    if cards.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<(Env, &crate::card::Card)> = cards
        .iter()
        .map(|c| (Env::parse(&c.environment), c))
        .collect();
    sorted.sort_by(|(e0, c0), (e1, c1)| c0.tool.cmp(&c1.tool).then(e0.cmp(e1)));
    let mut o = String::from("## Report cards\n\n");
    o += "How each tool behaves as a program, measured by `tracecheck card` in each environment: time from start to ready; whether it prints a line of its own once started; how SIGINT stopped it; whether a second instance ran beside the first; what it left in the kernel; a loop of cached 4 KiB reads timed with the tool running over without it (guests run under TCG, so their ratios are a guest's, not a machine's); and what an unknown option got. Each card follows the table whole.\n\n";
    o += "| tool | environment | ready | says so | stop | two at once | leftovers | overhead | bad option |\n";
    o += "|---|---|---|---|---|---|---|---|---|\n";
    for (env, c) in &sorted {
        let g = c.glance();
        o += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            md(&c.tool),
            md(&env.short()),
            md(&clip(&g.ready, 70)),
            g.says_so,
            md(&g.stop),
            md(&g.two_at_once),
            md(&clip(&g.leftovers, 60)),
            g.overhead,
            md(&g.bad_option)
        );
    }
    o.push('\n');
    for (_, c) in &sorted {
        o += &format!("```\n{}\n```\n\n", crate::card::render(c).trim_end());
    }
    o
}

/// Text safe in a Markdown table cell: pipes escaped, newlines folded.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document of `records`, with no provenance to speak of.
    fn bare_markdown(records: &[CheckRecord]) -> String {
        markdown(
            records,
            &Provenance {
                date: "d".into(),
                command: "c".into(),
                packages: vec![],
                cards: vec![],
            },
        )
    }

    #[test]
    fn environments_sort_in_kernel_release_order() {
        let mut envs = [
            Env::parse("host (kernel 6.18.44-fc-v1045)"),
            Env::parse("guest debian-6.12 (kernel 6.12.57+deb13-amd64, TCG)"),
            Env::parse("guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)"),
        ];
        envs.sort();
        let labels: Vec<&str> = envs.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["debian-6.1", "debian-6.12", "host"]);
        assert_eq!(envs[1].short(), "debian-6.12 (6.12.57)");
    }

    const D13: &str = "guest debian-13 (kernel 6.12.57+deb13-amd64, TCG, userland trixie: \
                       bpfcc-tools=0.31.0+ds-7 bpftrace=0.23.2-1)";

    #[test]
    fn an_own_userland_sorts_after_the_same_kernel_with_this_machines_tools() {
        let mut envs = [
            Env::parse(D13),
            Env::parse("host (kernel 6.18.44-fc-v1045)"),
            Env::parse("guest debian-6.12 (kernel 6.12.57+deb13-amd64, TCG)"),
        ];
        envs.sort();
        let labels: Vec<&str> = envs.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["debian-6.12", "debian-13", "host"]);
        assert_eq!(
            envs[1].tool_versions(),
            ["bpfcc-tools 0.31.0+ds-7", "bpftrace 0.23.2-1"]
        );
        assert!(envs[0].tool_versions().is_empty());
    }

    #[test]
    fn column_heads_name_each_environments_own_tool_versions() {
        let host = [
            "bpfcc-tools 0.26.0+ds-1".to_string(),
            "bpftrace 0.17.0-1".into(),
            "mawk 1.3.4".into(),
        ];
        assert_eq!(
            Env::parse(D13).column(&host),
            "debian-13 (6.12.57; bcc 0.31, bpftrace 0.23)"
        );
        assert_eq!(
            Env::parse("guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)").column(&host),
            "debian-6.1 (6.1.0; bcc 0.26, bpftrace 0.17)"
        );
        assert_eq!(
            Env::parse("host (kernel 6.18.44-fc-v1045)").column(&[]),
            "host (6.18.44)"
        );
    }

    #[test]
    fn drift_between_tool_versions_on_one_kernel_names_the_versions() {
        let records = vec![
            record("guest debian-6.12 (kernel 6.12.57+deb13-amd64, TCG)", Status::Error, Some(Finding::ToolFailed),
                &["Exception: Failed to attach BPF program b'trace_req_done' to kprobe b'blk_account_io_done'"]),
            record(D13, Status::Pass, None, &[]),
        ];
        let d = Results::new(&records).drift();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].after.0, "debian-13 (6.12.57)");
        assert!(
            d[0].behind.starts_with(
                "same kernel, other tool versions (this machine's before, bpfcc-tools 0.31.0+ds-7"
            ) && d[0].behind.contains("blk_account_io_done"),
            "{}",
            d[0].behind
        );
    }

    fn record(env: &str, status: Status, finding: Option<Finding>, stderr: &[&str]) -> CheckRecord {
        let mut r = CheckRecord::unmeasured(
            "biotop",
            std::path::Path::new("expectations/catalog/bcc/biotop/spec.toml"),
            "direct-mixed",
            env.into(),
            "vda".into(),
            "tcw-aaaaaa",
        );
        r.tool_run.stderr_tail = stderr.iter().map(|s| s.to_string()).collect();
        r.verdicts = vec![Verdict {
            claim: "disk bytes per process".into(),
            metric: tracecheck_model::Metric::parse("disk.read_bytes").unwrap(),
            unit: "B".into(),
            workload: "direct-mixed".into(),
            status,
            reported: Some(7),
            truth: None,
            accepted: None,
            tolerance: "1%".into(),
            diagnosis: finding.map(|finding| crate::verdict::Diagnosis {
                finding,
                sentence: "it reported nothing".into(),
            }),
            fix: None,
            others: vec![],
            notes: vec![],
            histogram: None,
        }];
        r
    }

    use crate::verdict::Finding;

    #[test]
    fn drift_names_the_first_kernel_and_the_probe_that_stopped_attaching() {
        let records = vec![
            record("guest debian-6.12 (kernel 6.12.57+deb13-amd64, TCG)", Status::Error, Some(Finding::ToolFailed),
                &["Exception: Failed to attach BPF program b'trace_pid_start' to kprobe b'blk_account_io_start'"]),
            record("guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)", Status::Pass, None, &[]),
            record("host (kernel 6.18.44-fc-v1045)", Status::Error, Some(Finding::ToolFailed),
                &["Exception: Failed to attach BPF program b'trace_pid_start' to kprobe b'blk_account_io_start'"]),
        ];
        let r = Results::new(&records);
        let d = r.drift();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].before.0, "debian-6.1 (6.1.0)");
        assert_eq!(d[0].after.0, "debian-6.12 (6.12.57)");
        assert!(
            d[0].behind.contains("stopped attaching")
                && d[0].behind.contains("blk_account_io_start"),
            "{}",
            d[0].behind
        );
        let m = r.matrix();
        assert!(
            m.contains("PASS 1/1") && m.contains("ERROR tool_failed"),
            "{m}"
        );
        // The same verdict everywhere is no drift.
        let same = vec![
            record(
                "guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)",
                Status::Pass,
                None,
                &[],
            ),
            record("host (kernel 6.18.44-fc-v1045)", Status::Pass, None, &[]),
        ];
        assert!(Results::new(&same).drift().is_empty());
        let doc = markdown(
            &records,
            &Provenance {
                date: "2026-12-03".into(),
                command: "x".into(),
                packages: vec![],
                cards: vec![],
            },
        );
        assert!(
            doc.contains("## Drift between kernels")
                && doc.contains("**ERROR tool_failed on debian-6.12 (6.12.57)**"),
            "{doc}"
        );
    }

    #[test]
    fn drift_names_an_ftrace_probe_that_stopped_firing_and_an_event_no_longer_enabled() {
        use crate::record::{FtraceUse, ProbeHits};
        let used = |hits, event: &str| FtraceUse {
            events: vec![event.to_string()],
            probes: vec![ProbeHits {
                name: "getnameprobe".into(),
                hits,
                misses: Some(0),
            }],
            buffer: None,
        };
        let mut a = record(
            "guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)",
            Status::Pass,
            None,
            &[],
        );
        a.tool_run.ftrace = Some(used(1042, "syscalls:sys_exit_open"));
        let mut b = record(
            "guest debian-6.12 (kernel 6.12.57+deb13-amd64, TCG)",
            Status::Fail,
            Some(Finding::ReportedNothing),
            &[],
        );
        b.tool_run.ftrace = Some(used(0, "syscalls:sys_exit_openat"));
        let records = vec![a, b];
        let d = Results::new(&records).drift();
        assert_eq!(d.len(), 1);
        let why = &d[0].behind;
        assert!(
            why.contains(
                "ftrace events and probes no longer enabled: `event syscalls:sys_exit_open`"
            ) && why.contains(
                "enabled but never fired (a probe that no longer fires): `probe getnameprobe`"
            ),
            "{why}"
        );
        let doc = bare_markdown(&records);
        assert!(
            doc.contains("event syscalls:sys_exit_open (enabled), probe getnameprobe (1,042 hits)"),
            "{doc}"
        );
    }

    #[test]
    fn drift_names_a_program_that_stopped_firing() {
        use tracecheck_witness::programs::ProgramRun;
        let prog = |runs| ProgramRun {
            id: 7,
            name: "trace_req_start".into(),
            kind: "Kprobe".into(),
            runs: Some(runs),
        };
        let mut a = record(
            "guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)",
            Status::Pass,
            None,
            &[],
        );
        a.tool_run.bpf_programs = vec![prog(260)];
        let mut b = record(
            "guest debian-6.12 (kernel 6.12.57+deb13-amd64, TCG)",
            Status::Fail,
            Some(Finding::ReportedNothing),
            &[],
        );
        b.tool_run.bpf_programs = vec![prog(0)];
        let records = vec![a, b];
        let d = Results::new(&records).drift();
        assert_eq!(d.len(), 1);
        assert!(
            d[0].behind.contains("never ran") && d[0].behind.contains("`trace_req_start`"),
            "{}",
            d[0].behind
        );
        let doc = bare_markdown(&records);
        assert!(doc.contains("trace_req_start (260 runs)"), "{doc}");
    }

    #[test]
    fn cards_sit_by_tool_then_kernel_in_a_table_before_each_card_whole() {
        let card = |tool: &str, env: &str, ready: u64| crate::card::Card {
            tool: tool.into(),
            environment: env.into(),
            ready_ms: Some(ready),
            ..Default::default()
        };
        let doc = cards(&[
            card("b", "host (kernel 6.18.44-fc-v1045)", 100),
            card("b", "guest debian-6.1 (kernel 6.1.0-57-amd64, TCG)", 2000),
            card(
                "a",
                "guest debian-6.12 (kernel 6.12.57+deb13-amd64, TCG)",
                3000,
            ),
        ]);
        let rows: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("| a") || l.starts_with("| b"))
            .collect();
        assert_eq!(rows.len(), 3, "{doc}");
        assert!(
            rows[0].starts_with("| a | debian-6.12 (6.12.57) | 3.0 s | no |"),
            "{doc}"
        );
        assert!(
            rows[1].starts_with("| b | debian-6.1 (6.1.0) | 2.0 s |"),
            "{doc}"
        );
        assert!(
            rows[2].starts_with("| b | host (6.18.44) | 0.1 s |"),
            "{doc}"
        );
        let whole: Vec<usize> = [
            "report card: a ",
            "report card: b  on guest",
            "report card: b  on host",
        ]
        .iter()
        .map(|h| doc.find(h).unwrap_or_else(|| panic!("{h} missing: {doc}")))
        .collect();
        assert!(whole.windows(2).all(|w| w[0] < w[1]), "{doc}");
        assert!(cards(&[]).is_empty());
    }
}
