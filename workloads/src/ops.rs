//! The system calls themselves: `prepare` (write, fsync, syncfs, evict,
//! verify cold) and the measured loops of `run`, each counting every call it
//! makes. No truth is computed here; [`crate::truths`] turns the counts into
//! bounds.

use crate::cache;
use crate::error::WorkloadError;
use crate::workload::{Workload, PAGE};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::mm::{MapFlags, ProtFlags};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use tracecheck_model::{CallTally, ClockedCall, Tallies};

/// What the measured phase did, counted call by call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub read_calls: u64,
    pub read_bytes: u64,
    pub write_calls: u64,
    pub write_bytes: u64,
    pub open_calls: u64,
    /// Stat-family calls made ([`stat_call`]).
    pub stat_calls: u64,
    /// Sleep calls made ([`sleep_call`]).
    pub sleep_calls: u64,
    /// Sync-family calls made ([`sync_call`], and a buffered write's fsync).
    pub sync_calls: u64,
    /// Setuid-family calls made ([`setuid_call`]).
    pub setuid_calls: u64,
    /// kill() calls made ([`kill_call`]), and those of them to the
    /// caller's process group (pid 0).
    pub kill_calls: u64,
    pub kill_group: u64,
    /// TCP connect() calls made (active opens, refused ones included),
    /// connections accepted, those of them over IPv6, and the refused
    /// attempts ([`crate::tcp`]).
    pub tcp_connects: u64,
    pub tcp_accepts: u64,
    pub tcp_v6: u64,
    pub tcp_refused: u64,
    /// listen() calls made on TCP sockets, and those on IPv6 ones.
    pub tcp_listens: u64,
    pub tcp_v6_listens: u64,
    /// How much the kernel's ActiveOpens and PassiveOpens grew over the
    /// run, for the truth's account.
    pub snmp_opens: Option<(u64, u64)>,
    /// Threads the process created (pthread_create, through std::thread).
    pub threads_created: u64,
    pub execs: u64,
    pub child_pids: Vec<u32>,
    /// Sum of the bytes an mmap-read touched, so the reads cannot be elided.
    pub checksum: u64,
    /// Each read, write and open call by name.
    pub by_call: BTreeMap<&'static str, CallTally>,
    /// fork() calls made (for execs, and children that exec nothing).
    pub forks: u64,
    /// execve()/execveat() calls made, failed ones included.
    pub exec_attempts: u64,
    /// Successful execs made through execveat().
    pub execveat: u64,
    /// The main thread's own calls by name, when other threads shared them
    /// (empty when the main thread made every call).
    pub main_thread: BTreeMap<&'static str, CallTally>,
    /// The other threads' ids (tid ≠ pid).
    pub thread_ids: Vec<u32>,
    /// CPU time (ns) each pinned spinning thread ran, by its CPU ([`spin`]).
    pub cpu_ns: BTreeMap<u32, u64>,
    /// The process's whole CPU time over the run (getrusage), every thread
    /// included, for [`spin`].
    pub process_cpu_ns: u64,
    /// Wall time the spinning threads spun, for [`spin`].
    pub spin_wall_ns: u64,
    /// Each read-family call on this process's own clock (CLOCK_MONOTONIC,
    /// read just before the call and just after it returned), by thread:
    /// each encloses the kernel's time in its call, for the read-latency
    /// truth's cross-check.
    pub read_calls_clocked: Vec<ClockedCall>,
}

impl Counts {
    fn tally(&mut self, call: &'static str, asked: u64, got: u64) {
        let t = self.by_call.entry(call).or_default();
        t.calls += 1;
        t.bytes += got;
        t.requested += asked;
    }

    /// One read-family call, started at `started` ([`monotonic_ns`]), that
    /// asked for `asked` bytes and got `got`.
    fn read(&mut self, call: &'static str, started: u64, asked: usize, got: usize) {
        self.read_calls_clocked.push(ClockedCall {
            tid: rustix::thread::gettid().as_raw_nonzero().get() as u32,
            start_ns: started,
            end_ns: monotonic_ns(),
        });
        self.read_calls += 1;
        self.read_bytes += got as u64;
        self.tally(call, asked as u64, got as u64);
    }

    fn wrote(&mut self, call: &'static str, asked: usize, got: usize) {
        self.write_calls += 1;
        self.write_bytes += got as u64;
        self.tally(call, asked as u64, got as u64);
    }

    fn opened(&mut self, call: &'static str) {
        self.open_calls += 1;
        self.tally(call, 0, 0);
    }

    /// One stat-family call (the design counts with this too).
    pub(crate) fn statted(&mut self, call: &'static str) {
        self.stat_calls += 1;
        self.tally(call, 0, 0);
    }

    /// One sleep call (the design counts with this too).
    pub(crate) fn slept(&mut self, call: &'static str) {
        self.sleep_calls += 1;
        self.tally(call, 0, 0);
    }

    /// One sync-family call (the design counts with this too).
    pub(crate) fn synced(&mut self, call: &'static str) {
        self.sync_calls += 1;
        self.tally(call, 0, 0);
    }

    /// One setuid-family call (the design counts with this too).
    pub(crate) fn setuid(&mut self, call: &'static str) {
        self.setuid_calls += 1;
        self.tally(call, 0, 0);
    }

    /// One signal-sending call by its [`kill_call`] name (the design
    /// counts with this too): every kill() variant counts as a kill() call,
    /// tkill() and tgkill() only by name.
    pub(crate) fn signalled(&mut self, call: &'static str) {
        match call {
            "kill" | "kill(0)" | "kill(missing)" => {
                self.kill_calls += 1;
                self.kill_group += u64::from(call == "kill(0)");
                self.tally("kill", 0, 0);
            }
            other => self.tally(other, 0, 0),
        }
    }

