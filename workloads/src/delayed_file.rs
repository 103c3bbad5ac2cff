//! A file whose every read and write takes a set time: the backing of a
//! scratch disk of known latency on a machine without the null_blk module
//! (this project's host: FUSE is built in, modules are not).
//!
//! A FUSE file system served from a thread of this process holds one
//! file, kept in memory. The loop device over it runs in direct-I/O mode,
//! so each block request becomes one FUSE read or write (128 KiB requests
//! fit in one: FUSE's default 32 pages), which this server answers after
//! the delay, from a thread of its own. Measured on the 6.18 host
//! (docs/kernel-facts.md, "A device of known latency on the host"): 4 KiB
//! O_DIRECT reads one after another take the delay plus 0.1 ms from issue
//! to completion; requests issued together are passed to FUSE one at a
//! time by the loop driver, after their issue, so on this device they wait
//! for each other *after* the issue tracepoint: device time and queue time
//! cannot be told apart here, only on null_blk in a guest.

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyData, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request,
    WriteFlags,
};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// The one file's name in the mount.
const FILE: &str = "disk";
const ROOT: u64 = 1;
const INO: u64 = 2;

/// A mounted delayed file. Dropping it unmounts the file system: detach
/// the loop device over it first.
pub struct DelayedFile {
    session: Option<fuser::BackgroundSession>,
    dir: PathBuf,
}

impl DelayedFile {
    /// Mount a file system under `dir` (created) holding one file of
    /// `size` bytes, zeroed, whose reads and writes each take `delay`.
    pub fn mount(dir: &Path, size: u64, delay: Duration) -> std::io::Result<DelayedFile> {
        std::fs::create_dir_all(dir)?;
        let server = Server {
            data: Arc::new(Mutex::new(vec![0; size as usize])),
            size,
            delay,
        };
        let mut config = fuser::Config::default();
        config
            .mount_options
            .push(fuser::MountOption::FSName("tracecheck-delayed".into()));
        let session = fuser::spawn_mount(server, dir, &config)?;
        Ok(DelayedFile {
            session: Some(session),
            dir: dir.to_owned(),
        })
    }

    /// The file, for losetup.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }
}

impl Drop for DelayedFile {
    fn drop(&mut self) {
        // The session's drop unmounts and joins its thread.
        drop(self.session.take());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

struct Server {
    data: Arc<Mutex<Vec<u8>>>,
    size: u64,
    delay: Duration,
}

impl Server {
    fn attr(&self, ino: u64) -> FileAttr {
        let dir = ino == ROOT;
        FileAttr {
            ino: INodeNo(ino),
            size: if dir { 0 } else { self.size },
            blocks: if dir { 0 } else { self.size / 512 },
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind: if dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: if dir { 0o755 } else { 0o600 },
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// Answer a request when the delay has passed since it arrived, from a
    /// thread of its own, so that requests in flight together each take
    /// the delay rather than one after another in this server.
    fn after_delay(&self, answer: impl FnOnce() + Send + 'static) {
        let deadline = Instant::now() + self.delay;
        std::thread::spawn(move || {
            realtime();
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            answer();
        });
    }

    /// The byte range of a request, clipped to the file.
    fn range(&self, offset: u64, len: u64) -> std::ops::Range<usize> {
        let start = offset.min(self.size);
        start as usize..(offset.saturating_add(len)).min(self.size) as usize
    }
}

/// Attributes never change: the kernel may keep them for an hour.
const TTL: Duration = Duration::from_secs(3600);

/// Run the calling thread under SCHED_FIFO, so that a busy machine (a
/// build, a TCG guest on the other core) does not stretch the delay by the
/// time it takes the scheduler to run us. Best effort: a refusal leaves
/// the thread as it was, and the witness's own timing shows the result.
fn realtime() {
    // SAFETY: sched_setscheduler on the calling thread (0) with a valid
    // sched_param; it only changes this thread's policy.
    unsafe {
        let p = libc::sched_param { sched_priority: 10 };
        libc::sched_setscheduler(0, libc::SCHED_FIFO, &p);
    }
}

impl Filesystem for Server {
    /// Runs in the session's thread, the one that reads requests from
    /// /dev/fuse: make it prompt too.
    fn init(&mut self, _req: &Request, _config: &mut fuser::KernelConfig) -> std::io::Result<()> {
        realtime();
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if u64::from(parent) == ROOT && name == FILE {
            reply.entry(&TTL, &self.attr(INO), Generation(0));
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match u64::from(ino) {
            ROOT | INO => reply.attr(&TTL, &self.attr(u64::from(ino))),
            _ => reply.error(Errno::ENOENT),
        }
    }

    /// Direct I/O: no page cache of the file, so every read and write the
    /// loop device makes reaches this server and takes the delay.
    fn open(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let (data, range) = (self.data.clone(), self.range(offset, size.into()));
        self.after_delay(move || {
            let d = data.lock().unwrap_or_else(|p| p.into_inner());
            reply.data(&d[range]);
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        bytes: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let range = self.range(offset, bytes.len() as u64);
        let (data, bytes) = (self.data.clone(), bytes[..range.len()].to_vec());
        self.after_delay(move || {
            let mut d = data.lock().unwrap_or_else(|p| p.into_inner());
            d[range].copy_from_slice(&bytes);
            reply.written(bytes.len() as u32);
        });
    }

    /// The data is in memory: a flush or fsync has nothing to wait for,
    /// and takes no delay (null_blk's flushes do not either).
    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }
}
