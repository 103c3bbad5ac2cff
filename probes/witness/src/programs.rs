//! Which BPF programs a tool under test loaded, and how often each ran:
//! the kernel's own account (`BPF_ENABLE_STATS` run counts), read by
//! program id from the file descriptors the tool's process holds. This is
//! how a verdict that changed between kernels can name the probe that
//! stopped attaching or stopped firing; tracecheck's own witness programs
//! live in the harness's process and are never counted here.

use serde::{Deserialize, Serialize};
use std::os::fd::{FromRawFd, OwnedFd};

/// One BPF program a tool had loaded when it was stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProgramRun {
    /// The kernel's program id.
    pub id: u32,
    /// Its name as the kernel keeps it (15 characters at most: bcc names a
    /// program after its C function, bpftrace after its probe).
    pub name: String,
    /// Its program type (`Kprobe`, `Tracepoint`, `PerfEvent`...).
    pub kind: String,
    /// How many times it ran while run statistics were on (from the tool's
    /// start to its stop); `None` when the kernel kept no statistics.
    pub runs: Option<u64>,
}

/// The kernel counts program runs only while someone holds a stats fd
/// (`BPF_ENABLE_STATS`; the count is shared and reference counted, so
/// holding one never turns off another user's). Drop it to let go.
pub struct RunStats {
    fd: Option<OwnedFd>,
}

impl RunStats {
    /// Turn run statistics on for as long as the value lives. A kernel that
    /// refuses (no CAP_SYS_ADMIN, before 5.8) leaves counts unknown.
    pub fn enable() -> RunStats {
        // SAFETY: a plain syscall wrapper; a non-negative return is a new fd
        // this process owns.
        let fd = unsafe {
            libbpf_rs::libbpf_sys::bpf_enable_stats(libbpf_rs::libbpf_sys::BPF_STATS_RUN_TIME)
        };
        RunStats {
            // SAFETY: fd was just returned to us and is owned by no one else.
            fd: (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) }),
        }
    }

    pub fn on(&self) -> bool {
        self.fd.is_some() || stats_sysctl_on()
    }
}

fn stats_sysctl_on() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled").is_ok_and(|s| s.trim() == "1")
}

/// The BPF programs that the processes `pids` hold open, with their run
/// counts (`counted`: whether statistics were on for the whole span).
pub fn programs_of(pids: &[u32], counted: bool) -> Vec<ProgramRun> {
    let mut ids: Vec<u32> = pids.iter().flat_map(|&p| prog_ids_of(p)).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return vec![];
    }
    // `ids` is sorted, so the result is in id order.
    ids.into_iter()
        .filter_map(|id| {
            let info = prog_info(id)?;
            // The kernel NUL-terminates the name within its 16 bytes.
            let name: Vec<u8> = info
                .name
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            Some(ProgramRun {
                id,
                name: String::from_utf8_lossy(&name).into_owned(),
                kind: format!("{:?}", libbpf_rs::ProgramType::from(info.type_)),
                runs: counted.then_some(info.run_cnt),
            })
        })
        .collect()
}

/// The kernel's record of program `id` (`bpf_prog_info`: name, type, run
/// count, recursion misses), or `None` once the program is gone. Asked for
/// by id rather than through libbpf-rs's `ProgInfoIter`, which ends at the
/// first program on the machine whose info it fails to read: one such
/// program would hide every later one, and with them their counts.
pub(crate) fn prog_info(id: u32) -> Option<libbpf_rs::libbpf_sys::bpf_prog_info> {
    use libbpf_rs::libbpf_sys;
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall wrapper; a non-negative return is a new fd
    // this process owns.
    let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just returned to us and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: info is a bpf_prog_info of `len` bytes with every array
    // pointer null, so the kernel writes only the fixed fields.
    let ret = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    (ret == 0).then_some(info)
}

/// Whether the processes `pids` hold a BPF program and something that
/// attaches one (a perf event, as bcc's kprobes and `attach_perf_event`
/// use, or a BPF link): the sign that a tool which prints nothing until it
/// exits has attached its probes.
pub fn holds_attached_program(pids: &[u32]) -> bool {
    let kinds: Vec<String> = pids
        .iter()
        .flat_map(|&p| anon_fds(p))
        .map(|(_, kind)| kind)
        .collect();
    kinds.iter().any(|k| k == "bpf-prog")
        && kinds.iter().any(|k| k == "[perf_event]" || k == "bpf_link")
}

/// How many attachments (perf events and BPF links) `pids` hold: a tool
/// still setting up adds to it.
pub fn attachments(pids: &[u32]) -> usize {
    pids.iter()
        .flat_map(|&p| anon_fds(p))
        .filter(|(_, kind)| kind == "[perf_event]" || kind == "bpf_link")
        .count()
}

/// Program ids behind a process's `anon_inode:bpf-prog` descriptors, from
/// its fdinfo (`prog_id:`, a file procfs does not parse).
fn prog_ids_of(pid: u32) -> Vec<u32> {
    anon_fds(pid)
        .into_iter()
        .filter(|(_, kind)| kind == "bpf-prog")
        .filter_map(|(fd, _)| {
            let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
            info.lines()
                .find_map(|l| l.strip_prefix("prog_id:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .collect()
}

/// A process's anonymous-inode descriptors (`anon_inode:KIND`: `bpf-prog`,
/// `[perf_event]`, `bpf_link`...) by number; a process gone meanwhile has
/// none.
fn anon_fds(pid: u32) -> Vec<(i32, String)> {
    let Ok(fds) = procfs::process::Process::new(pid as i32).and_then(|p| p.fd()) else {
        return vec![];
    };
    fds.filter_map(Result::ok)
        .filter_map(|f| match f.target {
            procfs::process::FDTarget::AnonInode(kind) => Some((f.fd, kind)),
            _ => None,
        })
        .collect()
}