    /// Add another task's read and write calls to these.
    fn merge(&mut self, o: Counts) {
        self.read_calls += o.read_calls;
        self.read_bytes += o.read_bytes;
        self.read_calls_clocked.extend(o.read_calls_clocked);
        self.write_calls += o.write_calls;
        self.write_bytes += o.write_bytes;
        for (name, t) in o.by_call {
            let mine = self.by_call.entry(name).or_default();
            mine.calls += t.calls;
            mine.bytes += t.bytes;
            mine.requested += t.requested;
        }
    }

    /// The per-call and process tallies in the model's terms.
    pub fn tallies(&self) -> Tallies {
        let named = |calls: &BTreeMap<&'static str, CallTally>| {
            calls.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        Tallies {
            syscalls: named(&self.by_call),
            forks: self.forks,
            exec_attempts: self.exec_attempts,
            execveat: self.execveat,
            kill_group: self.kill_group,
            tcp_v6: self.tcp_v6,
            tcp_refused: self.tcp_refused,
            tcp_v6_listens: self.tcp_v6_listens,
            pagecache_write_inserts: 0,
            fault_read_bytes: 0,
            main_thread: named(&self.main_thread),
            thread_ids: self.thread_ids.clone(),
            requests: None,
            cpu_ns: self.cpu_ns.clone(),
            read_calls_clocked: self.read_calls_clocked.clone(),
        }
    }
}

/// CLOCK_MONOTONIC in ns: the clock the witness's bpf_ktime_get_ns reads,
/// so a call's readings here and the witness's stamps lie on one axis
/// (std's Instant hides its value).
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn open(path: &Path, flags: OFlags, counts: Option<&mut Counts>) -> Result<OwnedFd, WorkloadError> {
    // openat(AT_FDCWD) explicitly: rustix's open() issues the legacy open(2)
    // on x86_64, which tools tracing only sys_enter_openat would not see,
    // and the truth promises openat() calls.
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        path,
        flags | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(|e| WorkloadError::io("openat", path, e))?;
    if let Some(c) = counts {
        c.opened("openat");
    }
    Ok(fd)
}

/// Create the input file(s) of `w` in `dir`, durable and cold.
pub fn prepare(w: &Workload, dir: &Path) -> Result<(), WorkloadError> {
    let Some(path) = w.input_path(dir) else {
        return Ok(()); // execs needs nothing on the scratch filesystem
    };
    let size = w.size().unwrap_or(0);
    let fd = open(&path, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC, None)?;
    // Write every block so the file has no holes and no unwritten extents:
    // the run then never allocates or converts extents.
    let chunk = vec![0u8; (1 << 20).min(size.max(1)) as usize];
    let mut off = 0u64;
    let mut buf = chunk;
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            // Non-zero, page-varying content; nothing depends on it.
            *b = (((off + i as u64) / PAGE) as u8) ^ 0x5a;
        }
        let wrote =
            rustix::io::write(&fd, &buf[..n]).map_err(|e| WorkloadError::io("write", &path, e))?;
        if wrote == 0 {
            return Err(WorkloadError::io(
                "write",
                &path,
                std::io::Error::other("wrote 0 bytes"),
            ));
        }
        off += wrote as u64;
    }
    rustix::fs::fsync(&fd).map_err(|e| WorkloadError::io("fsync", &path, e))?;
    // syncfs also writes back the metadata that the fsync journaled (its
    // checkpoint to the home location), so none of prepare's writes lands
    // in the measured window 30 s later.
    rustix::fs::syncfs(&fd).map_err(|e| WorkloadError::io("syncfs", &path, e))?;
    drop(fd);
    let fd = open(&path, OFlags::RDONLY, None)?;
    cache::evict(fd.as_fd(), size, &path)
}

/// Make an input that `prepare` wrote, and earlier runs used, cold again:
/// drop it from the page cache and verify that none of it stays. On a
/// settled disk its pages are clean, so this does no I/O at all (dirty
/// pages would be written back first, by `evict`'s syncfs). The file keeps
/// its blocks, so a run over it does the same I/O as over a fresh one; only
/// the data in it differs, which no truth depends on.
pub fn make_cold(w: &Workload, dir: &Path) -> Result<(), WorkloadError> {
    let Some(path) = w.input_path(dir) else {
        return Ok(());
    };
    let fd = open(&path, OFlags::RDONLY, None)?;
    cache::evict(fd.as_fd(), w.size().unwrap_or(0), &path)
}

/// Open the prepared input file, check its size and, for reads, that it is
/// still cold. Called before the comm is taken, then closed.
pub fn check_input(w: &Workload, dir: &Path, need_cold: bool) -> Result<(), WorkloadError> {
    let Some(path) = w.input_path(dir) else {
        return Ok(());
    };
    let size = w.size().unwrap_or(0);
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        &path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => WorkloadError::NotPrepared {
            path: path.clone(),
            reason: "missing".into(),
        },
        e => WorkloadError::io("open", &path, e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| WorkloadError::io("fstat", &path, e))?;
    if st.st_size as u64 != size {
        return Err(WorkloadError::NotPrepared {
            path,
            reason: format!("size is {} bytes, expected {size}", st.st_size),
        });
    }
    if need_cold {
        let cached = cache::resident_pages(fd.as_fd(), size, &path)?;
        if cached != 0 {
            return Err(WorkloadError::NotCold {
                path,
                cached,
                pages: size.div_ceil(PAGE),
                hint: "; something read it after prepare, run prepare again",
            });
        }
    }
    Ok(())
}

