//! The neighbour model: for every metric, the quantities a script could
//! report by mistake ([`Mistake`]), each a function of what a workload
//! reports (its truths and tallies).
//!
//! A claim passes only after it has been checked on workloads where every
//! neighbour differs from the right number by far more than the tolerance
//! ([`Separation`]); the harness picks a metric's default workloads from
//! this model, `docs/separation.md` shows the table, and the judge names
//! the neighbour a wrong number matches.

use crate::metric::{Direction, Layer, Metric, Quantity};
use crate::truth::{GroundTruth, Who};
use std::fmt;

/// The read family of system calls, and the write family, on x86_64.
pub const READ_CALLS: &[&str] = &["read", "pread64", "readv", "preadv2"];
pub const WRITE_CALLS: &[&str] = &["write", "pwrite64", "writev", "pwritev2"];
pub const OPEN_CALLS: &[&str] = &["open", "openat", "openat2"];
/// The stat family as the syscalls tracepoints name it on x86_64: stat(2)
/// is `newstat`, lstat(2) `newlstat`, fstat(2) `newfstat`; glibc's stat()
/// and lstat() call `newfstatat` since 2.33.
pub const STAT_CALLS: &[&str] = &["newstat", "newlstat", "newfstat", "newfstatat", "statx"];
/// kill(2) is one call; tkill(2) and tgkill(2) send signals by thread id
/// and are calls of their own (bpftrace's `sys_enter_*kill` matches all
/// three).
pub const KILL_CALLS: &[&str] = &["kill"];
/// The sleeps: glibc's sleep(), usleep() and nanosleep() call
/// clock_nanosleep() since 2.31.
pub const SLEEP_CALLS: &[&str] = &["nanosleep", "clock_nanosleep"];
/// The sync family as the syscalls tracepoints name it: every call that
/// asks for dirty data to be written back (bcc's syncsnoop traces sync()
/// alone).
pub const SYNC_CALLS: &[&str] = &[
    "fsync",
    "fdatasync",
    "sync_file_range",
    "msync",
    "syncfs",
    "sync",
];
/// The setuid family: every call that changes a process's user ids
/// (bpftrace's setuids.bt traces setuid, setfsuid and setresuid, not
/// setreuid).
pub const SETUID_CALLS: &[&str] = &["setuid", "setreuid", "setresuid", "setfsuid"];
pub const THREAD_KILL_CALLS: &[&str] = &["tkill", "tgkill"];

/// The system-call family a metric counts: reads, writes, stats, or
/// (another undirected count) opens.
pub fn call_family(m: Metric) -> &'static [&'static str] {
    match (m.fixed_direction(), m.quantity) {
        (Some(Direction::Read), _) => READ_CALLS,
        (Some(Direction::Write), _) => WRITE_CALLS,
        (None, Quantity::StatCalls) => STAT_CALLS,
        (None, Quantity::KillCalls) => KILL_CALLS,
        (None, Quantity::SleepCalls) => SLEEP_CALLS,
        (None, Quantity::SyncCalls) => SYNC_CALLS,
        (None, Quantity::SetuidCalls) => SETUID_CALLS,
        (None, _) => OPEN_CALLS,
    }
}

