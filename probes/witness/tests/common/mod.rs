//! A real scratch disk for the witness tests: an ext4 filesystem on a
//! direct-I/O loop device over a file in /dev/shm, torn down by Drop even
//! when a test fails; /proc/diskstats reading; waiting for in-flight I/O.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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

/// An ext4 filesystem on a loop device, mounted under /tmp.
pub struct ScratchDisk {
    pub backing: PathBuf,
    pub loopdev: String,
    pub name: String,
    pub mnt: PathBuf,
    pub major: u32,
    pub minor: u32,
    mounted: bool,
}

impl ScratchDisk {
    pub fn new(tag: &str, mib: u64) -> Result<ScratchDisk, String> {
        ScratchDisk::with_block_size(tag, mib, None)
    }

    /// With `block` bytes per filesystem block (mke2fs picks 1 KiB below
    /// 512 MiB; tracecheck's workloads insist on 4 KiB).
    pub fn with_block_size(tag: &str, mib: u64, block: Option<u32>) -> Result<ScratchDisk, String> {
        let id = format!("tcw-{tag}-{}", std::process::id());
        let backing = PathBuf::from(format!("/dev/shm/{id}.img"));
        let mnt = std::env::temp_dir().join(&id);
        let f = fs::File::create(&backing).map_err(|e| format!("{}: {e}", backing.display()))?;
        f.set_len(mib << 20)
            .map_err(|e| format!("{}: {e}", backing.display()))?;
        let out = run(
            "losetup",
            &["--direct-io=on", "-f", "--show", &backing.to_string_lossy()],
        );
        let loopdev = match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Err(e) => {
                let _ = fs::remove_file(&backing);
                return Err(e);
            }
        };
        let name = loopdev.trim_start_matches("/dev/").to_string();
        let mut disk = ScratchDisk {
            backing,
            loopdev,
            name,
            mnt,
            major: 0,
            minor: 0,
            mounted: false,
        };
        let dev = fs::read_to_string(format!("/sys/block/{}/dev", disk.name))
            .map_err(|e| e.to_string())?;
        let (ma, mi) = dev.trim().split_once(':').ok_or("bad dev file")?;
        disk.major = ma.parse().map_err(|_| "bad major")?;
        disk.minor = mi.parse().map_err(|_| "bad minor")?;
        let block = block.map(|b| b.to_string());
        let mut mkfs = vec!["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"];
        if let Some(b) = &block {
            mkfs.extend(["-b", b]);
        }
        mkfs.push(&disk.loopdev);
        run("mkfs.ext4", &mkfs)?;
        fs::create_dir_all(&disk.mnt).map_err(|e| e.to_string())?;
        // No ext4lazyinit reads later: neither inode-table zeroing nor
        // block-bitmap prefetch (which the witness caught reading 3 KiB).
        run(
            "mount",
            &[
                "-o",
                "noatime,noinit_itable,no_prefetch_block_bitmaps",
                &disk.loopdev,
                &disk.mnt.to_string_lossy(),
            ],
        )?;
        disk.mounted = true;
        Ok(disk)
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
}

impl Drop for ScratchDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = run("umount", &[&self.mnt.to_string_lossy()]);
        }
        let _ = run("losetup", &["-d", &self.loopdev]);
        let _ = fs::remove_file(&self.backing);
        let _ = fs::remove_dir(&self.mnt);
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
        let s = fs::read_to_string("/proc/diskstats").map_err(|e| e.to_string())?;
        for line in s.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 14 || f[0] != major.to_string() || f[1] != minor.to_string() {
                continue;
            }
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            return Ok(DiskStats {
                reads: n(3),
                read_sectors: n(5),
                writes: n(7),
                write_sectors: n(9),
                discards: n(14),
                discard_sectors: n(16),
                flushes: n(18),
            });
        }
        Err(format!("{major}:{minor} not in /proc/diskstats"))
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
