//! /proc/diskstats counters for one device and their deltas: the numbers
//! iostat prints, and the device-level truth for every check.

use serde::{Deserialize, Serialize};

/// The fields of one /proc/diskstats line that tracecheck uses.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DiskCounters {
    /// Reads completed (iostat r/s numerator).
    pub reads: u64,
    /// Reads merged into an existing request.
    pub reads_merged: u64,
    /// 512-byte sectors read (always 512, whatever the device's block size).
    pub sectors_read: u64,
    pub writes: u64,
    pub writes_merged: u64,
    pub sectors_written: u64,
    /// Flush requests completed (kernel 5.5+).
    pub flushes: u64,
    /// Discard requests completed and 512-byte sectors discarded (4.18+).
    pub discards: u64,
    pub sectors_discarded: u64,
    pub in_flight: u64,
}

impl DiskCounters {
    /// Read the counters of device `major:minor`.
    pub fn read(major: u32, minor: u32) -> std::io::Result<DiskCounters> {
        let all = procfs::diskstats().map_err(|e| std::io::Error::other(e.to_string()))?;
        let d = all
            .into_iter()
            .find(|d| d.major as u32 == major && d.minor as u32 == minor)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("device {major}:{minor} is not in /proc/diskstats"),
                )
            })?;
        Ok(DiskCounters {
            reads: d.reads as u64,
            reads_merged: d.merged as u64,
            sectors_read: d.sectors_read as u64,
            writes: d.writes as u64,
            writes_merged: d.writes_merged as u64,
            sectors_written: d.sectors_written as u64,
            flushes: d.flushes.unwrap_or(0) as u64,
            discards: d.discards.unwrap_or(0) as u64,
            sectors_discarded: d.sectors_discarded.unwrap_or(0) as u64,
            in_flight: d.in_progress as u64,
        })
    }

    /// Counters accumulated from `before` to `self`.
    pub fn since(&self, before: &DiskCounters) -> DiskDelta {
        DiskDelta {
            read_ios: self.reads.saturating_sub(before.reads),
            read_merges: self.reads_merged.saturating_sub(before.reads_merged),
            read_bytes: self.sectors_read.saturating_sub(before.sectors_read) * 512,
            write_ios: self.writes.saturating_sub(before.writes),
            write_merges: self.writes_merged.saturating_sub(before.writes_merged),
            write_bytes: self.sectors_written.saturating_sub(before.sectors_written) * 512,
            flushes: self.flushes.saturating_sub(before.flushes),
        }
    }
}

/// What the device did during a check (what `iostat -d` would attribute to
/// the interval).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DiskDelta {
    pub read_ios: u64,
    pub read_merges: u64,
    pub read_bytes: u64,
    pub write_ios: u64,
    pub write_merges: u64,
    pub write_bytes: u64,
    pub flushes: u64,
}