/// One plausible wrong quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mistake {
    /// The other direction (reads for writes).
    OtherDirection,
    /// Both directions added up (every I/O counted as a read: bcc#4871).
    BothDirections,
    /// One direction only, where the claim adds reads and writes up (a
    /// filter on the rwbs letter left in, or a probe on one path).
    OneDirection(Direction),
    /// The same quantity at another layer of the stack.
    Layer(Layer),
    /// 512-byte sectors: bytes ÷ 512, or for a count, sectors summed.
    Sectors,
    /// KiB where the claim says bytes.
    Kib,
    /// 4 KiB pages: bytes ÷ 4096, or for a count, pages instead of requests.
    Pages,
    /// Each event counted twice (at issue and at completion, bio and request).
    Twice,
    /// Bios submitted where the claim counts device requests.
    Bios,
    /// Device requests where the claim counts bios submitted.
    Requests,
    /// Charged to whatever task runs where the I/O completes (interrupt
    /// context, a loop or dispatch kworker), not to the submitter.
    CompletingTask,
    /// The bytes asked for (the call's length), not the bytes returned.
    Requested,
    /// One system call of the family, the others missed.
    OnlyCall(&'static str),
    /// Exec attempts, failed ones included (sys_enter_execve).
    ExecAttempts,
    /// fork() calls, not execs.
    Forks,
    /// Every new task, threads and forked processes alike, where the claim
    /// counts threads (sched_process_fork or task_newtask unfiltered).
    NewTasks,
    /// One CPU's share alone: a profiler on a timer that fires on one CPU
    /// (bpftrace's `interval:hz`, not `profile:hz`), or filtered to one.
    OneCpu,
    /// execve() only: execs made through execveat() missed.
    ExecveOnly,
    /// Every page-cache insertion, writes included, not only read misses.
    AllInsertions,
    /// Every page read, cache hits included.
    PageAccesses,
    /// Only the I/O done inside read() calls: what page faults read (mmap)
    /// is missed (a probe on the read path, as disktop.stp's vfs probes).
    MissesFaults,
    /// Writeback charged to the task that dirtied the pages, not to the
    /// flusher that submitted it (page or inode ownership read at
    /// completion).
    DirtierCharged,
    /// A device's first request missed: a script that counts a request
    /// only against the one before it (bcc's biopattern, which needs the
    /// last request's end sector to call the next sequential or random).
    FirstRequestMissed,
    /// Every task's exit, threads included, where the claim counts
    /// processes (sched_process_exit without testing pid == tid).
    ThreadExits,
    /// IPv4 connections alone: a probe on tcp_v4_connect, or a filter on
    /// AF_INET, misses IPv6.
    Ipv4Only,
    /// Established connections alone, where the claim counts every SYN a
    /// connect() sent: refused attempts missed (a probe on the
    /// SYN_SENT -> ESTABLISHED transition, or on connect()'s return of 0).
    EstablishedOnly,
    /// tkill() and tgkill() counted as kill() calls too (a probe on
    /// every `*kill` system call).
    ThreadKills,
    /// kill() calls to the caller's process group (pid 0) missed: a filter
    /// on the target pid being set, which is 0 for those calls
    /// (killsnoop.bt's `/@tpid[tid]/`).
    GroupKillsMissed,
    /// Keyed by thread id (bpftrace's `tid`, the kernel's `pid`) where the
    /// claim keys by process: only the main thread's share is charged to
    /// the process, the other threads' goes under their own ids.
    MainThreadOnly,
}

impl Mistake {
    /// A short stable name (table rows, expected diagnoses in the corpus).
    pub fn key(&self) -> String {
        match self {
            Mistake::OtherDirection => "other-direction".into(),
            Mistake::BothDirections => "both-directions".into(),
            Mistake::OneDirection(d) => format!("{}s-only", d.as_str()),
            Mistake::Layer(l) => format!("layer-{}", l.as_str()),
            Mistake::Sectors => "sectors".into(),
            Mistake::Kib => "kib".into(),
            Mistake::Pages => "pages".into(),
            Mistake::Twice => "twice".into(),
            Mistake::Bios => "bios".into(),
            Mistake::Requests => "requests".into(),
            Mistake::CompletingTask => "completing-task".into(),
            Mistake::Requested => "requested".into(),
            Mistake::OnlyCall(c) => format!("only-{c}"),
            Mistake::ExecAttempts => "exec-attempts".into(),
            Mistake::Forks => "forks".into(),
            Mistake::NewTasks => "new-tasks".into(),
            Mistake::OneCpu => "one-cpu".into(),
            Mistake::ExecveOnly => "execve-only".into(),
            Mistake::AllInsertions => "all-insertions".into(),
            Mistake::PageAccesses => "page-accesses".into(),
            Mistake::MissesFaults => "misses-faults".into(),
            Mistake::DirtierCharged => "dirtier-charged".into(),
            Mistake::FirstRequestMissed => "first-request-missed".into(),
            Mistake::ThreadExits => "thread-exits".into(),
            Mistake::Ipv4Only => "ipv4-only".into(),
            Mistake::EstablishedOnly => "established-only".into(),
            Mistake::ThreadKills => "thread-kills".into(),
            Mistake::GroupKillsMissed => "group-kills-missed".into(),
            Mistake::MainThreadOnly => "main-thread-only".into(),
        }
    }