/// An anonymous, page-aligned buffer for O_DIRECT.
struct Anon {
    ptr: *mut std::ffi::c_void,
    len: usize,
}

impl Anon {
    fn new(len: usize) -> Result<Anon, WorkloadError> {
        // SAFETY: a fresh private anonymous mapping owned by this value.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(|e| WorkloadError::io("mmap", "anonymous buffer", e))?;
        let mut a = Anon { ptr, len };
        // Fault every page in now so that the measured calls do not.
        a.as_mut().fill(0xa5);
        Ok(a)
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr/len is a live read-write mapping that only self refers to.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in new(); no slice outlives self.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}

fn usize_of(param: &'static str, v: u64) -> Result<usize, WorkloadError> {
    usize::try_from(v)
        .map_err(|_| WorkloadError::param(param, format!("{v} does not fit in memory")))
}

fn eof(path: &Path, off: u64) -> WorkloadError {
    WorkloadError::NotPrepared {
        path: path.to_path_buf(),
        reason: format!("unexpected end of file at {off}"),
    }
}

/// One O_DIRECT pread64() (or pwrite64()) of all of `buf` at `at`,
/// counted; a call that moves nothing before the end is an error.
fn positional(
    fd: &OwnedFd,
    buf: &mut [u8],
    at: u64,
    read: bool,
    path: &Path,
    c: &mut Counts,
) -> Result<usize, WorkloadError> {
    let want = buf.len();
    let n = if read {
        let started = monotonic_ns();
        let n = rustix::io::pread(fd, buf, at)
            .map_err(|e| WorkloadError::io("pread(O_DIRECT)", path, e))?;
        c.read("pread64", started, want, n);
        n
    } else {
        let n = rustix::io::pwrite(fd, buf, at)
            .map_err(|e| WorkloadError::io("pwrite(O_DIRECT)", path, e))?;
        c.wrote("pwrite64", want, n);
        n
    };
    if n == 0 {
        return Err(eof(path, at));
    }
    Ok(n)
}

/// Positional reads or writes of `request` bytes over `size` bytes, with
/// O_DIRECT. Short transfers are continued and counted as further calls.
pub fn direct(path: &Path, size: u64, request: u64, write: bool) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let mut buf = Anon::new(usize_of("request", request)?)?;
    let flags = if write {
        OFlags::WRONLY
    } else {
        OFlags::RDONLY
    } | OFlags::DIRECT;
    let fd = open(path, flags, Some(&mut c))?;
    let mut off = 0u64;
    while off < size {
        let want = (size - off).min(request) as usize;
        off += positional(&fd, &mut buf.as_mut()[..want], off, !write, path, &mut c)? as u64;
    }
    Ok(c)
}

/// The read-family call each pass of `cached-reread` uses, in turn: a
/// script that traces one of them sees only its passes.
pub const REREAD_CALLS: [&str; 4] = ["read", "readv", "pread64", "preadv2"];

/// The write-family call each call of `buffered-write` uses, in turn.
pub use tracecheck_model::neighbour::WRITE_CALLS;

/// `passes` sequential passes over the file, pass `p` with
/// `REREAD_CALLS[p % 4]`, each asking for `request` bytes until a call
/// returns 0 at end of file, as real programs read: the last data call may
/// be short and the final call returns nothing.
pub fn cached_reread(
    path: &Path,
    size: u64,
    passes: u64,
    request: u64,
) -> Result<Counts, WorkloadError> {
    use rustix::io::{IoSliceMut, ReadWriteFlags};
    let mut c = Counts::default();
    let mut buf = vec![0u8; usize_of("request", request)?];
    let want = buf.len();
    let fd = open(path, OFlags::RDONLY, Some(&mut c))?;
    for pass in 0..passes {
        let call = REREAD_CALLS[(pass % 4) as usize];
        if pass > 0 && matches!(call, "read" | "readv") {
            rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(0))
                .map_err(|e| WorkloadError::io("lseek", path, e))?;
        }
        let mut done = 0u64;
        loop {
            let started = monotonic_ns();
            let r = match call {
                "read" => rustix::io::read(&fd, &mut buf[..]),
                "readv" => rustix::io::readv(&fd, &mut [IoSliceMut::new(&mut buf[..])]),
                "pread64" => rustix::io::pread(&fd, &mut buf[..], done),
                _ => rustix::io::preadv2(
                    &fd,
                    &mut [IoSliceMut::new(&mut buf[..])],
                    done,
                    ReadWriteFlags::empty(),
                ),
            };
            let n = r.map_err(|e| WorkloadError::io(call, path, e))?;
            c.read(call, started, want, n);
            if n == 0 {
                break;
            }
            done += n as u64;
        }
        if done != size {
            return Err(eof(path, done));
        }
    }
    Ok(c)
}

