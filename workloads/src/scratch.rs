//! The scratch filesystem under `--dir`: checks that a disk truth can be
//! stated there at all (a block device, ext4 with 4 KiB blocks, `noatime`,
//! the expected device) and reads the few device facts the bounds use
//! (largest request, journal commit interval).
//!
//! Everything here reads /proc and /sys, so it runs before the workload
//! takes its distinctive comm: those reads are not the workload's I/O.

use crate::error::WorkloadError;
use rustix::fs::{FileType, StatVfsMountFlags};
use std::path::{Path, PathBuf};

/// ext4's superblock magic as statfs reports it.
const EXT4_MAGIC: i64 = 0xEF53;

/// The jbd2 default when ext4 shows no `commit=` option (JBD2_DEFAULT_MAX_COMMIT_AGE).
const DEFAULT_COMMIT_S: u64 = 5;

/// What the truths need to know about the device under `--dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchFs {
    pub dir: PathBuf,
    /// st_dev of the directory as (major, minor).
    pub dev: (u32, u32),
    /// Kernel name of the block device (`loop1`, `vdb`).
    pub dev_name: String,
    /// queue/max_sectors_kb in bytes: no request is larger.
    pub max_request_bytes: u64,
    /// queue/max_segments: a request holds at most this many segments, so
    /// at least this many pages' worth when pages are not contiguous.
    pub max_segments: u64,
    /// ext4 `commit=` in seconds: jbd2 commits a running transaction at
    /// least this often.
    pub commit_interval_s: u64,
}

/// Parse `MAJ:MIN` as given to `--expect-dev`.
pub fn parse_dev(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not MAJ:MIN (e.g. 7:0)"))?;
    let maj = a
        .parse()
        .map_err(|_| format!("`{s}`: major `{a}` is not a number"))?;
    let min = b
        .parse()
        .map_err(|_| format!("`{s}`: minor `{b}` is not a number"))?;
    Ok((maj, min))
}

fn fs_name(magic: i64) -> &'static str {
    match magic {
        0x0102_1994 => "tmpfs",
        0x858458f6 => "ramfs",
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x794c_7630 => "overlayfs",
        0x6969 => "nfs",
        0x5846_5342 => "xfs",
        0x9123_683e => "btrfs",
        0x0102_1997 => "9p",
        0x6a65_6a65 => "virtiofs/fuse",
        0x6573_5546 => "fuse",
        _ => "an unknown filesystem",
    }
}

/// Check `dir` and read the device facts. `expect_dev` refuses a directory
/// that is on another device than the one the harness watches.
pub fn inspect(dir: &Path, expect_dev: Option<(u32, u32)>) -> Result<ScratchFs, WorkloadError> {
    let page = rustix::param::page_size();
    if page != 4096 {
        return Err(WorkloadError::Unsupported(format!(
            "page size is {page} bytes; the page-cache and request bounds assume 4096"
        )));
    }
    let st = rustix::fs::stat(dir).map_err(|e| match e {
        rustix::io::Errno::NOENT => WorkloadError::dir(dir, "does not exist"),
        e => WorkloadError::io("stat", dir, e),
    })?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(WorkloadError::dir(dir, "is not a directory"));
    }
    let dev = (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev));
    let sfs = rustix::fs::statfs(dir).map_err(|e| WorkloadError::io("statfs", dir, e))?;
    let magic = sfs.f_type as i64;
    let sys = PathBuf::from(format!("/sys/dev/block/{}:{}", dev.0, dev.1));
    if !sys.exists() {
        return Err(WorkloadError::dir(
            dir,
            format!(
                "is on {} (device {}:{}), which is not backed by a block device; \
                 disk truths need a scratch block device",
                fs_name(magic),
                dev.0,
                dev.1
            ),
        ));
    }
    if let Some(want) = expect_dev {
        if want != dev {
            return Err(WorkloadError::dir(
                dir,
                format!(
                    "a path on the wrong filesystem: it is on device {}:{}, --expect-dev is {}:{}",
                    dev.0, dev.1, want.0, want.1
                ),
            ));
        }
    }
    if magic != EXT4_MAGIC {
        return Err(WorkloadError::dir(
            dir,
            format!(
                "is on {} (magic {magic:#x}), not ext4: the journal and metadata bounds are derived for ext4",
                fs_name(magic)
            ),
        ));
    }
    if sfs.f_bsize != 4096 {
        return Err(WorkloadError::dir(
            dir,
            format!(
                "ext4 block size is {} bytes, the bounds assume 4096 (mkfs.ext4 -b 4096)",
                sfs.f_bsize
            ),
        ));
    }
    let vfs = rustix::fs::statvfs(dir).map_err(|e| WorkloadError::io("statvfs", dir, e))?;
    if !vfs.f_flag.contains(StatVfsMountFlags::NOATIME) {
        return Err(WorkloadError::dir(
            dir,
            "is mounted without noatime: reads would update atime and the journal would write",
        ));
    }
    let dev_name = read_key(&sys.join("uevent"), "DEVNAME=").ok_or_else(|| {
        WorkloadError::dir(
            dir,
            format!("no DEVNAME in {}", sys.join("uevent").display()),
        )
    })?;
    // A partition has no queue/ of its own: the limits are its disk's.
    let queue = if sys.join("partition").exists() {
        sys.join("../queue")
    } else {
        sys.join("queue")
    };
    let max_kb = read_u64(&queue.join("max_sectors_kb")).ok_or_else(|| {
        WorkloadError::dir(
            dir,
            format!("cannot read {}", queue.join("max_sectors_kb").display()),
        )
    })?;
    let commit_interval_s = std::fs::read_to_string(format!("/proc/fs/ext4/{dev_name}/options"))
        .ok()
        .and_then(|o| {
            o.split(['\n', ',']).find_map(|kv| {
                kv.trim()
                    .strip_prefix("commit=")
                    .and_then(|v| v.parse().ok())
            })
        })
        .unwrap_or(DEFAULT_COMMIT_S);
    Ok(ScratchFs {
        dir: dir.to_path_buf(),
        dev,
        dev_name,
        max_request_bytes: max_kb.max(4) * 1024,
        max_segments: read_u64(&queue.join("max_segments")).unwrap_or(1).max(1),
        commit_interval_s: commit_interval_s.max(1),
    })
}

