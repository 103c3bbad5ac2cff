//! The host scratch disk: a loop device over a file in /dev/shm with its own
//! ext4, mounted `noatime`, so that its /proc/diskstats line is exactly the
//! workload's I/O plus the filesystem's own metadata and journal.
//!
//! Why these choices (measured; docs/kernel-facts.md, "The scratch disk"):
//! - the backing file lives in /dev/shm so the loop device's own reads and
//!   writes never touch a real disk and never block on one;
//! - `--direct-io=on` keeps a second copy of the data out of the page cache;
//! - `lazy_itable_init=0,lazy_journal_init=0` stop ext4's background
//!   zeroing thread, which would otherwise write during checks;
//! - `noatime` stops reads from dirtying inodes (and so from journal writes);
//! - `no_prefetch_block_bitmaps` stops ext4 reading bitmaps after mount.
//!
//! Everything is torn down in `Drop`, also when a check fails or the user
//! presses Ctrl-C (the runner returns through the guard).

use crate::diskstats::DiskCounters;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why the scratch disk could not be made, measured or torn down; the
/// message names the device, file or command.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DiskError(pub String);

impl DiskError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DiskError {
        let what = what.into();
        move |e| DiskError(format!("{what}: {e}"))
    }
}

pub struct ScratchDisk {
    /// The loop device's backing file; `None` on an existing device.
    backing: Option<PathBuf>,
    /// `/dev/loopN` (or the existing device, e.g. `/dev/vdb` in a guest)
    pub device: PathBuf,
    /// `loopN`
    pub name: String,
    pub major: u32,
    pub minor: u32,
    pub mountpoint: PathBuf,
    attached: bool,
    mounted: bool,
    /// How long the device takes for every request, when it is made to
    /// (a null_blk device's `completion_nsec`); `None` for real and loop
    /// devices, whose latency nobody set.
    pub known_latency_ns: Option<u64>,
    /// The null_blk configfs directory to remove in `Drop`.
    nullb: Option<PathBuf>,
    /// The FUSE file under the loop device of a delayed disk and that loop
    /// device, which is its own: both go in `Drop`, after the detach.
    delayed: Option<(crate::delayed_file::DelayedFile, OwnLoop)>,
}

/// How long settling took, for the report.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Settled {
    pub waited_ms: u64,
    /// False when the bound ran out with I/O still in flight.
    pub quiet: bool,
}

pub const DEFAULT_SIZE_MIB: u64 = 256;

/// How long the counters must stand still, with nothing in flight, for the
/// disk to count as settled ([`ScratchDisk::settle`]).
pub const QUIET: Duration = Duration::from_millis(10);

/// How often settling reads the counters.
const POLL: Duration = Duration::from_millis(2);

