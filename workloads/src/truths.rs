//! From counts and design to [`Truth`]s: what the workload's calls were
//! (exact, counted), and what its design implies at the VFS, page cache,
//! block and disk layers, each bound explained from first principles.
//!
//! Pure: no I/O, so every bound is unit-tested against its reasoning.

use crate::ops::Counts;
use crate::workload::{Workload, PAGE};
use tracecheck_model::{Directed, Direction, Layer, Metric, Quantity, Source, Truth, Who};

/// Facts about the device and the run the bounds depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// queue/max_sectors_kb in bytes: no request is larger.
    pub max_request_bytes: u64,
    /// queue/max_segments: requests of scattered pages hold no more pages.
    pub max_segments: u64,
    /// Extents of the input file (FIEMAP): each boundary an O_DIRECT call
    /// crosses splits it into one more bio, and so one more request.
    pub extents: u64,
    /// ext4 `commit=` interval.
    pub commit_interval_ns: u64,
    /// Duration of the measured phase.
    pub elapsed_ns: u64,
    /// buffered-write --fsync: true when the kernel cannot have started
    /// writeback of the data before fsync() (the run was shorter than
    /// dirty_expire and the data stayed under half the background dirty
    /// threshold), so fsync() submits all of it in the workload's context.
    pub fsync_owns_data: bool,
    /// Why `fsync_owns_data` is what it is, in words.
    pub fsync_reason: String,
}

const ASSUME: &str =
    "assumes the harness's scratch ext4: 4 KiB blocks, mounted noatime (both checked at start), \
made with lazy_itable_init=0,lazy_journal_init=0 so no background init I/O, used by nothing else";

/// Per commit of a transaction holding the workload's mtime update: one
/// descriptor block, the inode-table block, the commit block, possibly the
/// journal superblock (log tail moved), and later the inode-table block
/// written to its home location once.
const JOURNAL_BLOCKS_PER_COMMIT: u64 = 5;
/// A commit carrying the update writes at least descriptor + inode-table
/// block + commit block.
const JOURNAL_BLOCKS_MIN: u64 = 3;

fn metric(layer: Layer, dir: Direction, q: Quantity) -> Metric {
    Metric::fixed(layer, dir, q)
}

/// Upper bound on the commits that carry the workload's metadata: jbd2
/// commits a transaction at most once per interval by timer, so the run
/// spans at most elapsed/interval timer commits, plus the one that closes
/// the last (fsync, syncfs or timer), plus one for a transaction opened by
/// writeback after the run.
fn max_commits(f: &Facts) -> u64 {
    f.elapsed_ns / f.commit_interval_ns.max(1) + 2
}

/// Disk-side bounds of one direction, split by who submits.
struct Side {
    w_bytes: (u64, u64),
    k_bytes: (u64, u64),
    dev_bytes: (u64, u64),
    w_ios: (u64, u64),
    k_ios: (u64, u64),
    dev_ios: (u64, u64),
    /// Bios submitted (before splits and merges).
    w_bios: (u64, u64),
    k_bios: (u64, u64),
    why_bios: String,
    why_w: String,
    why_k: String,
    why_ios: String,
}

impl Side {
    fn zero(why: &str) -> Side {
        Side {
            w_bytes: (0, 0),
            k_bytes: (0, 0),
            dev_bytes: (0, 0),
            w_ios: (0, 0),
            k_ios: (0, 0),
            dev_ios: (0, 0),
            w_bios: (0, 0),
            k_bios: (0, 0),
            why_bios: why.into(),
            why_w: why.into(),
            why_k: why.into(),
            why_ios: why.into(),
        }
    }

    /// A read of `size` bytes that the reader submits itself, all of it
    /// (O_DIRECT, readahead, fault read-around): the kernel adds nothing.
    fn read_by_caller(size: u64, ios: (u64, u64), bios: (u64, u64), why: [String; 4]) -> Side {
        let [why_w, why_k, why_ios, why_bios] = why;
        Side {
            w_bytes: (size, size),
            k_bytes: (0, 0),
            dev_bytes: (size, size),
            w_ios: ios,
            k_ios: (0, 0),
            dev_ios: ios,
            w_bios: bios,
            k_bios: (0, 0),
            why_bios,
            why_w,
            why_k,
            why_ios,
        }
    }

    /// A write of `size` bytes whose data the writer submits itself (O_DIRECT,
    /// or fsync owning the dirty pages), with the journal's commit of the
    /// mtime change (`journal`: bytes, requests, why) submitted by jbd2.
    fn written_by_caller(
        size: u64,
        ios: (u64, u64),
        bios: (u64, u64),
        journal: ((u64, u64), (u64, u64)),
        why: [String; 4],
    ) -> Side {
        let (jb, jr) = journal;
        let [why_w, why_k, why_ios, why_bios] = why;
        Side {
            w_bytes: (size, size),
            k_bytes: jb,
            dev_bytes: add((size, size), jb),
            w_ios: ios,
            k_ios: jr,
            dev_ios: add(ios, jr),
            w_bios: bios,
            k_bios: jr,
            why_bios,
            why_w,
            why_k,
            why_ios,
        }
    }

