//! Tool specs: the small TOML file a user writes to describe a tool under
//! test (how to start it, when it is ready, how to stop it, how to read its
//! output) and what it claims to measure.
//!
//! Parsing is strict: unknown keys, unknown metric names and bad values are
//! errors that name the file, the line and what was expected, with a hint of
//! the closest valid name. Raw TOML becomes a validated [`ToolSpec`] once;
//! nothing further down reads TOML.

use crate::error::SpecError;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use tracecheck_model::{metric::edit_distance, Layer, Metric, Quantity};
use tracecheck_probes::OutputFormat;

/// How the harness knows the tool has attached and is counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// The tool's first stdout line, ignoring bpftrace's own
    /// `Attaching N probes...` banner (printed before attaching).
    FirstLine,
    /// The first stdout or stderr line containing this text.
    Contains(String),
    /// A fixed delay after start (for tools that print nothing until exit).
    After(Duration),
    /// Once the tool's processes hold a BPF program and a perf event or BPF
    /// link that attaches it, and half a second more for the rest of its
    /// attachments (bcc's profile -f prints nothing until it exits, and
    /// compiles for a time no fixed delay can promise).
    Attached,
    /// Once one of the tool's processes holds this file open (a path, or
    /// the file's name: `trace_pipe`). perf-tools' snoops print their
    /// header, then clear the trace buffer, and only then start `cat
    /// trace_pipe`: events between the header and the clear are wiped, so
    /// the header is not the moment they start counting, and the open
    /// trace_pipe is (docs/kernel-facts.md, "perf-tools clear the buffer
    /// after their header").
    Reading(String),
    /// Once one of the tool's processes runs under this name (its comm,
    /// after exec). perf-tools' bitesize runs `perf stat -a ... sleep
    /// 999999`, and perf enables its counters before it execs that command:
    /// `sleep` running means perf is counting, however long perf took to
    /// set up (seconds under TCG).
    Running(String),
}

/// How the harness stops the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C), escalating to a second SIGINT, SIGTERM, SIGKILL.
    Sigint,
    /// SIGTERM, escalating to SIGKILL.
    Sigterm,
}

/// What one key position of a printed map means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Comm,
    Pid,
    Direction,
    Device,
    /// The CPU number: summed over, and for `cpu.time` also judged CPU by
    /// CPU (the workload runs one thread on each).
    Cpu,
    /// A key the claim does not care about (file name...): summed over.
    Ignore,
}

impl KeyKind {
    const NAMES: &'static [&'static str] = &["comm", "pid", "direction", "device", "cpu", "_"];

    fn parse(s: &str) -> Option<KeyKind> {
        Some(match s {
            "comm" => KeyKind::Comm,
            "pid" | "tgid" => KeyKind::Pid,
            "direction" => KeyKind::Direction,
            "device" => KeyKind::Device,
            "cpu" => KeyKind::Cpu,
            "_" | "ignore" => KeyKind::Ignore,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Comm => "comm",
            KeyKind::Pid => "pid",
            KeyKind::Direction => "direction",
            KeyKind::Device => "device",
            KeyKind::Cpu => "cpu",
            KeyKind::Ignore => "_",
        }
    }
}

/// Allowed deviation beyond the truth's own explained bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    Percent(f64),
    Absolute(u64),
}

impl Tolerance {
    /// Widen `lo..=hi` by the tolerance, to the whole numbers inside the
    /// widened range: 1% of 4 I/Os accepts 4 alone. (Rounding outward
    /// accepted 3 of 4, a script that misses a device's first request.)
    pub fn widen(self, lo: u64, hi: u64) -> (u64, u64) {
        match self {
            Tolerance::Percent(p) => {
                let f = p / 100.0;
                // The epsilon keeps 500 × 0.99 (495.00000000000006) at 495.
                let lo_w = (lo as f64 * (1.0 - f) - 1e-6).ceil() as u64;
                let hi_w = (hi as f64 * (1.0 + f) + 1e-6).floor() as u64;
                (lo_w.min(lo), hi_w.max(hi))
            }
            Tolerance::Absolute(a) => (lo.saturating_sub(a), hi.saturating_add(a)),
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tolerance::Percent(p) => write!(f, "{p}%"),
            Tolerance::Absolute(a) => write!(f, "±{a}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Claim {
    pub name: String,
    /// Map name as the tool prints it (`@bytes`); for a claim on a table,
    /// `table[COLUMNS]`, a name for reports.
    pub map: String,
    /// Read from the tool's tables instead of a map: rows grouped by these
    /// columns (one per key), each row counting 1 or the `sum` column.
    pub table: Option<TableRead>,
    pub metric: Metric,
    pub keys: Vec<KeyKind>,
    pub tolerance: Tolerance,
    /// Workloads to check the claim on; empty means the built-in choice for
    /// the metric (see `select`).
    pub workloads: Vec<&'static crate::select::Plan>,
    /// The rate a profiler samples at (`sample_hz`, a `cpu.time` claim's):
    /// each count it prints stands for 1/hz s of CPU time.
    pub sample_hz: Option<u32>,
    /// For a latency or size claim: what one unit of the histogram's
    /// values is in the truth's units (`unit`: "ns" 1, "us" 1000, "ms"
    /// 1000000 nanoseconds; "bytes" 1, "KiB" 1024, "sectors" 512 bytes).
    pub hist_unit: Option<u64>,
}

/// The units a latency histogram may be printed in, with their length in
/// nanoseconds.
pub const TIME_UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("usecs", 1_000),
    ("ms", 1_000_000),
    ("msecs", 1_000_000),
];

/// What one printed `unit` is in `units` (bytes or nanoseconds); `Err`
/// says which units there are (`kind` names them: "time ", or "" for
/// bytes in a table).
fn unit_length(units: &[(&str, u64)], unit: &str, kind: &str) -> Result<u64, String> {
    units
        .iter()
        .find(|(n, _)| *n == unit)
        .map(|(_, len)| *len)
        .ok_or_else(|| {
            format!(
                "unknown {kind}unit `{unit}`; expected one of: {}",
                units.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )
        })
}

/// Nanoseconds of CPU time that `samples` samples at `hz` stand for.
pub fn ns_of(samples: u64, hz: u32) -> u64 {
    (samples as u128 * 1_000_000_000 / hz.max(1) as u128) as u64
}

/// Samples at `hz` that `ns` of CPU time makes (the inverse of [`ns_of`],
/// rounded to the nearest).
pub fn samples_of(ns: u64, hz: u32) -> u64 {
    ((ns as u128 * hz as u128 + 500_000_000) / 1_000_000_000) as u64
}

/// How a claim reads a table: the columns that are its keys, and the
/// column summed (each row counts 1 without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRead {
    pub columns: Vec<String>,
    pub sum: Option<String>,
    /// Bytes per unit of the `sum` column (`unit = "KiB"`: 1024); 1 for bytes
    /// and for anything that is not bytes.
    pub scale: u64,
    /// Only the rows whose cell in each named column is exactly one of
    /// its values (`where = { EVENTS = ["syscalls:sys_enter_open",
    /// "syscalls:sys_enter_openat"] }`, or one value as a string): a table
    /// of several events or kinds, some of which the claim is about.
    pub filter: Vec<(String, Vec<String>)>,
    /// The `sum` column is a rate per second, and this column is the
    /// elapsed seconds at each interval's end as printed (`perf stat -I`'s
    /// time): each row stands for its rate times its interval's printed
    /// length, the first interval starting at 0.
    pub rate_over: Option<String>,
}

/// The units a table's byte column may be printed in (`unit` in a claim).
pub const BYTE_UNITS: &[(&str, u64)] = &[
    ("bytes", 1),
    ("KiB", 1024),
    ("MiB", 1 << 20),
    ("sectors", 512),
    ("pages", 4096),
];

impl Claim {
    pub fn has_key(&self, k: KeyKind) -> bool {
        self.keys.contains(&k)
    }