    /// The neighbour in words, for the table and diagnoses.
    pub fn describe(&self) -> String {
        match self {
            Mistake::OtherDirection => "the other direction".into(),
            Mistake::BothDirections => "reads and writes added up".into(),
            Mistake::OneDirection(d) => format!("{}s only, the other direction missed", d.as_str()),
            Mistake::Layer(l) => format!("the same quantity at {}", l.describe()),
            Mistake::Sectors => "512-byte sectors".into(),
            Mistake::Kib => "KiB".into(),
            Mistake::Pages => "4 KiB pages".into(),
            Mistake::Twice => "each event counted twice".into(),
            Mistake::Bios => "bios submitted instead of device requests".into(),
            Mistake::Requests => "device requests instead of bios submitted".into(),
            Mistake::CompletingTask => "charged to the task running at completion".into(),
            Mistake::Requested => "bytes asked for instead of bytes returned".into(),
            Mistake::OnlyCall(c) => format!("only {c}(), the rest of the family missed"),
            Mistake::ExecAttempts => "exec attempts, failed ones included".into(),
            Mistake::Forks => "fork() calls instead of execs".into(),
            Mistake::NewTasks => "every new task, forked processes too".into(),
            Mistake::OneCpu => "one CPU's samples alone".into(),
            Mistake::ExecveOnly => "execve() only, execveat() missed".into(),
            Mistake::AllInsertions => "every page-cache insertion, writes included".into(),
            Mistake::PageAccesses => "every page read, cache hits included".into(),
            Mistake::MissesFaults => "only I/O inside read() calls, page faults missed".into(),
            Mistake::DirtierCharged => {
                "writeback charged to the task that dirtied the pages".into()
            }
            Mistake::FirstRequestMissed => "the device's first request missed".into(),
            Mistake::ThreadExits => "every task's exit, threads included".into(),
            Mistake::Ipv4Only => "IPv4 connections alone, IPv6 missed".into(),
            Mistake::EstablishedOnly => {
                "established connections alone, refused attempts missed".into()
            }
            Mistake::ThreadKills => "tkill() and tgkill() calls counted too".into(),
            Mistake::GroupKillsMissed => {
                "kill(0, sig) calls (the caller's process group) missed".into()
            }
            Mistake::MainThreadOnly => {
                "keyed by thread id: only the main thread's share charged to the process".into()
            }
        }
    }
}

impl Mistake {
    /// Mistakes whose wrong number is 0 by their nature (the I/O went to
    /// another task, or down a path the script does not watch). For every
    /// other mistake a 0 tells nothing: a script that reports nothing
    /// matches no neighbour, so only a workload where the neighbour is not
    /// 0 can show that mistake.
    pub fn zero_is_its_mark(&self) -> bool {
        matches!(self, Mistake::CompletingTask | Mistake::MissesFaults)
    }
}

impl Mistake {
    /// Mistakes the judge names with one finding: the system-call and VFS
    /// layers (bytes through read(), page-cache hits included: equal on
    /// every workload, and one diagnosis), and the calls of one family
    /// (one finding, "only part of the family", with the calls named).
    pub fn class(&self) -> String {
        match self {
            Mistake::Layer(Layer::Syscall | Layer::Vfs) => "above-the-cache".into(),
            Mistake::OnlyCall(_) => "part-of-family".into(),
            other => other.key(),
        }
    }
}

impl fmt::Display for Mistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Who a claim is about: the workload's processes (keyed by comm or pid),
/// or the whole device.
pub fn scopes(m: Metric) -> &'static [Who] {
    if m.quantity == Quantity::Latency {
        // The witness times the device's requests, not a process's; and a
        // process's calls, not the machine's.
        return match m.layer {
            Layer::Syscall => &[Who::Workload],
            _ => &[Who::Device],
        };
    }
    match m.layer {
        Layer::Block | Layer::Disk => &[Who::Workload, Who::Device],
        _ => &[Who::Workload],
    }
}

