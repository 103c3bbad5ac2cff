//! Mirror of `src/bpf/witness.h`: counter slots and the byte layout of the
//! map keys and values, with pure decoders from the bytes libbpf returns.
//! A change to witness.h must be made here too; `C_NR` is checked against
//! the loaded map's size at start.

/// Stat groups (op_stat_group()).
pub const G_READ: u32 = 0;
pub const G_WRITE: u32 = 1;
pub const G_DISCARD: u32 = 2;

pub const C_SUBMIT_BYTES: u32 = 0;
pub const C_SUBMIT_BIOS: u32 = 3;
pub const C_ISSUE_BYTES: u32 = 6;
pub const C_ISSUE_RQS: u32 = 9;
pub const C_REQUEUE_BYTES: u32 = 12;
pub const C_REQUEUE_RQS: u32 = 15;
pub const C_COMPLETE_BYTES: u32 = 18;
pub const C_COMPLETE_RQS: u32 = 21;
pub const C_COMPLETE_EMPTY: u32 = 24;
pub const C_FLUSH_SUBMIT: u32 = 27;
pub const C_FLUSH_ISSUE: u32 = 28;
pub const C_FLUSH_COMPLETE: u32 = 29;
pub const C_COMPLETE_EVENTS_EMPTY: u32 = 30;
pub const C_BACKMERGE: u32 = 31;
pub const C_FRONTMERGE: u32 = 32;
pub const C_RQ_MERGE: u32 = 33;
pub const C_SPLIT: u32 = 34;
pub const C_LOST_SUBMITTERS: u32 = 35;
pub const C_LOST_PAGECACHE: u32 = 36;
pub const C_LOST_SYSCALLS: u32 = 37;
pub const C_LOST_PIDS: u32 = 38;
pub const C_LOST_FLUSHDATA: u32 = 39;
pub const C_EV_FIRST: u32 = 40;
pub const C_NR: u32 = 52;

/// Per-program event slots, in witness.h order, with the tracepoint each
/// program is attached to (the name reports use). `witness.rs` attaches
/// the programs in this order too.
pub const PROGRAMS: [&str; (C_NR - C_EV_FIRST) as usize] = [
    "block:block_bio_queue",
    "block:block_rq_issue",
    "block:block_rq_requeue",
    "block:block_rq_complete",
    "block:block_bio_backmerge",
    "block:block_bio_frontmerge",
    "block:block_rq_merge",
    "block:block_split",
    "filemap:mm_filemap_add_to_page_cache",
    "raw_syscalls:sys_exit",
    "sched:sched_process_fork",
    "raw_syscalls:sys_enter",
];

/// Lost-event slots and the map whose fullness they count.
pub const LOST: [(u32, &str); 5] = [
    (C_LOST_SUBMITTERS, "submitters"),
    (C_LOST_PAGECACHE, "pagecache"),
    (C_LOST_SYSCALLS, "syscalls"),
    (C_LOST_PIDS, "pids"),
    (C_LOST_FLUSHDATA, "flushdata"),
];

pub const COMM_LEN: usize = 16;
pub const SUBMIT_KEY_SIZE: usize = 4 + 4 + COMM_LEN + 4 + 4;
pub const TASK_KEY_SIZE: usize = 4 + 4 + COMM_LEN;
pub const BYTES_COUNT_SIZE: usize = 16;
pub const PAGECACHE_VAL_SIZE: usize = 32;
pub const SYSCALL_VAL_SIZE: usize = 32;
pub const COUNTERS_SIZE: usize = C_NR as usize * 8;
/// `LATENCY_MAX`, `struct latency_sample` and `struct latency_state`.
pub const LATENCY_MAX: u32 = 16384;
pub const LATENCY_SAMPLE_SIZE: usize = 8 + 8 + 4 + 4 + COMM_LEN;
pub const LATENCY_STATE_SIZE: usize = 16;

/// `CALL_MAX` and `struct call_sample` (`call_state` is a `struct
/// latency_state`).
pub const CALL_MAX: u32 = 16384;
pub const CALL_SAMPLE_SIZE: usize = 8 + 8 + 4 + 4 + COMM_LEN;

/// `struct sample_key` (`SAMPLE_KEYS` of them): the task's tgid, the CPU
/// and the task's comm; the same bytes as a `struct task_key` with the CPU
/// where the thread id is.
pub const SAMPLE_KEY_SIZE: usize = TASK_KEY_SIZE;

/// `struct sample_key`: (tgid, cpu, comm).
pub fn sample_key(b: &[u8]) -> Option<(u32, u32, String)> {
    if b.len() != SAMPLE_KEY_SIZE {
        return None;
    }
    let k = task_key(b)?;
    Some((k.tgid, k.pid, k.comm))
}

/// `struct issue_stamp`: a request issued and not yet seen to complete.
pub const ISSUE_STAMP_SIZE: usize = 8 + 4 + 4 + COMM_LEN;

/// `struct issue_stamp`: the request's (last) issue time, its bytes, its
/// stat group and the issuing task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueStamp {
    pub ns: u64,
    pub bytes: u32,
    pub group: u32,
    pub comm: String,
}

/// `struct issue_stamp`.
pub fn issue_stamp(b: &[u8]) -> Option<IssueStamp> {
    if b.len() != ISSUE_STAMP_SIZE {
        return None;
    }
    Some(IssueStamp {
        ns: u64_at(b, 0)?,
        bytes: u32_at(b, 8)?,
        group: u32_at(b, 12)?,
        comm: comm_str(&b[16..16 + COMM_LEN]),
    })
}

