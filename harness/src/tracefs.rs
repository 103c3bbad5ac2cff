//! What a tool that traces through ftrace (perf-tools, tools on old bcc)
//! did in tracefs: the trace events it enabled, the kprobe and uprobe events
//! it created and how often each fired, and what became of the events in
//! the trace buffer. BPF tools leave none of this (they attach through perf
//! events); their programs' run counts are in `ToolRecord::bpf_programs`.
//!
//! Read twice: before the tool starts, and just before it is stopped, while
//! its events are still enabled and its probes still exist (perf-tools
//! remove both on exit).

use crate::record::{FtraceBuffer, FtraceUse, ProbeHits};
use std::collections::BTreeSet;
use std::path::Path;

/// Where tracefs is: its own mount, or under debugfs on a machine that
/// mounts only that.
fn root() -> &'static Path {
    let own = Path::new("/sys/kernel/tracing");
    if own.join("set_event").exists() {
        own
    } else {
        Path::new("/sys/kernel/debug/tracing")
    }
}

/// The non-empty lines of a file; none if it cannot be read.
pub fn lines(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The trace events enabled and the probe events defined, at one moment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TracefsState {
    /// `set_event`: `block:block_rq_issue`.
    pub enabled_events: BTreeSet<String>,
    /// `kprobe_events` and `uprobe_events` lines, each prefixed with its
    /// file's name: `kprobe_events: p:kprobes/x vfs_read`.
    pub probe_events: BTreeSet<String>,
}

impl TracefsState {
    pub fn now() -> TracefsState {
        let root = root();
        let mut probe_events = BTreeSet::new();
        for f in ["kprobe_events", "uprobe_events"] {
            for l in lines(&root.join(f)) {
                probe_events.insert(format!("{f}: {l}"));
            }
        }
        TracefsState {
            enabled_events: lines(&root.join("set_event")),
            probe_events,
        }
    }

    /// What the tool did in tracefs since `before`, read while it still
    /// runs; `None` when it enabled no event and made no probe.
    pub fn used_since(before: &TracefsState) -> Option<FtraceUse> {
        let now = TracefsState::now();
        let events: Vec<String> = now
            .enabled_events
            .difference(&before.enabled_events)
            .cloned()
            .collect();
        let made: BTreeSet<String> = now
            .probe_events
            .difference(&before.probe_events)
            .filter_map(|l| probe_name(l))
            .collect();
        if events.is_empty() && made.is_empty() {
            return None;
        }
        let root = root();
        let mut probes = parse_profile(
            &std::fs::read_to_string(root.join("kprobe_profile")).unwrap_or_default(),
            false,
        );
        probes.extend(parse_profile(
            &std::fs::read_to_string(root.join("uprobe_profile")).unwrap_or_default(),
            true,
        ));
        probes.retain(|p| made.contains(&p.name));
        Some(FtraceUse {
            events,
            probes,
            buffer: buffer(root),
        })
    }
}

/// A probe event's name as its profile prints it, from its definition
/// (`kprobe_events: p:kprobes/p_do_sys_open_0 do_sys_open` →
/// `p_do_sys_open_0`).
fn probe_name(line: &str) -> Option<String> {
    let def = line.split_once(": ").map_or(line, |(_, d)| d);
    let head = def.split_whitespace().next()?;
    let name = head.split_once(':')?.1;
    Some(name.rsplit('/').next()?.to_string())
}

/// `kprobe_profile` (`  NAME  HITS  MISSES`) or `uprobe_profile` (`  FILE
/// NAME  HITS`): each probe's hits.
fn parse_profile(text: &str, uprobe: bool) -> Vec<ProbeHits> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (name, hits, misses) = match (uprobe, f.as_slice()) {
                (false, [name, hits, misses]) => (name, hits, misses.parse().ok()),
                (true, [_file, name, hits]) => (name, hits, None),
                _ => return None,
            };
            Some(ProbeHits {
                name: name.to_string(),
                hits: hits.parse().ok()?,
                misses,
            })
        })
        .collect()
}

/// The trace buffer's counters, summed over the CPUs
/// (`per_cpu/cpuN/stats`).
fn buffer(root: &Path) -> Option<FtraceBuffer> {
    let dirs = std::fs::read_dir(root.join("per_cpu")).ok()?;
    let mut b = FtraceBuffer::default();
    let mut any = false;
    for d in dirs.filter_map(Result::ok) {
        if let Ok(text) = std::fs::read_to_string(d.path().join("stats")) {
            any = true;
            add_stats(&mut b, &text);
        }
    }
    any.then_some(b)
}

fn add_stats(b: &mut FtraceBuffer, text: &str) {
    for l in text.lines() {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let Ok(v) = v.trim().parse::<u64>() else {
            continue;
        };
        match k.trim() {
            "entries" => b.unread += v,
            "overrun" => b.overwritten += v,
            "dropped events" => b.dropped += v,
            "read events" => b.read += v,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_come_from_their_definitions() {
        assert_eq!(
            probe_name("kprobe_events: p:kprobes/p_do_sys_open_0 do_sys_open").as_deref(),
            Some("p_do_sys_open_0")
        );
        assert_eq!(
            probe_name("kprobe_events: r:getnameprobe getname +0(+0($retval)):string").as_deref(),
            Some("getnameprobe")
        );
        assert_eq!(
            probe_name("uprobe_events: p:uprobes/u /bin/bash:0x4245c0").as_deref(),
            Some("u")
        );
    }

    #[test]
    fn profiles_give_each_probe_its_hits() {
        let k = parse_profile(
            "  p_do_sys_open_0    1042    0\n  getnameprobe    7    1\n",
            false,
        );
        assert_eq!(k.len(), 2);
        assert_eq!(
            (k[0].name.as_str(), k[0].hits, k[0].misses),
            ("p_do_sys_open_0", 1042, Some(0))
        );
        assert_eq!((k[1].hits, k[1].misses), (7, Some(1)));
        let u = parse_profile("  /bin/bash   bash_readline   12\n", true);
        assert_eq!(
            (u[0].name.as_str(), u[0].hits, u[0].misses),
            ("bash_readline", 12, None)
        );
        assert!(parse_profile("garbage line\n", false).is_empty());
    }

    #[test]
    fn buffer_stats_add_up_over_cpus() {
        let cpu = "entries: 3\noverrun: 10\ncommit overrun: 0\nbytes: 120\n\
                   oldest event ts: 23150.382807\nnow ts: 23519.092526\ndropped events: 1\nread events: 500\n";
        let mut b = FtraceBuffer::default();
        add_stats(&mut b, cpu);
        add_stats(&mut b, cpu);
        assert_eq!(
            b,
            FtraceBuffer {
                read: 1000,
                unread: 6,
                overwritten: 20,
                dropped: 2
            }
        );
    }
}