/// The plausible wrong quantities for metric `m` (direction resolved)
/// charged to `who`.
pub fn neighbours(m: Metric, who: &Who) -> Vec<Mistake> {
    use Mistake as M;
    let per_process = *who == Who::Workload;
    let dir = m.fixed_direction();
    let mut out = Vec::new();
    if m.is_distribution() {
        // A distribution's wrong neighbours (another unit, another span)
        // are told apart by its shape on one run, not by separate plans:
        // the harness's distribution judge names them.
        return out;
    }
    if dir.is_some() && m.layer != Layer::Pagecache {
        out.extend([M::OtherDirection, M::BothDirections]);
    }
    if m.is_both() {
        out.extend([
            M::OneDirection(Direction::Read),
            M::OneDirection(Direction::Write),
        ]);
    }
    out.push(M::Twice);
    match (m.layer, m.quantity) {
        (Layer::Syscall | Layer::Vfs, Quantity::Bytes) => {
            out.extend([M::Layer(Layer::Disk), M::Sectors, M::Kib, M::Pages]);
            if dir == Some(Direction::Read) {
                out.push(M::Requested);
            }
        }
        (Layer::Syscall, Quantity::Ops) if dir.is_some() => out.push(M::Layer(Layer::Disk)),
        (Layer::Pagecache, _) => {
            out.extend([M::Layer(Layer::Disk), M::AllInsertions, M::PageAccesses]);
        }
        (Layer::Block | Layer::Disk, Quantity::Bytes) => {
            out.extend([M::Layer(Layer::Syscall), M::Layer(Layer::Vfs)]);
            out.extend([M::Sectors, M::Kib, M::Pages]);
        }
        (Layer::Block | Layer::Disk, Quantity::Ops) => {
            out.push(if m.layer == Layer::Disk {
                M::Bios
            } else {
                M::Requests
            });
            out.extend([M::Sectors, M::Pages, M::Layer(Layer::Syscall)]);
            if m.layer == Layer::Disk && dir == Some(Direction::Read) {
                out.push(M::Layer(Layer::Pagecache));
            }
        }
        (Layer::Process, Quantity::Threads) => out.push(M::NewTasks),
        (Layer::Process, Quantity::Exits) => out.push(M::ThreadExits),
        (Layer::Syscall, Quantity::KillCalls) => out.extend([M::ThreadKills, M::GroupKillsMissed]),
        (Layer::Net, Quantity::Connects) => out.extend([M::Ipv4Only, M::EstablishedOnly]),
        (Layer::Net, _) => out.push(M::Ipv4Only),
        (Layer::Cpu, _) => out.push(M::OneCpu),
        (Layer::Process, _) => out.extend([M::ExecAttempts, M::Forks, M::ExecveOnly]),
        _ => {}
    }
    // Not for writes alone: every write workload's journal commits add a
    // range of requests, and none has so few that one request stands out
    // of that range; the reads and both directions added up (what bcc's
    // biopattern prints) are held to it.
    if m.layer == Layer::Disk
        && *who == Who::Device
        && dir != Some(Direction::Write)
        && matches!(m.quantity, Quantity::Ops | Quantity::Bytes)
    {
        out.push(M::FirstRequestMissed);
    }
    if matches!(m.layer, Layer::Block | Layer::Disk) && per_process {
        out.push(M::CompletingTask);
        match dir {
            Some(Direction::Write) => out.push(M::DirtierCharged),
            Some(Direction::Read) if m.quantity == Quantity::Bytes => out.push(M::MissesFaults),
            _ => {}
        }
    }
    // A family of one call has no part to miss.
    if m.layer == Layer::Syscall && call_family(m).len() > 1 {
        out.extend(call_family(m).iter().map(|c| M::OnlyCall(c)));
    }
    if per_process
        && dir.is_some()
        && matches!(
            m.layer,
            Layer::Syscall | Layer::Vfs | Layer::Block | Layer::Disk
        )
    {
        out.push(M::MainThreadOnly);
    }
    out
}

/// Who a quantity at `layer` is charged to when the claim is about `who`:
/// system calls, the VFS and the page cache are always the workload's.
fn who_at(layer: Layer, who: &Who) -> Who {
    match layer {
        Layer::Block | Layer::Disk => who.clone(),
        _ => Who::Workload,
    }
}

