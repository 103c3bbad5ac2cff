//! Running one tool under test as a child process: start it with sane signal
//! dispositions in its own process group, wait until it is ready, stop it
//! with escalating signals, and keep everything it printed.
//!
//! Failures here (did not start, never ready, ignored SIGINT) are recorded
//! as facts for a verdict, never as harness errors.

use crate::record::{ToolFailure, ToolRecord};
use crate::spec::{Ready, Stop, ToolSpec};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// After a tool is seen holding an attached BPF program (`ready =
/// "attached"`), how long to let it finish attaching the rest.
const ATTACH_GRACE: Duration = Duration::from_millis(500);

/// `ready = "attached"`: the tool holds an attached BPF program, and then,
/// for this many windows of [`ATTACH_GRACE`] in a row, neither attached
/// anything more nor used more than [`BUSY_TICKS`] of CPU. A tool that
/// attaches its first probe and then searches kallsyms for the next (bcc's
/// biolatency under TCG takes seconds) is still setting up, and one that
/// then fails exits before it is ready, as it should.
const QUIET_WINDOWS: u32 = 2;
/// Clock ticks (1/100 s) of CPU in one window that still count as idle: a
/// tool waiting for events (perf buffer polls, a sleep until SIGINT) uses
/// almost none.
const BUSY_TICKS: u64 = 10;

/// User plus system CPU time of `pids`, in clock ticks; a process gone
/// meanwhile counts 0.
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|&p| procfs::process::Process::new(p as i32).ok()?.stat().ok())
        .map(|st| st.utime + st.stime)
        .sum()
}

/// The longest a tool that reads ftrace's buffer is given, before it is
/// stopped, to read what the buffer still holds for it.
pub const FTRACE_DRAIN: Duration = Duration::from_secs(2);

/// Lines kept from the tool's stderr for a verdict.
const STDERR_TAIL: usize = 15;
/// Beyond a tool's interval, for its timer to fire and its lines to arrive
/// (a TCG guest's timers can run late by a second).
const INTERVAL_MARGIN: Duration = Duration::from_millis(1500);

enum Line {
    Out(String),
    Err(String),
}

pub struct RunningTool {
    child: Child,
    lines: Receiver<Line>,
    stdout: Vec<String>,
    stderr: Vec<String>,
    started: Instant,
    pub record: ToolRecord,
    /// The tool's first stdout line of its own (not the line tracecheck's
    /// SystemTap readiness probe prints), and when it came.
    pub first_own_line: Option<(Duration, String)>,
    /// BPF run statistics, on from before the tool starts until it stops.
    stats: tracecheck_witness::programs::RunStats,
    /// tracefs before the tool started: what it enables or makes there is
    /// what differs at its stop.
    tracefs_before: crate::tracefs::TracefsState,
}

