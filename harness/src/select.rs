//! Which workloads can tell a claim apart from its neighbours.
//!
//! A number that is right on one workload can be wrong on another: a script
//! that counts read() bytes is right about disk reads for O_DIRECT and off
//! by 21× for cached re-reads. So each claim runs on every workload where
//! the layers it could be confused with disagree.

use crate::error::HarnessError;
use crate::spec::{Claim, ToolSpec};
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

/// One check: a workload plan and the spec's claims judged on it.
#[derive(Debug)]
pub struct Check<'s> {
    pub plan: &'static Plan,
    pub claims: Vec<&'s Claim>,
}

/// The checks a spec needs: each workload plan once, with the claims that
/// run on it, in the order the claims name them.
pub fn checks_of(spec: &ToolSpec) -> Vec<Check<'_>> {
    let mut out: Vec<Check<'_>> = Vec::new();
    for c in &spec.claims {
        let plans = if c.workloads.is_empty() {
            for_metric(c.metric)
        } else {
            c.workloads.clone()
        };
        for p in plans {
            match out.iter_mut().find(|k| k.plan.name == p.name) {
                Some(k) => k.claims.push(c),
                None => out.push(Check {
                    plan: p,
                    claims: vec![c],
                }),
            }
        }
    }
    out
}

/// [`checks_of`], kept to the one on workload `only` (`--workload`).
pub fn checks_for<'s>(
    spec: &'s ToolSpec,
    only: Option<&str>,
) -> Result<Vec<Check<'s>>, HarnessError> {
    let checks = checks_of(spec);
    let Some(name) = only else {
        return Ok(checks);
    };
    let names: Vec<&str> = checks.iter().map(|k| k.plan.name).collect();
    let kept: Vec<_> = checks.into_iter().filter(|k| k.plan.name == name).collect();
    if kept.is_empty() {
        return Err(HarnessError::Other(format!(
            "{} has no check on workload `{name}`; its workloads are: {}",
            spec.path.display(),
            names.join(", ")
        )));
    }
    Ok(kept)
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