fn read_key(path: &Path, key: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key).map(str::to_owned))
}

pub(crate) fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// How many extents the filesystem maps `path` to (FIEMAP with no extent
/// array: the kernel only counts them). An O_DIRECT call that crosses an
/// extent boundary is split into one bio per extent, so this bounds the
/// extra bios and requests a workload's calls can make. `FIEMAP_FLAG_SYNC`
/// flushes delayed allocation first, so the count is the final one.
///
/// Hand-written: neither rustix nor nix wraps FS_IOC_FIEMAP.
pub fn extents(path: &Path) -> Result<u64, WorkloadError> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    #[derive(Default)]
    struct Fiemap {
        fm_start: u64,
        fm_length: u64,
        fm_flags: u32,
        fm_mapped_extents: u32,
        fm_extent_count: u32,
        fm_reserved: u32,
    }
    // _IOWR('f', 11, struct fiemap), struct fiemap without extents: 32 bytes.
    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
    const FIEMAP_FLAG_SYNC: u32 = 1;
    let f = std::fs::File::open(path).map_err(|e| WorkloadError::io("open", path, e))?;
    let mut fm = Fiemap {
        fm_length: u64::MAX,
        fm_flags: FIEMAP_FLAG_SYNC,
        ..Default::default()
    };
    // SAFETY: fm is a valid struct fiemap with fm_extent_count = 0, so the
    // kernel writes only its header.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_FIEMAP, &mut fm as *mut Fiemap) };
    if r < 0 {
        return Err(WorkloadError::io(
            "ioctl(FS_IOC_FIEMAP)",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(u64::from(fm.fm_mapped_extents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_is_refused_as_not_block_backed() {
        let e = inspect(Path::new("/dev/shm"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/shm") && e.contains("tmpfs") && e.contains("not backed"),
            "{e}"
        );
    }

    #[test]
    fn proc_is_refused() {
        let e = inspect(Path::new("/proc"), None).unwrap_err().to_string();
        assert!(e.contains("/proc") && e.contains("proc"), "{e}");
    }

    #[test]
    fn missing_dir_is_named() {
        let e = inspect(Path::new("/nonexistent/tracecheck"), None)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "--dir /nonexistent/tracecheck: does not exist");
    }

    #[test]
    fn a_file_is_not_a_dir() {
        let e = inspect(Path::new("/proc/self/stat"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a directory"), "{e}");
    }

    #[test]
    fn dev_parsing() {
        assert_eq!(parse_dev("7:0"), Ok((7, 0)));
        assert_eq!(parse_dev(" 259:12 "), Ok((259, 12)));
        assert!(parse_dev("7").is_err());
        assert!(parse_dev("a:1").is_err());
        assert!(parse_dev("1:").is_err());
    }
}
