//! A real scratch disk for the integration tests: a file in /dev/shm on a
//! direct-I/O loop device, ext4 made without lazy init and with 4 KiB
//! blocks, mounted noatime in a temporary directory; torn down by Drop even
//! when a test fails. Plus /proc/diskstats reading and the binary runner.

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

fn sh(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub struct ScratchDisk {
    image: PathBuf,
    pub loopdev: Option<String>,
    pub mnt: PathBuf,
    mounted: bool,
    pub name: String,
    pub dev: String,
}

impl ScratchDisk {
    pub fn new(tag: &str, mib: u64) -> ScratchDisk {
        let id = format!("tcw-test-{tag}-{}", std::process::id());
        let mut d = ScratchDisk {
            image: PathBuf::from(format!("/dev/shm/{id}.img")),
            loopdev: None,
            mnt: std::env::temp_dir().join(&id),
            mounted: false,
            name: String::new(),
            dev: String::new(),
        };
        let f = std::fs::File::create(&d.image).expect("create backing file in /dev/shm");
        f.set_len(mib << 20).expect("size backing file");
        drop(f);
        let img = d.image.to_string_lossy().to_string();
        let dev = sh("losetup", &["--direct-io=on", "-f", "--show", &img]).expect("losetup");
        d.loopdev = Some(dev.clone());
        sh(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-b",
                "4096",
                "-E",
                "lazy_itable_init=0,lazy_journal_init=0",
                &dev,
            ],
        )
        .expect("mkfs");
        std::fs::create_dir_all(&d.mnt).expect("mkdir mountpoint");
        let mnt = d.mnt.to_string_lossy().to_string();
        sh("mount", &["-o", "noatime", &dev, &mnt]).expect("mount");
        d.mounted = true;
        d.name = dev.trim_start_matches("/dev/").to_string();
        d.dev = sh("cat", &[&format!("/sys/block/{}/dev", d.name)]).expect("dev number");
        // ext4 prefetches block bitmaps right after mount: wait for quiet.
        d.settle(false);
        d
    }

    pub fn stats(&self) -> DiskStats {
        DiskStats::read(&self.name)
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

impl Drop for ScratchDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = sh("umount", &[&self.mnt.to_string_lossy()]);
        }
        let _ = std::fs::remove_dir(&self.mnt);
        if let Some(dev) = &self.loopdev {
            let _ = sh("losetup", &["-d", dev]);
        }
        let _ = std::fs::remove_file(&self.image);
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
    pub fn read(name: &str) -> DiskStats {
        let text = std::fs::read_to_string("/proc/diskstats").expect("/proc/diskstats");
        let f: Vec<u64> = text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|v| v.get(2) == Some(&name))
            .unwrap_or_else(|| panic!("{name} not in /proc/diskstats"))[3..]
            .iter()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        DiskStats {
            read_ios: f[0],
            read_bytes: f[2] * 512,
            write_ios: f[4],
            write_bytes: f[6] * 512,
            in_flight: f[8],
        }
    }

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