/// Run an external setup command, turning failure into a clear error with
/// its stderr. We use util-linux's losetup and e2fsprogs' mkfs.ext4: both
/// are the reference implementations of what they do and are on every
/// Debian system.
fn run(cmd: &mut Command) -> Result<String, DiskError> {
    let shown = format!("{cmd:?}").replace('"', "");
    let out = cmd.output().map_err(|e| {
        DiskError(format!(
            "cannot run {shown}: {e} (is util-linux/e2fsprogs installed?)"
        ))
    })?;
    if !out.status.success() {
        return Err(DiskError(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The scratch device's largest request, in KiB (see `limit_requests`).
pub const MAX_SECTORS_KB: u64 = 128;

impl ScratchDisk {
    /// A disk on `device` that is not formatted, attached or mounted yet,
    /// to be mounted under a directory named `tag`.
    fn blank(tag: &str, device: PathBuf) -> ScratchDisk {
        ScratchDisk {
            backing: None,
            device,
            name: String::new(),
            major: 0,
            minor: 0,
            mountpoint: std::env::temp_dir().join(tag),
            attached: false,
            mounted: false,
            known_latency_ns: None,
            nullb: None,
            delayed: None,
        }
    }

    /// Create, format and mount a fresh scratch disk of `size_mib` MiB.
    pub fn create(size_mib: u64) -> Result<ScratchDisk, DiskError> {
        if !rustix::process::geteuid().is_root() {
            return Err(DiskError(
                "making a loop device and mounting it needs root; run tracecheck as root".into(),
            ));
        }
        let tag = new_tag();
        let backing = PathBuf::from("/dev/shm").join(format!("{tag}.img"));
        let f = std::fs::File::create(&backing)
            .map_err(|e| DiskError(format!("cannot create {}: {e}", backing.display())))?;
        f.set_len(size_mib << 20)
            .map_err(|e| DiskError(format!("cannot size {}: {e}", backing.display())))?;
        drop(f);
        let mut disk = ScratchDisk::blank(&tag, PathBuf::new());
        disk.backing = Some(backing);
        let dev = run(Command::new("losetup")
            .args(["--direct-io=on", "-f", "--show"])
            .arg(disk.backing.as_deref().expect("loop backing")))?;
        disk.device = PathBuf::from(&dev);
        disk.attached = true;
        // A loop device keeps its queue's settings when it is detached, and
        // `losetup -f` hands out the same devices again: set the ones
        // tracecheck's truths assume (a fresh loop device's: no elevator,
        // so the submitter issues its own requests; merging on) rather than
        // inherit a delayed disk's or anyone's.
        disk.set_queue("scheduler", "none")?;
        disk.set_queue("nomerges", "0")?;
        disk.format_and_mount()?;
        Ok(disk)
    }

    /// Write `value` to the device's `queue/ATTR` in sysfs.
    fn set_queue(&self, attr: &str, value: &str) -> Result<(), DiskError> {
        let name = self.device.file_name().unwrap_or_default();
        let path = Path::new("/sys/block").join(name).join("queue").join(attr);
        std::fs::write(&path, value)
            .map_err(DiskError::io(format!("set {} to {value}", path.display())))
    }

    /// The queue of a device of known latency: no merging, so every
    /// request the workload makes is one the device times, and mq-deadline,
    /// so every request is inserted (block_rq_insert fires) before its
    /// issue. An elevator the kernel refuses is left as it is.
    fn time_every_request(&self) -> Result<(), DiskError> {
        self.set_queue("nomerges", "2")?;
        let _ = self.set_queue("scheduler", "mq-deadline");
        Ok(())
    }

    /// A scratch disk of known latency without null_blk: a loop device in
    /// direct-I/O mode over a file served by FUSE from this process, whose
    /// every read and write takes `completion_ns`
    /// ([`crate::delayed_file`]). Requests issued together wait for each
    /// other after their issue (the loop driver passes them on one at a
    /// time), so only one-at-a-time I/O takes exactly the delay from issue.
    pub fn delayed(size_mib: u64, completion_ns: u64) -> Result<ScratchDisk, DiskError> {
        if !rustix::process::geteuid().is_root() {
            return Err(DiskError(
                "mounting a FUSE file system and a loop device needs root; run tracecheck as root"
                    .into(),
            ));
        }
        let tag = new_tag();
        let dir = std::env::temp_dir().join(format!("{tag}-delayed"));
        let file = crate::delayed_file::DelayedFile::mount(
            &dir,
            size_mib << 20,
            Duration::from_nanos(completion_ns),
        )
        .map_err(|e| {
            DiskError(format!(
                "cannot mount the delayed FUSE file under {}: {e} (is /dev/fuse there?)",
                dir.display()
            ))
        })?;
        let mut disk = ScratchDisk::blank(&tag, PathBuf::new());
        let own = OwnLoop::add()?;
        let dev = own.path();
        run(Command::new("losetup")
            .args(["--direct-io=on"])
            .arg(&dev)
            .arg(file.path()))?;
        disk.delayed = Some((file, own));
        disk.device = dev;
        disk.attached = true;
        disk.known_latency_ns = Some(completion_ns);
        // As on null_blk. The device is removed with the disk, so no later
        // disk inherits these.
        disk.time_every_request()?;
        disk.format_and_mount()?;
        Ok(disk)
    }

    /// Format and mount an existing block device (a guest's dedicated
    /// scratch disk) the same way as a loop device. Everything on it is
    /// lost. `Drop` unmounts it and leaves the device itself alone.
    pub fn on_device(device: &Path) -> Result<ScratchDisk, DiskError> {
        if !rustix::process::geteuid().is_root() {
            return Err(DiskError(
                "formatting and mounting a scratch device needs root; run tracecheck as root"
                    .into(),
            ));
        }
        let tag = new_tag();
        let mut disk = ScratchDisk::blank(&tag, device.to_owned());
        disk.format_and_mount()?;
        Ok(disk)
    }

    /// Shared by every constructor: learn the device's numbers, make the
    /// filesystem, mount it, let it settle.
    fn format_and_mount(&mut self) -> Result<(), DiskError> {
        let dev = self.device.display().to_string();
        self.name = self
            .device
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta = std::fs::metadata(&self.device)
            .map_err(|e| DiskError(format!("cannot stat {dev}: {e}")))?;
        if !std::os::unix::fs::FileTypeExt::is_block_device(&meta.file_type()) {
            return Err(DiskError(format!("{dev} is not a block device")));
        }
        let rdev = meta.rdev();
        self.major = rustix::fs::major(rdev);
        self.minor = rustix::fs::minor(rdev);
        self.limit_requests()?;
        run(Command::new("mkfs.ext4")
            .args([
                "-q",
                "-F",
                "-b",
                "4096",
                "-E",
                "lazy_itable_init=0,lazy_journal_init=0",
            ])
            .arg(&self.device))?;
        std::fs::create_dir_all(&self.mountpoint)
            .map_err(|e| DiskError(format!("cannot create {}: {e}", self.mountpoint.display())))?;
        nix::mount::mount(
            Some(self.device.as_path()),
            self.mountpoint.as_path(),
            Some("ext4"),
            nix::mount::MsFlags::MS_NOATIME,
            // ext4 otherwise reads every block bitmap right after mount, in
            // the background, which could land inside a measurement.
            Some("no_prefetch_block_bitmaps"),
        )
        .map_err(|e| {
            DiskError(format!(
                "cannot mount {} on {}: {e}",
                self.device.display(),
                self.mountpoint.display()
            ))
        })?;
        self.mounted = true;
        // Let the fresh filesystem's own start-up writes (superblock, journal
        // superblock) finish before anyone measures.
        self.settle(Duration::from_secs(10))?;
        Ok(())
    }

    /// Cap requests at [`MAX_SECTORS_KB`], so that a 1 MiB O_DIRECT call
    /// (one bio) becomes 8 device requests: bios, requests, calls, pages
    /// and sectors then all differ, and a script counting one of them for
    /// another cannot pass (docs/separation.md).
    fn limit_requests(&self) -> Result<(), DiskError> {
        let q = PathBuf::from(format!(
            "/sys/dev/block/{}:{}/queue/max_sectors_kb",
            self.major, self.minor
        ));
        std::fs::write(&q, MAX_SECTORS_KB.to_string()).map_err(|e| {
            DiskError(format!(
                "cannot set {} to {MAX_SECTORS_KB}: {e}",
                q.display()
            ))
        })
    }

    /// `MAJ:MIN` as /proc/diskstats and userspace tools print it.
    pub fn dev_string(&self) -> String {
        format!("{}:{}", self.major, self.minor)
    }

    pub fn counters(&self) -> Result<DiskCounters, DiskError> {
        DiskCounters::read(self.major, self.minor)
            .map_err(DiskError::io(format!("diskstats of {}", self.name)))
    }

    /// A fresh empty directory on the scratch filesystem for one check.
    pub fn fresh_dir(&self, name: &str) -> Result<PathBuf, DiskError> {
        let d = self.mountpoint.join(name);
        std::fs::create_dir_all(&d).map_err(DiskError::io(format!("create {}", d.display())))?;
        Ok(d)
    }

    /// Push everything dirty on the scratch filesystem to the device
    /// (syncfs: data through the flusher threads, a journal commit by jbd2,
    /// then the device's own cache, all waited for) and wait, at most
    /// `bound`, until nothing is in flight and the counters have not moved
    /// for [`QUIET`].
    ///
    /// syncfs returns only when its writes have completed, and the
    /// in-flight count covers what it does not wait for (readahead a
    /// finished workload left behind), so the quiet window guards only
    /// against something else starting I/O; measured, nothing ever came
    /// later (docs/kernel-facts.md, "Settling").
    pub fn settle(&self, bound: Duration) -> Result<Settled, DiskError> {
        let start = Instant::now();
        let dir = std::fs::File::open(&self.mountpoint)
            .map_err(DiskError::io(format!("open {}", self.mountpoint.display())))?;
        rustix::fs::syncfs(&dir)
            .map_err(|e| DiskError(format!("syncfs {}: {e}", self.mountpoint.display())))?;
        let mut last = self.counters()?;
        let mut since = Instant::now();
        loop {
            std::thread::sleep(POLL);
            let now = self.counters()?;
            if now != last || now.in_flight != 0 {
                since = Instant::now();
            } else if since.elapsed() >= QUIET {
                return Ok(Settled {
                    waited_ms: start.elapsed().as_millis() as u64,
                    quiet: true,
                });
            }
            if start.elapsed() >= bound {
                return Ok(Settled {
                    waited_ms: start.elapsed().as_millis() as u64,
                    quiet: false,
                });
            }
            last = now;
        }
    }

    pub fn path(&self) -> &Path {
        &self.mountpoint
    }
}

impl Drop for ScratchDisk {
    fn drop(&mut self) {
        // Best effort, in reverse order of creation. A lazy unmount still
        // detaches if a stray process holds a file open.
        if self.mounted {
            if nix::mount::umount(self.mountpoint.as_path()).is_err() {
                let _ = nix::mount::umount2(
                    self.mountpoint.as_path(),
                    nix::mount::MntFlags::MNT_DETACH,
                );
            }
            let _ = std::fs::remove_dir(&self.mountpoint);
        }
        if self.attached {
            let _ = Command::new("losetup").arg("-d").arg(&self.device).output();
        }
        if let Some(b) = &self.backing {
            let _ = std::fs::remove_file(b);
        }
        // After the loop device over it is gone.
        drop(self.delayed.take());
        if let Some(n) = &self.nullb {
            let _ = std::fs::write(n.join("power"), "0");
            let _ = std::fs::remove_dir(n);
        }
    }
}

/// A loop device made for one disk and removed with it
/// (`LOOP_CTL_ADD`/`LOOP_CTL_REMOVE` on /dev/loop-control). A detached loop
/// device keeps state that sysfs does not show: after loop0 had served a
/// FUSE-backed device with mq-deadline and other queue settings, every
/// scratch disk `losetup -f` put on it later (elevator back to none, every
/// queue file as on a fresh device) had a quarter of a 1 MiB O_DIRECT
/// call's requests issued by kblockd's kworkers instead of the caller, so
/// per-task counts at issue went wrong; on a newly made loop device they
/// did not (measured 2026-12-03, 6.18). A device of its own, past the
/// numbers `losetup -f` hands out, and gone afterwards, leaves nothing
/// behind.
struct OwnLoop {
    index: u32,
}

/// linux/loop.h.
const LOOP_CTL_ADD: libc::c_ulong = 0x4C80;
const LOOP_CTL_REMOVE: libc::c_ulong = 0x4C81;
/// The first index tried: far above the devices `losetup -f` takes.
const OWN_LOOP_BASE: u32 = 512;

impl OwnLoop {
    fn control() -> Result<std::fs::File, DiskError> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .map_err(DiskError::io("open /dev/loop-control"))
    }

    /// One loop-control request on device `index`. libc's ioctl: neither
    /// rustix nor nix wraps /dev/loop-control's requests.
    fn request(ctl: &std::fs::File, request: libc::c_ulong, index: u32) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: LOOP_CTL_ADD and LOOP_CTL_REMOVE take the device index as
        // their argument, no pointer.
        let r = unsafe { libc::ioctl(ctl.as_raw_fd(), request, index as libc::c_ulong) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn add() -> Result<OwnLoop, DiskError> {
        let ctl = OwnLoop::control()?;
        for index in OWN_LOOP_BASE..OWN_LOOP_BASE + 256 {
            match OwnLoop::request(&ctl, LOOP_CTL_ADD, index) {
                Ok(()) => return Ok(OwnLoop { index }),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(DiskError(format!("cannot add loop device {index}: {e}"))),
            }
        }
        Err(DiskError(format!(
            "no free loop device number in {OWN_LOOP_BASE}..{}",
            OWN_LOOP_BASE + 256
        )))
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/loop{}", self.index))
    }
}

impl Drop for OwnLoop {
    fn drop(&mut self) {
        let Ok(ctl) = OwnLoop::control() else {
            return;
        };
        // EBUSY for a moment after the detach.
        for _ in 0..50 {
            match OwnLoop::request(&ctl, LOOP_CTL_REMOVE, self.index) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => return,
            }
        }
    }
}

/// Where null_blk's configfs directories live.
const NULLB_CONFIGFS: &str = "/sys/kernel/config/nullb";

/// A null_blk device's size, MiB: room for every workload's files.
const NULLB_MIB: u64 = 256;

impl ScratchDisk {
    /// A scratch disk of known latency: a memory-backed null_blk device
    /// (Debian's kernels ship the module; the host here has none) on which
    /// every request completes `completion_ns` after it is issued (a timer,
    /// `irqmode=2`), one at a time (`hw_queue_depth=1`, one queue), so
    /// requests that arrive together wait in the scheduler: time from
    /// queueing to completion and from issue to completion then differ by
    /// whole multiples of the delay. Merging is off (`nomerges=2`), so
    /// every request the workload makes is one the device times.
    /// docs/kernel-facts.md, "A device of known latency".
    pub fn null_blk(completion_ns: u64) -> Result<ScratchDisk, DiskError> {
        if !Path::new(NULLB_CONFIGFS).exists() {
            run(Command::new("modprobe").args(["null_blk", "nr_devices=0"])).map_err(|e| {
                DiskError(format!(
                    "a device of known latency needs the null_blk module (Debian's kernels have it: use --vm): {e}"
                ))
            })?;
            // configfs (a module in Debian's kernels, loaded with null_blk)
            // may not be mounted: a guest's init is minimal. A failure
            // shows below as the missing directory.
            if !Path::new(NULLB_CONFIGFS).exists() {
                let _ = nix::mount::mount(
                    Some("configfs"),
                    "/sys/kernel/config",
                    Some("configfs"),
                    nix::mount::MsFlags::empty(),
                    None::<&str>,
                );
            }
            if !Path::new(NULLB_CONFIGFS).exists() {
                return Err(DiskError(format!(
                    "null_blk loaded but {NULLB_CONFIGFS} is missing: configfs could not be mounted on /sys/kernel/config"
                )));
            }
        }
        let tag = new_tag();
        let dir = PathBuf::from(NULLB_CONFIGFS).join(&tag);
        std::fs::create_dir(&dir).map_err(DiskError::io(format!("create {}", dir.display())))?;
        let mut disk = ScratchDisk::blank(&tag, PathBuf::new());
        disk.known_latency_ns = Some(completion_ns);
        disk.nullb = Some(dir.clone());
        let set = |attr: &str, v: String| {
            std::fs::write(dir.join(attr), &v).map_err(DiskError::io(format!(
                "set {}/{attr} to {v}",
                dir.display()
            )))
        };
        set("size", NULLB_MIB.to_string())?;
        set("blocksize", "4096".into())?;
        set("memory_backed", "1".into())?;
        set("irqmode", "2".into())?;
        set("completion_nsec", completion_ns.to_string())?;
        set("submit_queues", "1".into())?;
        set("hw_queue_depth", "1".into())?;
        // Room for the 128 KiB requests every scratch disk is capped at
        // (null_blk's default, 255 sectors, is less).
        set("max_sectors", (MAX_SECTORS_KB * 2).to_string())?;
        set("power", "1".into())?;
        let index = std::fs::read_to_string(dir.join("index"))
            .map_err(DiskError::io(format!("read {}/index", dir.display())))?;
        // Named `nullbN` by its index, or after its configfs directory on
        // kernels that do that (6.x later than Debian's 6.1).
        let name = [format!("nullb{}", index.trim()), tag.clone()]
            .into_iter()
            .find(|n| Path::new("/sys/block").join(n).exists())
            .ok_or_else(|| {
                DiskError(format!(
                    "null_blk device {} is powered on but neither /sys/block/nullb{} nor /sys/block/{tag} exists",
                    dir.display(),
                    index.trim()
                ))
            })?;
        disk.device = PathBuf::from("/dev").join(&name);
        // The elevator is what queues requests above the device's one
        // slot; mq-deadline is the default for one queue, named here so a
        // kernel with another default does not change what is measured.
        disk.time_every_request()?;
        disk.format_and_mount()?;
        Ok(disk)
    }
}

/// The scratch disk `--scratch-device` names, formatted and mounted:
/// `nullb:NS` makes a null_blk device whose requests take NS nanoseconds
/// each ([`ScratchDisk::null_blk`]); anything else is a device
/// ([`resolve_device`]).
pub fn open_scratch(spec: &str) -> Result<ScratchDisk, DiskError> {
    match spec.strip_prefix("nullb:") {
        Some(ns) => {
            let ns = ns.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                DiskError(format!(
                    "--scratch-device {spec}: expected nullb:NS with NS a request's latency in nanoseconds, e.g. nullb:3000000"
                ))
            })?;
            ScratchDisk::null_blk(ns)
        }
        None => ScratchDisk::on_device(&resolve_device(spec)?),
    }
}

/// The block device named by `--scratch-device`: a path (`/dev/vdb`), or
/// `serial:NAME` for the virtio disk whose `/sys/block/vd*/serial` is NAME
/// (the PCI order of a guest's disks is not their naming order).
pub fn resolve_device(spec: &str) -> Result<PathBuf, DiskError> {
    let Some(serial) = spec.strip_prefix("serial:") else {
        return Ok(PathBuf::from(spec));
    };
    let mut seen = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/block") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(s) = std::fs::read_to_string(e.path().join("serial")) else {
                continue;
            };
            if s.trim() == serial {
                return Ok(PathBuf::from("/dev").join(name));
            }
            seen.push(format!("{name}={}", s.trim()));
        }
    }
    Err(DiskError(format!(
        "no block device with serial `{serial}` (serials seen: {})",
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    )))
}

/// A name no other scratch disk of any tracecheck run has: for its
/// mountpoint, backing file or configfs directory.
fn new_tag() -> String {
    format!("tracecheck-{}-{}", std::process::id(), unique())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