impl RunningTool {
    /// Start the tool. Fails only as a recorded [`ToolFailure`].
    pub fn start(spec: &ToolSpec) -> Result<RunningTool, Box<ToolRecord>> {
        let mut cmd = Command::new(&spec.command[0]);
        cmd.args(&spec.command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // bcc tools block-buffer stdout when it is not a TTY.
            .env("PYTHONUNBUFFERED", "1")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            // Its own process group: the terminal's Ctrl-C reaches only the
            // harness, which then stops the tool itself, in order.
            .process_group(0);
        if let Some(dir) = spec.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            cmd.current_dir(dir);
        }
        // SAFETY: only async-signal-safe calls (sigaction, sigprocmask, prctl)
        // between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // A child of a non-interactive shell can inherit SIGINT as
                // ignored, and then never sees our stop signal
                // (docs/kernel-facts.md, "Stopping a tool").
                for s in [
                    Signal::SIGINT,
                    Signal::SIGTERM,
                    Signal::SIGQUIT,
                    Signal::SIGHUP,
                ] {
                    let _ = nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl);
                }
                let _ = nix::sys::signal::sigprocmask(
                    nix::sys::signal::SigmaskHow::SIG_SETMASK,
                    Some(&nix::sys::signal::SigSet::empty()),
                    None,
                );
                // If the harness dies, the tool must not outlive it.
                let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
                Ok(())
            });
        }
        let mut record = ToolRecord {
            command: spec.command.clone(),
            perf_sample_limit: crate::record::perf_sample_limit().map(|l| {
                crate::record::SampleLimit {
                    at_start: l,
                    at_stop: l,
                }
            }),
            ..Default::default()
        };
        let stats = tracecheck_witness::programs::RunStats::enable();
        let tracefs_before = crate::tracefs::TracefsState::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                record.failure = Some(ToolFailure::DidNotStart {
                    error: format!("{}: {e}", spec.command[0]),
                });
                return Err(Box::new(record));
            }
        };
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout was piped");
        let err = child.stderr.take().expect("stderr was piped");
        let tx2 = tx.clone();
        std::thread::spawn(move || pump(out, tx, Line::Out));
        std::thread::spawn(move || pump(err, tx2, Line::Err));
        Ok(RunningTool {
            child,
            lines: rx,
            stdout: Vec::new(),
            stderr: Vec::new(),
            started: Instant::now(),
            record,
            first_own_line: None,
            stats,
            tracefs_before,
        })
    }

    fn take(&mut self, l: Line) -> (bool, String) {
        let (Line::Out(s) | Line::Err(s)) = &l;
        let own_stdout = matches!(l, Line::Out(_)) && s != crate::spec::STAP_READY_LINE;
        if self.first_own_line.is_none() && own_stdout {
            self.first_own_line = Some((self.started.elapsed(), s.clone()));
        }
        if let Some(n) = tracecheck_probes::loss_notice(s) {
            let lost = self.record.lost_events.get_or_insert_with(Default::default);
            lost.events += n;
            lost.notices += 1;
        }
        match l {
            Line::Out(s) => {
                self.stdout.push(s.clone());
                (true, s)
            }
            Line::Err(s) => {
                self.stderr.push(s.clone());
                (false, s)
            }
        }
    }

    /// Wait until the tool is ready. `Err` means it will never be; the tool
    /// has then been stopped and its record is complete.
    pub fn wait_ready(
        &mut self,
        spec: &ToolSpec,
        interrupted: &AtomicBool,
    ) -> Result<Duration, ToolFailure> {
        let deadline = self.started + spec.ready_timeout;
        // For `attached`: (attachments, CPU ticks, when measured, quiet
        // windows so far), once it holds an attached program.
        let mut settling: Option<(usize, u64, Instant, u32)> = None;
        loop {
            if interrupted.load(Ordering::Relaxed) {
                return Err(ToolFailure::NeverReady {
                    waited_ms: self.started.elapsed().as_millis() as u64,
                });
            }
            if let Ready::After(d) = &spec.ready {
                if self.started.elapsed() >= *d {
                    return Ok(self.started.elapsed());
                }
            }
            // Readiness read from /proc: a file one of its processes holds
            // open, or a name one of them runs under.
            let by_proc = match &spec.ready {
                Ready::Reading(file) => Some((file, holds_open as fn(&[u32], &str) -> bool)),
                Ready::Running(name) => Some((name, runs_as as fn(&[u32], &str) -> bool)),
                _ => None,
            };
            if let Some((what, found)) = by_proc {
                let pids = pids_in_group(Pid::from_raw(self.child.id() as i32));
                if found(&pids, what) {
                    let e = self.started.elapsed();
                    self.record.ready_ms = Some(e.as_millis() as u64);
                    return Ok(e);
                }
            }
            if spec.ready == Ready::Attached {
                let pids = pids_in_group(Pid::from_raw(self.child.id() as i32));
                let now = Instant::now();
                match settling {
                    None => {
                        if tracecheck_witness::programs::holds_attached_program(&pids) {
                            let att = tracecheck_witness::programs::attachments(&pids);
                            settling = Some((att, cpu_ticks(&pids), now, 0));
                        }
                    }
                    Some((att0, ticks0, at, quiet)) if now - at >= ATTACH_GRACE => {
                        let att = tracecheck_witness::programs::attachments(&pids);
                        let ticks = cpu_ticks(&pids);
                        let still = att == att0 && ticks.saturating_sub(ticks0) <= BUSY_TICKS;
                        let quiet = if still { quiet + 1 } else { 0 };
                        if quiet >= QUIET_WINDOWS {
                            let e = self.started.elapsed();
                            self.record.ready_ms = Some(e.as_millis() as u64);
                            return Ok(e);
                        }
                        settling = Some((att, ticks, now, quiet));
                    }
                    Some(_) => {}
                }
            }
            match self.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => {
                    let (is_out, text) = self.take(l);
                    let ready = match &spec.ready {
                        // bpftrace prints this banner *before* attaching.
                        Ready::FirstLine => {
                            is_out && !text.starts_with("Attaching ") && !text.trim().is_empty()
                        }
                        Ready::Contains(t) => text.contains(t.as_str()),
                        Ready::After(_)
                        | Ready::Attached
                        | Ready::Reading(_)
                        | Ready::Running(_) => false,
                    };
                    if ready {
                        let e = self.started.elapsed();
                        self.record.ready_ms = Some(e.as_millis() as u64);
                        return Ok(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Both pipes closed: the tool is gone (or closed them).
                    if let Some(status) = self.wait_exit(Duration::from_secs(2)) {
                        return Err(ToolFailure::ExitedBeforeReady {
                            status: describe_status(status),
                        });
                    }
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain(Duration::from_millis(200));
                return Err(ToolFailure::ExitedBeforeReady {
                    status: describe_status(status),
                });
            }
            if Instant::now() >= deadline {
                return Err(ToolFailure::NeverReady {
                    waited_ms: self.started.elapsed().as_millis() as u64,
                });
            }
        }
    }

    /// Its exit status in words, if it has exited, and its last stderr line.
    pub fn exited(&mut self) -> Option<(String, Option<String>)> {
        let status = self.child.try_wait().ok().flatten()?;
        self.drain(Duration::from_millis(200));
        let last = self
            .stderr
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned();
        Some((describe_status(status), last))
    }

    /// Keep reading its output for `d`, or until it exits; true if it did.
    pub fn watch_for(&mut self, d: Duration) -> bool {
        self.wait_exit(d).is_some()
    }

    fn wait_exit(&mut self, d: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + d;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= end {
                return None;
            }
            // Keep reading so a chatty tool never blocks on a full pipe.
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(20)) {
                self.take(l);
            }
        }
    }

    fn drain(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Ok(l) = self
            .lines
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            self.take(l);
        }
    }

    /// Before stopping a tool that prints only every `interval` (and drops
    /// the rest on exit), let it print the interval that holds the
    /// workload's end: one interval and a margin, reading as it goes.
    pub fn outlast_interval(&mut self, spec: &ToolSpec) {
        if let Some(i) = spec.interval {
            if self.wait_exit(i + INTERVAL_MARGIN).is_some() {
                self.drain(Duration::from_millis(200));
            }
        }
    }

    /// A tool that reads ftrace's buffer as it goes (perf-tools' snoops
    /// read trace_pipe) prints only what it has read, and loses the rest when it
    /// is stopped. Before stopping it, let it read what the kernel still
    /// holds for it, as a user who presses Ctrl-C a moment after the
    /// workload would: until the buffer holds nothing unread, for at most
    /// [`FTRACE_DRAIN`]. Returns what the tool did in tracefs, read last:
    /// what is still unread then stays in the record.
    fn let_ftrace_drain(&mut self) -> Option<crate::record::FtraceUse> {
        let end = Instant::now() + FTRACE_DRAIN;
        loop {
            let used = crate::tracefs::TracefsState::used_since(&self.tracefs_before);
            // A tool that never consumed from the buffer does not read it
            // as it goes (perf-tools' iolatency swaps it into the snapshot
            // buffer each interval): there is nothing to wait for.
            let unread = used
                .as_ref()
                .and_then(|u| u.buffer)
                .filter(|b| b.read > 0)
                .map_or(0, |b| b.unread);
            if unread == 0
                || Instant::now() >= end
                || self.wait_exit(Duration::from_millis(50)).is_some()
            {
                return used;
            }
        }
    }

    /// Stop the tool: the spec's signal, then escalation (a second SIGINT,
    /// because bpftrace 0.17 can miss one sent right after start; then
    /// SIGTERM; then SIGKILL). Returns the complete record.
    pub fn stop(mut self, stop: Stop, timeout: Duration) -> ToolRecord {
        let pgid = Pid::from_raw(self.child.id() as i32);
        let plan: Vec<(Signal, Duration)> = match stop {
            Stop::Sigint => vec![
                (Signal::SIGINT, timeout),
                (Signal::SIGINT, Duration::from_secs(3)),
                (Signal::SIGTERM, Duration::from_secs(3)),
                (Signal::SIGKILL, Duration::from_secs(5)),
            ],
            Stop::Sigterm => vec![
                (Signal::SIGTERM, timeout),
                (Signal::SIGKILL, Duration::from_secs(5)),
            ],
        };
        self.record.ftrace = self.let_ftrace_drain();
        // Its programs and their run counts, read while it still holds them.
        self.record.bpf_programs =
            tracecheck_witness::programs::programs_of(&pids_in_group(pgid), self.stats.on());
        let t0 = Instant::now();
        let mut status = self.child.try_wait().ok().flatten();
        for (sig, wait) in plan {
            if status.is_some() {
                break;
            }
            self.record.stop.signals.push(sig.as_str().to_string());
            let _ = killpg(pgid, sig);
            status = self.wait_exit(wait);
        }
        self.record.stop.escalated = self.record.stop.signals.len() > 1;
        if let (Some(l), Some(now)) = (
            self.record.perf_sample_limit.as_mut(),
            crate::record::perf_sample_limit(),
        ) {
            l.at_stop = now;
        }
        self.record.stop.stop_ms = t0.elapsed().as_millis() as u64;
        // Anything left in the group (helpers the tool forked) goes too.
        let _ = killpg(pgid, Signal::SIGKILL);
        self.drain(Duration::from_millis(500));
        match status {
            Some(s) => {
                self.record.stop.status = describe_status(s);
                self.record.stop.exit_code = s.code();
            }
            None => self.record.stop.status = "did not exit even after SIGKILL".into(),
        }
        self.finish()
    }

    /// Finalize after a readiness failure: make sure the tool is gone.
    pub fn abandon(mut self, failure: ToolFailure) -> ToolRecord {
        self.record.failure = Some(failure);
        self.stop(Stop::Sigint, Duration::from_secs(2))
    }

    fn finish(mut self) -> ToolRecord {
        let _ = self.child.wait();
        self.record.stdout = self.stdout.join("\n");
        if !self.record.stdout.is_empty() {
            self.record.stdout.push('\n');
        }
        let n = self.stderr.len();
        self.record.stderr_tail = self.stderr[n.saturating_sub(STDERR_TAIL)..].to_vec();
        std::mem::take(&mut self.record)
    }
}

