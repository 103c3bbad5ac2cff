//! The host's device of known latency ([`ScratchDisk::delayed`]): a loop
//! device over a FUSE file this process serves, each read and write held
//! for the set time. Real FUSE, real loop devices (root).
//!
//! [`ScratchDisk::delayed`]: tracecheck_workloads::scratch_disk::ScratchDisk::delayed

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tracecheck_workloads::scratch_disk::ScratchDisk;

fn queue(disk: &ScratchDisk, attr: &str) -> String {
    let p = Path::new("/sys/block")
        .join(&disk.name)
        .join("queue")
        .join(attr);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// O_DIRECT reads of the raw device, one at a time, each longer than the
/// delay: the FUSE server really holds them (a floor, not a timing; the
/// witness measures the distribution in the harness's tests).
#[test]
fn every_read_of_a_delayed_disk_takes_at_least_its_delay() {
    let delay = Duration::from_millis(20);
    let disk = ScratchDisk::delayed(64, delay.as_nanos() as u64).expect("delayed disk");
    assert_eq!(disk.known_latency_ns, Some(delay.as_nanos() as u64));
    assert!(queue(&disk, "scheduler").contains("[mq-deadline]"));
    assert_eq!(queue(&disk, "nomerges").trim(), "2");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&disk.device)
        .expect("open the device O_DIRECT");
    // O_DIRECT wants an aligned buffer: a page out of a larger one.
    let mut raw = vec![0u8; 8192];
    let off = raw.as_ptr().align_offset(4096);
    for _ in 0..5 {
        let t = Instant::now();
        f.read_exact(&mut raw[off..off + 4096]).expect("read 4 KiB");
        assert!(t.elapsed() >= delay, "a read took {:?}", t.elapsed());
    }
}

/// The delayed disk's loop device is its own, and goes with it: a loop
/// device that had served one (with mq-deadline) and was then reused by
/// `losetup -f` had kworkers issue the next disk's requests. And a plain
/// scratch disk has the queue settings tracecheck's truths assume (it sets
/// them, in case a reused loop device was left with others).
#[test]
fn scratch_disks_never_inherit_a_delayed_disk_s_loop_device() {
    let disk = ScratchDisk::delayed(64, 1_000_000).expect("delayed disk");
    let sys = Path::new("/sys/block").join(&disk.name);
    assert!(sys.exists());
    drop(disk);
    assert!(!sys.exists(), "{} is still there", sys.display());

    // Other loop devices are not changed here to prove it: whatever a
    // changed device keeps, it would keep for the tests after this one.
    let plain = ScratchDisk::create(64).expect("loop disk");
    assert!(queue(&plain, "scheduler").contains("[none]"));
    assert_eq!(queue(&plain, "nomerges").trim(), "0");
}
