//! Which workloads can tell a claim apart from its neighbours.
//!
//! A number that is right on one workload can be wrong on another: a script
//! that counts read() bytes is right about disk reads for O_DIRECT and off
//! by 21× for cached re-reads. So each claim runs on every workload where
//! the layers it could be confused with disagree.

use tracecheck_model::{Directed, Direction, Layer, Metric};

/// One workload invocation with its default parameters, as `tc-workload`
/// command-line arguments (see `tracecheck workload --help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Name shown in reports.
    pub name: &'static str,
    /// The `tc-workload` subcommand.
    pub kind: &'static str,
    pub args: &'static [&'static str],
    /// Why this workload is in the set, for `--help` and the docs.
    pub purpose: &'static str,
}

pub const PLANS: &[Plan] = &[
    Plan { name: "direct-read", kind: "direct-read", args: &["--size", "16M", "--request", "1M"], purpose: "O_DIRECT reads: read() bytes = disk bytes, all in the reader's context" },
    Plan { name: "cached-reread", kind: "cached-reread", args: &["--size", "16M", "--passes", "21", "--request", "128k"], purpose: "one cold read, 20 re-reads from the page cache: read() bytes = 21× disk bytes (the disktop case)" },
    Plan { name: "mmap-read", kind: "mmap-read", args: &["--size", "16M"], purpose: "page faults on a cold mapping: disk reads with no read() calls" },
    Plan { name: "direct-write", kind: "direct-write", args: &["--size", "16M", "--request", "1M"], purpose: "O_DIRECT writes: write() bytes = disk bytes, submitted by the writer" },
    Plan { name: "buffered-write-fsync", kind: "buffered-write", args: &["--size", "16M", "--request", "1M", "--fsync"], purpose: "buffered writes then fsync: data submitted by the writer, journal by jbd2" },
    Plan { name: "buffered-write-nofsync", kind: "buffered-write", args: &["--size", "16M", "--request", "1M"], purpose: "buffered writes, exit before writeback: disk writes belong to the kernel's flushers, later" },
    Plan { name: "opens", kind: "opens", args: &["--count", "1000"], purpose: "exactly 1000 openat() calls" },
    Plan { name: "execs", kind: "execs", args: &["--count", "50"], purpose: "exactly 50 execve() calls" },
];

pub fn plan(name: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    PLANS.iter().map(|p| p.name).collect()
}

/// The default workload set for a metric.
pub fn for_metric(m: Metric) -> Vec<&'static Plan> {
    let names: &[&str] = match (m.layer, m.direction) {
        (Layer::Process, _) => &["execs"],
        (Layer::Syscall, Directed::Undirected) => &["opens"],
        (_, Directed::Fixed(Direction::Read)) => &["direct-read", "cached-reread", "mmap-read"],
        (_, Directed::Fixed(Direction::Write)) => &[
            "direct-write",
            "buffered-write-fsync",
            "buffered-write-nofsync",
        ],
        (_, Directed::FromKey | Directed::Undirected) => &[
            "direct-read",
            "cached-reread",
            "mmap-read",
            "direct-write",
            "buffered-write-fsync",
            "buffered-write-nofsync",
        ],
    };
    names.iter().filter_map(|n| plan(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_read_claims_run_on_the_three_read_workloads() {
        let got: Vec<_> = for_metric(Metric::parse("disk.read_bytes").unwrap())
            .iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(got, ["direct-read", "cached-reread", "mmap-read"]);
    }

    #[test]
    fn direction_keyed_claims_run_on_both_directions() {
        assert_eq!(for_metric(Metric::parse("disk.bytes").unwrap()).len(), 6);
        assert_eq!(
            for_metric(Metric::parse("process.execs").unwrap())[0].name,
            "execs"
        );
        assert_eq!(
            for_metric(Metric::parse("syscall.open_calls").unwrap())[0].name,
            "opens"
        );
    }
}