/// `passes` buffered overwrites of the whole file in place, call `i` with
/// `WRITE_CALLS[i % 4]`, then fsync() if asked.
pub fn buffered_write(
    path: &Path,
    size: u64,
    request: u64,
    fsync: bool,
    passes: u64,
) -> Result<Counts, WorkloadError> {
    use rustix::io::{IoSlice, ReadWriteFlags};
    let mut c = Counts::default();
    let buf = vec![0x3cu8; usize_of("request", request)?];
    let fd = open(path, OFlags::WRONLY, Some(&mut c))?;
    // Where the file offset is: write() and writev() move it, the
    // positional calls do not.
    let mut pos = 0u64;
    let mut i = 0usize;
    for _ in 0..passes {
        let mut done = 0u64;
        while done < size {
            let want = (size - done).min(request) as usize;
            let b = &buf[..want];
            let call = WRITE_CALLS[i % WRITE_CALLS.len()];
            i += 1;
            if matches!(call, "write" | "writev") && pos != done {
                rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(done))
                    .map_err(|e| WorkloadError::io("lseek", path, e))?;
                pos = done;
            }
            let r = match call {
                "write" => rustix::io::write(&fd, b),
                "writev" => rustix::io::writev(&fd, &[IoSlice::new(b)]),
                "pwrite64" => rustix::io::pwrite(&fd, b, done),
                _ => rustix::io::pwritev2(&fd, &[IoSlice::new(b)], done, ReadWriteFlags::empty()),
            };
            let n = r.map_err(|e| WorkloadError::io(call, path, e))?;
            c.wrote(call, want, n);
            if n == 0 {
                return Err(WorkloadError::io(
                    call,
                    path,
                    std::io::Error::other("wrote 0 bytes"),
                ));
            }
            if matches!(call, "write" | "writev") {
                pos += n as u64;
            }
            done += n as u64;
        }
    }
    if fsync {
        rustix::fs::fsync(&fd).map_err(|e| WorkloadError::io("fsync", path, e))?;
        c.synced("fsync");
    }
    Ok(c)
}

/// Which of `threads` tasks (0 = the main thread) makes read call `k`
/// (or write call `k`) of `direct-mixed`. Reads go round from the main
/// thread, writes from the last thread, so that no task does only reads or
/// only writes by accident of the interleaving, and the main thread's
/// share of each direction is about 1/`threads`.
pub fn mixed_task(read: bool, k: u64, threads: u64) -> u64 {
    if read {
        k % threads
    } else {
        (k + 1) % threads
    }
}

/// One O_DIRECT call of `direct-mixed`: read or write `len` bytes at `off`.
#[derive(Debug, Clone, Copy)]
struct MixedCall {
    read: bool,
    off: u64,
    len: u64,
}

/// O_DIRECT reads of the first `read` bytes and O_DIRECT writes over the
/// `write` bytes after them, interleaved in proportion, `request` bytes a
/// call: both directions in flight from one process. With `threads` > 1
/// the calls are shared out by [`mixed_task`] and the threads run at once;
/// the main thread's own calls are kept apart in the counts.
pub fn direct_mixed(
    path: &Path,
    read: u64,
    write: u64,
    request: u64,
    threads: u64,
) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let fd = open(path, OFlags::RDWR | OFlags::DIRECT, Some(&mut c))?;
    // The interleaved order: whichever side is further behind its share
    // goes next.
    let mut plan: Vec<Vec<MixedCall>> = vec![Vec::new(); threads as usize];
    let (mut r, mut w) = (0u64, 0u64);
    while r < read || w < write {
        let do_read = w >= write || (r < read && r * write <= w * read);
        let (k, off) = if do_read {
            (r / request, r)
        } else {
            (w / request, read + w)
        };
        plan[mixed_task(do_read, k, threads) as usize].push(MixedCall {
            read: do_read,
            off,
            len: request,
        });
        if do_read {
            r += request;
        } else {
            w += request;
        }
    }
    let run = |calls: &[MixedCall]| -> Result<Counts, WorkloadError> {
        let mut c = Counts::default();
        let mut buf = Anon::new(usize_of("request", request)?)?;
        for call in calls {
            // Short transfers are continued and counted as further calls.
            let mut done = 0u64;
            while done < call.len {
                let want = (call.len - done) as usize;
                let b = &mut buf.as_mut()[..want];
                done += positional(&fd, b, call.off + done, call.read, path, &mut c)? as u64;
            }
        }
        Ok(c)
    };
    let (main_plan, rest) = plan.split_first().expect("threads ≥ 1");
    let (main, others) = std::thread::scope(|s| {
        // Threads started here inherit the comm the main thread took.
        let handles: Vec<_> = rest
            .iter()
            .map(|calls| {
                s.spawn(|| {
                    let tid = rustix::thread::gettid().as_raw_pid().unsigned_abs();
                    run(calls).map(|c| (tid, c))
                })
            })
            .collect();
        let main = run(main_plan);
        let others: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("a direct-mixed thread panicked"))
            .collect();
        (main, others)
    });
    let main = main?;
    if threads > 1 {
        c.main_thread = main.by_call.clone();
    }
    c.merge(main);
    for o in others {
        let (tid, counts) = o?;
        c.thread_ids.push(tid);
        c.merge(counts);
    }
    c.threads_created = threads - 1;
    Ok(c)
}

/// Map the file and read one byte of every page.
pub fn mmap_read(path: &Path, size: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let len = usize_of("size", size)?;
    let fd = open(path, OFlags::RDONLY, Some(&mut c))?;
    // SAFETY: a read-only shared mapping of a file only this workload uses;
    // it is unmapped before return and no reference escapes.
    let addr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ,
            MapFlags::SHARED,
            &fd,
            0,
        )
    }
    .map_err(|e| WorkloadError::io("mmap", path, e))?;
    let mut sum = 0u64;
    for off in (0..len).step_by(PAGE as usize) {
        // SAFETY: off < len, inside the mapping; volatile so every page is
        // really touched (faulted) even though only the sum is used.
        sum += u64::from(unsafe { std::ptr::read_volatile(addr.cast::<u8>().add(off)) });
    }
    // SAFETY: the mapping made above; no reference into it remains.
    let _ = unsafe { rustix::mm::munmap(addr, len) };
    c.checksum = std::hint::black_box(sum);
    Ok(c)
}