    fn push(self, dir: Direction, out: &mut Vec<Truth>) {
        use Quantity::*;
        let b = |who: Who, layer: Layer, (lo, hi): (u64, u64), why: &str| {
            Truth::bounded(
                metric(layer, dir, Bytes),
                who,
                lo,
                hi,
                Source::Design,
                format!("{why}; {ASSUME}"),
            )
        };
        out.push(b(Who::Workload, Layer::Block, self.w_bytes, &self.why_w));
        out.push(b(Who::Kernel, Layer::Block, self.k_bytes, &self.why_k));
        out.push(b(Who::Workload, Layer::Disk, self.w_bytes, &self.why_w));
        out.push(b(Who::Kernel, Layer::Disk, self.k_bytes, &self.why_k));
        out.push(b(
            Who::Device,
            Layer::Block,
            self.dev_bytes,
            &format!(
                "whole scratch device, every bio: {} / {}",
                self.why_w, self.why_k
            ),
        ));
        out.push(b(
            Who::Device,
            Layer::Disk,
            self.dev_bytes,
            &format!("whole scratch device: {} / {}", self.why_w, self.why_k),
        ));
        // Device requests (disk) and bios submitted (block), by who.
        let ops = |layer: Layer, why: &str, who: Who, (lo, hi): (u64, u64)| {
            Truth::bounded(
                metric(layer, dir, Ops),
                who,
                lo,
                hi,
                Source::Design,
                format!("{why}; {ASSUME}"),
            )
        };
        for (layer, why, w, k, dev) in [
            (
                Layer::Disk,
                &self.why_ios,
                self.w_ios,
                self.k_ios,
                self.dev_ios,
            ),
            (
                Layer::Block,
                &self.why_bios,
                self.w_bios,
                self.k_bios,
                add(self.w_bios, self.k_bios),
            ),
        ] {
            out.push(ops(layer, why, Who::Workload, w));
            out.push(ops(layer, why, Who::Kernel, k));
            out.push(ops(layer, why, Who::Device, dev));
        }
    }
}

/// Requests needed to move `bytes` in calls of `per_call` bytes that each
/// wait for completion (so no request spans two calls): at least
/// ceil(per_call / largest request) per call; at most one per 4 KiB page,
/// the smallest unit a page-aligned buffer or the page cache submits.
fn ios(bytes: u64, per_call: u64, max_req: u64) -> (u64, u64) {
    let calls = bytes.checked_div(per_call).unwrap_or(0);
    (calls * per_call.div_ceil(max_req.max(PAGE)), bytes / PAGE)
}

/// Requests of O_DIRECT calls of `per_call` bytes from a page-aligned
/// buffer: each call is one bio (up to 256 pages, one bio_vec each), one
/// more for each extent boundary it crosses, split into requests of at
/// most max_sectors_kb and of at most max_segments scattered pages. So at
/// least ceil(per_call / max_sectors) per call and at most
/// ceil(per_call / min(max_sectors, max_segments pages)) per call, plus
/// one for each bio boundary inside a call (a call of more than 1 MiB can
/// be split into bios wherever their 256 bio_vecs run out, which depends
/// on how the buffer's pages lie in memory; a bio that ends off a request
/// boundary leaves a short request: measured here, a 2 MiB call split into
/// bios of 808 KiB and 1240 KiB made 7 + 10 = 17 requests, not 16), plus
/// one per extent boundary of the file (the calls wait for each other, so
/// nothing merges across calls).
fn direct_ios(bytes: u64, per_call: u64, f: &Facts) -> (u64, u64) {
    let calls = bytes.checked_div(per_call).unwrap_or(0);
    let max = f.max_request_bytes.max(PAGE);
    let min_full = max.min(f.max_segments.max(1) * PAGE);
    let bio_boundaries = per_call.div_ceil(256 * PAGE).saturating_sub(1);
    (
        calls * per_call.div_ceil(max),
        calls * (per_call.div_ceil(min_full) + bio_boundaries) + f.extents.saturating_sub(1),
    )
}

/// Bios of O_DIRECT calls: a bio holds up to 256 bio_vecs, and a bio_vec
/// holds a run of physically contiguous pages (a huge page, or pages that
/// happen to be adjacent), so a call is at least one bio and at most one
/// per 256 pages (1 MiB), plus one for each extent boundary of the file a
/// call crosses. Seen here: a 2 MiB call from a buffer the kernel backed
/// with a huge page was one bio, not two.
fn direct_bios(bytes: u64, per_call: u64, f: &Facts) -> (u64, u64) {
    let calls = bytes.checked_div(per_call).unwrap_or(0);
    let per = per_call.div_ceil(256 * PAGE);
    (calls, calls * per + f.extents.saturating_sub(1))
}

/// Bios of buffered I/O over `bytes`: at least one per largest bio (256
/// pages), at most one per page.
fn page_bios(bytes: u64) -> (u64, u64) {
    (bytes.div_ceil(256 * PAGE), bytes / PAGE)
}

const WHY_DIRECT_BIOS: &str = "each O_DIRECT call is at least one bio and at most one per 1 MiB (256 bio_vecs of at \
     least a page each; physically contiguous pages share a bio_vec), one more per extent boundary it crosses; bios are \
     counted before splits and merges";
const WHY_PAGE_BIOS: &str =
    "readahead and writeback build bios of up to 256 pages; at most one per page";

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