    /// Keyed by process (comm or pid): its number is the workload's own,
    /// not the whole device's.
    pub fn per_process(&self) -> bool {
        self.has_key(KeyKind::Comm) || self.has_key(KeyKind::Pid)
    }
}

#[derive(Debug, Clone)]
pub struct ToolSpec {
    /// The spec file, for messages.
    pub path: PathBuf,
    pub name: String,
    /// argv of the tool; a `script` becomes `bpftrace -B line SCRIPT`.
    pub command: Vec<String>,
    pub format: OutputFormat,
    pub ready: Ready,
    pub ready_timeout: Duration,
    pub stop: Stop,
    pub stop_timeout: Duration,
    /// A tool that prints only at fixed intervals (and drops what it has
    /// gathered on exit): after the workload it keeps running this long
    /// plus a margin, so the interval holding the workload's end is printed.
    pub interval: Option<Duration>,
    /// Set in the tool's environment (staprun's helpers, for SystemTap).
    pub env: Vec<(String, String)>,
    /// A SystemTap script: built into a module for the guest's kernel on
    /// the host, loaded in the guest by `staprun` ([`StapScript`]).
    pub stap: Option<StapScript>,
    pub claims: Vec<Claim>,
}

/// A SystemTap script a spec checks (`stap = "example:io/disktop.stp"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StapScript {
    pub source: StapSource,
    /// Options for stap before the script (`-g`, `-DMAXACTION=...`).
    pub options: Vec<String>,
    /// The script's arguments (`$1`...), compiled into the module.
    pub args: Vec<String>,
    /// The module's name (from the script's file name).
    pub module_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StapSource {
    /// A script shipped in systemtap-doc, relative to its examples directory.
    Example(String),
    /// A script file (absolute, resolved from the spec's directory).
    File(PathBuf),
}

/// What tracecheck adds to every SystemTap script (with stap's `-E`, an
/// extra script beside the tool's own, which is left as it is): one line
/// from the first tick of a timer. stap's module start registers kprobes
/// before it starts timers (a `begin` probe runs before both), so this
/// line means the tool's probes are in place.
pub const STAP_READY_PROBE: &str = "global tracecheck_ready; probe timer.ms(100) { if (!tracecheck_ready) { tracecheck_ready = 1; printf(\"tracecheck: stap probes registered\\n\") } }";
/// The line [`STAP_READY_PROBE`] prints.
pub const STAP_READY_LINE: &str = "tracecheck: stap probes registered";

impl StapScript {
    /// The stap options tracecheck builds with: the spec's, then the
    /// readiness probe.
    pub fn build_options(&self) -> Vec<String> {
        let mut o = self.options.clone();
        o.push("-E".into());
        o.push(STAP_READY_PROBE.into());
        o
    }