/// Which open-family call the `i`th open of `opens` uses: three in five
/// openat(), one open(), one openat2().
pub fn open_call(i: u64) -> &'static str {
    match i % 5 {
        3 => "open",
        4 => "openat2",
        _ => "openat",
    }
}

/// `count` opens + close() of the prepared file, by [`open_call`].
pub fn opens(path: &Path, count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    for i in 0..count {
        let call = open_call(i);
        let fd = match call {
            "open" => rustix::fs::open(path, flags, Mode::empty()),
            "openat2" => rustix::fs::openat2(
                rustix::fs::CWD,
                path,
                flags,
                Mode::empty(),
                rustix::fs::ResolveFlags::empty(),
            ),
            _ => rustix::fs::openat(rustix::fs::CWD, path, flags, Mode::empty()),
        }
        .map_err(|e| WorkloadError::io(call, path, e))?;
        c.opened(call);
        drop(fd);
    }
    Ok(c)
}

/// `count` openat() + close() of the prepared file, the `i`th not before
/// `i / rate` s after the first (0: as fast as the machine goes). Ahead of
/// time it sleeps, or spins for waits under 100 µs, which a sleep would
/// overshoot. The rate it reached is `count` over the run's elapsed time,
/// which the ground truth reports; a machine too slow for `rate` falls
/// behind and says so there.
pub fn paced_opens(path: &Path, count: u64, rate: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    let start = std::time::Instant::now();
    for i in 0..count {
        if let Some(at) = (i * 1_000_000_000).checked_div(rate) {
            let due = start + std::time::Duration::from_nanos(at);
            loop {
                let now = std::time::Instant::now();
                if now >= due {
                    break;
                }
                let wait = due - now;
                if wait > std::time::Duration::from_micros(100) {
                    std::thread::sleep(wait);
                } else {
                    std::hint::spin_loop();
                }
            }
        }
        let fd = rustix::fs::openat(rustix::fs::CWD, path, flags, Mode::empty())
            .map_err(|e| WorkloadError::io("openat", path, e))?;
        c.opened("openat");
        drop(fd);
    }
    Ok(c)
}

/// How many of every 100 calls of `stats` each stat-family call makes, by
/// the name its syscalls tracepoint has on x86_64: `newfstatat` (what
/// glibc's stat() and lstat() call since 2.33), `statx`, `newfstat`
/// (fstat(2) of a descriptor), `newstat` (stat(2)), `newlstat` (lstat(2)).
/// Each is at least 5% and every subset of them adds up to its own number,
/// at least 2% from any other subset's, so a script that traces some of
/// the family is told, by its count alone, which ones.
pub const STAT_MIX: &[(&str, u64)] = &[
    ("newfstatat", 39),
    ("statx", 29),
    ("newfstat", 20),
    ("newstat", 7),
    ("newlstat", 5),
];

/// Which stat-family call the `i`th stat of `stats` makes, by
/// [`STAT_MIX`].
pub fn stat_call(i: u64) -> &'static str {
    from_mix(STAT_MIX, i)
}

/// A raw system call's result: 0, or the error errno holds, named after
/// the call.
fn returned_zero(rc: libc::c_long, call: &'static str, path: &Path) -> Result<(), WorkloadError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(WorkloadError::io(
            call,
            path,
            std::io::Error::last_os_error(),
        ))
    }
}

/// The `i`th call of a cycle through `mix`, each name taking its share of
/// every `sum of shares` calls in a row.
fn from_mix(mix: &[(&'static str, u64)], i: u64) -> &'static str {
    let mut k = i % mix.iter().map(|(_, n)| n).sum::<u64>();
    for (name, n) in mix {
        if k < *n {
            return name;
        }
        k -= n;
    }
    unreachable!("k is below the sum of the shares")
}

/// `count` stat-family calls on the prepared file, by [`stat_call`], each
/// made as that very system call (libc's wrappers would pick their own),
/// after one openat() for the descriptor newfstat needs.
pub fn stats(path: &Path, count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let fd = open(path, OFlags::RDONLY, Some(&mut c))?;
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| WorkloadError::param("dir", "contains a NUL byte"))?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    for i in 0..count {
        let call = stat_call(i);
        // SAFETY: zeroed stat/statx buffers are valid to fill; the path is
        // a NUL-terminated C string and the fd is open for the whole loop.
        let rc = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let mut stx: libc::statx = std::mem::zeroed();
            match call {
                "newstat" => libc::syscall(libc::SYS_stat, cpath.as_ptr(), &mut st),
                "newlstat" => libc::syscall(libc::SYS_lstat, cpath.as_ptr(), &mut st),
                "newfstat" => libc::syscall(libc::SYS_fstat, raw, &mut st),
                "statx" => libc::syscall(
                    libc::SYS_statx,
                    libc::AT_FDCWD,
                    cpath.as_ptr(),
                    0,
                    libc::STATX_BASIC_STATS,
                    &mut stx,
                ),
                _ => libc::syscall(
                    libc::SYS_newfstatat,
                    libc::AT_FDCWD,
                    cpath.as_ptr(),
                    &mut st,
                    0,
                ),
            }
        };
        returned_zero(rc, call, path)?;
        c.statted(call);
    }
    drop(fd);
    Ok(c)
}

/// Wait for the child `pid` (forked for `path`) to end, through EINTR.
fn reap(pid: libc::pid_t, path: &Path) -> Result<rustix::process::WaitStatus, WorkloadError> {
    let p = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| WorkloadError::io("fork for", path, std::io::Error::other("pid 0")))?;
    loop {
        match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, s))) => return Ok(s),
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(WorkloadError::io("waitpid for", path, e)),
        }
    }
}

