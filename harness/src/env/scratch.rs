//! The host scratch disk lives in the workloads crate (the place workloads
//! run), so the workloads' and the witness's own tests use the same one.

pub use tracecheck_workloads::scratch_disk::*;
