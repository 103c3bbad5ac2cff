//! Progress lines on stderr while checks run: which check, its phases, its
//! result, and for the whole run done/total, the time elapsed and an
//! estimate of the time left (each TCG guest or bpftrace start can take
//! seconds, and a run of a catalog minutes; a silent terminal looks hung).
//! Off when stderr is not a terminal unless asked for: CI logs get the
//! report and the records, not a line per phase.

use crate::env::Event;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// When to print progress (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum When {
    /// When stderr is a terminal.
    #[default]
    Auto,
    Always,
    Never,
}

impl When {
    /// Whether to print, given whether stderr is a terminal.
    pub fn on(self, terminal: bool) -> bool {
        match self {
            When::Auto => terminal,
            When::Always => true,
            When::Never => false,
        }
    }

    /// Resolved for this process's stderr.
    pub fn on_here(self) -> bool {
        self.on(std::io::stderr().is_terminal())
    }
}

/// The run's progress: checks done of the total, since `start`.
pub struct Progress {
    on: bool,
    start: Instant,
    total: usize,
    started: usize,
    done: usize,
}

/// The time left if the remaining checks take as long as the finished
/// ones did on average; `None` before the first finishes.
pub fn eta(elapsed: Duration, done: usize, total: usize) -> Option<Duration> {
    if done == 0 {
        return None;
    }
    let left = total.saturating_sub(done) as u32;
    Some(elapsed / done as u32 * left)
}

/// `1:05`, `12:00`, `1:02:03`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The run-wide tail of a finished check's line.
pub fn tally(done: usize, total: usize, elapsed: Duration) -> String {
    let left = match eta(elapsed, done, total) {
        Some(_) if done >= total => "none left".to_string(),
        Some(d) => format!("about {} left", clock(d)),
        None => "estimating".to_string(),
    };
    format!("{done}/{total} done, {} elapsed, {left}", clock(elapsed))
}

impl Progress {
    /// `total` checks (runs of a repeated check count once).
    pub fn new(total: usize, on: bool) -> Progress {
        Progress {
            on,
            start: Instant::now(),
            total,
            started: 0,
            done: 0,
        }
    }

    pub fn event(&mut self, ev: &Event<'_>) {
        match ev {
            Event::CheckDone(_) => self.done += 1,
            // A shared tool run starts several checks before any is done.
            Event::CheckStart { .. } => self.started += 1,
            _ => {}
        }
        if !self.on {
            return;
        }
        let mut e = std::io::stderr().lock();
        let _ = match ev {
            Event::CheckStart { tool, workload, .. } => writeln!(
                e,
                "[{}/{}] {tool} on {workload}",
                self.started.min(self.total.max(1)),
                self.total
            ),
            Event::Phase(p) => writeln!(e, "      {p}..."),
            Event::RunDone { run, of, record } => writeln!(
                e,
                "      run {}/{of}: {} in {:.1} s",
                run + 1,
                record.worst().word(),
                record.timings.total_ms as f64 / 1000.0
            ),
            Event::CheckDone(r) => writeln!(
                e,
                "      {} in {:.1} s (tool ready after {:.1} s); {}",
                r.worst().word(),
                r.timings.total_ms as f64 / 1000.0,
                r.timings.tool_start_ms as f64 / 1000.0,
                tally(self.done, self.total, self.start.elapsed())
            ),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_mean_check_time_times_the_checks_left() {
        let s = Duration::from_secs;
        assert_eq!(eta(s(30), 3, 12), Some(s(90)));
        assert_eq!(eta(s(30), 0, 12), None);
        assert_eq!(eta(s(30), 12, 12), Some(s(0)));
        assert_eq!(
            tally(3, 12, s(30)),
            "3/12 done, 0:30 elapsed, about 1:30 left"
        );
        assert_eq!(
            tally(12, 12, s(3725)),
            "12/12 done, 1:02:05 elapsed, none left"
        );
    }

    #[test]
    fn auto_follows_the_terminal() {
        assert!(When::Auto.on(true));
        assert!(!When::Auto.on(false));
        assert!(When::Always.on(false));
        assert!(!When::Never.on(true));
    }
}