/// `count / 5` fork()s whose children exit at once without exec (while the
/// process has one thread), then `count` threads made with pthread_create()
/// (std::thread), each joined before the next: a script that counts every
/// new task reports 1.2× the threads.
pub fn threads(count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let none = Path::new("");
    for _ in 0..count / 5 {
        // SAFETY: the process has a single thread here, and the child only
        // calls the async-signal-safe _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(WorkloadError::io(
                "fork",
                none,
                std::io::Error::last_os_error(),
            ));
        }
        if pid == 0 {
            // SAFETY: leaving the child at once, as fork(2) allows.
            unsafe { libc::_exit(0) };
        }
        c.forks += 1;
        c.child_pids.push(pid as u32);
        reap(pid, none)?;
    }
    for _ in 0..count {
        std::thread::Builder::new()
            .spawn(|| ())
            .map_err(|e| WorkloadError::io("pthread_create", none, e))?
            .join()
            .map_err(|_| {
                WorkloadError::io(
                    "pthread_join",
                    none,
                    std::io::Error::other("the thread panicked"),
                )
            })?;
        c.threads_created += 1;
    }
    Ok(c)
}

/// CPU time so far on a CPU-time clock, to the nanosecond (the scheduler's
/// sum_exec_runtime): `ThreadCPUTime` for the calling thread,
/// `ProcessCPUTime` for every thread of the process, live or exited.
fn cpu_ns(clock: rustix::time::ClockId) -> u64 {
    let t = rustix::time::clock_gettime(clock);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// One thread per CPU this process may run on (its affinity mask), each
/// pinned to its CPU with sched_setaffinity() and spinning until `ms`
/// milliseconds after the start, reading its own CPU clock before and
/// after the spin. A profiler sampling every CPU at `hz` sees each thread
/// about `ns × hz / 1e9` times; one that samples one CPU sees one thread.
pub fn spin(ms: u64) -> Result<Counts, WorkloadError> {
    let none = Path::new("");
    let allowed = rustix::thread::sched_getaffinity(None)
        .map_err(|e| WorkloadError::io("sched_getaffinity", none, e))?;
    let cpus: Vec<usize> = (0..rustix::thread::CpuSet::MAX_CPU)
        .filter(|&i| allowed.is_set(i))
        .collect();
    let mut c = Counts::default();
    let before = cpu_ns(rustix::time::ClockId::ProcessCPUTime);
    let start = std::time::Instant::now();
    let until = start + std::time::Duration::from_millis(ms);
    let spun: Vec<Result<(u32, u32, u64), WorkloadError>> = std::thread::scope(|s| {
        let handles: Vec<_> = cpus
            .iter()
            .map(|&cpu| {
                s.spawn(move || {
                    let mut one = rustix::thread::CpuSet::new();
                    one.set(cpu);
                    rustix::thread::sched_setaffinity(None, &one)
                        .map_err(|e| WorkloadError::io("sched_setaffinity", none, e))?;
                    let t0 = cpu_ns(rustix::time::ClockId::ThreadCPUTime);
                    let mut spins = 0u64;
                    while std::time::Instant::now() < until {
                        spins = std::hint::black_box(spins.wrapping_add(1));
                    }
                    let ns = cpu_ns(rustix::time::ClockId::ThreadCPUTime) - t0;
                    let tid = rustix::thread::gettid().as_raw_pid().unsigned_abs();
                    Ok((cpu as u32, tid, ns))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(WorkloadError::io(
                        "spin",
                        none,
                        std::io::Error::other("a spinning thread panicked"),
                    ))
                })
            })
            .collect()
    });
    c.spin_wall_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    for r in spun {
        let (cpu, tid, ns) = r?;
        c.cpu_ns.insert(cpu, ns);
        c.thread_ids.push(tid);
        c.threads_created += 1;
    }
    c.process_cpu_ns = cpu_ns(rustix::time::ClockId::ProcessCPUTime) - before;
    Ok(c)
}

/// The sync family in `syncs`, of every 63 calls: each call's share is a
/// power of two, so every subset of the family adds up to a number of its
/// own and a script that traces part of it is named exactly (with 126
/// calls: 64 fsync(), 32 fdatasync(), 16 sync_file_range(), 8 msync(), 4
/// syncfs(), 2 sync()).
pub const SYNC_MIX: &[(&str, u64)] = &[
    ("fsync", 32),
    ("fdatasync", 16),
    ("sync_file_range", 8),
    ("msync", 4),
    ("syncfs", 2),
    ("sync", 1),
];

/// Which sync-family call the `i`th of `syncs` makes, by [`SYNC_MIX`].
pub fn sync_call(i: u64) -> &'static str {
    from_mix(SYNC_MIX, i)
}

/// `count` sync-family calls on the prepared one-page file, by
/// [`sync_call`], each made as that very system call, after one openat()
/// and one mmap() of the page (msync's range). The file is clean (the
/// prepare phase wrote it back and synced its filesystem) and nothing here
/// dirties it, so the calls find nothing to write.
pub fn syncs(path: &Path, count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let fd = open(path, OFlags::RDWR, Some(&mut c))?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    // SAFETY: a shared read-only mapping of one page of a file we hold
    // open; it is unmapped below and never read.
    let map = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            PAGE as usize,
            ProtFlags::READ,
            MapFlags::SHARED,
            &fd,
            0,
        )
    }
    .map_err(|e| WorkloadError::io("mmap", path, e))?;
    for i in 0..count {
        let call = sync_call(i);
        // SAFETY: each call takes the descriptor or the mapping held above
        // (or nothing), and no buffer.
        let rc = unsafe {
            match call {
                "fsync" => libc::syscall(libc::SYS_fsync, raw),
                "fdatasync" => libc::syscall(libc::SYS_fdatasync, raw),
                "sync_file_range" => libc::syscall(
                    libc::SYS_sync_file_range,
                    raw,
                    0i64,
                    0i64,
                    libc::SYNC_FILE_RANGE_WRITE,
                ),
                "msync" => libc::syscall(libc::SYS_msync, map, PAGE as usize, libc::MS_SYNC),
                "syncfs" => libc::syscall(libc::SYS_syncfs, raw),
                _ => libc::syscall(libc::SYS_sync),
            }
        };
        returned_zero(rc, call, path)?;
        c.synced(call);
    }
    // SAFETY: the mapping made above, of that length, unused since.
    let _ = unsafe { rustix::mm::munmap(map, PAGE as usize) };
    Ok(c)
}

