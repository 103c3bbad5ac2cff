//! The two shortcuts that keep the harness's own time per check small,
//! measured for every workload kind on a real loop-device ext4 (root):
//! - [`ScratchDisk::settle`] stops waiting after a 10 ms quiet window: once
//!   it returns, nothing more reaches the device, even 300 ms later;
//! - an input made cold again ([`Workload::make_cold`]) after a run used it
//!   serves a second run whose diskstats fall inside that run's truth, as a
//!   freshly written input's do.
//!
//! [`ScratchDisk::settle`]: tracecheck_workloads::scratch_disk::ScratchDisk::settle

mod common;

use common::*;
use std::time::Duration;
use tracecheck_workloads::Workload;

const M: u64 = 1 << 20;

fn every_kind() -> Vec<Workload> {
    vec![
        Workload::DirectRead {
            size: 16 * M,
            request: M,
        },
        Workload::DirectWrite {
            size: 16 * M,
            request: 16 << 10,
        },
        Workload::CachedReread {
            size: 16 * M,
            passes: 3,
            request: 3 * M,
        },
        Workload::BufferedWrite {
            size: 16 * M,
            request: M,
            fsync: true,
            passes: 1,
        },
        Workload::BufferedWrite {
            size: 16 * M,
            request: M,
            fsync: false,
            passes: 2,
        },
        Workload::DirectMixed {
            read: 8 * M,
            write: 8 * M,
            request: M,
            threads: 4,
        },
        Workload::MmapRead { size: 16 * M },
        Workload::Opens { count: 200 },
        Workload::Stats { count: 200 },
        Workload::Threads { count: 20 },
        Workload::Spin { ms: 200 },
        Workload::Execs { count: 5 },
    ]
}

/// The device bounds of `truth` hold what diskstats saw, but for one more
/// write: settle's syncfs ends with a cache flush, which diskstats counts
/// as a write of 0 bytes even when nothing was dirty.
fn within_truth(what: &str, run: &str, truth: &tracecheck_model::GroundTruth, d: DiskStats) {
    use tracecheck_model::Who::Device;
    let what = format!("{what} ({run})");
    let b = |m| bound(truth, m, Device);
    assert_in(
        &format!("{what} disk.read_bytes"),
        d.read_bytes,
        b("disk.read_bytes"),
    );
    assert_in(
        &format!("{what} disk.write_bytes"),
        d.write_bytes,
        b("disk.write_bytes"),
    );
    assert_in(
        &format!("{what} disk.read_ios"),
        d.read_ios,
        b("disk.read_ios"),
    );
    let (lo, hi) = b("disk.write_ios");
    assert_in(&format!("{what} disk.write_ios"), d.write_ios, (lo, hi + 1));
}

#[test]
fn nothing_reaches_the_disk_after_it_settles_and_a_cold_again_input_serves_a_second_run() {
    let _s = serial();
    let disk = ScratchDisk::new("settle", 256);
    let lib = disk.inner();
    let dev = Some((lib.major, lib.minor));
    let bound = Duration::from_secs(20);
    for (i, w) in every_kind().iter().enumerate() {
        let what = format!("{w:?}");
        let dir = lib.fresh_dir(&format!("w{i}")).unwrap();
        w.prepare_on(&dir, dev).unwrap();
        assert!(lib.settle(bound).unwrap().quiet, "{what}: prepare settles");
        for run in ["fresh", "cold again"] {
            if run == "cold again" {
                w.make_cold(&dir).unwrap();
                assert!(lib.settle(bound).unwrap().quiet);
            }
            let before = disk.stats();
            let truth = w.run_on(&dir, "tcw-settle", dev).unwrap();
            let settled = lib.settle(bound).unwrap();
            assert!(settled.quiet, "{what} ({run}): the disk settles");
            let after = disk.stats();
            within_truth(&what, run, &truth, after.delta(&before));
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(
                disk.stats().delta(&after),
                DiskStats::default(),
                "{what} ({run}): I/O reached the disk after settle returned ({} ms)",
                settled.waited_ms
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
        lib.settle(bound).unwrap();
    }
}