/// Journal bytes and requests charged to jbd2 (and the home-location
/// checkpoint write) for the inode's mtime updates.
fn journal(f: &Facts) -> ((u64, u64), (u64, u64), String) {
    let n = max_commits(f);
    let bytes = (
        JOURNAL_BLOCKS_MIN * PAGE,
        n * JOURNAL_BLOCKS_PER_COMMIT * PAGE,
    );
    // jbd2 writes the commit block only after the log blocks complete: at
    // least 2 requests; at most one per block.
    let reqs = (2, n * JOURNAL_BLOCKS_PER_COMMIT);
    let why = format!(
        "the only metadata change is the file's mtime (in-place overwrite of fully written blocks: no allocation, \
         no extent conversion); jbd2 journals it in the kernel's context: at least one commit of \
         descriptor + inode-table block + commit block ({min} KiB) once the harness settles (syncfs, or a commit \
         interval), at most {n} commits (run {ms} ms / commit={ci} s, +1 closing, +1 at writeback) of \
         {per} blocks each (descriptor, inode-table block, commit block, journal superblock, home-location \
         checkpoint of the inode-table block); jbd2 submits the journal blocks, the home-location write is \
         submitted by whoever syncs the filesystem (the harness's syncfs) or by a flusher 30 s later",
        min = JOURNAL_BLOCKS_MIN * 4,
        ms = f.elapsed_ns / 1_000_000,
        ci = f.commit_interval_ns / 1_000_000_000,
        per = JOURNAL_BLOCKS_PER_COMMIT,
    );
    (bytes, reqs, why)
}

fn exact(
    out: &mut Vec<Truth>,
    layer: Layer,
    dir: Option<Direction>,
    q: Quantity,
    v: u64,
    src: Source,
    why: String,
) {
    out.push(Truth::exact(
        // A truth without a direction is about an undirected quantity
        // (openat() calls, execs).
        Metric::new(layer, dir.map_or(Directed::Undirected, Directed::Fixed), q),
        Who::Workload,
        v,
        src,
        why,
    ));
}

/// The read side of O_DIRECT reads of `size` bytes, `request` a call.
fn direct_read_side(size: u64, request: u64, f: &Facts) -> Side {
    let io = direct_ios(size, request, f);
    let max = f.max_request_bytes;
    Side::read_by_caller(
        size,
        io,
        direct_bios(size, request, f),
        [
            format!(
            "O_DIRECT reads exactly the {size} bytes asked for, submitted by the caller; the inode and extent \
             map are cached since prepare wrote the file, so no metadata reads"
        ),
            "the kernel submits nothing on the workload's behalf for O_DIRECT reads".into(),
            format!(
            "each pread of {request} B waits for completion, so it is >= ceil({request}/{max}) requests \
             (max_sectors_kb) of its own, more only if max_segments ({}) scattered pages fill a request \
             first, plus one for each of its bios that ends off a request boundary (a call over 1 MiB can be \
             split into bios where their 256 bio_vecs run out; a 2 MiB call split 808 KiB + 1240 KiB made 17 \
             requests), plus one per extent boundary a call crosses (the file has {} extent(s), FIEMAP)",
            f.max_segments, f.extents
        ),
            WHY_DIRECT_BIOS.into(),
        ],
    )
}

/// The write side of O_DIRECT overwrites of `size` bytes, `request` a
/// call, with the journal commit of the mtime update.
fn direct_write_side(size: u64, request: u64, f: &Facts) -> Side {
    let (jb, jr, jwhy) = journal(f);
    let io = direct_ios(size, request, f);
    let bios = direct_bios(size, request, f);
    let max = f.max_request_bytes;
    Side::written_by_caller(
        size,
        io,
        bios,
        (jb, jr),
        [
            format!("O_DIRECT writes exactly the {size} bytes given, submitted by the caller before pwrite returns"),
            jwhy,
            format!(
                "data: each pwrite of {request} B completes before the next, >= ceil({request}/{max}) requests \
                 each, plus one for each of its bios that ends off a request boundary (calls over 1 MiB), plus one \
                 per extent boundary a call crosses (the file has {} extent(s), FIEMAP); journal: \
                 >= 2 requests (log blocks, then the commit block), <= one per block",
                f.extents
            ),
            format!("data: {WHY_DIRECT_BIOS}; journal: one bio per block"),
        ],
    )
}

/// The tallies of a run: the workload's per-call counts, and the pages a
/// buffered overwrite inserts into the page cache without reading them.
pub fn tallies(w: &Workload, c: &Counts) -> tracecheck_model::Tallies {
    let mut t = c.tallies();
    match *w {
        Workload::BufferedWrite { size, .. } => t.pagecache_write_inserts = size / PAGE,
        Workload::MmapRead { size } => t.fault_read_bytes = size,
        _ => {}
    }
    t
}

