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
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the measured phase did, counted call by call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub read_calls: u64,
    pub read_bytes: u64,
    pub write_calls: u64,
    pub write_bytes: u64,
    pub open_calls: u64,
    pub execs: u64,
    pub child_pids: Vec<u32>,
    /// Sum of the bytes an mmap-read touched, so the reads cannot be elided.
    pub checksum: u64,
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
        c.open_calls += 1;
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
        let b = &mut buf.as_mut()[..want];
        let n = if write {
            c.write_calls += 1;
            rustix::io::pwrite(&fd, b, off)
                .map_err(|e| WorkloadError::io("pwrite(O_DIRECT)", path, e))?
        } else {
            c.read_calls += 1;
            rustix::io::pread(&fd, b, off)
                .map_err(|e| WorkloadError::io("pread(O_DIRECT)", path, e))?
        };
        if n == 0 {
            return Err(eof(path, off));
        }
        if write {
            c.write_bytes += n as u64;
        } else {
            c.read_bytes += n as u64;
        }
        off += n as u64;
    }
    Ok(c)
}

/// `passes` sequential passes of read() over the file, rewinding with lseek.
pub fn cached_reread(
    path: &Path,
    size: u64,
    passes: u64,
    request: u64,
) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let mut buf = vec![0u8; usize_of("request", request)?];
    let fd = open(path, OFlags::RDONLY, Some(&mut c))?;
    for pass in 0..passes {
        if pass > 0 {
            rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(0))
                .map_err(|e| WorkloadError::io("lseek", path, e))?;
        }
        let mut done = 0u64;
        // Reads stop at the known size: no extra read() to see EOF.
        while done < size {
            let want = (size - done).min(request) as usize;
            c.read_calls += 1;
            let n = rustix::io::read(&fd, &mut buf[..want])
                .map_err(|e| WorkloadError::io("read", path, e))?;
            if n == 0 {
                return Err(eof(path, done));
            }
            c.read_bytes += n as u64;
            done += n as u64;
        }
    }
    Ok(c)
}

/// Buffered write() of the whole file in place, then fsync() if asked.
pub fn buffered_write(
    path: &Path,
    size: u64,
    request: u64,
    fsync: bool,
) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let buf = vec![0x3cu8; usize_of("request", request)?];
    let fd = open(path, OFlags::WRONLY, Some(&mut c))?;
    let mut done = 0u64;
    while done < size {
        let want = (size - done).min(request) as usize;
        c.write_calls += 1;
        let n = rustix::io::write(&fd, &buf[..want])
            .map_err(|e| WorkloadError::io("write", path, e))?;
        if n == 0 {
            return Err(WorkloadError::io(
                "write",
                path,
                std::io::Error::other("wrote 0 bytes"),
            ));
        }
        c.write_bytes += n as u64;
        done += n as u64;
    }
    if fsync {
        rustix::fs::fsync(&fd).map_err(|e| WorkloadError::io("fsync", path, e))?;
    }
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

/// `count` openat()+close() of the prepared file.
pub fn opens(path: &Path, count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    for _ in 0..count {
        drop(open(path, OFlags::RDONLY, Some(&mut c))?);
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

/// `count` fork()+execve() of the symlink, one at a time, each reaped.
pub fn execs(link: &Path, count: u64) -> Result<Counts, WorkloadError> {
    let mut c = Counts::default();
    let cpath = CString::new(link.as_os_str().as_bytes())
        .map_err(|_| WorkloadError::param("comm", "contains a NUL byte"))?;
    // Built before fork: the child only calls execve and _exit.
    let argv = [cpath.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    for _ in 0..count {
        // SAFETY: the child calls only async-signal-safe execve/_exit on
        // data prepared before the fork.
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
                libc::execve(cpath.as_ptr(), argv.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
        }
        c.child_pids.push(pid as u32);
        let p = rustix::process::Pid::from_raw(pid)
            .ok_or_else(|| WorkloadError::io("fork for", link, std::io::Error::other("pid 0")))?;
        let status = loop {
            match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty()) {
                Ok(Some((_, s))) => break s,
                Ok(None) => continue,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(WorkloadError::io("waitpid for", link, e)),
            }
        };
        match status.exit_status() {
            Some(0) => c.execs += 1,
            Some(127) => {
                return Err(WorkloadError::Child {
                    pid: pid as u32,
                    path: link.into(),
                    reason: "execve failed (exit 127)".into(),
                })
            }
            other => {
                return Err(WorkloadError::Child {
                    pid: pid as u32,
                    path: link.into(),
                    reason: format!("ended with {other:?}, raw status {:#x}", status.as_raw()),
                })
            }
        }
    }
    Ok(c)
}