/// The bytes of the device's first request in `m`'s direction: the
/// witness's first sample where it timed the run, else (a design) the
/// mean request, bytes over requests.
fn first_request_bytes(m: Metric, who: &Who, gt: &GroundTruth) -> Option<u64> {
    let dir = m.fixed_direction();
    if let Some(r) = &gt.tallies.requests {
        let first = r.samples.iter().find(|s| match dir {
            Some(d) => s.write == (d == Direction::Write),
            None => true,
        })?;
        return Some(u64::from(first.bytes));
    }
    let (bytes, _) = range_of(gt, m, who)?;
    let (ios, _) = range_of(gt, m.with_quantity(Quantity::Ops)?, who)?;
    (ios > 0).then(|| bytes / ios)
}

fn range_of(gt: &GroundTruth, m: Metric, who: &Who) -> Option<(u64, u64)> {
    gt.best(m, who).map(|t| (t.lo, t.hi))
}

fn scale((lo, hi): (u64, u64), mul: u64, div: u64) -> (u64, u64) {
    (
        lo.saturating_mul(mul) / div,
        hi.saturating_mul(mul).div_ceil(div),
    )
}

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

/// A range less `n` (a part the mistake misses).
fn less((lo, hi): (u64, u64), n: u64) -> (u64, u64) {
    (lo.saturating_sub(n), hi.saturating_sub(n))
}

fn exact(v: u64) -> Option<(u64, u64)> {
    Some((v, v))
}

