//! What a witness saw, as plain serializable data: device counters per
//! stage and stat group, per-task tables, per-program event counts and
//! every event it could not record.

use crate::request_flags::RequestFlags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The stat groups /proc/diskstats keeps (op_stat_group()): write-zeroes
/// counts as a write there, discards have their own fields.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IoGroup {
    Read,
    Write,
    Discard,
}

impl IoGroup {
    pub(crate) fn from_index(g: u32) -> Option<IoGroup> {
        match g {
            crate::layout::G_READ => Some(IoGroup::Read),
            crate::layout::G_WRITE => Some(IoGroup::Write),
            crate::layout::G_DISCARD => Some(IoGroup::Discard),
            _ => None,
        }
    }

    /// The offset of this group inside a per-group counter (witness.h).
    pub(crate) fn index(self) -> u32 {
        match self {
            IoGroup::Read => crate::layout::G_READ,
            IoGroup::Write => crate::layout::G_WRITE,
            IoGroup::Discard => crate::layout::G_DISCARD,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IoGroup::Read => "read",
            IoGroup::Write => "write",
            IoGroup::Discard => "discard",
        }
    }
}

/// Bytes and a count of bios or requests.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Flow {
    pub bytes: u64,
    pub count: u64,
}

impl Flow {
    fn minus(self, o: Flow) -> Flow {
        Flow {
            bytes: self.bytes.saturating_sub(o.bytes),
            count: self.count.saturating_sub(o.count),
        }
    }
}

/// One stage (submit, issue, complete) per stat group.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Stage {
    pub read: Flow,
    pub write: Flow,
    pub discard: Flow,
}

impl Stage {
    pub fn get(&self, g: IoGroup) -> Flow {
        match g {
            IoGroup::Read => self.read,
            IoGroup::Write => self.write,
            IoGroup::Discard => self.discard,
        }
    }

    pub(crate) fn get_mut(&mut self, g: IoGroup) -> &mut Flow {
        match g {
            IoGroup::Read => &mut self.read,
            IoGroup::Write => &mut self.write,
            IoGroup::Discard => &mut self.discard,
        }
    }

    fn minus(self, o: Stage) -> Stage {
        Stage {
            read: self.read.minus(o.read),
            write: self.write.minus(o.write),
            discard: self.discard.minus(o.discard),
        }
    }
}

/// Work that moves no data: cache flushes and 0-byte completions.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct FlushCounts {
    /// Bios with no data (REQ_PREFLUSH only: fsync, journal commits).
    pub bios: u64,
    /// Requests issued with no data (the flush machinery's REQ_OP_FLUSH).
    pub issued: u64,
    /// REQ_OP_FLUSH requests completed (diskstats' flush field counts these).
    pub completed: u64,
    /// block_rq_complete events with no bio left: flush requests and the
    /// second, 0-byte completion of preflush/FUA writes.
    pub empty_completions: u64,
}

/// Why bios and requests differ in number.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct MergeCounts {
    /// Bios merged at the back of an existing request.
    pub back: u64,
    /// Bios merged at the front of an existing request.
    pub front: u64,
    /// Requests merged into another request.
    pub requests: u64,
    /// Bios split (block_split): each adds one request.
    pub splits: u64,
}

/// The target device's counters.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DeviceReport {
    pub major: u32,
    pub minor: u32,
    /// At bio submission (block_bio_queue): bytes and data-carrying bios.
    pub submit: Stage,
    /// At request issue (block_rq_issue), requeued requests counted once:
    /// issues minus requeues.
    pub issue: Stage,
    /// Requests requeued (block_rq_requeue) and issued again.
    pub requeue: Stage,
    /// At completion, as /proc/diskstats counts: bytes equal the sectors
    /// delta x 512, counts the reads/writes/discards completed.
    pub complete: Stage,
    /// Of `complete` counts, requests that ended without carrying data:
    /// empty preflush writes, which diskstats counts as writes.
    pub complete_without_data: Stage,
    pub flush: FlushCounts,
    pub merges: MergeCounts,
}

