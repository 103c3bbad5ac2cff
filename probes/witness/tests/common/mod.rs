//! The witness tests' view of tracecheck's own scratch disk and its
//! /proc/diskstats counters; waiting for in-flight I/O.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A block device to use as the scratch disk instead of a new loop device
/// (any `--scratch-device` form: a path or `serial:NAME`).
pub const SCRATCH_DEVICE_ENV: &str = "TRACECHECK_SCRATCH_DEVICE";

pub fn run(cmd: &str, args: &[&str]) -> Result<Output, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd} {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out)
}

/// tracecheck's own scratch disk (tracecheck_workloads::scratch_disk: an
/// ext4 with 4 KiB blocks and no lazy init on a direct-I/O loop device over
/// /dev/shm, mounted noatime without bitmap prefetch; torn down by Drop even
/// when a test fails), with the names these tests read.
pub struct ScratchDisk {
    disk: tracecheck_workloads::scratch_disk::ScratchDisk,
    pub loopdev: String,
    pub name: String,
    pub mnt: PathBuf,
    pub major: u32,
    pub minor: u32,
}

impl ScratchDisk {
    /// `_tag` is for the callers' readability; the disk's name is unique.
    /// With [`SCRATCH_DEVICE_ENV`] set (`/dev/vdb`, or `serial:scratch` in a
    /// tracecheck guest) that device is formatted and used instead of a
    /// new loop device: the guest runs of the property test use the
    /// guest's virtio disk, whose completion path is the one under test.
    pub fn new(_tag: &str, mib: u64) -> Result<ScratchDisk, String> {
        use tracecheck_workloads::scratch_disk::{resolve_device, ScratchDisk as Disk};
        let disk = match std::env::var(SCRATCH_DEVICE_ENV) {
            Ok(spec) => resolve_device(&spec).and_then(|d| Disk::on_device(&d)),
            Err(_) => Disk::create(mib),
        }
        .map_err(|e| e.to_string())?;
        Ok(ScratchDisk {
            loopdev: disk.device.to_string_lossy().into_owned(),
            name: disk.name.clone(),
            mnt: disk.mountpoint.clone(),
            major: disk.major,
            minor: disk.minor,
            disk,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.mnt.join(name)
    }

    /// syncfs() on the mount, then wait until nothing is in flight.
    pub fn settle(&self) -> Result<(), String> {
        run("sync", &["-f", &self.mnt.to_string_lossy()])?;
        self.wait_idle()
    }

    /// Wait until /sys/block/NAME/inflight reads `0 0` twice, 50 ms apart.
    pub fn wait_idle(&self) -> Result<(), String> {
        let p = format!("/sys/block/{}/inflight", self.name);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut quiet = 0;
        while quiet < 2 {
            if Instant::now() > deadline {
                return Err(format!("{p} never reached 0"));
            }
            let s = fs::read_to_string(&p).map_err(|e| format!("{p}: {e}"))?;
            quiet = if s.split_whitespace().all(|n| n == "0") {
                quiet + 1
            } else {
                0
            };
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    pub fn diskstats(&self) -> Result<DiskStats, String> {
        DiskStats::read(self.major, self.minor)
    }

    /// The underlying disk.
    pub fn disk(&self) -> &tracecheck_workloads::scratch_disk::ScratchDisk {
        &self.disk
    }
}

/// The fields of one /proc/diskstats line the witness mirrors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub reads: u64,
    pub read_sectors: u64,
    pub writes: u64,
    pub write_sectors: u64,
    pub discards: u64,
    pub discard_sectors: u64,
    pub flushes: u64,
}

impl DiskStats {
    pub fn read(major: u32, minor: u32) -> Result<DiskStats, String> {
        let c = tracecheck_workloads::diskstats::DiskCounters::read(major, minor)
            .map_err(|e| e.to_string())?;
        Ok(DiskStats {
            reads: c.reads,
            read_sectors: c.sectors_read,
            writes: c.writes,
            write_sectors: c.sectors_written,
            discards: c.discards,
            discard_sectors: c.sectors_discarded,
            flushes: c.flushes,
        })
    }

    pub fn since(&self, e: &DiskStats) -> DiskStats {
        DiskStats {
            reads: self.reads - e.reads,
            read_sectors: self.read_sectors - e.read_sectors,
            writes: self.writes - e.writes,
            write_sectors: self.write_sectors - e.write_sectors,
            discards: self.discards - e.discards,
            discard_sectors: self.discard_sectors - e.discard_sectors,
            flushes: self.flushes - e.flushes,
        }
    }
}

pub fn p(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A link to dd under a distinctive name, so the process's comm is known
/// before it starts (comm is the basename exec'd) and unique per test.
pub struct NamedDd {
    dir: PathBuf,
    pub comm: String,
}

impl NamedDd {
    pub fn new(comm: &str) -> Result<NamedDd, String> {
        let dir = std::env::temp_dir().join(format!("{comm}-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let dd = run("sh", &["-c", "command -v dd"])?;
        let dd = String::from_utf8_lossy(&dd.stdout).trim().to_string();
        let link = dir.join(comm);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&dd, &link).map_err(|e| e.to_string())?;
        Ok(NamedDd {
            dir,
            comm: comm.to_string(),
        })
    }

    /// Run it with `args` (plus status=none); returns its pid.
    pub fn run(&self, args: &[&str]) -> Result<u32, String> {
        let child = Command::new(self.dir.join(&self.comm))
            .args(args)
            .arg("status=none")
            .spawn()
            .map_err(|e| format!("{}: {e}", self.comm))?;
        let pid = child.id();
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{}: {e}", self.comm))?;
        if !out.status.success() {
            return Err(format!("{} {args:?}: {}", self.comm, out.status));
        }
        Ok(pid)
    }
}

impl Drop for NamedDd {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