    /// The script's file name, for messages (`disktop.stp`).
    pub fn file_name(&self) -> String {
        match &self.source {
            StapSource::Example(r) => r.rsplit('/').next().unwrap_or(r).to_string(),
            StapSource::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

/// The placeholders a command line may hold for the scratch disk.
pub const DEVICE_PLACEHOLDERS: &[(&str, &str)] = &[
    ("{dev}", "the disk's kernel name (`loop0`, `vda`)"),
    ("{devpath}", "its device node (`/dev/loop0`)"),
    ("{maj}", "its major number"),
    ("{min}", "its minor number"),
    ("{mnt}", "where its filesystem is mounted"),
];

/// The placeholder for the workload's pid: the workload starts held, set
/// up under its name, and goes on once the tool given its pid is ready.
pub const PID_PLACEHOLDER: (&str, &str) = (
    "{pid}",
    "the workload's pid (it starts held and goes on once the tool is ready)",
);

/// The scratch disk a check runs on, for [`DEVICE_PLACEHOLDERS`].
pub struct DeviceNames<'a> {
    pub name: &'a str,
    pub path: &'a Path,
    pub major: u32,
    pub minor: u32,
    pub mountpoint: &'a Path,
}

impl ToolSpec {
    /// Whether the command names the scratch disk (`{dev}`...): then each
    /// workload, on a disk of its own, needs a run of the tool of its own.
    pub fn names_the_device(&self) -> bool {
        self.command
            .iter()
            .any(|a| DEVICE_PLACEHOLDERS.iter().any(|(p, _)| a.contains(p)))
    }

    /// Whether the command takes the workload's pid (`{pid}`): then each
    /// workload needs a run of the tool of its own, started beside it.
    pub fn needs_pid(&self) -> bool {
        self.command.iter().any(|a| a.contains(PID_PLACEHOLDER.0))
    }

    /// The spec with `{pid}` replaced by `pid`.
    pub fn for_pid(&self, pid: u32) -> ToolSpec {
        let mut s = self.clone();
        for a in &mut s.command {
            *a = a.replace(PID_PLACEHOLDER.0, &pid.to_string());
        }
        s
    }

    /// The spec with the command's placeholders replaced for `disk`.
    pub fn on_scratch(&self, disk: &tracecheck_workloads::scratch_disk::ScratchDisk) -> ToolSpec {
        self.on_device(&DeviceNames {
            name: &disk.name,
            path: &disk.device,
            major: disk.major,
            minor: disk.minor,
            mountpoint: &disk.mountpoint,
        })
    }

    /// The spec with the command's placeholders replaced for `d`.
    pub fn on_device(&self, d: &DeviceNames<'_>) -> ToolSpec {
        let mut s = self.clone();
        for a in &mut s.command {
            *a = a
                .replace("{devpath}", &d.path.display().to_string())
                .replace("{dev}", d.name)
                .replace("{maj}", &d.major.to_string())
                .replace("{min}", &d.minor.to_string())
                .replace("{mnt}", &d.mountpoint.display().to_string());
        }
        s
    }

    /// Run the SystemTap script as `module`, loaded by `staprun` from the
    /// unpacked SystemTap at `root` (tracecheck's agent in a guest, told by
    /// the host which module it built).
    pub fn use_stap_module(&mut self, root: &Path, module: &Path) {
        self.command = vec![
            tracecheck_vm::stap::staprun_in(root).display().to_string(),
            module.display().to_string(),
        ];
        self.env = tracecheck_vm::stap::staprun_env(root);
    }
}

// ---- raw TOML shapes (private; spans kept for error messages) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    tool: RawTool,
    #[serde(default, rename = "claim")]
    claims: Vec<RawClaim>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: Spanned<String>,
    script: Option<Spanned<String>>,
    command: Option<Spanned<Vec<String>>>,
    format: Option<Spanned<String>>,
    ready: Option<Spanned<String>>,
    ready_timeout: Option<Spanned<String>>,
    stop: Option<Spanned<String>>,
    stop_timeout: Option<Spanned<String>>,
    stap: Option<Spanned<String>>,
    #[serde(default)]
    stap_options: Vec<String>,
    #[serde(default)]
    stap_args: Vec<String>,
    interval: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim {
    name: Option<Spanned<String>>,
    map: Option<Spanned<String>>,
    /// Table columns that are the keys, one per `keys` entry.
    #[serde(default)]
    columns: Option<Spanned<Vec<String>>>,
    /// The table column whose numbers are summed.
    sum: Option<Spanned<String>>,
    /// The unit of the `sum` column, for a metric in bytes (`KiB`).
    unit: Option<Spanned<String>>,
    metric: Spanned<String>,
    #[serde(default)]
    keys: Vec<Spanned<String>>,
    tolerance: Option<Spanned<String>>,
    #[serde(default)]
    workloads: Vec<Spanned<String>>,
    /// A profiler's sampling rate, for `cpu.time`.
    sample_hz: Option<Spanned<u32>>,
    /// Only the table rows with these exact cells.
    #[serde(default, rename = "where")]
    filter: Option<Spanned<std::collections::BTreeMap<String, OneOrMany>>>,
    /// The `sum` column is a rate per second over intervals ending at this
    /// column's elapsed seconds.
    rate_over: Option<Spanned<String>>,
}

/// A `where` value: one cell value, or a list of them.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Known top-level and nested keys, for "did you mean" hints on unknown ones.
const KNOWN_KEYS: &[&str] = &[
    "tool",
    "claim",
    "name",
    "script",
    "command",
    "format",
    "ready",
    "ready_timeout",
    "stop",
    "stop_timeout",
    "stap",
    "stap_options",
    "stap_args",
    "interval",
    "map",
    "columns",
    "sum",
    "unit",
    "metric",
    "keys",
    "tolerance",
    "workloads",
    "sample_hz",
    "where",
    "rate_over",
];

pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_TOLERANCE: Tolerance = Tolerance::Percent(1.0);

impl ToolSpec {
    pub fn load(path: &Path) -> Result<ToolSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Read {
            path: path.to_owned(),
            source: e,
        })?;
        ToolSpec::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ToolSpec, SpecError> {
        let at = |span: Option<std::ops::Range<usize>>, msg: String| {
            let (line, col) = span.map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            SpecError::Invalid {
                path: path.to_owned(),
                line,
                col,
                msg,
            }
        };
        let raw: RawSpec = toml::from_str(text).map_err(|e| {
            let mut msg = e.message().trim().to_string();
            if let Some(hint) = unknown_field_hint(&msg) {
                msg.push_str(&hint);
            }
            at(e.span(), msg)
        })?;
        let sp = |s: &Spanned<String>, msg: String| at(Some(s.span()), msg);
        let base = path.parent().unwrap_or(Path::new("."));

        let t = raw.tool;
        let stap = match &t.stap {
            None => None,
            Some(s) if t.script.is_some() || t.command.is_some() => {
                return Err(sp(
                    s,
                    "give one of `script`, `command` or `stap` in [tool]".into(),
                ))
            }
            Some(s) => Some(
                parse_stap(s.get_ref(), base, &t.stap_options, &t.stap_args)
                    .map_err(|m| sp(s, m))?,
            ),
        };
        let command = match &stap {
            Some(st) => vec!["staprun".into(), format!("{}.ko", st.module_name)],
            None => match (&t.script, &t.command) {
                (Some(s), None) => {
                    let script = base.join(s.get_ref());
                    if !script.is_file() {
                        return Err(sp(
                            s,
                            format!("script `{}` does not exist", script.display()),
                        ));
                    }
                    // The tool runs in the spec's directory: pass an absolute path.
                    let script = script.canonicalize().unwrap_or(script);
                    vec![
                        "bpftrace".into(),
                        "-B".into(),
                        "line".into(),
                        script.to_string_lossy().into_owned(),
                    ]
                }
                (None, Some(c)) => {
                    if c.get_ref().is_empty() {
                        return Err(at(
                        Some(c.span()),
                        "`command` is empty; expected an argv list such as [\"biotop\", \"-C\"]"
                            .into(),
                    ));
                    }
                    c.get_ref().clone()
                }
                (Some(s), Some(_)) => {
                    return Err(sp(
                        s,
                        "give either `script` or `command` in [tool], not both".into(),
                    ))
                }
                (None, None) => return Err(sp(
                    &t.name,
                    "[tool] needs `script = \"FILE.bt\"` (a bpftrace script), `command = [..]` or `stap = \"FILE.stp\"` (a SystemTap script)"
                        .into(),
                )),
            },
        };
        let format = match &t.format {
            None => OutputFormat::BpftraceText,
            Some(f) => f.get_ref().parse().map_err(|_| {
                sp(
                    f,
                    format!(
                        "unknown format `{}`; expected one of: {}",
                        f.get_ref(),
                        OutputFormat::NAMES.join(", ")
                    ),
                )
            })?,
        };
        let ready = match &t.ready {
            None if stap.is_some() => Ready::Contains(STAP_READY_LINE.into()),
            None => Ready::FirstLine,
            Some(r) => parse_ready(r.get_ref()).map_err(|m| sp(r, m))?,
        };
        let dur = |v: &Option<Spanned<String>>, d: Duration| match v {
            None => Ok(d),
            Some(s) => parse_duration(s.get_ref()).map_err(|m| sp(s, m)),
        };
        let ready_timeout = dur(&t.ready_timeout, DEFAULT_READY_TIMEOUT)?;
        let stop_timeout = dur(&t.stop_timeout, DEFAULT_STOP_TIMEOUT)?;
        let interval = match &t.interval {
            None => None,
            Some(s) => Some(parse_duration(s.get_ref()).map_err(|m| sp(s, m))?),
        };
        let stop = match t.stop.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None => Stop::Sigint,
            Some((_, "sigint")) => Stop::Sigint,
            Some((_, "sigterm")) => Stop::Sigterm,
            Some((s, other)) => {
                return Err(sp(
                    s,
                    format!("unknown stop `{other}`; expected `sigint` or `sigterm`"),
                ))
            }
        };

        if raw.claims.is_empty() {
            return Err(sp(&t.name, "the spec has no [[claim]]: say what the tool claims to measure, e.g.\n  [[claim]]\n  map = \"@bytes\"\n  metric = \"disk.read_bytes\"\n  keys = [\"comm\"]".into()));
        }
        let mut claims = Vec::new();
        for (i, c) in raw.claims.iter().enumerate() {
            let metric = Metric::parse(c.metric.get_ref()).ok_or_else(|| {
                sp(&c.metric, format!(
                    "unknown metric `{}`; did you mean `{}`? (the vocabulary is in docs/metrics.md)",
                    c.metric.get_ref(),
                    Metric::closest(c.metric.get_ref())
                ))
            })?;
            let (map, table) = match (&c.map, &c.columns) {
                (Some(m), None) => {
                    if let Some(r) = &c.rate_over {
                        return Err(sp(r, "`rate_over` reads a table's rows: it goes with `columns` and `sum`, not `map`".into()));
                    }
                    if let Some(w) = &c.filter {
                        return Err(at(Some(w.span()), "`where` picks a table's rows: it goes with `columns`, not `map`".into()));
                    }
                    if let Some(sum) = &c.sum {
                        return Err(sp(
                            sum,
                            "`sum` names a table column: it goes with `columns`, not `map`".into(),
                        ));
                    }
                    if let Some(u) = c.unit.as_ref().filter(|_| !metric.is_distribution()) {
                        return Err(sp(
                            u,
                            "`unit` is the unit of a table's `sum` column (or of a latency or size histogram): it goes with `columns` and `sum`, not `map`".into(),
                        ));
                    }
                    let bpftrace =
                        [OutputFormat::BpftraceText, OutputFormat::BpftraceJson].contains(&format);
                    if bpftrace && !m.get_ref().starts_with('@') {
                        return Err(sp(
                            m,
                            format!(
                                "map `{}` should be a bpftrace map name starting with `@`",
                                m.get_ref()
                            ),
                        ));
                    }
                    (m.get_ref().clone(), None)
                }
                (None, Some(cols)) => {
                    if cols.get_ref().len() != c.keys.len() {
                        return Err(at(
                            Some(cols.span()),
                            format!(
                                "`columns` names {} column(s) but `keys` has {}: one column per key, in the same order",
                                cols.get_ref().len(),
                                c.keys.len()
                            ),
                        ));
                    }
                    let scale = match &c.unit {
                        None => 1,
                        Some(u) if c.sum.is_none() => {
                            return Err(sp(u, "`unit` is the unit of the `sum` column, and this claim has no `sum`".into()))
                        }
                        Some(u) if metric.unit() != "B" => {
                            return Err(sp(u, format!("`unit` converts a column to bytes, and `{}` is counted in {}", metric.name(), metric.unit())))
                        }
                        Some(u) => unit_length(BYTE_UNITS, u.get_ref(), "").map_err(|m| sp(u, m))?,
                    };
                    if let (Some(r), None) = (&c.rate_over, &c.sum) {
                        return Err(sp(r, "`rate_over` says the `sum` column is a rate, and this claim has no `sum`".into()));
                    }
                    let t = TableRead {
                        columns: cols.get_ref().clone(),
                        sum: c.sum.as_ref().map(|s| s.get_ref().clone()),
                        scale,
                        filter: c
                            .filter
                            .as_ref()
                            .map(|f| {
                                f.get_ref()
                                    .clone()
                                    .into_iter()
                                    .map(|(c, v)| (c, v.into_vec()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        rate_over: c.rate_over.as_ref().map(|r| r.get_ref().clone()),
                    };
                    (format!("table[{}]", t.columns.join(" ")), Some(t))
                }
                (Some(m), Some(_)) => {
                    return Err(sp(
                        m,
                        "a claim reads either a map (`map`) or a table (`columns`), not both".into(),
                    ))
                }
                (None, None) => {
                    return Err(sp(
                        &c.metric,
                        "this claim says nothing about where its number is: add `map = \"@name\"` (a printed map) or `columns = [...]` (a table's key columns)".into(),
                    ))
                }
            };
            let mut keys = Vec::new();
            for k in &c.keys {
                let kind = KeyKind::parse(k.get_ref()).ok_or_else(|| {
                    sp(
                        k,
                        format!(
                            "unknown key kind `{}`; expected one of: {}",
                            k.get_ref(),
                            KeyKind::NAMES.join(", ")
                        ),
                    )
                })?;
                keys.push(kind);
            }
            if metric.direction == tracecheck_model::Directed::FromKey
                && !keys.contains(&KeyKind::Direction)
            {
                let both = metric
                    .both()
                    .map(|b| format!(", `{}` for reads and writes added up", b.name()))
                    .unwrap_or_default();
                return Err(sp(&c.metric, format!(
                    "metric `{}` takes its direction from a key, but `keys` has no \"direction\"; use e.g. `{}`{both}, or add \"direction\" to keys",
                    metric.name(),
                    metric.with_direction(tracecheck_model::Direction::Read).name()
                )));
            }
            if metric.is_both() && keys.contains(&KeyKind::Direction) {
                return Err(sp(&c.metric, format!(
                    "metric `{}` adds reads and writes up, but `keys` has a \"direction\"; use `{}` to judge each direction apart",
                    metric.name(),
                    tracecheck_model::Metric { direction: tracecheck_model::Directed::FromKey, ..metric }.name()
                )));
            }
            let tolerance = match &c.tolerance {
                None => DEFAULT_TOLERANCE,
                Some(s) => parse_tolerance(s.get_ref()).map_err(|m| sp(s, m))?,
            };
            let mut workloads = Vec::new();
            for w in &c.workloads {
                let k = crate::select::plan(w.get_ref()).ok_or_else(|| {
                    sp(
                        w,
                        format!(
                            "unknown workload `{}`; expected one of: {}",
                            w.get_ref(),
                            crate::select::names().join(", ")
                        ),
                    )
                })?;
                workloads.push(k);
            }
            let name = c
                .name
                .as_ref()
                .map(|n| n.get_ref().clone())
                .unwrap_or_else(|| format!("claim {}: {} {}", i + 1, map, metric.name()));
            if claims.iter().any(|x: &Claim| x.name == name) {
                return Err(sp(
                    c.name.as_ref().unwrap_or(&c.metric),
                    format!("duplicate claim name `{name}`"),
                ));
            }
            let cpu = metric.layer == tracecheck_model::Layer::Cpu;
            let sample_hz = match &c.sample_hz {
                Some(hz) if !cpu => {
                    return Err(at(
                        Some(hz.span()),
                        format!("`sample_hz` is a profiler's sampling rate, for `cpu.time`; `{}` is no CPU time", metric.name()),
                    ))
                }
                Some(hz) if *hz.get_ref() == 0 => {
                    return Err(at(Some(hz.span()), "`sample_hz` must be a rate above 0 (the N of profile:hz:N)".into()))
                }
                Some(hz) => Some(*hz.get_ref()),
                None if cpu => {
                    return Err(sp(&c.metric, format!(
                        "`{}` is counted in samples: add `sample_hz = N`, the rate the tool samples at (bpftrace's profile:hz:N, bcc profile's -F N)",
                        metric.name()
                    )))
                }
                None => None,
            };
            let hist_unit = if metric.is_distribution() {
                let time = metric.quantity == Quantity::Latency;
                // A request's time is the device's; its size also the
                // issuing task's (bitesize keys by it); a call's time is
                // its process's, and the witness times only the workload's.
                if metric.layer == Layer::Syscall && keys != [KeyKind::Comm] {
                    return Err(sp(&c.metric, format!(
                        "`{}` is a distribution over a process's calls: key it by `comm` (the calling process) alone",
                        metric.name()
                    )));
                }
                if let Some(k) = keys
                    .iter()
                    .filter(|_| metric.layer != Layer::Syscall)
                    .find(|k| *k == &KeyKind::Pid || (time && *k == &KeyKind::Comm))
                {
                    return Err(sp(&c.metric, format!(
                        "`{}` is a distribution over the device's requests: key it by {}, not by `{}`",
                        metric.name(),
                        if time { "`device` or not at all" } else { "`comm` (the issuing task), `device` or not at all" },
                        k.as_str()
                    )));
                }
                if table.is_some() {
                    return Err(sp(&c.metric, format!(
                        "`{}` is a distribution: it is read from a histogram map (`map`), not from a table's rows",
                        metric.name()
                    )));
                }
                let units = if time { TIME_UNITS } else { BYTE_UNITS };
                let names = || {
                    units
                        .iter()
                        .map(|(n, _)| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let Some(u) = &c.unit else {
                    return Err(sp(
                        &c.metric,
                        format!(
                        "`{}` is a histogram of {}: add `unit`, the unit its values are in ({})",
                        metric.name(),
                        if time { "times" } else { "sizes" },
                        names()
                    ),
                    ));
                };
                let kind = if time { "time " } else { "size " };
                Some(unit_length(units, u.get_ref(), kind).map_err(|m| sp(u, m))?)
            } else {
                None
            };
            claims.push(Claim {
                name,
                map,
                table,
                metric,
                keys,
                tolerance,
                workloads,
                sample_hz,
                hist_unit,
            });
        }
        Ok(ToolSpec {
            path: path.to_owned(),
            name: t.name.get_ref().clone(),
            command,
            format,
            ready,
            ready_timeout,
            stop,
            stop_timeout,
            interval,
            env: Vec::new(),
            stap,
            claims,
        })
    }
}

fn unknown_field_hint(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let field = &rest[..rest.find('`')?];
    let best = KNOWN_KEYS.iter().min_by_key(|k| edit_distance(field, k))?;
    (edit_distance(field, best) <= 3).then(|| format!("\nhint: did you mean `{best}`?"))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let err = || format!("bad duration `{s}`; expected a number with a unit: 500ms, 10s, 2m");
    let (num, mult_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        return Err(err());
    };
    let v: f64 = num.trim().parse().map_err(|_| err())?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(err());
    }
    Ok(Duration::from_millis((v * mult_ms) as u64))
}

/// Why a SystemTap spec does not run on this host, and what to run instead.
pub fn stap_needs_a_guest(spec: &ToolSpec) -> String {
    let name = spec
        .stap
        .as_ref()
        .map(StapScript::file_name)
        .unwrap_or_default();
    format!(
        "{}: {name} is a SystemTap script, which runs as a kernel module; tracecheck loads such modules only into its guests, never into this machine's kernel. Run it in a guest: tracecheck check {} --vm debian-6.1",
        spec.path.display(),
        spec.path.display()
    )
}

/// `example:DIR/NAME.stp` (shipped in systemtap-doc) or a file beside the spec.
fn parse_stap(
    s: &str,
    base: &Path,
    options: &[String],
    args: &[String],
) -> Result<StapScript, String> {
    let source = match s.strip_prefix("example:") {
        Some(rel) if rel.ends_with(".stp") && !rel.starts_with('/') && !rel.contains("..") => {
            StapSource::Example(rel.to_string())
        }
        Some(_) => {
            return Err(format!(
                "`{s}` is no shipped example; expected `example:DIR/NAME.stp`, as in systemtap-doc's examples (`example:io/disktop.stp`)"
            ))
        }
        None => {
            let f = base.join(s);
            if !f.is_file() {
                return Err(format!("SystemTap script `{}` does not exist", f.display()));
            }
            StapSource::File(f.canonicalize().unwrap_or(f))
        }
    };
    let stem = s.rsplit('/').next().unwrap_or(s).trim_end_matches(".stp");
    // A kernel module's name: letters, digits and underscores.
    let module_name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Ok(StapScript {
        source,
        options: options.to_vec(),
        args: args.to_vec(),
        module_name,
    })
}

fn parse_ready(s: &str) -> Result<Ready, String> {
    if s == "attached" {
        Ok(Ready::Attached)
    } else if s == "first-line" {
        Ok(Ready::FirstLine)
    } else if let Some(t) = s.strip_prefix("contains:") {
        if t.trim().is_empty() {
            return Err("`contains:` needs text to wait for, e.g. \"contains:Tracing\"".into());
        }
        Ok(Ready::Contains(t.trim().to_string()))
    } else if let Some(d) = s.strip_prefix("after:") {
        Ok(Ready::After(parse_duration(d)?))
    } else if let Some(f) = s.strip_prefix("reading:") {
        let f = f.trim();
        if f.is_empty() || f.ends_with('/') {
            return Err(
                "`reading:` needs a file the tool opens once it counts, e.g. \"reading:trace_pipe\""
                    .into(),
            );
        }
        Ok(Ready::Reading(f.to_string()))
    } else if let Some(c) = s.strip_prefix("running:") {
        let c = c.trim();
        if c.is_empty() || c.len() > 15 || c.contains('/') {
            return Err(
                "`running:` needs a process name as the kernel keeps it (at most 15 bytes, no `/`), e.g. \"running:sleep\""
                    .into(),
            );
        }
        Ok(Ready::Running(c.to_string()))
    } else {
        Err(format!(
            "unknown ready `{s}`; expected \"first-line\", \"contains:TEXT\", \"after:DURATION\", \"attached\", \"reading:FILE\" or \"running:NAME\""
        ))
    }
}

fn parse_tolerance(s: &str) -> Result<Tolerance, String> {
    let t = s.trim();
    let err = || {
        format!("bad tolerance `{s}`; expected a percentage (\"2%\") or an absolute amount in the metric's unit (\"4096\")")
    };
    if let Some(p) = t.strip_suffix('%') {
        let v: f64 = p.trim().parse().map_err(|_| err())?;
        if !(0.0..=1000.0).contains(&v) {
            return Err(err());
        }
        Ok(Tolerance::Percent(v))
    } else {
        Ok(Tolerance::Absolute(t.parse().map_err(|_| err())?))
    }
}

/// Resolve a spec path given on the command line: a directory means its
/// `spec.toml`.
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("spec.toml")
    } else {
        path.to_owned()
    }
}

/// Every directory under `dir` that holds a `spec.toml`, sorted (`tracecheck
/// run --examples DIR`, and [`crate::testing`]).
pub fn specs_under(dir: &Path) -> Result<Vec<PathBuf>, crate::error::HarnessError> {
    use crate::error::HarnessError;
    // Show `/src/expectations/examples/x`, not `/src/harness/../expectations/...`.
    let dir = &dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    std::fs::read_dir(dir).map_err(HarnessError::io(format!(
        "read examples directory {} (set --examples)",
        dir.display()
    )))?;
    // Every directory below holding a spec.toml (the catalog nests them by
    // tool family). A hand-written walk: a few dozen directories, and no
    // need for a crate's symlink and error policies.
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if p.is_dir() {
                if p.join("spec.toml").is_file() {
                    out.push(p.clone());
                }
                walk(&p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    if out.is_empty() {
        return Err(HarnessError::Other(format!(
            "no spec.toml in any directory under {}",
            dir.display()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A percentage accepts the whole numbers within it: nothing but the
    /// truth for small counts, and its exact bounds at round ones.
    #[test]
    fn a_percentage_accepts_the_whole_numbers_inside_it() {
        let one = Tolerance::Percent(1.0);
        assert_eq!(one.widen(4, 4), (4, 4), "3 of 4 is 25% off");
        assert_eq!(one.widen(0, 0), (0, 0));
        assert_eq!(one.widen(500, 500), (495, 505));
        assert_eq!(one.widen(129, 131), (128, 132));
        assert_eq!(Tolerance::Percent(5.0).widen(20, 20), (19, 21));
        assert_eq!(Tolerance::Absolute(1).widen(0, 4), (0, 5));
    }

    fn parse(text: &str) -> Result<ToolSpec, SpecError> {
        let dir = std::env::temp_dir().join(format!("tc-spec-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.bt"), "BEGIN { printf(\"hi\\n\"); }").unwrap();
        ToolSpec::parse(&dir.join("spec.toml"), text)
    }

    fn err(text: &str) -> String {
        parse(text).expect_err("should be rejected").to_string()
    }

    const GOOD: &str = "[tool]\nname = \"t\"\nscript = \"x.bt\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nkeys = [\"comm\"]\n";

    #[test]
    fn a_minimal_spec_gets_the_documented_defaults() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.command[..3], ["bpftrace", "-B", "line"]);
        assert_eq!(s.ready, Ready::FirstLine);
        assert_eq!(s.stop, Stop::Sigint);
        assert_eq!(s.ready_timeout, DEFAULT_READY_TIMEOUT);
        assert_eq!(s.claims[0].tolerance, DEFAULT_TOLERANCE);
        assert_eq!(s.claims[0].keys, [KeyKind::Comm]);
    }

    #[test]
    fn unknown_metric_names_line_column_and_a_hint() {
        let e = err(&GOOD.replace("disk.read_bytes", "disk.read_byte"));
        assert!(e.contains("spec.toml:7:10"), "{e}");
        assert!(e.contains("did you mean `disk.read_bytes`"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_hint() {
        let e = err(&GOOD.replace("map =", "mapp ="));
        assert!(e.contains("spec.toml:6:"), "{e}");
        assert!(e.contains("unknown field `mapp`"), "{e}");
        assert!(e.contains("did you mean `map`"), "{e}");
    }

    #[test]
    fn missing_script_file_and_bad_values_are_named() {
        assert!(err(&GOOD.replace("x.bt", "nope.bt")).contains("nope.bt` does not exist"));
        assert!(err(&GOOD.replace("[\"comm\"]", "[\"core\"]")).contains("unknown key kind `core`"));
        let e = err(&GOOD.replace("keys", "tolerance = \"lots\"\nkeys"));
        assert!(e.contains("bad tolerance `lots`"), "{e}");
        assert!(err(&GOOD.replace("disk.read_bytes", "disk.bytes"))
            .contains("takes its direction from a key"));
        assert!(err("[tool]\nname = \"t\"\nscript = \"x.bt\"\n").contains("no [[claim]]"));
    }

    #[test]
    fn device_placeholders_are_filled_in_per_disk() {
        let spec = GOOD.replace(
            "script = \"x.bt\"",
            "command = [\"iosnoop\", \"-d\", \"{maj},{min}\", \"{devpath}\", \"{dev}@{mnt}\"]",
        );
        let s = parse(&spec).unwrap();
        assert!(s.names_the_device());
        let d = DeviceNames {
            name: "vda",
            path: Path::new("/dev/vda"),
            major: 254,
            minor: 0,
            mountpoint: Path::new("/tmp/m"),
        };
        let on = s.on_device(&d);
        assert_eq!(
            on.command,
            ["iosnoop", "-d", "254,0", "/dev/vda", "vda@/tmp/m"]
        );
        assert!(!parse(GOOD).unwrap().names_the_device());
    }

    #[test]
    fn cpu_time_needs_a_sample_rate_and_only_it_takes_one() {
        let cpu = GOOD.replace("disk.read_bytes", "cpu.time");
        let e = err(&cpu);
        assert!(e.contains("add `sample_hz = N`"), "{e}");
        let s = parse(&cpu.replace("keys", "sample_hz = 997\nkeys")).unwrap();
        assert_eq!(s.claims[0].sample_hz, Some(997));
        let e = err(&GOOD.replace("keys", "sample_hz = 997\nkeys"));
        assert!(
            e.contains("spec.toml:8:") && e.contains("is no CPU time"),
            "{e}"
        );
        assert!(err(&cpu.replace("keys", "sample_hz = 0\nkeys")).contains("above 0"));
        // A sample at 997 Hz is 1/997 s; the two conversions invert.
        assert_eq!(ns_of(997, 997), 1_000_000_000);
        assert_eq!(ns_of(1, 997), 1_003_009);
        for n in [0, 1, 99, 997, 5_981, 1 << 40] {
            assert_eq!(samples_of(ns_of(n, 997), 997), n);
        }
    }

    #[test]
    fn a_table_sum_may_have_a_byte_unit() {
        let table = GOOD.replace(
            "map = \"@b\"",
            "columns = [\"COMM\"]\nsum = \"KB\"\nunit = \"KiB\"",
        );
        assert_eq!(
            parse(&table).unwrap().claims[0]
                .table
                .as_ref()
                .unwrap()
                .scale,
            1024
        );
        let e = err(&table.replace("KiB", "kB"));
        assert!(
            e.contains("unknown unit `kB`") && e.contains("KiB, MiB"),
            "{e}"
        );
        let e = err(&table.replace("disk.read_bytes", "process.execs"));
        assert!(e.contains("counted in execs"), "{e}");
        let e = err(&GOOD.replace("keys", "unit = \"KiB\"\nkeys"));
        assert!(e.contains("goes with `columns` and `sum`"), "{e}");
    }

    #[test]
    fn a_stap_spec_names_a_shipped_example_or_a_file() {
        let stap = GOOD.replace("script = \"x.bt\"", "stap = \"example:io/disktop.stp\"");
        let s = parse(&stap).unwrap();
        let st = s.stap.as_ref().unwrap();
        assert_eq!(st.source, StapSource::Example("io/disktop.stp".into()));
        assert_eq!(st.module_name, "disktop");
        assert_eq!(s.ready, Ready::Contains(STAP_READY_LINE.into()));
        assert!(st.build_options().contains(&STAP_READY_PROBE.to_string()));
        assert!(
            err(&stap.replace("example:io/disktop.stp", "example:../x.stp"))
                .contains("no shipped example")
        );
        assert!(err(&stap.replace("example:io/disktop.stp", "mine.stp")).contains("does not exist"));
        let both = stap.replace("[tool]\n", "[tool]\ncommand = [\"x\"]\n");
        assert!(err(&both).contains("one of `script`, `command` or `stap`"));
        assert!(stap_needs_a_guest(&s).contains("--vm debian-6.1"));
    }

    #[test]
    fn a_table_claim_may_pick_rows_and_read_a_rate() {
        let rate = GOOD.replace(
            "map = \"@b\"",
            "columns = [\"COMM\"]\nsum = \"RATE\"\nrate_over = \"TIME\"\nwhere = { EVENTS = [\"a\", \"b\"], UNIT = \"\" }",
        );
        let t = parse(&rate).unwrap().claims[0].table.clone().unwrap();
        assert_eq!(t.rate_over.as_deref(), Some("TIME"));
        assert_eq!(
            t.filter,
            [
                ("EVENTS".to_string(), vec!["a".to_string(), "b".to_string()]),
                ("UNIT".to_string(), vec![String::new()])
            ]
        );
        let e = err(&rate.replace("sum = \"RATE\"\n", ""));
        assert!(e.contains("has no `sum`"), "{e}");
        let e = err(&GOOD.replace("map = \"@b\"", "map = \"@b\"\nrate_over = \"T\""));
        assert!(e.contains("goes with `columns` and `sum`"), "{e}");
        let e = err(&GOOD.replace("map = \"@b\"", "map = \"@b\"\nwhere = { A = \"x\" }"));
        assert!(e.contains("`where` picks a table's rows"), "{e}");
    }

    #[test]
    fn the_workloads_pid_is_filled_in() {
        let s = parse(&GOOD.replace(
            "script = \"x.bt\"",
            "command = [\"perf\", \"stat\", \"-p\", \"{pid}\"]",
        ))
        .unwrap();
        assert!(s.needs_pid());
        assert_eq!(s.for_pid(4242).command, ["perf", "stat", "-p", "4242"]);
        assert!(!parse(GOOD).unwrap().needs_pid());
    }

    #[test]
    fn a_claim_reads_a_map_or_a_tables_columns() {
        let table = GOOD.replace("map = \"@b\"", "columns = [\"COMM\"]\nsum = \"BYTES\"");
        let s = parse(&table).unwrap();
        let t = s.claims[0].table.as_ref().unwrap();
        assert_eq!(
            (t.columns.as_slice(), t.sum.as_deref()),
            (&["COMM".to_string()][..], Some("BYTES"))
        );
        assert_eq!(s.claims[0].map, "table[COMM]");
        let e = err(&GOOD.replace("map = \"@b\"", "columns = [\"PID\", \"COMM\"]"));
        assert!(e.contains("one column per key"), "{e}");
        let e = err(&GOOD.replace("map = \"@b\"", ""));
        assert!(e.contains("add `map"), "{e}");
        let e = err(&GOOD.replace("map = \"@b\"", "map = \"@b\"\nsum = \"X\""));
        assert!(e.contains("goes with `columns`"), "{e}");
    }

    #[test]
    fn durations_and_readiness() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("10").is_err());
        assert_eq!(
            parse_ready("after:2s").unwrap(),
            Ready::After(Duration::from_secs(2))
        );
        assert_eq!(
            parse_ready("contains:Tracing").unwrap(),
            Ready::Contains("Tracing".into())
        );
        assert_eq!(parse_ready("attached").unwrap(), Ready::Attached);
        assert_eq!(
            parse_ready("reading:trace_pipe").unwrap(),
            Ready::Reading("trace_pipe".into())
        );
        assert!(parse_ready("reading:").unwrap_err().contains("trace_pipe"));
        assert!(parse_ready("reading:/sys/").is_err());
        assert_eq!(
            parse_ready("running:sleep").unwrap(),
            Ready::Running("sleep".into())
        );
        assert!(parse_ready("running:a-name-longer-than-15").is_err());
        assert!(parse_ready("running:/bin/sleep").is_err());
        let e = parse_ready("soon").unwrap_err();
        assert!(e.contains("\"attached\""), "{e}");
    }

    /// docs/spec.md documents every key the parser accepts.
    #[test]
    fn docs_spec_md_lists_every_key() {
        let doc = include_str!("../../docs/spec.md");
        for k in KNOWN_KEYS {
            assert!(
                doc.contains(&format!("`{k}`"))
                    || doc.contains(&format!("[{k}]"))
                    || doc.contains(&format!("[[{k}]]")),
                "docs/spec.md lacks {k}"
            );
        }
    }
}