/// All truths of one run.
pub fn truths(w: &Workload, c: &Counts, comm: &str, f: &Facts) -> Vec<Truth> {
    use Direction::*;
    use Quantity::*;
    let mut out = Vec::new();
    let mut scope = format!(
        "counted by the workload for its calls under comm {comm}; the same pid also read /proc and /sys before \
         taking the comm and writes this JSON to stdout after giving it back"
    );
    if !c.thread_ids.is_empty() {
        let main = c.main_thread.values().map(|t| t.calls).sum::<u64>();
        scope.push_str(&format!(
            "; the calls are shared among the process's {} threads (the main thread made {main} of them), \
             which inherit the comm and share the pid",
            c.thread_ids.len() + 1
        ));
    }

    // Threads and execs make system calls beyond the workload's own count
    // (a thread's start, the children's loader): no system-call truths.
    if !matches!(
        w,
        Workload::Execs { .. } | Workload::Threads { .. } | Workload::Spin { .. }
    ) {
        let (rc, wc) = (c.read_calls, c.write_calls);
        let call = match w {
            Workload::DirectRead { .. }
            | Workload::DirectWrite { .. }
            | Workload::DirectMixed { .. } => "pread64/pwrite64 with O_DIRECT",
            Workload::MmapRead { .. } => "none: mmap page faults are not read calls",
            Workload::Opens { .. }
            | Workload::PacedOpens { .. }
            | Workload::Stats { .. }
            | Workload::Syncs { .. }
            | Workload::Setuids { .. }
            | Workload::Kills { .. }
            | Workload::Sleeps { .. }
            | Workload::TcpConnects { .. } => "none",
            Workload::CachedReread { .. } => {
                "read, readv, pread64, preadv2, one per pass in turn, each pass until a call returns 0 at end of \
                 file (that call counts)"
            }
            _ => "write, pwrite64, writev, pwritev2 in turn",
        };
        exact(
            &mut out,
            Layer::Syscall,
            Some(Read),
            Bytes,
            c.read_bytes,
            Source::Workload,
            format!("{call}; {scope}"),
        );
        exact(
            &mut out,
            Layer::Syscall,
            Some(Read),
            Ops,
            rc,
            Source::Workload,
            format!("{call}; {scope}"),
        );
        exact(
            &mut out,
            Layer::Syscall,
            Some(Write),
            Bytes,
            c.write_bytes,
            Source::Workload,
            format!("{call}; {scope}"),
        );
        exact(
            &mut out,
            Layer::Syscall,
            Some(Write),
            Ops,
            wc,
            Source::Workload,
            format!("{call}; {scope}"),
        );
        exact(
            &mut out,
            Layer::Syscall,
            None,
            Ops,
            c.open_calls,
            Source::Workload,
            format!("open(), openat() and openat2() calls; {scope}"),
        );
        exact(
            &mut out,
            Layer::Syscall,
            None,
            StatCalls,
            c.stat_calls,
            Source::Workload,
            format!(
                "newstat(), newlstat(), newfstat(), newfstatat() and statx() calls, each made as that system \
                 call; {scope}"
            ),
        );
        exact(
            &mut out,
            Layer::Syscall,
            None,
            SleepCalls,
            c.sleep_calls,
            Source::Workload,
            format!(
                "nanosleep() and clock_nanosleep() calls of {} µs, each made as that system call; {scope}",
                crate::ops::SLEEP_NS / 1000
            ),
        );
        exact(
            &mut out,
            Layer::Syscall,
            None,
            SyncCalls,
            c.sync_calls,
            Source::Workload,
            format!(
                "fsync(), fdatasync(), sync_file_range(), msync(), syncfs() and sync() calls, each made as that \
                 system call (a buffered write's closing fsync() counts); {scope}"
            ),
        );
        exact(
            &mut out,
            Layer::Syscall,
            None,
            SetuidCalls,
            c.setuid_calls,
            Source::Workload,
            format!(
                "setuid(), setreuid(), setresuid() and setfsuid() calls, each made as that system call and each \
                 leaving the ids as they were; {scope}"
            ),
        );
        exact(
            &mut out,
            Layer::Syscall,
            None,
            KillCalls,
            c.kill_calls,
            Source::Workload,
            format!(
                "kill() calls, each made as that system call with signal 0 ({} of them to the process group, \
                 pid 0; the ones to a pid no process has failed with ESRCH, and count), not its tkill() and \
                 tgkill() calls ({}); {scope}",
                c.kill_group,
                ["tkill", "tgkill"]
                    .iter()
                    .map(|n| c.by_call.get(n).map_or(0, |t| t.calls))
                    .sum::<u64>()
            ),
        );
        exact(
            &mut out,
            Layer::Vfs,
            Some(Read),
            Bytes,
            c.read_bytes,
            Source::Design,
            "every read-family call goes through vfs_read/read_iter, O_DIRECT included; mmap faults do not".into(),
        );
        exact(
            &mut out,
            Layer::Vfs,
            Some(Write),
            Bytes,
            c.write_bytes,
            Source::Design,
            "every write-family call goes through vfs_write/write_iter, O_DIRECT included".into(),
        );
    }

    let misses = |pages: u64, why: &str, out: &mut Vec<Truth>| {
        exact(
            out,
            Layer::Pagecache,
            Some(Read),
            Ops,
            pages,
            Source::Design,
            format!("{why}; {ASSUME}"),
        );
    };
    // A workload that moves no file data: no page-cache misses, and
    // nothing read from or written to the scratch device, each for its
    // reason.
    let no_disk_io = |miss: &str, read: &str, write: &str, out: &mut Vec<Truth>| {
        misses(0, miss, out);
        Side::zero(read).push(Read, out);
        Side::zero(write).push(Write, out);
    };
    let no_reads = || {
        Side::zero(
            "no reads reach the device: the workload's metadata is cached (prepare just wrote it)",
        )
    };
    let no_writes = || Side::zero("nothing is dirtied: noatime, no data or metadata written");
    let max = f.max_request_bytes;

    match *w {
        Workload::DirectRead { size, request } => {
            misses(0, "O_DIRECT bypasses the page cache", &mut out);
            direct_read_side(size, request, f).push(Read, &mut out);
            no_writes().push(Write, &mut out);
        }
        Workload::DirectWrite { size, request } => {
            misses(0, "O_DIRECT bypasses the page cache", &mut out);
            no_reads().push(Read, &mut out);
            direct_write_side(size, request, f).push(Write, &mut out);
        }
        Workload::DirectMixed {
            read,
            write,
            request,
            ..
        } => {
            misses(0, "O_DIRECT bypasses the page cache", &mut out);
            direct_read_side(read, request, f).push(Read, &mut out);
            direct_write_side(write, request, f).push(Write, &mut out);
        }
        Workload::CachedReread { size, passes, .. } => {
            misses(
                size / PAGE,
                &format!(
                    "the first pass misses every page of the cold {size}-byte file once; readahead never inserts pages \
                     past EOF; the other {} passes hit (with large folios the insertion events are fewer, the pages \
                     are the same)",
                    passes - 1
                ),
                &mut out,
            );
            let io = ios(size, size, max);
            Side::read_by_caller(
                size,
                io,
                page_bios(size),
                [
                    format!(
                    "the cold pass reads the file once ({size} B) through readahead, which the reader submits itself and \
                     which stops at EOF; the later passes are page-cache hits and read nothing; metadata is cached"
                ),
                    "readahead, sync or async, runs in the reader's context".into(),
                    format!("readahead windows: >= ceil({size}/{max}) requests (max_sectors_kb), <= one per 4 KiB page"),
                    WHY_PAGE_BIOS.into(),
                ],
            )
            .push(Read, &mut out);
            no_writes().push(Write, &mut out);
        }
        Workload::MmapRead { size } => {
            misses(
                size / PAGE,
                "every page of the cold file is touched once; fault read-around stays within EOF and fault-around only \
                 maps pages already cached, so each page is inserted once",
                &mut out,
            );
            let io = ios(size, size, max);
            Side::read_by_caller(
                size,
                io,
                page_bios(size),
                [
                    format!(
                    "page faults read the whole cold file ({size} B) in the faulting task's context, read-around capped \
                     at EOF; zero read() calls"
                ),
                    "fault read-around runs in the faulting task".into(),
                    format!("read-around windows: >= ceil({size}/{max}) requests, <= one per 4 KiB page"),
                    WHY_PAGE_BIOS.into(),
                ],
            )
            .push(Read, &mut out);
            no_writes().push(Write, &mut out);
        }
        Workload::BufferedWrite {
            size,
            fsync,
            passes,
            ..
        } => {
            misses(
                0,
                "whole-page overwrites never read: write_begin inserts each page without reading it (a tool counting \
                 every page-cache insertion sees size/4096 of them, none of them read misses)",
                &mut out,
            );
            no_reads().push(Read, &mut out);
            let (jb, jr, jwhy) = journal(f);
            let data_io = ios(size, size, max);
            let data_bios = page_bios(size);
            // Rewrites of a page still dirty cost nothing more at the disk;
            // only when writeback may have started during the run can a
            // page be written, dirtied again and written again.
            let again = if f.fsync_owns_data {
                0
            } else {
                (passes - 1) * size
            };
            let side = if fsync && f.fsync_owns_data {
                Side::written_by_caller(
                    size,
                    data_io,
                    data_bios,
                    (jb, jr),
                    [
                        format!(
                            "fsync() writes back all {size} dirty bytes in the caller's context ({}); the {passes} \
                             pass(es) rewrote pages still dirty, which the disk sees once",
                            f.fsync_reason
                        ),
                        format!("{jwhy}; fsync waits for that commit, but jbd2 submits it"),
                        "data: >= ceil(size/max_sectors_kb) requests, <= one per page; journal: >= 2, <= one per block"
                            .into(),
                        format!("data: {WHY_PAGE_BIOS}; journal: one bio per block"),
                    ],
                )
            } else if fsync {
                Side {
                    w_bytes: (0, size + again),
                    k_bytes: (jb.0, size + again + jb.1),
                    dev_bytes: add((size, size + again), jb),
                    w_ios: (0, data_io.1 * passes),
                    k_ios: (jr.0, data_io.1 * passes + jr.1),
                    dev_ios: add((data_io.0, data_io.1 * passes), jr),
                    w_bios: (0, data_bios.1 * passes),
                    k_bios: (jr.0, data_bios.1 * passes + jr.1),
                    why_bios: format!("data: {WHY_PAGE_BIOS}; journal: one bio per block"),
                    why_w: format!(
                        "fsync() writes back whatever the flushers have not yet written ({}), in the caller's context",
                        f.fsync_reason
                    ),
                    why_k: format!("flushers may have written part of the {size} B before fsync; {jwhy}"),
                    why_ios: "data: >= ceil(size/max_sectors_kb) requests, <= one per page; journal: >= 2, <= one per block"
                        .into(),
                }
            } else {
                Side {
                    w_bytes: (0, 0),
                    k_bytes: add((size, size + again), jb),
                    dev_bytes: add((size, size + again), jb),
                    w_ios: (0, 0),
                    k_ios: add((data_io.0, data_io.1 * passes), jr),
                    dev_ios: add((data_io.0, data_io.1 * passes), jr),
                    w_bios: (0, 0),
                    k_bios: add((data_bios.0, data_bios.1 * passes), jr),
                    why_bios: format!("data: {WHY_PAGE_BIOS}; journal: one bio per block"),
                    why_w: "write() only dirties the page cache and the writer exits before writeback: it submits no \
                            block I/O (balance_dirty_pages throttles writers but leaves writeback to the flushers)"
                        .into(),
                    why_k: format!(
                        "the {size} dirty bytes are written once by the writeback flushers (kworker/u*), 30 s after \
                         dirtying or when the harness runs syncfs; {jwhy}"
                    ),
                    why_ios: "data: >= ceil(size/max_sectors_kb) requests, <= one per page; journal: >= 2, <= one per block"
                        .into(),
                }
            };
            side.push(Write, &mut out);
        }
        Workload::Opens { .. } | Workload::PacedOpens { .. } => {
            misses(0, "openat() and close() read no file data", &mut out);
            Side::zero("opening and closing a cached inode on a noatime mount does no I/O")
                .push(Read, &mut out);
            Side::zero("opening read-only and closing dirties nothing").push(Write, &mut out);
        }
        Workload::Threads { count } => {
            let why = format!(
                "{count} threads and {} forks touch no file: nothing reaches the scratch device",
                count / 5
            );
            no_disk_io(
                "starting and joining threads and forks read no file",
                &why,
                &why,
                &mut out,
            );
        }
        Workload::Spin { ms } => {
            let why = format!(
                "threads spinning {ms} ms touch no file: nothing reaches the scratch device"
            );
            no_disk_io("spinning threads read no file", &why, &why, &mut out);
        }
        Workload::TcpConnects { .. } => {
            let why =
                "TCP connections over loopback touch no file: nothing reaches the scratch device";
            no_disk_io("loopback TCP connections read no file", why, why, &mut out);
        }
        Workload::Setuids { .. } => {
            let why = "setuid calls touch no file: nothing reaches the scratch device";
            no_disk_io("setuid calls read no file", why, why, &mut out);
        }
        Workload::Sleeps { .. } => {
            let why = "sleeps touch no file: nothing reaches the scratch device";
            no_disk_io("sleeping reads no file", why, why, &mut out);
        }
        Workload::Kills { .. } => {
            let why = "signal 0 checks a target and delivers nothing: no file is touched";
            no_disk_io("kill() with signal 0 reads no file", why, why, &mut out);
        }
        Workload::Syncs { .. } => {
            no_disk_io(
                "sync calls read no file data",
                "sync calls read nothing",
                "the page was written back and its filesystem synced before the run, and nothing dirties it: \
                 every sync call finds nothing to write (a journal flush with no data, if any, carries no bytes)",
                &mut out,
            );
        }
        Workload::Stats { .. } => {
            no_disk_io(
                "stat calls read no file data",
                "stat of a cached inode reads nothing from disk",
                "stat on a noatime mount dirties nothing",
                &mut out,
            );
        }
        Workload::Execs { count } => {
            exact(
                &mut out,
                Layer::Process,
                None,
                Ops,
                c.execs,
                Source::Workload,
                format!(
                    "{count} fork()+execve() of a symlink named {comm} -> /bin/true, each child reaped with exit status 0; \
                     comm comes from the exec'd path's basename, so each child runs as {comm}"
                ),
            );
            let why = "the exec'd program and its symlink are off the scratch filesystem: nothing touches the scratch \
                       device (the children's own loader I/O is on other devices and their syscalls are not counted)";
            Side::zero(why).push(Read, &mut out);
            Side::zero(why).push(Write, &mut out);
        }
    }
    if !matches!(w, Workload::Execs { .. }) {
        exact(
            &mut out,
            Layer::Process,
            None,
            Ops,
            0,
            Source::Workload,
            format!("the workload execs nothing under comm {comm} (its own exec happened under its binary's name)"),
        );
    }
    let threads_why = match *w {
        Workload::Threads { count } => format!(
            "{count} pthread_create() calls (std::thread), each thread joined before the next; the {} forked \
             children exit at once and create none",
            count / 5
        ),
        Workload::DirectMixed { threads, .. } => format!(
            "the {} worker threads that share the calls (std::thread::scope); the main thread is the process",
            threads - 1
        ),
        Workload::Execs { .. } => {
            "the workload forks and execs /bin/true, which is single-threaded: no thread is created".into()
        }
        Workload::Spin { .. } => format!(
            "one spinning thread for each of the {} CPUs the process may run on (std::thread::scope)",
            c.cpu_ns.len()
        ),
        _ => "the workload runs on its main thread alone".into(),
    };
    exact(
        &mut out,
        Layer::Process,
        None,
        Threads,
        c.threads_created,
        Source::Workload,
        threads_why,
    );
    let (connects_why, accepts_why) = match (w, c.snmp_opens) {
        (Workload::TcpConnects { .. }, Some((active, passive))) => (
            format!(
                "connect() calls over loopback, each sending a SYN: {} to IPv4 and {} to IPv6 listeners, and {} to \
                 a closed IPv4 port (refused: a RST back); the kernel's ActiveOpens grew by {active} meanwhile \
                 (/proc/net/snmp, every process's)",
                c.tcp_accepts - c.tcp_v6,
                c.tcp_v6,
                c.tcp_refused
            ),
            format!(
                "each connection accepted at once by the same thread ({} over IPv6); the kernel's PassiveOpens \
                 grew by {passive} meanwhile",
                c.tcp_v6
            ),
        ),
        _ => (
            "the workload opens no TCP connection".to_string(),
            "the workload accepts no TCP connection".to_string(),
        ),
    };
    exact(
        &mut out,
        Layer::Net,
        None,
        Connects,
        c.tcp_connects,
        Source::Workload,
        connects_why,
    );
    exact(
        &mut out,
        Layer::Net,
        None,
        Accepts,
        c.tcp_accepts,
        Source::Workload,
        accepts_why,
    );
    exact(
        &mut out,
        Layer::Process,
        None,
        Exits,
        c.forks,
        Source::Workload,
        format!(
            "{} forked children that each ended under comm {comm} (exec'd or not), reaped by the workload; the \
             workload process itself gives its comm back before it ends, and its threads' exits are not \
             process exits",
            c.forks
        ),
    );
    exact(
        &mut out,
        Layer::Net,
        None,
        Listens,
        c.tcp_listens,
        Source::Workload,
        match w {
            Workload::TcpConnects { .. } => format!(
                "listen() on an IPv4, an IPv6 and a second IPv4 socket ({} on IPv6), each std's \
                 TcpListener::bind, before the connections",
                c.tcp_v6_listens
            ),
            _ => "the workload listens on no socket".to_string(),
        },
    );
    if let Workload::Spin { ms } = *w {
        out.push(cpu_time(ms, c));
    }
    tracecheck_model::truth::with_both_directions(out)
}

