//! A tool's report card: how it behaves as a program, measured, beside the
//! numeric verdicts of `check`. Where the check asks "is the number right?",
//! the card asks what a user meets before that: how long it takes to start
//! and whether it says it has, whether it stops on Ctrl-C, whether two
//! people can run it at once, what it leaves in the kernel, what a wrong
//! option gets, and what it costs the traced work.
//!
//! Every line is a measurement of this run on this kernel. Nothing is
//! taken from documentation. `tracecheck card SPEC [--vm TARGET]`.

use crate::record::{ModuleBuild, StopRecord};
use crate::spec::ToolSpec;
use crate::tool::{describe_status, RunningTool};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Reads of the overhead loop: enough for a tenth of a second or more
/// even on a fast host, few enough for a TCG guest.
const OVERHEAD_READS: u32 = 50_000;
/// What the overhead loop reads each time.
const OVERHEAD_READ_SIZE: usize = 4096;
/// How long the card watches a started tool for a first line of its own
/// when it has no `interval`.
const FIRST_OUTPUT_WATCH: Duration = Duration::from_secs(2);

/// Everything the card measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Card {
    pub tool: String,
    pub environment: String,
    /// How a SystemTap module was built (on the host, for this kernel).
    pub build: Option<ModuleBuild>,
    /// Why the script needs guru mode, when it does: stap's first error
    /// when built without `-g`.
    pub guru_reason: Option<String>,
    /// From start to ready, in ms (the module's load alone, for SystemTap).
    pub ready_ms: Option<u64>,
    /// Why it never became ready, if it did not.
    pub start_failure: Option<String>,
    /// The tool's first line of its own and when, within the watch.
    pub first_line: Option<(u64, String)>,
    /// How long the card watched for that line after start.
    pub watched_ms: u64,
    pub overhead: Option<Overhead>,
    /// What became of a second instance started while the first ran.
    pub second_instance: Option<String>,
    pub stop: Option<StopRecord>,
    /// What the tool left behind in the kernel after it exited.
    pub leftovers: Vec<String>,
    /// What `TOOL --tracecheck-no-such-option` did.
    pub bad_option: Option<String>,
}

/// What joins a start failure to the tool's own words.
const SAID: &str = "; it said: ";
/// How `second_instance` begins when the second ran beside the first.
const RAN_BESIDE: &str = "ran beside the first";
/// What `second_instance` adds when the second took the first down.
const FIRST_EXITED: &str = "then the first instance exited";

/// A card in a few words a column: the results document's table of cards,
/// where one tool's kernels sit in adjacent rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glance {
    /// Seconds to ready, or that it never was.
    pub ready: String,
    /// Whether it printed a line of its own once started.
    pub says_so: String,
    /// How SIGINT ended it.
    pub stop: String,
    /// Whether a second instance ran beside the first.
    pub two_at_once: String,
    pub leftovers: String,
    /// The traced loop's time with the tool over without it.
    pub overhead: String,
    pub bad_option: String,
}

impl Card {
    pub fn glance(&self) -> Glance {
        let started = self.start_failure.is_none();
        let dash = || "–".to_string();
        Glance {
            ready: match (&self.start_failure, self.ready_ms) {
                // The tool's own words, when it said what went wrong, else
                // the failure's last clause (stap's first error).
                (Some(f), _) => match f.split_once(SAID) {
                    Some((_, said)) => format!("never: {said}"),
                    None => format!(
                        "never: {}",
                        f.rsplit_once("; ").map_or(f.as_str(), |(_, t)| t)
                    ),
                },
                (None, Some(ms)) => format!("{:.1} s", ms as f64 / 1000.0),
                (None, None) => dash(),
            },
            says_so: match (started, &self.first_line) {
                (false, _) => dash(),
                (true, Some((ms, _))) => format!("yes, at {:.1} s", *ms as f64 / 1000.0),
                (true, None) => "no".into(),
            },
            stop: match &self.stop {
                None => dash(),
                Some(s) if s.signals.is_empty() => format!("exited first ({})", s.status),
                Some(s) if !s.escalated => format!("{} on {}", s.status, s.signals.join(", ")),
                Some(s) => format!("{} only after {}", s.status, s.signals.join(", ")),
            },
            two_at_once: match &self.second_instance {
                None => dash(),
                Some(s) if s.contains(FIRST_EXITED) => "no: the first then exited".into(),
                Some(s) if s.starts_with(RAN_BESIDE) => "yes".into(),
                Some(_) => "no".into(),
            },
            leftovers: match self.leftovers.len() {
                0 => "none".into(),
                n => format!("{n}: {}", self.leftovers[0]),
            },
            overhead: self
                .overhead
                .as_ref()
                .map_or_else(dash, |o| format!("{:.2}x", o.ratio())),
            bad_option: match &self.bad_option {
                None => "not tried".into(),
                // `exit 2, with usage text: "usage: ..."`, `not tried: why`:
                // the part before the quote or the reason.
                Some(b) => b.split_once(": ").map_or(b.as_str(), |(a, _)| a).into(),
            },
        }
    }
}

