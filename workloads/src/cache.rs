//! Page-cache state of one file: drop it with posix_fadvise(DONTNEED) and
//! count what is still resident with mincore(2), so "cold" is checked, not
//! hoped for.

use crate::error::WorkloadError;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::mm::{MapFlags, ProtFlags};
use std::path::Path;

/// Number of pages of the first `len` bytes of `fd` that are in the page
/// cache. Mapping the file and asking mincore() reads nothing from disk.
pub fn resident_pages(fd: BorrowedFd<'_>, len: u64, path: &Path) -> Result<u64, WorkloadError> {
    if len == 0 {
        return Ok(0);
    }
    let ulen = usize::try_from(len).map_err(|_| {
        WorkloadError::param(
            "size",
            format!("{len} does not fit in memory on this machine"),
        )
    })?;
    // SAFETY: a fresh shared read-only mapping of our own fd; nothing else
    // holds a reference to it and it is unmapped below.
    let addr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            ulen,
            ProtFlags::READ,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .map_err(|e| WorkloadError::io("mmap", path, e))?;
    let mut vec = vec![0u8; ulen.div_ceil(4096)];
    // SAFETY: addr/ulen is the mapping made above and vec has one byte per
    // page of it, as mincore(2) requires.
    let rc = unsafe { libc::mincore(addr, ulen, vec.as_mut_ptr()) };
    let err = std::io::Error::last_os_error();
    // SAFETY: unmapping exactly the mapping made above; no references into it remain.
    let _ = unsafe { rustix::mm::munmap(addr, ulen) };
    if rc != 0 {
        return Err(WorkloadError::io("mincore", path, err));
    }
    Ok(vec.iter().filter(|b| **b & 1 == 1).count() as u64)
}

/// Bring every page of the file at `path` into the page cache, reading it
/// through only when mincore() says some page is missing; returns the
/// bytes read (0 when it was all resident).
///
/// The workload generator is this project's own executable: a page of its
/// code that is not resident when the workload touches it is read from
/// the root disk under the workload's own pid, a real disk read the
/// scratch disk's truth does not hold (a correct per-pid script once
/// reported 188,416 B more than diskstats' 16 MiB that way, right after a
/// rebuild). Checking costs one mincore() call.
pub fn make_resident(path: &Path) -> Result<u64, WorkloadError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| WorkloadError::io("open", path, e))?;
    let len = f
        .metadata()
        .map_err(|e| WorkloadError::io("fstat", path, e))?
        .len();
    if resident_pages(f.as_fd(), len, path)? == len.div_ceil(4096) {
        return Ok(0);
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| WorkloadError::io("read", path, e))?;
        if n == 0 {
            return Ok(read);
        }
        read += n as u64;
    }
}

/// Drop the file's clean pages from the page cache and verify that none
/// remain. The caller has written and fsync'd the file: DONTNEED skips
/// dirty and under-writeback pages, which would otherwise stay.
pub fn evict(fd: BorrowedFd<'_>, len: u64, path: &Path) -> Result<(), WorkloadError> {
    let mut cached = 0;
    // A page still under writeback completion can survive one pass; a
    // couple of retries after syncfs settle it, more would hide a problem.
    for _ in 0..3 {
        rustix::fs::fadvise(fd.as_fd(), 0, None, rustix::fs::Advice::DontNeed)
            .map_err(|e| WorkloadError::io("posix_fadvise(DONTNEED)", path, e))?;
        cached = resident_pages(fd, len, path)?;
        if cached == 0 {
            return Ok(());
        }
        rustix::fs::syncfs(fd).map_err(|e| WorkloadError::io("syncfs", path, e))?;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(WorkloadError::NotCold {
        path: path.to_path_buf(),
        cached,
        pages: len.div_ceil(4096),
        hint: " after fsync and posix_fadvise(DONTNEED); is another process mapping it?",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// On a disk-backed filesystem (not tmpfs, whose pages cannot be
    /// dropped): a file evicted from the cache is read through once, then
    /// found resident.
    #[test]
    fn make_resident_reads_only_what_is_missing() {
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let path = dir.path().join("exe");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        f.write_all(&vec![7u8; 3 * 4096 + 100]).unwrap();
        f.sync_all().unwrap();
        let len = f.metadata().unwrap().len();
        evict(f.as_fd(), len, &path).unwrap();
        assert_eq!(make_resident(&path).unwrap(), len);
        assert_eq!(resident_pages(f.as_fd(), len, &path).unwrap(), 4);
        assert_eq!(make_resident(&path).unwrap(), 0);
    }
}
