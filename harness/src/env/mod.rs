//! Where a check runs: the host's own scratch block device, or disposable
//! QEMU guests on distribution kernels. Declares modules only.

pub mod diskstats;
pub mod guest;
pub mod host;
pub mod scratch;
