//! What would measure a claim's quantity right on a kernel with
//! tracepoints: the probe and field, and the key to use. Every suggestion
//! that names a script in `expectations/correct/` is proven there: the
//! mutation corpus test runs that script and requires it to pass.

use tracecheck_model::{Direction, Layer, Metric, Quantity};

/// How to measure `m` (direction resolved), charged per process or to the
/// device.
pub fn suggestion(m: Metric, per_process: bool) -> String {
    let dir = m.fixed_direction();
    let rwbs = match dir {
        Some(Direction::Read) => " for rwbs starting with R",
        Some(Direction::Write) => " for rwbs starting with W (or FW, a preflush write)",
        None if m.is_both() => " for rwbs starting with R or W (both added up)",
        None => "",
    };
    let family = match dir {
        Some(Direction::Read) => "read, pread64, readv, preadv2",
        _ => "write, pwrite64, writev, pwritev2",
    };
    let word = dir.map(Direction::as_str).unwrap_or("read");
    let (how, proof) = match (m.layer, m.quantity, per_process) {
        (Layer::Disk | Layer::Block, Quantity::Bytes, true) => (
            format!(
                "tracepoint:block:block_bio_queue's nr_sector × 512{rwbs}, keyed by comm or pid there (the \
                 submitter's context; at completion the CPU runs whatever task it had)"
            ),
            Some(format!("disk-{word}-bytes")),
        ),
        (Layer::Disk, Quantity::Bytes, false) => (
            format!(
                "tracepoint:block:block_rq_complete's nr_sector × 512{rwbs}, keyed by dev (what diskstats counts)"
            ),
            None,
        ),
        (Layer::Disk, Quantity::Ops, false) => (
            format!(
                "count() of tracepoint:block:block_rq_complete with nr_sector > 0{rwbs}, keyed by dev and rwbs \
                 (requests, not bios; an empty preflush request carries no data: diskstats counts it as a write \
                 I/O, so the truth allows it either way)"
            ),
            Some(if m.is_both() { "device-rw-ios" } else { "device-ios" }.to_string()),
        ),
        (Layer::Disk, Quantity::Ops, true) => (
            "requests per submitter need bios tied to the requests they end up in: record comm at \
             tracepoint:block:block_bio_queue by sector, and count at tracepoint:block:block_rq_issue for the \
             request's sector (tracecheck's witness does this)"
                .to_string(),
            None,
        ),
        (Layer::Block, Quantity::Bytes, false) => (
            format!("tracepoint:block:block_bio_queue's nr_sector × 512{rwbs}, keyed by dev"),
            None,
        ),
        (Layer::Block, Quantity::Ops, _) => (
            format!(
                "count() of tracepoint:block:block_bio_queue{rwbs}, keyed by comm or dev (bios, before splits and \
                 merges)"
            ),
            None,
        ),
        (Layer::Syscall, Quantity::Bytes, _) | (Layer::Vfs, Quantity::Bytes, _) => (
            format!(
                "args->ret of tracepoint:syscalls:sys_exit_{{{family}}} where ret > 0, keyed by comm (the bytes \
                 returned, every call of the family; vfs_read itself needs a kprobe)"
            ),
            Some(format!("syscall-{word}-bytes")),
        ),
        (Layer::Syscall, Quantity::Ops, _) if dir.is_some() => (
            format!("count() of tracepoint:syscalls:sys_enter_{{{family}}}, keyed by comm"),
            (dir == Some(Direction::Read)).then(|| "syscall-read-calls".to_string()),
        ),
        (Layer::Process, Quantity::Exits, _) => (
            "count() of tracepoint:sched:sched_process_exit where pid == tid (the process's last thread, \
             its leader; every thread's exit fires it), keyed by comm"
                .to_string(),
            Some("process-exits".to_string()),
        ),
        (Layer::Process, Quantity::Threads, _) => (
            "count() of tracepoint:task:task_newtask where clone_flags has CLONE_THREAD (0x10000), keyed by \
             comm (it fires in the creating thread; every thread, whichever library made it)"
                .to_string(),
            Some("threads".to_string()),
        ),
        (Layer::Disk, Quantity::Latency, _) => (
            "hist() of nsecs at tracepoint:block:block_rq_complete minus nsecs stored at \
             tracepoint:block:block_rq_issue, keyed by (dev, sector), in the unit the claim names"
                .to_string(),
            Some("disk-latency".to_string()),
        ),
        (Layer::Syscall, Quantity::Latency, _) => (
            "hist() of nsecs at tracepoint:syscalls:sys_exit_read (and sys_exit_pread64, _readv, _preadv, \
             _preadv2) minus nsecs stored at the matching sys_enter_ probe, keyed by tid, then hist() keyed by \
             comm, in the unit the claim names"
                .to_string(),
            Some("read-latency".to_string()),
        ),
        (_, Quantity::Size, _) => (
            "hist(args->bytes) at tracepoint:block:block_rq_issue (bytes, whatever the label), keyed by \
             args->comm for the issuing task or by args->dev"
                .to_string(),
            Some("request-size".to_string()),
        ),
        (Layer::Block, Quantity::Latency, _) => (
            "hist() of nsecs at tracepoint:block:block_rq_complete minus nsecs stored at \
             tracepoint:block:block_rq_insert (queueing included; with an I/O scheduler every request is \
             inserted), keyed by (dev, sector)"
                .to_string(),
            None,
        ),
        (Layer::Cpu, _, _) => (
            "count() in profile:hz:N (a timer on every CPU; interval:hz:N fires on one), keyed by comm, with \
             the claim's sample_hz = N"
                .to_string(),
            Some("cpu-samples".to_string()),
        ),
        (Layer::Syscall, Quantity::StatCalls, _) => (
            "count() of tracepoint:syscalls:sys_enter_{newstat, newlstat, newfstat, newfstatat, statx}, keyed \
             by comm (glibc's stat() and lstat() are newfstatat since 2.33)"
                .to_string(),
            Some("stat-calls".to_string()),
        ),
        (Layer::Net, Quantity::Connects, _) => (
            "count() of tracepoint:sock:inet_sock_set_state where args->protocol is TCP (6) and args->newstate \
             is TCP_SYN_SENT (2), keyed by comm (every SYN a connect() sends, IPv4 and IPv6, refused ones \
             included; it fires in the connecting task)"
                .to_string(),
            Some("tcp-connects".to_string()),
        ),
        (Layer::Net, Quantity::Listens, _) => (
            "count() of tracepoint:syscalls:sys_enter_listen, keyed by comm (every listen() call; the \
             workloads listen on TCP sockets alone)"
                .to_string(),
            Some("tcp-listens".to_string()),
        ),
        (Layer::Net, _, _) => (
            "count() of tracepoint:syscalls:sys_exit_accept4 and sys_exit_accept where args->ret >= 0, keyed by \
             comm (each call that returned a connection; kretprobe:inet_csk_accept with a non-zero retval \
             counts the same inside the kernel, where kprobes exist)"
                .to_string(),
            Some("tcp-accepts".to_string()),
        ),
        (Layer::Syscall, Quantity::SleepCalls, _) => (
            "count() of tracepoint:syscalls:sys_enter_{nanosleep, clock_nanosleep}, keyed by comm (glibc's \
             sleep(), usleep() and nanosleep() call clock_nanosleep since 2.31)"
                .to_string(),
            Some("sleep-calls".to_string()),
        ),
        (Layer::Syscall, Quantity::SyncCalls, _) => (
            "count() of tracepoint:syscalls:sys_enter_{fsync, fdatasync, sync_file_range, msync, syncfs, sync}, \
             keyed by comm"
                .to_string(),
            Some("sync-calls".to_string()),
        ),
        (Layer::Syscall, Quantity::SetuidCalls, _) => (
            "count() of tracepoint:syscalls:sys_enter_{setuid, setreuid, setresuid, setfsuid}, keyed by comm"
                .to_string(),
            Some("setuid-calls".to_string()),
        ),
        (Layer::Syscall, Quantity::KillCalls, _) => (
            "count() of tracepoint:syscalls:sys_enter_kill, keyed by comm (not sys_enter_*kill, which adds \
             tkill and tgkill; and with no filter on args->pid, which is 0 for the caller's process group)"
                .to_string(),
            Some("kill-calls".to_string()),
        ),
        (Layer::Syscall, Quantity::Ops, _) => (
            "count() of tracepoint:syscalls:sys_enter_{open, openat, openat2}, keyed by comm".to_string(),
            Some("open-calls".to_string()),
        ),
        (Layer::Pagecache, _, _) => (
            "count() of tracepoint:filemap:mm_filemap_add_to_page_cache while the task is inside a read-family \
             call or a page fault (writes insert pages too), keyed by comm"
                .to_string(),
            None,
        ),
        (Layer::Process, _, _) => (
            "count() of tracepoint:sched:sched_process_exec, keyed by comm (successful execs only, execve and \
             execveat alike)"
                .to_string(),
            Some("execs".to_string()),
        ),
        _ => ("no tracepoint measures this directly".to_string(), None),
    };
    // Only the `-rw-` correct scripts prove a sum of both directions.
    let proof = proof.filter(|p| !m.is_both() || p.contains("-rw-"));
    match proof {
        Some(p) => format!("{how}; expectations/correct/{p} does this and passes"),
        None => how,
    }
}

/// How to print `m` as a rate per interval (a claim with `rate_over`),
/// and the correct script that does, for open calls.
pub fn rate_suggestion(m: Metric) -> String {
    let how = "divide each interval's count by that interval's own length (the elapsed time at its end less the \
               time at its start), print it beside the elapsed time at the interval's end, and print the last, \
               partial interval at exit";
    match (m.layer, m.quantity) {
        (Layer::Syscall, Quantity::Ops) => {
            format!("{how}; expectations/correct/open-rate does this and passes")
        }
        _ => how.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A suggestion that names a correct script names one that exists (the
    /// mutation corpus test proves it passes).
    #[test]
    fn named_correct_scripts_exist() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for m in tracecheck_model::neighbour::resolved_metrics() {
            for per_process in [true, false] {
                let s = suggestion(m, per_process) + &rate_suggestion(m);
                if let Some(i) = s.find("expectations/correct/") {
                    let name = s[i..].split_whitespace().next().unwrap();
                    assert!(
                        root.join(name).join("spec.toml").is_file(),
                        "{m}: {name} does not exist"
                    );
                }
            }
        }
    }
}
