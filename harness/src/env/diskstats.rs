//! /proc/diskstats counters: shared with the workloads crate.

pub use tracecheck_workloads::diskstats::*;