/// The traced work's cost: the same loop of reads without the tool and
/// with it running.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Overhead {
    pub reads: u32,
    pub alone_ms: f64,
    pub traced_ms: f64,
}

impl Overhead {
    pub fn ratio(&self) -> f64 {
        self.traced_ms / self.alone_ms.max(1e-6)
    }
}

/// What of the kernel's state a tool could leave behind.
#[derive(Debug, Default, PartialEq, Eq)]
struct KernelState {
    modules: BTreeSet<String>,
    bpf: BTreeSet<String>,
    probe_events: BTreeSet<String>,
    enabled_events: BTreeSet<String>,
}

impl KernelState {
    fn now() -> KernelState {
        let tracefs = crate::tracefs::TracefsState::now();
        KernelState {
            modules: crate::tracefs::lines(std::path::Path::new("/proc/modules"))
                .iter()
                .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
                .collect(),
            bpf: bpf_objects(),
            probe_events: tracefs.probe_events,
            enabled_events: tracefs.enabled_events,
        }
    }

    /// What is in `self` and was not in `before`, in words.
    fn added_since(&self, before: &KernelState) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.modules.difference(&before.modules) {
            out.push(format!("kernel module {m} still loaded"));
        }
        for b in self.bpf.difference(&before.bpf) {
            out.push(format!("BPF {b} still loaded"));
        }
        for e in self.probe_events.difference(&before.probe_events) {
            out.push(format!("probe event left in tracefs ({e})"));
        }
        for e in self.enabled_events.difference(&before.enabled_events) {
            out.push(format!("trace event left enabled ({e})"));
        }
        out
    }
}

/// Loaded BPF programs, maps and links, as `prog 12 (name)`, from bpftool.
fn bpf_objects() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for kind in ["prog", "map", "link"] {
        let Ok(o) = Command::new("bpftool")
            .args(["-j", kind, "show"])
            .stderr(Stdio::null())
            .output()
        else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        for x in v.as_array().into_iter().flatten() {
            let id = x["id"].as_u64().unwrap_or(0);
            let name = x["name"].as_str().unwrap_or("");
            out.insert(format!("{kind} {id} ({name})"));
        }
    }
    out
}

/// Time `OVERHEAD_READS` pread()s of 4 KiB from a cached file on `dir`.
fn read_loop(file: &std::fs::File) -> f64 {
    let mut buf = vec![0u8; OVERHEAD_READ_SIZE];
    let t0 = Instant::now();
    for i in 0..OVERHEAD_READS {
        let off = (i as u64 % 256) * OVERHEAD_READ_SIZE as u64;
        let _ = file.read_at(&mut buf, off);
    }
    t0.elapsed().as_secs_f64() * 1000.0
}

/// A cached 1 MiB file for the overhead loop, on a disk where the system
/// has one (/var/tmp), deleted when dropped.
fn overhead_file(dir: &Path) -> Option<tempfile::NamedTempFile> {
    let mut f = tempfile::NamedTempFile::new_in(dir).ok()?;
    f.write_all(&vec![7u8; 256 * OVERHEAD_READ_SIZE]).ok()?;
    let mut sink = Vec::new();
    f.reopen().ok()?.read_to_end(&mut sink).ok()?;
    Some(f)
}

/// The least of three runs of the loop: the least disturbed one.
fn best_of_three(file: &std::fs::File) -> f64 {
    (0..3).map(|_| read_loop(file)).fold(f64::MAX, f64::min)
}