/// The setuid family in `setuids`, of every 15 calls, by powers of two as
/// [`SYNC_MIX`] (with 60 calls: 32 setuid(), 16 setreuid(), 8
/// setresuid(), 4 setfsuid()).
pub const SETUID_MIX: &[(&str, u64)] = &[
    ("setuid", 8),
    ("setreuid", 4),
    ("setresuid", 2),
    ("setfsuid", 1),
];

/// Which setuid-family call the `i`th of `setuids` makes, by [`SETUID_MIX`].
pub fn setuid_call(i: u64) -> &'static str {
    from_mix(SETUID_MIX, i)
}

/// `count` setuid-family calls by [`setuid_call`], each made as that very
/// system call and each leaving the ids as they are: setuid() to the
/// current user id, setreuid() and setresuid() with -1 (unchanged) for
/// every id, setfsuid() to the current one (it returns the previous
/// fsuid, never an error).
pub fn setuids(count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let uid = rustix::process::getuid().as_raw();
    let keep = u32::MAX; // -1: "leave this id unchanged"
    for i in 0..count {
        let call = setuid_call(i);
        // SAFETY: plain integer arguments; no memory is passed.
        let rc = unsafe {
            match call {
                "setuid" => libc::syscall(libc::SYS_setuid, uid),
                "setreuid" => libc::syscall(libc::SYS_setreuid, keep, keep),
                "setresuid" => libc::syscall(libc::SYS_setresuid, keep, keep, keep),
                _ => {
                    libc::syscall(libc::SYS_setfsuid, uid);
                    0
                }
            }
        };
        returned_zero(rc, call, Path::new("-"))?;
        c.setuid(call);
    }
    Ok(c)
}

/// Which sleep call the `i`th of `sleeps` makes: of every 10, 4
/// nanosleep() (the old call, which bpftrace's naptime.bt traces) and 6
/// clock_nanosleep() (what glibc's sleep(), usleep() and nanosleep() call
/// since 2.31). A script that traces one of them reports 40% or 60%.
pub fn sleep_call(i: u64) -> &'static str {
    if i % 10 < 4 {
        "nanosleep"
    } else {
        "clock_nanosleep"
    }
}

/// How long each sleep of `sleeps` asks for: short enough that 200 of them
/// take under a second with the timer slack, long enough to be a sleep.
pub const SLEEP_NS: i64 = 100_000;

/// `count` sleeps of [`SLEEP_NS`] by [`sleep_call`], each made as that
/// very system call (CLOCK_MONOTONIC, relative, for clock_nanosleep).
pub fn sleeps(count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: SLEEP_NS,
    };
    for i in 0..count {
        let call = sleep_call(i);
        // SAFETY: both calls read a valid timespec and may write a
        // remainder to a null pointer (not asked for).
        let rc = unsafe {
            match call {
                "nanosleep" => libc::syscall(
                    libc::SYS_nanosleep,
                    &ts,
                    std::ptr::null_mut::<libc::timespec>(),
                ),
                _ => libc::syscall(
                    libc::SYS_clock_nanosleep,
                    libc::CLOCK_MONOTONIC,
                    0,
                    &ts,
                    std::ptr::null_mut::<libc::timespec>(),
                ),
            }
        };
        returned_zero(rc, call, Path::new("-"))?;
        c.slept(call);
    }
    Ok(c)
}

/// Which signal-sending call the `i`th call of `kills` makes, in cycles of
/// 17: 5 tgkill() and 2 tkill() to its own thread, then 10 kill() calls (5
/// to itself, 3 to its process group with pid 0, 2 to a pid no process can
/// have, which fail with ESRCH), so that a count of kill() calls that is a
/// multiple of 10 ends a cycle. For a count of 500 kill() calls: 150 to the
/// group, 250 tgkill(), 100 tkill(). A script that counts all three calls
/// reports 850, one that misses pid 0 reports 350, one that counts entry
/// and exit 1,000: each at least 30% from 500, and from each other.
pub fn kill_call(i: u64) -> &'static str {
    match i % 17 {
        0..=4 => "tgkill",
        5..=6 => "tkill",
        7..=11 => "kill",
        12..=14 => "kill(0)",
        _ => "kill(missing)",
    }
}

/// A pid above the kernel's PID_MAX_LIMIT (4,194,304): no process has it,
/// so kill() fails with ESRCH, and sends nothing.
const NO_SUCH_PID: libc::pid_t = 1 << 23;