impl Drop for RunningTool {
    fn drop(&mut self) {
        // Reached only on an early return (an error or Ctrl-C elsewhere):
        // never leave a tracer attached.
        if let Ok(None) = self.child.try_wait() {
            let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn pump<R: Read>(r: R, tx: mpsc::Sender<Line>, wrap: fn(String) -> Line) {
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                // Tools can print invalid UTF-8 (binary keys): keep it lossy.
                let s = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\n', '\r'])
                    .to_string();
                if tx.send(wrap(s)).is_err() {
                    return;
                }
            }
        }
    }
}

/// The processes of a process group (the tool and any helper it forked),
/// by each one's pgrp; a process gone meanwhile is left out.
fn pids_in_group(pgid: Pid) -> Vec<u32> {
    let Ok(all) = procfs::process::all_processes() else {
        return vec![];
    };
    all.filter_map(Result::ok)
        .filter(|p| p.stat().is_ok_and(|s| s.pgrp == pgid.as_raw()))
        .map(|p| p.pid as u32)
        .collect()
}

/// Whether one of `pids` holds `file` open: a descriptor whose target is
/// that path, or, for a bare name, a path ending in `/NAME`. A process gone
/// meanwhile, or one whose descriptors cannot be read, holds nothing.
fn holds_open(pids: &[u32], file: &str) -> bool {
    let matches = |target: &std::path::Path| {
        if file.contains('/') {
            target == std::path::Path::new(file)
        } else {
            target.file_name().is_some_and(|n| n == file)
        }
    };
    pids.iter().any(|&p| {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{p}/fd")) else {
            return false;
        };
        fds.filter_map(Result::ok)
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|t| matches(&t))
    })
}