impl Mistake {
    /// What a script making this mistake would report for `m` charged to
    /// `who` on the run described by `gt`; `None` where the run gives no
    /// way to tell.
    pub fn value(&self, m: Metric, who: &Who, gt: &GroundTruth) -> Option<(u64, u64)> {
        let truth = || range_of(gt, m, who);
        let bytes_of = || {
            let b = m.with_quantity(Quantity::Bytes)?;
            range_of(gt, b, who)
        };
        let t = &gt.tallies;
        let reads = m.fixed_direction() == Some(Direction::Read);
        match *self {
            Mistake::OtherDirection => {
                let d = m.fixed_direction()?;
                range_of(gt, m.with_direction(d.opposite()), who)
            }
            Mistake::BothDirections => {
                let d = m.fixed_direction()?;
                Some(add(
                    truth()?,
                    range_of(gt, m.with_direction(d.opposite()), who)?,
                ))
            }
            Mistake::OneDirection(d) => range_of(gt, m.with_direction(d), who),
            // The vocabulary adds reads and writes up only below the page
            // cache: above it, the layer's reads plus its writes.
            Mistake::Layer(l) if m.is_both() && m.at_layer(l).is_none() => Some(add(
                self.value(m.with_direction(Direction::Read), who, gt)?,
                self.value(m.with_direction(Direction::Write), who, gt)?,
            )),
            Mistake::Layer(l) => {
                let n = m.at_layer(l).or_else(|| {
                    // pagecache.read_misses has no directed twin below it.
                    (l == Layer::Pagecache && reads)
                        .then(|| Metric::fixed(Layer::Pagecache, Direction::Read, Quantity::Ops))
                })?;
                range_of(gt, n, &who_at(l, who))
            }
            Mistake::Sectors => match m.quantity {
                Quantity::Bytes => Some(scale(truth()?, 1, 512)),
                Quantity::Ops => Some(scale(bytes_of()?, 1, 512)),
                // A count of calls, tasks or time has no sectors or pages.
                _ => None,
            },
            Mistake::Kib => Some(scale(truth()?, 1, 1024)),
            Mistake::Pages => match m.quantity {
                Quantity::Bytes => Some(scale(truth()?, 1, 4096)),
                Quantity::Ops => Some(scale(bytes_of()?, 1, 4096)),
                // A count of calls, tasks or time has no sectors or pages.
                _ => None,
            },
            Mistake::Twice => Some(scale(truth()?, 2, 1)),
            Mistake::Bios => range_of(gt, m.at_layer(Layer::Block)?, who),
            Mistake::Requests => range_of(gt, m.at_layer(Layer::Disk)?, who),
            Mistake::CompletingTask => (*who == Who::Workload).then_some((0, 0)),
            Mistake::Requested => {
                let s = t.sum(call_family(m));
                (s.calls > 0).then_some((s.requested, s.requested))
            }
            Mistake::OnlyCall(c) => {
                if t.syscalls.is_empty() {
                    return None;
                }
                let one = t.call(c);
                match m.quantity {
                    Quantity::Bytes => exact(one.bytes),
                    _ => exact(one.calls),
                }
            }
            Mistake::ExecAttempts => {
                (t.exec_attempts > 0).then_some((t.exec_attempts, t.exec_attempts))
            }
            Mistake::Forks => (t.forks > 0).then_some((t.forks, t.forks)),
            Mistake::NewTasks => Some(add(truth()?, (t.forks, t.forks))),
            // The busiest and the idlest CPU's share: with one thread
            // pinned to each, either is what a one-CPU timer sees.
            Mistake::OneCpu => {
                (t.cpu_ns.len() > 1).then_some(())?;
                let lo = *t.cpu_ns.values().min()?;
                let hi = *t.cpu_ns.values().max()?;
                Some((lo, hi))
            }
            Mistake::ExecveOnly => Some(less(truth()?, t.execveat)),
            Mistake::AllInsertions => Some(add(
                truth()?,
                (t.pagecache_write_inserts, t.pagecache_write_inserts),
            )),
            Mistake::MissesFaults => Some(less(truth()?, t.fault_read_bytes)),
            Mistake::DirtierCharged => {
                (*who == Who::Workload).then_some(())?;
                Some(add(truth()?, range_of(gt, m, &Who::Kernel)?))
            }
            Mistake::FirstRequestMissed => {
                let t = truth()?;
                (t.0 > 0).then_some(())?;
                let first = match m.quantity {
                    Quantity::Ops => 1,
                    Quantity::Bytes => first_request_bytes(m, who, gt)?,
                    _ => return None,
                };
                Some(less(t, first))
            }
            Mistake::ThreadExits => {
                let threads = Metric::new(
                    Layer::Process,
                    crate::metric::Directed::Undirected,
                    Quantity::Threads,
                );
                let (lo, hi) = range_of(gt, threads, who)?;
                (hi > 0).then_some(())?;
                Some(add(truth()?, (lo, hi)))
            }
            Mistake::Ipv4Only => {
                let v6 = match m.quantity {
                    Quantity::Listens => t.tcp_v6_listens,
                    _ => t.tcp_v6,
                };
                (v6 > 0).then_some(())?;
                Some(less(truth()?, v6))
            }
            Mistake::EstablishedOnly => {
                (t.tcp_refused > 0).then_some(())?;
                Some(less(truth()?, t.tcp_refused))
            }
            Mistake::ThreadKills => {
                let extra = t.sum(THREAD_KILL_CALLS).calls;
                (extra > 0).then_some(())?;
                Some(add(truth()?, (extra, extra)))
            }
            Mistake::GroupKillsMissed => {
                (t.kill_group > 0).then_some(())?;
                Some(less(truth()?, t.kill_group))
            }
            Mistake::PageAccesses => {
                let r = Metric::fixed(Layer::Syscall, Direction::Read, Quantity::Bytes);
                Some(scale(range_of(gt, r, &Who::Workload)?, 1, 4096))
            }
            Mistake::MainThreadOnly => {
                (*who == Who::Workload).then_some(())?;
                let family = call_family(m);
                let main = t.main_thread_sum(family)?;
                let all = t.sum(family);
                match (m.layer, m.quantity) {
                    (Layer::Syscall | Layer::Vfs, Quantity::Ops) => exact(main.calls),
                    (Layer::Syscall | Layer::Vfs, Quantity::Bytes) => exact(main.bytes),
                    // Below the cache the main thread's share of the disk
                    // I/O is its share of the bytes: threaded workloads use
                    // O_DIRECT, where every call's bytes go to the disk as
                    // they are (whole requests, no readahead).
                    _ => {
                        let whole = truth()?;
                        (all.bytes > 0).then(|| scale(whole, main.bytes, all.bytes))
                    }
                }
            }
        }
    }
}

/// How far a neighbour's value is from the truth: the ratio between the
/// nearest ends of the two ranges (≥ 1; 1 when they overlap, infinite when
/// one side is zero and the other is not).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Separation(pub f64);

impl Separation {
    pub fn between(truth: (u64, u64), neighbour: (u64, u64)) -> Separation {
        let ratio = |big: u64, small: u64| {
            if small == 0 {
                f64::INFINITY
            } else {
                big as f64 / small as f64
            }
        };
        let r = if neighbour.1 < truth.0 {
            ratio(truth.0, neighbour.1)
        } else if neighbour.0 > truth.1 {
            ratio(neighbour.0, truth.1)
        } else {
            1.0
        };
        Separation(r)
    }

