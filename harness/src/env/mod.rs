//! Where a check runs: the host's own scratch block device (and, later,
//! disposable guests). Declares modules only.

pub mod diskstats;
pub mod host;
pub mod scratch;