/// The spin workload's CPU time: at least what its threads spun, each read
/// from its own CPU clock around its spin loop; at most the whole
/// process's CPU time over the run (CLOCK_PROCESS_CPUTIME_ID: the main
/// thread, and the threads' start and exit, included). Both are the
/// scheduler's own sum_exec_runtime; the wall time each thread spun bounds
/// its share from above, and the why says how close each came to it (a
/// CPU the host also gave to others falls short of it).
fn cpu_time(ms: u64, c: &Counts) -> Truth {
    let spun: u64 = c.cpu_ns.values().sum();
    let hi = c.process_cpu_ns.max(spun);
    let wall = c.spin_wall_ns.max(1);
    let per_cpu: Vec<String> = c
        .cpu_ns
        .iter()
        .map(|(cpu, ns)| {
            format!(
                "CPU {cpu}: {:.6} s ({:.1}% of the {:.6} s it spun)",
                *ns as f64 / 1e9,
                *ns as f64 * 100.0 / wall as f64,
                wall as f64 / 1e9
            )
        })
        .collect();
    Truth::bounded(
        Metric::new(Layer::Cpu, Directed::Undirected, Quantity::Time),
        Who::Workload,
        spun,
        hi,
        Source::Workload,
        format!(
            "one thread pinned to each CPU spinning {ms} ms, each reading its own CPU clock (the scheduler's \
             sum_exec_runtime) around its loop: {}; at most the process's CPU time over the run (CLOCK_PROCESS_CPUTIME_ID, \
             the main thread and the threads' start and exit included)",
            per_cpu.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracecheck_model::GroundTruth;

    const M: u64 = 1 << 20;

    fn facts() -> Facts {
        Facts {
            max_request_bytes: 1280 * 1024,
            max_segments: 128,
            extents: 1,
            commit_interval_ns: 5_000_000_000,
            elapsed_ns: 200_000_000,
            fsync_owns_data: true,
            fsync_reason: "test".into(),
        }
    }

    fn find(ts: &[Truth], name: &str, who: Who) -> (u64, u64) {
        let m = Metric::parse(name).unwrap();
        let t: Vec<_> = ts
            .iter()
            .filter(|t| t.metric == m && t.who == who)
            .collect();
        assert_eq!(t.len(), 1, "{name} {who:?}: {t:?}");
        (t[0].lo, t[0].hi)
    }

    #[test]
    fn direct_read_is_exact_on_bytes_and_splits_requests() {
        let w = Workload::DirectRead {
            size: 16 * M,
            request: M,
        };
        let c = Counts {
            read_calls: 16,
            read_bytes: 16 * M,
            open_calls: 1,
            ..Counts::default()
        };
        let t = truths(&w, &c, "tcw-x", &facts());
        assert_eq!(find(&t, "disk.read_bytes", Who::Device), (16 * M, 16 * M));
        assert_eq!(find(&t, "disk.read_bytes", Who::Workload), (16 * M, 16 * M));
        assert_eq!(find(&t, "disk.write_bytes", Who::Device), (0, 0));
        // 1 MiB calls: >= 1 request each (max 1280 KiB); <= 2 (128 scattered
        // pages fill a request at 512 KiB); the file is one extent, so no
        // call crosses a boundary and each is exactly one bio.
        assert_eq!(find(&t, "disk.read_ios", Who::Device), (16, 32));
        assert_eq!(find(&t, "block.read_ios", Who::Workload), (16, 16));
        assert_eq!(find(&t, "syscall.read_calls", Who::Workload), (16, 16));
        assert_eq!(find(&t, "pagecache.read_misses", Who::Workload), (0, 0));
        assert_eq!(find(&t, "vfs.read_bytes", Who::Workload), (16 * M, 16 * M));
    }

    #[test]
    fn disktop_case_reads_352_mib_through_read_and_16_from_disk() {
        let w = Workload::CachedReread {
            size: 16 * M,
            passes: 21,
            request: 128 << 10,
        };
        let c = Counts {
            read_calls: 21 * 128,
            read_bytes: 352 * M,
            open_calls: 1,
            ..Counts::default()
        };
        let t = truths(&w, &c, "tcw-x", &facts());
        assert_eq!(
            find(&t, "syscall.read_bytes", Who::Workload),
            (352 * M, 352 * M)
        );
        assert_eq!(
            find(&t, "vfs.read_bytes", Who::Workload),
            (352 * M, 352 * M)
        );
        assert_eq!(find(&t, "disk.read_bytes", Who::Workload), (16 * M, 16 * M));
        assert_eq!(
            find(&t, "pagecache.read_misses", Who::Workload),
            (4096, 4096)
        );
        // 16 MiB in requests of at most 1280 KiB: at least 13.
        assert_eq!(find(&t, "disk.read_ios", Who::Device), (13, 4096));
    }

    #[test]
    fn mmap_reads_disk_without_read_calls() {
        let t = truths(
            &Workload::MmapRead { size: 4 * M },
            &Counts {
                open_calls: 1,
                ..Counts::default()
            },
            "c",
            &facts(),
        );
        assert_eq!(find(&t, "syscall.read_calls", Who::Workload), (0, 0));
        assert_eq!(find(&t, "vfs.read_bytes", Who::Workload), (0, 0));
        assert_eq!(find(&t, "disk.read_bytes", Who::Device), (4 * M, 4 * M));
    }

    #[test]
    fn unsynced_writes_belong_to_the_kernel() {
        let w = Workload::BufferedWrite {
            size: 8 * M,
            request: M,
            fsync: false,
            passes: 1,
        };
        let t = truths(
            &w,
            &Counts {
                write_calls: 8,
                write_bytes: 8 * M,
                open_calls: 1,
                ..Counts::default()
            },
            "c",
            &facts(),
        );
        assert_eq!(find(&t, "block.write_bytes", Who::Workload), (0, 0));
        assert_eq!(find(&t, "disk.write_bytes", Who::Workload), (0, 0));
        let (lo, hi) = find(&t, "disk.write_bytes", Who::Kernel);
        assert_eq!(lo, 8 * M + 3 * 4096);
        // 200 ms run: at most 2 commits of 5 blocks.
        assert_eq!(hi, 8 * M + 2 * 5 * 4096);
        assert_eq!(find(&t, "disk.write_bytes", Who::Device), (lo, hi));
    }

    #[test]
    fn fsync_charges_data_to_the_writer_only_when_writeback_cannot_have_started() {
        let w = Workload::BufferedWrite {
            size: 8 * M,
            request: M,
            fsync: true,
            passes: 1,
        };
        let c = Counts {
            write_calls: 8,
            write_bytes: 8 * M,
            open_calls: 1,
            ..Counts::default()
        };
        let t = truths(&w, &c, "c", &facts());
        assert_eq!(find(&t, "disk.write_bytes", Who::Workload), (8 * M, 8 * M));
        let f = Facts {
            fsync_owns_data: false,
            ..facts()
        };
        let t = truths(&w, &c, "c", &f);
        assert_eq!(find(&t, "disk.write_bytes", Who::Workload), (0, 8 * M));
        assert_eq!(
            find(&t, "disk.write_bytes", Who::Device).0,
            8 * M + 3 * 4096
        );
    }

    #[test]
    fn long_runs_allow_more_commits() {
        let w = Workload::DirectWrite {
            size: 16 * M,
            request: M,
        };
        let f = Facts {
            elapsed_ns: 12_000_000_000,
            ..facts()
        };
        let t = truths(&w, &Counts::default(), "c", &f);
        assert_eq!(
            find(&t, "disk.write_bytes", Who::Kernel),
            (3 * 4096, 4 * 5 * 4096)
        );
    }

    #[test]
    fn execs_count_execs_and_touch_no_disk() {
        let c = Counts {
            execs: 3,
            child_pids: vec![10, 11, 12],
            ..Counts::default()
        };
        let t = truths(&Workload::Execs { count: 3 }, &c, "tcw-e", &facts());
        assert_eq!(find(&t, "process.execs", Who::Workload), (3, 3));
        assert_eq!(find(&t, "disk.read_bytes", Who::Device), (0, 0));
        assert!(t.iter().all(|t| t.metric.layer != Layer::Syscall));
    }

    #[test]
    fn every_truth_is_ordered_explained_and_serializes() {
        let ws = [
            Workload::DirectRead {
                size: 4 * M,
                request: M,
            },
            Workload::DirectWrite {
                size: 4 * M,
                request: M,
            },
            Workload::CachedReread {
                size: 4 * M,
                passes: 3,
                request: 4096,
            },
            Workload::BufferedWrite {
                size: 4 * M,
                request: M,
                fsync: true,
                passes: 1,
            },
            Workload::BufferedWrite {
                size: 4 * M,
                request: M,
                fsync: false,
                passes: 1,
            },
            Workload::MmapRead { size: 4 * M },
            Workload::Opens { count: 5 },
            Workload::Execs { count: 5 },
        ];
        for w in ws {
            let t = truths(&w, &Counts::default(), "c", &facts());
            for x in &t {
                assert!(
                    x.lo <= x.hi && !x.why.is_empty() && x.metric.name() != "unnamed",
                    "{x:?}"
                );
            }
            let g = GroundTruth {
                workload: w.kind().into(),
                comm: "c".into(),
                pids: vec![1],
                params: w.params(),
                truths: t,
                tallies: Default::default(),
                needs_writeback: false,
                elapsed_ns: 1,
            };
            let back: GroundTruth =
                serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
            assert_eq!(back, g);
        }
    }
}