/// Bytes one task submitted to the block layer in one direction.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Submitter {
    pub tgid: u32,
    pub pid: u32,
    pub comm: String,
    pub direction: IoGroup,
    pub bytes: u64,
    pub bios: u64,
}

/// Pages one task inserted into the page cache on the device.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct PagecacheAdds {
    pub tgid: u32,
    pub pid: u32,
    pub comm: String,
    /// Pages of regular files on the device's filesystem (reads that
    /// missed, and buffered writes to pages not yet cached).
    pub pages: u64,
    /// Insertions of file pages (a large folio inserts several pages).
    pub folios: u64,
    /// Metadata pages: the block device's own cache (bitmaps, inode
    /// tables, directories through buffer heads; buffered I/O on the device
    /// node) and the filesystem's internal inodes (ext4's buddy cache).
    pub meta_pages: u64,
    pub meta_folios: u64,
}

/// Read/write system calls of one task (any file, not only the device).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SyscallCounts {
    pub tgid: u32,
    pub pid: u32,
    pub comm: String,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_calls: u64,
    pub write_calls: u64,
}

/// A data request the witness saw issued and has not seen complete (its
/// entry in the `issued` map): for a test that finds a completion missing,
/// which request it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InFlight {
    /// The request's kernel address (the map's key).
    pub request: u64,
    /// bpf_ktime_get_ns() at its (last) issue.
    pub issued_ns: u64,
    pub bytes: u32,
    pub write: bool,
    /// The task that issued it.
    pub comm: String,
}

/// The samples tracecheck's own profiler took of one task on one CPU.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct CpuSampleRow {
    pub tgid: u32,
    pub comm: String,
    pub cpu: u32,
    pub samples: u64,
}

/// What the sampler counted: a cpu-clock perf event on every CPU at `hz`
/// (frequency mode, as profilers ask for it), each sample charged to the
/// task it interrupted. Only when the witness was started with a rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CpuSamples {
    pub hz: u32,
    /// The CPUs it sampled on.
    pub cpus: Vec<u32>,
    pub rows: Vec<CpuSampleRow>,
    /// Samples its full map could not keep.
    pub lost: u64,
}

impl CpuSamples {
    /// Samples of the tasks `pred` picks, all CPUs.
    pub fn of(&self, mut pred: impl FnMut(&CpuSampleRow) -> bool) -> u64 {
        self.rows
            .iter()
            .filter(|r| pred(r))
            .map(|r| r.samples)
            .sum()
    }

    /// What happened since `earlier`, a report of the same sampler.
    pub fn since(&self, earlier: &CpuSamples) -> CpuSamples {
        let before: BTreeMap<_, _> = earlier
            .rows
            .iter()
            .map(|r| ((r.tgid, r.cpu, r.comm.clone()), r.samples))
            .collect();
        let rows = self
            .rows
            .iter()
            .filter_map(|r| {
                let b = before
                    .get(&(r.tgid, r.cpu, r.comm.clone()))
                    .copied()
                    .unwrap_or(0);
                let samples = r.samples.saturating_sub(b);
                (samples > 0).then(|| CpuSampleRow {
                    samples,
                    ..r.clone()
                })
            })
            .collect();
        CpuSamples {
            hz: self.hz,
            cpus: self.cpus.clone(),
            rows,
            lost: self.lost.saturating_sub(earlier.lost),
        }
    }
}

/// Everything a witness counted since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WitnessReport {
    pub device: DeviceReport,
    pub submitters: Vec<Submitter>,
    pub pagecache_adds: Vec<PagecacheAdds>,
    pub syscalls: Vec<SyscallCounts>,
    /// Events each program handled after its filter, by tracepoint.
    pub events: BTreeMap<String, u64>,
    /// Events that could not be recorded: a map was full, or the kernel
    /// skipped a program (recursion on the same CPU). Never hidden: the
    /// counts they touch are lower bounds when this is not 0.
    pub lost: u64,
    /// Events dropped because a map was full, by map name.
    pub lost_by_map: BTreeMap<String, u64>,
    /// Events the kernel did not run a program for, by tracepoint
    /// (bpf_prog_info.recursion_misses).
    pub missed_by_program: BTreeMap<String, u64>,
    /// The request-flag bits the completion counts were read with, and
    /// where they came from (the kernel's BTF, or the macro-era default).
    #[serde(default)]
    pub request_flags: Option<RequestFlags>,
    /// Every data-carrying request that ended on the device, timed.
    #[serde(default)]
    pub requests: tracecheck_model::RequestSamples,
    /// The sampler's counts, when it was started with a rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_samples: Option<CpuSamples>,
}

