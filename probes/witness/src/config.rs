//! What a witness is started for: the device (as userspace numbers it) and
//! an optional process filter for the system-call counts.

use crate::error::WitnessError;

/// The kernel's comm is 16 bytes with its NUL: at most 15 visible bytes.
pub const COMM_MAX: usize = 15;

/// Where and whom to watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessConfig {
    /// Major number of the block device (as `stat`, `lsblk` and
    /// /proc/diskstats print it).
    pub dev_major: u32,
    /// Minor number of the block device.
    pub dev_minor: u32,
    /// Count system calls only for tasks whose comm starts with this. With
    /// neither a prefix nor `pids`, every task's read/write calls are
    /// counted (the host has other activity: expect other rows).
    pub comm_prefix: Option<String>,
    /// Count system calls of these processes (thread-group ids) and of the
    /// children they fork after the start. More can be added with
    /// [`crate::Witness::watch_pid`].
    pub pids: Vec<u32>,
    /// Also sample every CPU at this rate (a cpu-clock perf event, as
    /// profilers use), charging each sample to the task it interrupted:
    /// for a profiler's claim, whether this machine delivers that rate.
    pub sample_hz: Option<u32>,
}

impl WitnessConfig {
    /// A config for one device with no process filter.
    pub fn device(dev_major: u32, dev_minor: u32) -> WitnessConfig {
        WitnessConfig {
            dev_major,
            dev_minor,
            ..WitnessConfig::default()
        }
    }

    /// The device as the kernel stores it in `bd_dev` and `s_dev`.
    pub fn kernel_dev(&self) -> Result<u32, WitnessError> {
        kernel_dev(self.dev_major, self.dev_minor)
    }

    /// True when system calls are filtered by process.
    pub fn filters_tasks(&self) -> bool {
        self.comm_prefix.is_some() || !self.pids.is_empty()
    }

    /// The prefix as the BPF side wants it: NUL-padded bytes and a length.
    pub(crate) fn comm_prefix_bytes(&self) -> Result<([u8; COMM_MAX + 1], u32), WitnessError> {
        let mut out = [0u8; COMM_MAX + 1];
        let Some(p) = &self.comm_prefix else {
            return Ok((out, 0));
        };
        if p.len() > COMM_MAX || p.as_bytes().contains(&0) {
            return Err(WitnessError::CommPrefix(p.clone()));
        }
        out[..p.len()].copy_from_slice(p.as_bytes());
        Ok((out, p.len() as u32))
    }
}

/// Userspace `major:minor` to the kernel's internal dev_t, `major << 20 |
/// minor` (MKDEV in include/linux/kdev_t.h), which differs from glibc's
/// `makedev()` encoding that `stat(2)` returns.
pub fn kernel_dev(major: u32, minor: u32) -> Result<u32, WitnessError> {
    if major >= 1 << 12 || minor >= 1 << 20 {
        return Err(WitnessError::Device { major, minor });
    }
    Ok(major << 20 | minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dev_is_mkdev() {
        assert_eq!(kernel_dev(7, 0).ok(), Some(7 << 20));
        assert_eq!(kernel_dev(259, 3).ok(), Some((259 << 20) | 3));
        assert!(kernel_dev(4096, 0).is_err());
        assert!(kernel_dev(7, 1 << 20).is_err());
    }

    #[test]
    fn comm_prefix_is_checked_and_padded() {
        let mut c = WitnessConfig::device(7, 0);
        assert!(!c.filters_tasks());
        assert_eq!(c.comm_prefix_bytes().ok(), Some(([0; 16], 0)));
        c.comm_prefix = Some("tcw-".into());
        assert!(c.filters_tasks());
        let (b, n) = c.comm_prefix_bytes().expect("short prefix");
        assert_eq!((&b[..5], n), (&b"tcw-\0"[..], 4));
        c.comm_prefix = Some("a-very-long-comm-name".into());
        assert!(matches!(
            c.comm_prefix_bytes(),
            Err(WitnessError::CommPrefix(_))
        ));
    }
}