    /// Far enough apart that a tolerance of `tol` (a fraction, 0.01 for
    /// 1%) cannot confuse the two: they differ by at least 10× the
    /// tolerance.
    pub fn separates(self, tol: f64) -> bool {
        self.0 >= 1.0 + 10.0 * tol
    }
}

impl fmt::Display for Separation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_infinite() {
            f.write_str("∞ (one is 0)")
        } else if self.0 >= 100.0 {
            write!(f, "{:.0}×", self.0)
        } else {
            write!(f, "{:.2}×", self.0)
        }
    }
}

/// The rows of the separation table; it lives with the vocabulary.
pub use crate::metric::resolved_metrics;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::{CallTally, Source, Tallies, Truth};
    use std::collections::BTreeMap;

    fn m(s: &str) -> Metric {
        Metric::parse(s).unwrap()
    }

    fn gt(truths: Vec<Truth>, tallies: Tallies) -> GroundTruth {
        GroundTruth {
            workload: "w".into(),
            comm: "c".into(),
            pids: vec![1],
            params: BTreeMap::new(),
            truths,
            tallies,
            needs_writeback: false,
            elapsed_ns: 1,
        }
    }

    #[test]
    fn separation_is_the_gap_between_nearest_ends() {
        assert_eq!(Separation::between((100, 100), (50, 60)).0, 100.0 / 60.0);
        assert_eq!(Separation::between((100, 120), (110, 200)).0, 1.0);
        assert!(Separation::between((5, 5), (0, 0)).0.is_infinite());
        assert_eq!(Separation::between((0, 0), (0, 0)).0, 1.0);
        assert!(Separation::between((100, 100), (111, 111)).separates(0.01));
        assert!(!Separation::between((100, 100), (105, 105)).separates(0.01));
    }

    #[test]
    fn every_resolved_metric_has_neighbours_and_they_are_distinct() {
        // A latency's neighbours are judged on its histogram's shape
        // (another unit, another span), not listed here.
        for metric in resolved_metrics()
            .into_iter()
            .filter(|m| !m.is_distribution())
        {
            for who in scopes(metric) {
                let n = neighbours(metric, who);
                assert!(n.len() >= 2, "{metric}: {n:?}");
                let mut keys: Vec<_> = n.iter().map(|x| x.key()).collect();
                keys.sort();
                keys.dedup();
                assert_eq!(keys.len(), n.len(), "{metric}: duplicates in {n:?}");
            }
        }
    }

    #[test]
    fn neighbour_values_come_from_truths_and_tallies() {
        let mut tallies = Tallies::default();
        tallies.syscalls.insert(
            "read".into(),
            CallTally {
                calls: 7,
                bytes: 16 << 20,
                requested: 21 << 20,
            },
        );
        let g = gt(
            vec![
                Truth::exact(
                    m("syscall.read_bytes"),
                    Who::Workload,
                    16 << 20,
                    Source::Workload,
                    "x",
                ),
                Truth::exact(
                    m("disk.read_bytes"),
                    Who::Workload,
                    8 << 20,
                    Source::Design,
                    "x",
                ),
                Truth::exact(
                    m("disk.write_bytes"),
                    Who::Workload,
                    24 << 20,
                    Source::Design,
                    "x",
                ),
            ],
            tallies,
        );
        let dr = m("disk.read_bytes");
        let w = Who::Workload;
        assert_eq!(
            Mistake::BothDirections.value(dr, &w, &g),
            Some((32 << 20, 32 << 20))
        );
        assert_eq!(Mistake::Sectors.value(dr, &w, &g), Some((16384, 16384)));
        assert_eq!(
            Mistake::Layer(Layer::Syscall).value(dr, &w, &g),
            Some((16 << 20, 16 << 20))
        );
        let sr = m("syscall.read_bytes");
        assert_eq!(
            Mistake::Requested.value(sr, &w, &g),
            Some((21 << 20, 21 << 20))
        );
        assert_eq!(Mistake::OnlyCall("readv").value(sr, &w, &g), Some((0, 0)));
        assert_eq!(Mistake::CompletingTask.value(dr, &Who::Device, &g), None);
    }
}
