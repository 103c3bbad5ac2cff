//! The integration tests' view of tracecheck's own scratch disk (a direct-I/O
//! loop device over /dev/shm, ext4 with 4 KiB blocks and no lazy init,
//! mounted noatime; torn down by Drop even when a test fails), its
//! diskstats, and the binary runner.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tracecheck_model::GroundTruth;

/// Tests share the machine's writeback thresholds and CPUs: one at a time
/// keeps each measurement clean.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The scratch disk tracecheck itself uses (tracecheck_workloads::
/// scratch_disk), with the names these tests read: `mnt`, `name`, `dev`.
pub struct ScratchDisk {
    disk: tracecheck_workloads::scratch_disk::ScratchDisk,
    pub mnt: PathBuf,
    pub name: String,
    pub dev: String,
}

impl ScratchDisk {
    /// `_tag` is kept for the callers' readability; the disk's own name is
    /// unique per process and call.
    pub fn new(_tag: &str, mib: u64) -> ScratchDisk {
        let disk = tracecheck_workloads::scratch_disk::ScratchDisk::create(mib)
            .expect("scratch disk (run as root)");
        ScratchDisk {
            mnt: disk.mountpoint.clone(),
            name: disk.name.clone(),
            dev: disk.dev_string(),
            disk,
        }
    }

    /// The library's own disk, for tests of its methods.
    pub fn inner(&self) -> &tracecheck_workloads::scratch_disk::ScratchDisk {
        &self.disk
    }

    pub fn stats(&self) -> DiskStats {
        let c = self.disk.counters().expect("diskstats");
        DiskStats {
            read_ios: c.reads,
            read_bytes: c.sectors_read * 512,
            write_ios: c.writes,
            write_bytes: c.sectors_written * 512,
            in_flight: c.in_flight,
        }
    }

    /// Wait until the device has nothing in flight and its counters have
    /// stopped moving; with `sync`, first syncfs the filesystem.
    pub fn settle(&self, sync: bool) {
        if sync {
            let f = std::fs::File::open(&self.mnt).expect("open mountpoint");
            rustix::fs::syncfs(&f).expect("syncfs");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = self.stats();
        let mut stable_since = Instant::now();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.stats();
            if now != last || now.in_flight != 0 {
                last = now;
                stable_since = Instant::now();
            } else if stable_since.elapsed() > Duration::from_millis(300) {
                return;
            }
        }
        panic!("{} did not settle within 20 s", self.name);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskStats {
    pub read_ios: u64,
    pub read_bytes: u64,
    pub write_ios: u64,
    pub write_bytes: u64,
    pub in_flight: u64,
}

impl DiskStats {
    pub fn delta(&self, before: &DiskStats) -> DiskStats {
        DiskStats {
            read_ios: self.read_ios - before.read_ios,
            read_bytes: self.read_bytes - before.read_bytes,
            write_ios: self.write_ios - before.write_ios,
            write_bytes: self.write_bytes - before.write_bytes,
            in_flight: self.in_flight,
        }
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tc-workload")
}

pub fn tc(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("spawn tc-workload")
}

/// prepare + run one workload; returns the truth and the diskstats delta of
/// the run (settled; syncfs'd for writes).
pub fn prepare_and_run(
    disk: &ScratchDisk,
    kind_args: &[String],
    comm: &str,
) -> (GroundTruth, DiskStats) {
    let dir = disk.mnt.to_string_lossy().to_string();
    let mut common = vec![
        "--dir".to_string(),
        dir,
        "--expect-dev".into(),
        disk.dev.clone(),
    ];
    let mut p = vec!["prepare".to_string()];
    p.extend(kind_args.iter().cloned());
    p.extend(common.iter().cloned());
    let out = tc(&p.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "prepare failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "prepare printed on stdout");
    disk.settle(false);
    let before = disk.stats();
    common.extend(["--comm".to_string(), comm.to_string()]);
    let mut r = vec!["run".to_string()];
    r.extend(kind_args.iter().cloned());
    r.extend(common);
    let out = tc(&r.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: GroundTruth =
        serde_json::from_slice(&out.stdout).expect("stdout is one GroundTruth JSON");
    disk.settle(truth.needs_writeback);
    let after = disk.stats();
    (truth, after.delta(&before))
}

pub fn bound(t: &GroundTruth, name: &str, who: tracecheck_model::Who) -> (u64, u64) {
    let m = tracecheck_model::Metric::parse(name).expect("metric name");
    let v: Vec<_> = t.find(m, &who).collect();
    assert_eq!(
        v.len(),
        1,
        "expected one {name} truth for {who:?}, got {v:?}"
    );
    (v[0].lo, v[0].hi)
}

pub fn assert_in(what: &str, v: u64, (lo, hi): (u64, u64)) {
    assert!(
        lo <= v && v <= hi,
        "{what}: measured {v} outside truth [{lo}, {hi}]"
    );
}

/// The device bounds of the truth contain what diskstats saw.
pub fn check_device(t: &GroundTruth, d: &DiskStats) {
    use tracecheck_model::Who::Device;
    assert_in(
        "disk.read_bytes",
        d.read_bytes,
        bound(t, "disk.read_bytes", Device),
    );
    assert_in(
        "disk.write_bytes",
        d.write_bytes,
        bound(t, "disk.write_bytes", Device),
    );
    assert_in(
        "disk.read_ios",
        d.read_ios,
        bound(t, "disk.read_ios", Device),
    );
    assert_in(
        "disk.write_ios",
        d.write_ios,
        bound(t, "disk.write_ios", Device),
    );
}

pub fn path_of(p: &Path) -> String {
    p.to_string_lossy().to_string()
}