/// `struct call_sample`.
pub fn call_sample(b: &[u8]) -> Option<tracecheck_model::CallSample> {
    if b.len() != CALL_SAMPLE_SIZE {
        return None;
    }
    Some(tracecheck_model::CallSample {
        ns: u64_at(b, 0)?,
        entered_ns: u64_at(b, 8)?,
        tid: u32_at(b, 16)?,
        comm: comm_str(&b[24..24 + COMM_LEN]),
    })
}

/// `struct latency_sample`.
pub fn latency_sample(b: &[u8]) -> Option<tracecheck_model::RequestSample> {
    if b.len() != LATENCY_SAMPLE_SIZE {
        return None;
    }
    Some(tracecheck_model::RequestSample {
        issue_ns: u64_at(b, 0)?,
        queue_ns: u64_at(b, 8)?,
        bytes: u32_at(b, 16)?,
        write: u32_at(b, 20)? == G_WRITE,
        comm: comm_str(&b[24..24 + COMM_LEN]),
    })
}

/// `struct task_key` (and the head of `struct submit_key`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaskKey {
    pub tgid: u32,
    pub pid: u32,
    pub comm: String,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A kernel comm: bytes up to the first NUL, lossy UTF-8.
pub fn comm_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

pub fn task_key(b: &[u8]) -> Option<TaskKey> {
    if b.len() < TASK_KEY_SIZE {
        return None;
    }
    Some(TaskKey {
        tgid: u32_at(b, 0)?,
        pid: u32_at(b, 4)?,
        comm: comm_str(&b[8..8 + COMM_LEN]),
    })
}

/// `struct submit_key`: the task and the stat group.
pub fn submit_key(b: &[u8]) -> Option<(TaskKey, u32)> {
    if b.len() < SUBMIT_KEY_SIZE {
        return None;
    }
    Some((task_key(b)?, u32_at(b, 8 + COMM_LEN)?))
}

/// A lone u64 (the sampler's counts, the `issued` map's request
/// addresses), exactly 8 bytes.
pub fn one_u64(b: &[u8]) -> Option<u64> {
    (b.len() == 8).then(|| u64_at(b, 0)).flatten()
}

/// Two consecutive u64s: `bytes_count` and `pagecache_val`.
pub fn two_u64(b: &[u8]) -> Option<(u64, u64)> {
    Some((u64_at(b, 0)?, u64_at(b, 8)?))
}

/// `struct pagecache_val` and `struct syscall_val`: four u64s.
pub fn four_u64(b: &[u8]) -> Option<[u64; 4]> {
    Some([u64_at(b, 0)?, u64_at(b, 8)?, u64_at(b, 16)?, u64_at(b, 24)?])
}

/// `struct witness_counters` of every CPU, summed slot by slot.
pub fn sum_percpu(values: &[Vec<u8>]) -> Vec<u64> {
    let mut out = vec![0u64; C_NR as usize];
    for cpu in values {
        for (slot, total) in out.iter_mut().enumerate() {
            *total = total.wrapping_add(u64_at(cpu, slot * 8).unwrap_or(0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_submit_key() {
        let mut b = Vec::new();
        b.extend_from_slice(&42u32.to_ne_bytes());
        b.extend_from_slice(&43u32.to_ne_bytes());
        b.extend_from_slice(b"dd\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        b.extend_from_slice(&G_WRITE.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        assert_eq!(b.len(), SUBMIT_KEY_SIZE);
        let (k, g) = submit_key(&b).expect("decodes");
        assert_eq!((k.tgid, k.pid, k.comm.as_str(), g), (42, 43, "dd", G_WRITE));
        assert_eq!(submit_key(&b[..10]), None);
    }

    #[test]
    fn decodes_an_issue_stamp() {
        let mut b = Vec::new();
        b.extend_from_slice(&7u64.to_ne_bytes());
        b.extend_from_slice(&131_072u32.to_ne_bytes());
        b.extend_from_slice(&G_READ.to_ne_bytes());
        b.extend_from_slice(b"tcw-1\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(b.len(), ISSUE_STAMP_SIZE);
        let s = issue_stamp(&b).expect("decodes");
        assert_eq!(
            (s.ns, s.bytes, s.group, s.comm.as_str()),
            (7, 131_072, G_READ, "tcw-1")
        );
        assert_eq!(issue_stamp(&b[..20]), None);
    }

    #[test]
    fn per_cpu_slots_sum() {
        let cpu = |first: u64, last: u64| {
            let mut b = vec![0u8; COUNTERS_SIZE];
            b[..8].copy_from_slice(&first.to_ne_bytes());
            b[COUNTERS_SIZE - 8..].copy_from_slice(&last.to_ne_bytes());
            b
        };
        let sums = sum_percpu(&[cpu(5, 1), cpu(7, 2)]);
        assert_eq!((sums[0], sums[C_NR as usize - 1], sums[1]), (12, 3, 0));
    }

    #[test]
    fn every_event_slot_has_a_program_name() {
        assert_eq!(PROGRAMS.len() as u32, C_NR - C_EV_FIRST);
        assert_eq!(C_EV_FIRST, C_LOST_FLUSHDATA + 1);
    }
}