/// `count` kill() calls, all with signal 0 (which checks and delivers
/// nothing), by [`kill_call`] in turn, with the tgkill() and tkill() calls
/// that come between them. Each is made as that very system call.
pub fn kills(count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    let tid = rustix::thread::gettid().as_raw_nonzero().get();
    let mut i = 0;
    while c.kill_calls < count {
        let call = kill_call(i);
        i += 1;
        // SAFETY: signal 0 sends nothing; the calls only check that the
        // target exists and may be signalled.
        let rc = unsafe {
            match call {
                "kill" => libc::syscall(libc::SYS_kill, pid, 0),
                "kill(0)" => libc::syscall(libc::SYS_kill, 0, 0),
                "kill(missing)" => libc::syscall(libc::SYS_kill, NO_SUCH_PID, 0),
                "tgkill" => libc::syscall(libc::SYS_tgkill, pid, tid, 0),
                _ => libc::syscall(libc::SYS_tkill, tid, 0),
            }
        };
        let err = std::io::Error::last_os_error();
        match (call, rc) {
            ("kill(missing)", -1) if err.raw_os_error() == Some(libc::ESRCH) => {}
            (_, 0) if call != "kill(missing)" => {}
            _ => {
                let why = if rc == 0 {
                    std::io::Error::other(format!("kill({NO_SUCH_PID}, 0) succeeded"))
                } else {
                    err
                };
                return Err(WorkloadError::io(call, Path::new("-"), why));
            }
        }
        c.signalled(call);
    }
    Ok(c)
}

/// Where `execs` puts its comm-named symlink: off the scratch filesystem
/// (tmpfs when there is one) so that creating it writes nothing there.
pub struct ExecLink {
    dir: PathBuf,
    pub link: PathBuf,
}

impl ExecLink {
    pub fn create(comm: &str) -> Result<ExecLink, WorkloadError> {
        let target = ["/bin/true", "/usr/bin/true"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or_else(|| {
                WorkloadError::Unsupported("no /bin/true or /usr/bin/true to exec".into())
            })?;
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "tracecheck-execs-{}",
            rustix::process::getpid().as_raw_pid()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| WorkloadError::io("mkdir", &dir, e))?;
        let link = dir.join(comm);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link)
            .map_err(|e| WorkloadError::io("symlink", &link, e))?;
        Ok(ExecLink { dir, link })
    }
}

impl Drop for ExecLink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// What one child of `execs` does after fork().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// execve() of the symlink.
    Execve,
    /// execveat(AT_FDCWD, symlink): the same exec by the other call.
    Execveat,
    /// execve() of a path that does not exist: an attempt that fails.
    FailedExec,
    /// _exit(0) without exec.
    NoExec,
}

/// The children of `execs --count N`, in order: N execs (every fifth
/// through execveat), and after every fifth one two failed exec attempts
/// and a fork that execs nothing, so that exec attempts, execve() entries
/// (failed ones included), forks and execve() alone each differ from the
/// execs made.
pub fn exec_children(count: u64) -> Vec<Child> {
    let mut out = Vec::new();
    for i in 0..count {
        if i % 5 == 4 {
            out.extend([
                Child::Execveat,
                Child::FailedExec,
                Child::FailedExec,
                Child::NoExec,
            ]);
        } else {
            out.push(Child::Execve);
        }
    }
    out
}

/// The children of [`exec_children`], one at a time, each reaped and its
/// exit status checked: 0 for execs and the fork, 127 for the failed exec.
pub fn execs(link: &Path, count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let cpath = CString::new(link.as_os_str().as_bytes())
        .map_err(|_| WorkloadError::param("comm", "contains a NUL byte"))?;
    let mut missing = link.as_os_str().as_bytes().to_vec();
    missing.extend_from_slice(b".missing");
    let missing =
        CString::new(missing).map_err(|_| WorkloadError::param("comm", "contains a NUL byte"))?;
    // Built before fork: the child only calls execve/execveat and _exit.
    let argv = [cpath.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    for child in exec_children(count) {
        // SAFETY: the child calls only async-signal-safe execve, execveat
        // (a raw syscall) and _exit on data prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(WorkloadError::io(
                "fork for",
                link,
                std::io::Error::last_os_error(),
            ));
        }
        if pid == 0 {
            // SAFETY: argv and envp are NULL-terminated arrays of valid C strings.
            unsafe {
                match child {
                    Child::Execve => {
                        libc::execve(cpath.as_ptr(), argv.as_ptr(), envp.as_ptr());
                    }
                    Child::Execveat => {
                        libc::syscall(
                            libc::SYS_execveat,
                            libc::AT_FDCWD,
                            cpath.as_ptr(),
                            argv.as_ptr(),
                            envp.as_ptr(),
                            0,
                        );
                    }
                    Child::FailedExec => {
                        libc::execve(missing.as_ptr(), argv.as_ptr(), envp.as_ptr());
                    }
                    Child::NoExec => libc::_exit(0),
                }
                libc::_exit(127);
            }
        }
        c.forks += 1;
        if child != Child::NoExec {
            c.exec_attempts += 1;
        }
        c.child_pids.push(pid as u32);
        let status = reap(pid, link)?;
        let expected = if child == Child::FailedExec { 127 } else { 0 };
        match status.exit_status() {
            Some(s) if s == expected => match child {
                Child::Execve => c.execs += 1,
                Child::Execveat => {
                    c.execs += 1;
                    c.execveat += 1;
                }
                Child::FailedExec | Child::NoExec => {}
            },
            Some(127) => {
                return Err(WorkloadError::Child {
                    pid: pid as u32,
                    path: link.into(),
                    reason: format!("{child:?}: the exec failed (exit 127)"),
                })
            }
            other => {
                return Err(WorkloadError::Child {
                    pid: pid as u32,
                    path: link.into(),
                    reason: format!(
                    "{child:?}: ended with {other:?} (expected exit {expected}), raw status {:#x}",
                    status.as_raw()
                ),
                })
            }
        }
    }
    Ok(c)
}