impl WitnessReport {
    /// Bytes and bios submitted by tasks matching `pred`, per direction.
    pub fn submitted_by(&self, mut pred: impl FnMut(&Submitter) -> bool) -> Stage {
        let mut s = Stage::default();
        for e in self.submitters.iter().filter(|e| pred(e)) {
            let f = s.get_mut(e.direction);
            f.bytes += e.bytes;
            f.count += e.bios;
        }
        s
    }

    /// What happened between `earlier` (a snapshot of the same witness)
    /// and this report. Table rows are matched by task and direction; rows
    /// with nothing new are dropped.
    pub fn since(&self, earlier: &WitnessReport) -> WitnessReport {
        let d = &self.device;
        let e = &earlier.device;
        let device = DeviceReport {
            major: d.major,
            minor: d.minor,
            submit: d.submit.minus(e.submit),
            issue: d.issue.minus(e.issue),
            requeue: d.requeue.minus(e.requeue),
            complete: d.complete.minus(e.complete),
            complete_without_data: d.complete_without_data.minus(e.complete_without_data),
            flush: FlushCounts {
                bios: d.flush.bios.saturating_sub(e.flush.bios),
                issued: d.flush.issued.saturating_sub(e.flush.issued),
                completed: d.flush.completed.saturating_sub(e.flush.completed),
                empty_completions: d
                    .flush
                    .empty_completions
                    .saturating_sub(e.flush.empty_completions),
            },
            merges: MergeCounts {
                back: d.merges.back.saturating_sub(e.merges.back),
                front: d.merges.front.saturating_sub(e.merges.front),
                requests: d.merges.requests.saturating_sub(e.merges.requests),
                splits: d.merges.splits.saturating_sub(e.merges.splits),
            },
        };
        let before: BTreeMap<_, _> = earlier
            .submitters
            .iter()
            .map(|s| {
                (
                    (s.tgid, s.pid, s.comm.clone(), s.direction),
                    (s.bytes, s.bios),
                )
            })
            .collect();
        let submitters = self
            .submitters
            .iter()
            .filter_map(|s| {
                let (b, n) = before
                    .get(&(s.tgid, s.pid, s.comm.clone(), s.direction))
                    .copied()
                    .unwrap_or((0, 0));
                let bios = s.bios.saturating_sub(n);
                (bios > 0).then(|| Submitter {
                    bytes: s.bytes.saturating_sub(b),
                    bios,
                    ..s.clone()
                })
            })
            .collect();
        let before: BTreeMap<_, _> = earlier
            .pagecache_adds
            .iter()
            .map(|p| ((p.tgid, p.pid, p.comm.clone()), p))
            .collect();
        let pagecache_adds = self
            .pagecache_adds
            .iter()
            .filter_map(|p| {
                let Some(b) = before.get(&(p.tgid, p.pid, p.comm.clone())) else {
                    return Some(p.clone());
                };
                let out = PagecacheAdds {
                    pages: p.pages.saturating_sub(b.pages),
                    folios: p.folios.saturating_sub(b.folios),
                    meta_pages: p.meta_pages.saturating_sub(b.meta_pages),
                    meta_folios: p.meta_folios.saturating_sub(b.meta_folios),
                    ..p.clone()
                };
                (out.folios + out.meta_folios > 0).then_some(out)
            })
            .collect();
        let before: BTreeMap<_, _> = earlier
            .syscalls
            .iter()
            .map(|s| ((s.tgid, s.pid, s.comm.clone()), s))
            .collect();
        let syscalls = self
            .syscalls
            .iter()
            .filter_map(|s| {
                let z = SyscallCounts {
                    read_bytes: 0,
                    write_bytes: 0,
                    read_calls: 0,
                    write_calls: 0,
                    ..s.clone()
                };
                let b = before
                    .get(&(s.tgid, s.pid, s.comm.clone()))
                    .copied()
                    .unwrap_or(&z);
                let out = SyscallCounts {
                    read_bytes: s.read_bytes.saturating_sub(b.read_bytes),
                    write_bytes: s.write_bytes.saturating_sub(b.write_bytes),
                    read_calls: s.read_calls.saturating_sub(b.read_calls),
                    write_calls: s.write_calls.saturating_sub(b.write_calls),
                    ..s.clone()
                };
                (out.read_calls + out.write_calls > 0).then_some(out)
            })
            .collect();
        let minus_map = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>| {
            a.iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(b.get(k).copied().unwrap_or(0))))
                .collect()
        };
        WitnessReport {
            device,
            submitters,
            pagecache_adds,
            syscalls,
            events: minus_map(&self.events, &earlier.events),
            lost: self.lost.saturating_sub(earlier.lost),
            lost_by_map: minus_map(&self.lost_by_map, &earlier.lost_by_map),
            missed_by_program: minus_map(&self.missed_by_program, &earlier.missed_by_program),
            request_flags: self.request_flags,
            cpu_samples: match (&self.cpu_samples, &earlier.cpu_samples) {
                (Some(now), Some(then)) => Some(now.since(then)),
                (now, _) => now.clone(),
            },
            // Samples are appended in order: the earlier report's are the
            // first ones.
            requests: tracecheck_model::RequestSamples {
                samples: self
                    .requests
                    .samples
                    .get(earlier.requests.samples.len()..)
                    .unwrap_or_default()
                    .to_vec(),
                lost: self.requests.lost.saturating_sub(earlier.requests.lost),
                unissued: self
                    .requests
                    .unissued
                    .saturating_sub(earlier.requests.unissued),
                calls: self
                    .requests
                    .calls
                    .get(earlier.requests.calls.len()..)
                    .unwrap_or_default()
                    .to_vec(),
                calls_untimed: self
                    .requests
                    .calls_untimed
                    .saturating_sub(earlier.requests.calls_untimed),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(comm: &str, pid: u32, direction: IoGroup, bytes: u64, bios: u64) -> Submitter {
        Submitter {
            tgid: pid,
            pid,
            comm: comm.into(),
            direction,
            bytes,
            bios,
        }
    }

    #[test]
    fn since_subtracts_rows_and_drops_idle_ones() {
        let mut a = WitnessReport::default();
        a.device.complete.read = Flow {
            bytes: 4096,
            count: 1,
        };
        a.submitters = vec![
            sub("dd", 10, IoGroup::Read, 4096, 1),
            sub("jbd2/loop0-8", 5, IoGroup::Write, 8192, 2),
        ];
        let mut b = a.clone();
        b.device.complete.read = Flow {
            bytes: 12288,
            count: 3,
        };
        b.submitters[0].bytes = 12288;
        b.submitters[0].bios = 3;
        b.submitters
            .push(sub("kworker/u8:1", 7, IoGroup::Write, 65536, 1));
        let d = b.since(&a);
        assert_eq!(
            d.device.complete.read,
            Flow {
                bytes: 8192,
                count: 2
            }
        );
        assert_eq!(
            d.submitters,
            vec![
                sub("dd", 10, IoGroup::Read, 8192, 2),
                sub("kworker/u8:1", 7, IoGroup::Write, 65536, 1)
            ]
        );
    }

    #[test]
    fn submitted_by_sums_directions() {
        let r = WitnessReport {
            submitters: vec![
                sub("tcw-a", 1, IoGroup::Read, 100, 1),
                sub("tcw-b", 2, IoGroup::Read, 50, 2),
                sub("other", 3, IoGroup::Read, 7, 1),
                sub("tcw-a", 1, IoGroup::Write, 9, 1),
            ],
            ..WitnessReport::default()
        };
        let s = r.submitted_by(|s| s.comm.starts_with("tcw-"));
        assert_eq!(
            s.read,
            Flow {
                bytes: 150,
                count: 3
            }
        );
        assert_eq!(s.write, Flow { bytes: 9, count: 1 });
    }
}