/// Whether one of `pids` runs under the name `comm` (its `/proc/PID/comm`).
fn runs_as(pids: &[u32], comm: &str) -> bool {
    pids.iter().any(|&p| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim_end() == comm)
    })
}

pub fn describe_status(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(c) = s.code() {
        format!("exit {c}")
    } else if let Some(sig) = s.signal() {
        let name = Signal::try_from(sig)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| sig.to_string());
        format!(
            "killed by {name}{}",
            if s.core_dumped() {
                " (core dumped)"
            } else {
                ""
            }
        )
    } else {
        format!("{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::{holds_open, runs_as};

    #[test]
    fn a_process_holds_the_file_it_opened_by_name_or_path() {
        let dir = std::env::temp_dir().join(format!("tracecheck-holds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trace_pipe");
        let me = [std::process::id()];
        std::fs::write(&path, "").unwrap();
        assert!(!holds_open(&me, "trace_pipe"), "not open yet");
        let f = std::fs::File::open(&path).unwrap();
        assert!(holds_open(&me, "trace_pipe"));
        assert!(holds_open(&me, path.to_str().unwrap()));
        assert!(!holds_open(&me, "pipe"), "a name matches whole");
        assert!(!holds_open(&me, "/sys/kernel/tracing/trace_pipe"));
        drop(f);
        assert!(!holds_open(&me, "trace_pipe"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_process_runs_as_its_comm_after_exec() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = [child.id()];
        // The child is `sleep` once it has exec'd; until then it is this
        // test binary under its own name.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !runs_as(&pid, "sleep") && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(runs_as(&pid, "sleep"));
        assert!(!runs_as(&pid, "slee"), "a name matches whole");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!runs_as(&pid, "sleep"), "gone");
    }
}