/// The tool's program name for sentences (`staprun`, not its cache path).
fn program(spec: &ToolSpec) -> String {
    std::path::Path::new(&spec.command[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| spec.command[0].clone())
}

/// Measure `spec`'s tool here, on this machine's kernel; its overhead loop
/// reads a file in `dir` (the disk a tool that names one watches), else in
/// /var/tmp.
pub fn measure(
    spec: &ToolSpec,
    environment: String,
    dir: Option<&Path>,
    interrupted: &AtomicBool,
) -> Card {
    // A tool given a pid (`{pid}`) watches this process: the one whose
    // read loop measures its overhead.
    let spec = &spec.for_pid(std::process::id());
    let mut card = Card {
        tool: spec.name.clone(),
        environment,
        ..Card::default()
    };
    let before = KernelState::now();
    let loop_file = overhead_file(dir.unwrap_or(Path::new("/var/tmp")));
    let alone = loop_file.as_ref().map(|f| best_of_three(f.as_file()));

    let mut first = match RunningTool::start(spec) {
        Ok(t) => t,
        Err(rec) => {
            card.start_failure = rec
                .failure
                .as_ref()
                .map(|f| with_its_words(f.describe(&program(spec)), &rec.stderr_tail));
            card.bad_option = bad_option(spec);
            return card;
        }
    };
    match first.wait_ready(spec, interrupted) {
        Ok(d) => card.ready_ms = Some(d.as_millis() as u64),
        Err(f) => {
            let why = f.describe(&program(spec));
            let rec = first.abandon(f);
            card.start_failure = Some(with_its_words(why, &rec.stderr_tail));
            card.stop = Some(rec.stop);
            card.leftovers = left_behind(&before);
            card.bad_option = bad_option(spec);
            return card;
        }
    }
    let watch = spec
        .interval
        .map(|i| i + Duration::from_millis(1500))
        .unwrap_or(FIRST_OUTPUT_WATCH);
    first.watch_for(watch);
    card.watched_ms = card.ready_ms.unwrap_or(0) + watch.as_millis() as u64;
    card.first_line = first
        .first_own_line
        .as_ref()
        .map(|(t, l)| (t.as_millis() as u64, l.clone()));

    if let (Some(f), Some(alone_ms)) = (&loop_file, alone) {
        card.overhead = Some(Overhead {
            reads: OVERHEAD_READS,
            alone_ms,
            traced_ms: best_of_three(f.as_file()),
        });
    }

    card.second_instance = Some(match RunningTool::start(spec) {
        Err(rec) => match rec.failure {
            Some(f) => f.describe(&program(spec)),
            None => "did not start".into(),
        },
        Ok(mut second) => match second.wait_ready(spec, interrupted) {
            Ok(d) => {
                let rec = second.stop(spec.stop, spec.stop_timeout);
                format!(
                    "{RAN_BESIDE} (ready in {:.1} s) and stopped with {}",
                    d.as_secs_f64(),
                    rec.stop.status
                )
            }
            Err(f) => {
                let why = f.describe(&program(spec));
                let rec = second.abandon(f);
                with_its_words(why, &rec.stderr_tail)
            }
        },
    });

    // Did the second instance take the first one down with it? (Two
    // SystemTap runs of one script share a module name.)
    first.watch_for(Duration::from_secs(1));
    if let (Some(s), Some((status, said))) = (&mut card.second_instance, first.exited()) {
        s.push_str(&format!("; {FIRST_EXITED} ({status})"));
        if let Some(l) = said {
            s.push_str(&format!(", saying: {}", l.trim()));
        }
    }
    let rec = first.stop(spec.stop, spec.stop_timeout);
    card.stop = Some(rec.stop);
    card.leftovers = left_behind(&before);
    card.bad_option = bad_option(spec);
    card
}

/// How long the kernel gets to free what an exited tool closed.
const DEFERRED_FREES: Duration = Duration::from_secs(2);

/// What the exited tool left in the kernel since `before`. What a tool
/// tears down on exit it tears down before it exits, but the kernel frees a
/// closed BPF map or program later, from a work queue after an RCU grace
/// period (bpftrace 0.17's printf map was seen still loaded right after a
/// failed attach): so only what is still there after [`DEFERRED_FREES`]
/// counts.
fn left_behind(before: &KernelState) -> Vec<String> {
    let t0 = Instant::now();
    loop {
        let added = KernelState::now().added_since(before);
        if added.is_empty() || t0.elapsed() >= DEFERRED_FREES {
            return added;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `why`, and the line of the tool's stderr that says what went wrong: a
/// cause where one is named (a C compiler's first `error:`, a `FATAL:`
/// such as modprobe's when bcc finds no kernel headers, which bcc's
/// closing "Failed to compile BPF module" only sums up), else the last line
/// that speaks of an error or failure (bcc's exception comes after its
/// traceback, bpftrace's `ERROR:` after its warnings), else the last.
fn with_its_words(why: String, stderr_tail: &[String]) -> String {
    let said: Vec<&str> = stderr_tail
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let telling = said.iter().rev().find(|l| {
        let lower = l.to_lowercase();
        [
            "error",
            "fail",
            "cannot",
            "can't",
            "unable",
            "not found",
            "denied",
        ]
        .iter()
        .any(|w| lower.contains(w))
    });
    let cause = said
        .iter()
        .find(|l| l.contains(": error: ") || l.contains("FATAL:"));
    match cause.or(telling).or(said.last()) {
        Some(l) => format!("{why}{SAID}{l}"),
        None => why,
    }
}

/// What the tool does with an option it does not know, for tools started
/// by a command (a bpftrace script's or a SystemTap module's options are
/// bpftrace's and staprun's, not the tool's).
fn bad_option(spec: &ToolSpec) -> Option<String> {
    if spec.stap.is_some() || spec.command.first().is_some_and(|c| c == "bpftrace") {
        return None;
    }
    // `sh -c '...'` (perf record, then perf report): the option would be
    // the shell's.
    if spec.command.get(1).is_some_and(|a| a == "-c")
        && spec.command.first().is_some_and(|c| {
            matches!(
                Path::new(c).file_name().and_then(|n| n.to_str()),
                Some("sh" | "bash" | "dash")
            )
        })
    {
        return Some("not tried: its command is a shell script around the tool".into());
    }
    let mut child = Command::new(&spec.command[0])
        .arg("--tracecheck-no-such-option")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .ok()?;
    let t0 = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut text);
    }
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    let usage = text.to_lowercase().contains("usage");
    Some(match status {
        None => "ran on for 30 s, ignoring it".into(),
        Some(s) => format!(
            "{}, {}{}",
            describe_status(s),
            if usage {
                "with usage text"
            } else {
                "without usage text"
            },
            if first.is_empty() {
                String::new()
            } else {
                format!(": \"{first}\"")
            }
        ),
    })
}

/// The card as lines of text.
pub fn render(c: &Card) -> String {
    let mut out = format!("report card: {}  on {}\n", c.tool, c.environment);
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<13} {v}\n"));
    if let Some(b) = &c.build {
        line(
            "build",
            format!(
                "{} on the host for {}: {:.1} s{}; {}; {}",
                b.builder,
                b.kernel,
                b.build_ms as f64 / 1000.0,
                if b.cached {
                    format!(
                        " (found built this time, {:.1} s)",
                        b.this_run_ms as f64 / 1000.0
                    )
                } else {
                    String::new()
                },
                if b.debuginfo {
                    "needs the kernel's debug info"
                } else {
                    "no debug info needed"
                },
                match (&c.guru_reason, b.guru) {
                    (Some(r), _) => format!("needs guru mode (-g): without it, {r}"),
                    (None, true) => "built in guru mode (-g)".into(),
                    (None, false) => "no guru mode".into(),
                }
            ),
        );
    }
    match (&c.start_failure, c.ready_ms) {
        (Some(f), _) => line("start", f.clone()),
        (None, Some(ms)) => line(
            "start",
            format!("ready {:.1} s after it started", ms as f64 / 1000.0),
        ),
        _ => {}
    }
    if c.start_failure.is_none() {
        line(
            "first output",
            match &c.first_line {
                Some((ms, l)) => format!("after {:.1} s: \"{l}\"", *ms as f64 / 1000.0),
                None => format!(
                    "nothing of its own in the {:.1} s watched: no start message",
                    c.watched_ms as f64 / 1000.0
                ),
            },
        );
    }
    if let Some(o) = &c.overhead {
        line(
            "overhead",
            format!(
                "{} pread()s of 4 KiB from a cached file: {:.0} ms alone, {:.0} ms while it runs ({:.2}x)",
                o.reads,
                o.alone_ms,
                o.traced_ms,
                o.ratio()
            ),
        );
    }
    if let Some(s) = &c.second_instance {
        line("two at once", format!("a second instance {s}"));
    }
    if let Some(s) = &c.stop {
        line(
            "stop",
            if s.signals.is_empty() {
                format!("it had already exited ({}) before any signal", s.status)
            } else {
                format!(
                    "{} after {} ({:.1} s)",
                    s.status,
                    s.signals.join(", then "),
                    s.stop_ms as f64 / 1000.0
                )
            },
        );
    }
    line(
        "leftovers",
        if c.leftovers.is_empty() {
            "none: no kernel module, BPF program, map or link, probe event or enabled trace event left".into()
        } else {
            c.leftovers.join("; ")
        },
    );
    line(
        "bad option",
        c.bad_option
            .clone()
            .unwrap_or_else(|| "not tried: its options are bpftrace's or staprun's".into()),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_what_was_added() {
        let before = KernelState {
            modules: ["virtio_blk".to_string()].into(),
            ..KernelState::default()
        };
        let after = KernelState {
            modules: ["virtio_blk".to_string(), "disktop".to_string()].into(),
            probe_events: ["kprobe_events: p:kprobes/x vfs_read".to_string()].into(),
            ..KernelState::default()
        };
        assert_eq!(
            after.added_since(&before),
            [
                "kernel module disktop still loaded",
                "probe event left in tracefs (kprobe_events: p:kprobes/x vfs_read)"
            ]
        );
        assert!(before.added_since(&after).is_empty());
    }

    #[test]
    fn a_glance_puts_each_measurement_in_a_few_words() {
        let card = Card {
            ready_ms: Some(1234),
            first_line: Some((1300, "Tracing... Hit Ctrl-C to end.".into())),
            second_instance: Some(format!(
                "{RAN_BESIDE} (ready in 1.1 s) and stopped with exit 0; {FIRST_EXITED} (exit 1)"
            )),
            stop: Some(StopRecord {
                signals: vec!["SIGINT".into(), "SIGTERM".into()],
                status: "killed by SIGTERM".into(),
                escalated: true,
                ..StopRecord::default()
            }),
            overhead: Some(Overhead {
                reads: 10,
                alone_ms: 100.0,
                traced_ms: 150.0,
            }),
            leftovers: vec!["kernel module disktop still loaded".into()],
            bad_option: Some("exit 2, with usage text: \"usage: x [-h]\"".into()),
            ..Card::default()
        };
        assert_eq!(
            card.glance(),
            Glance {
                ready: "1.2 s".into(),
                says_so: "yes, at 1.3 s".into(),
                stop: "killed by SIGTERM only after SIGINT, SIGTERM".into(),
                two_at_once: "no: the first then exited".into(),
                leftovers: "1: kernel module disktop still loaded".into(),
                overhead: "1.50x".into(),
                bad_option: "exit 2, with usage text".into(),
            }
        );
        let failed = Card {
            start_failure: Some("x exited (exit 1) before it was ready".into()),
            ..Card::default()
        };
        let g = failed.glance();
        assert_eq!(
            (g.ready.as_str(), g.says_so.as_str()),
            ("never: x exited (exit 1) before it was ready", "–")
        );
        let unbuilt = Card {
            start_failure: Some("x.stp cannot run on 6.1: stap could not build it; stap's first error: semantic error: y".into()),
            ..Card::default()
        };
        assert_eq!(
            unbuilt.glance().ready,
            "never: stap's first error: semantic error: y"
        );
        let said = Card {
            start_failure: Some(with_its_words("x exited".into(), &["ERROR: no".into()])),
            ..Card::default()
        };
        assert_eq!(said.glance().ready, "never: ERROR: no");
        assert_eq!(
            (g.two_at_once.as_str(), g.leftovers.as_str()),
            ("–", "none")
        );
    }

    #[test]
    fn a_shell_script_around_the_tool_is_not_given_a_bad_option() {
        let spec = ToolSpec::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../expectations/catalog/perf/record-report/spec.toml"),
        )
        .expect("perf record's spec");
        assert_eq!(spec.command[..2], ["sh", "-c"]);
        let said = bad_option(&spec).expect("a sentence");
        assert!(said.starts_with("not tried: "), "{said}");
        let card = Card {
            bad_option: Some(said),
            ..Card::default()
        };
        assert_eq!(card.glance().bad_option, "not tried");
    }

    #[test]
    fn a_start_failure_quotes_the_line_that_says_what_went_wrong() {
        let bcc: Vec<String> = [
            "Traceback (most recent call last):",
            "  File \"/usr/sbin/biolatency-bpfcc\", line 179, in <module>",
            "    b.attach_kprobe(event=\"blk_account_io_done\", fn_name=\"trace_req_done\")",
            "Exception: Failed to attach BPF program b'trace_req_done' to kprobe b'blk_account_io_done'",
            "",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            with_its_words("x exited (exit 1)".into(), &bcc),
            "x exited (exit 1); it said: Exception: Failed to attach BPF program b'trace_req_done' to kprobe b'blk_account_io_done'"
        );
        let no_headers: Vec<String> = [
            "modprobe: FATAL: Module kheaders not found in directory /lib/modules/6.18.44",
            "chdir(/lib/modules/6.18.44/build): No such file or directory",
            "Traceback (most recent call last):",
            "Exception: Failed to compile BPF module <text>",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            with_its_words("x".into(), &no_headers),
            "x; it said: modprobe: FATAL: Module kheaders not found in directory /lib/modules/6.18.44"
        );
        let quiet: Vec<String> = vec!["Attaching 2 probes...".into()];
        assert_eq!(
            with_its_words("x exited".into(), &quiet),
            "x exited; it said: Attaching 2 probes..."
        );
        assert_eq!(with_its_words("x exited".into(), &[]), "x exited");
    }
}
