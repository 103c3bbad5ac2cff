//! Each workload on a real loop-device ext4: its truth's device bounds must
//! contain the /proc/diskstats delta, and its counted calls must be what
//! the parameters say. Needs root (losetup, mount).

mod common;

use common::*;
use tracecheck_model::Who::{Device, Kernel, Workload as W};
use tracecheck_workloads::Workload;

const M: u64 = 1 << 20;

fn run(w: &Workload, comm: &str) -> (tracecheck_model::GroundTruth, DiskStats) {
    let disk = ScratchDisk::new(w.kind(), 64);
    prepare_and_run(&disk, &w.to_args(), comm)
}

#[test]
fn direct_read_reads_exactly_the_file() {
    let _s = serial();
    let w = Workload::DirectRead {
        size: 4 * M,
        request: M,
    };
    let (t, d) = run(&w, "tcw-dread");
    check_device(&t, &d);
    assert_eq!(d.read_bytes, 4 * M);
    assert_eq!(d.write_bytes, 0);
    assert_eq!(bound(&t, "syscall.read_calls", W), (4, 4));
    assert_eq!(bound(&t, "syscall.read_bytes", W), (4 * M, 4 * M));
    assert_eq!(bound(&t, "syscall.open_calls", W), (1, 1));
    assert_eq!(t.comm, "tcw-dread");
    assert_eq!(t.workload, "direct-read");
    assert!(!t.needs_writeback);
}

#[test]
fn direct_write_overwrites_in_place_and_journals_mtime() {
    let _s = serial();
    let w = Workload::DirectWrite {
        size: 4 * M,
        request: 256 << 10,
    };
    let (t, d) = run(&w, "tcw-dwrite");
    check_device(&t, &d);
    assert_eq!(d.read_bytes, 0);
    assert!(
        d.write_bytes > 4 * M,
        "the mtime journal commit must show: {d:?}"
    );
    assert_eq!(bound(&t, "syscall.write_calls", W), (16, 16));
    assert_eq!(bound(&t, "disk.write_bytes", W), (4 * M, 4 * M));
    assert!(t.needs_writeback);
}

#[test]
fn cached_reread_reads_the_disk_once() {
    let _s = serial();
    let w = Workload::CachedReread {
        size: 4 * M,
        passes: 5,
        request: 64 << 10,
    };
    let (t, d) = run(&w, "tcw-reread");
    check_device(&t, &d);
    assert_eq!(d.read_bytes, 4 * M);
    assert_eq!(bound(&t, "syscall.read_bytes", W), (20 * M, 20 * M));
    // Each pass reads to EOF: 64 full calls and one that returns 0.
    assert_eq!(bound(&t, "syscall.read_calls", W), (5 * 65, 5 * 65));
    assert_eq!(bound(&t, "pagecache.read_misses", W), (1024, 1024));
}

#[test]
fn buffered_write_with_fsync_is_charged_to_the_writer() {
    let _s = serial();
    let w = Workload::BufferedWrite {
        size: 4 * M,
        request: M,
        fsync: true,
        passes: 1,
    };
    let (t, d) = run(&w, "tcw-bwsync");
    check_device(&t, &d);
    assert_eq!(d.read_bytes, 0);
    assert_eq!(bound(&t, "syscall.write_calls", W), (4, 4));
    assert_eq!(bound(&t, "disk.write_bytes", W), (4 * M, 4 * M), "{t:#?}");
}

#[test]
fn buffered_write_without_fsync_belongs_to_the_kernel() {
    let _s = serial();
    let w = Workload::BufferedWrite {
        size: 4 * M,
        request: M,
        fsync: false,
        passes: 1,
    };
    let (t, d) = run(&w, "tcw-bwlazy");
    check_device(&t, &d);
    assert_eq!(bound(&t, "disk.write_bytes", W), (0, 0));
    assert!(bound(&t, "disk.write_bytes", Kernel).0 >= 4 * M);
    assert!(t.needs_writeback);
}

#[test]
fn mmap_read_reads_the_disk_without_read_calls() {
    let _s = serial();
    let w = Workload::MmapRead { size: 4 * M };
    let (t, d) = run(&w, "tcw-mmap");
    check_device(&t, &d);
    assert_eq!(d.read_bytes, 4 * M);
    assert_eq!(bound(&t, "syscall.read_calls", W), (0, 0));
    assert_eq!(bound(&t, "vfs.read_bytes", W), (0, 0));
}

#[test]
fn opens_do_no_io() {
    let _s = serial();
    let (t, d) = run(&Workload::Opens { count: 500 }, "tcw-opens");
    check_device(&t, &d);
    assert_eq!(d, DiskStats::default());
    assert_eq!(bound(&t, "syscall.open_calls", W), (500, 500));
    assert_eq!(bound(&t, "disk.read_bytes", Device), (0, 0));
}

/// Each stat-family call is made as that system call, in the design's
/// mix, and none of them touches the disk.
#[test]
fn stats_make_the_designed_calls_and_do_no_io() {
    let _s = serial();
    let w = Workload::Stats { count: 500 };
    let (t, d) = run(&w, "tcw-stats");
    check_device(&t, &d);
    assert_eq!(d, DiskStats::default());
    assert_eq!(bound(&t, "syscall.stat_calls", W), (500, 500));
    assert_eq!(bound(&t, "syscall.open_calls", W), (1, 1));
    let design = tracecheck_workloads::design::counts(&w);
    for name in tracecheck_model::neighbour::STAT_CALLS {
        assert_eq!(
            t.tallies.call(name).calls,
            design.by_call[name].calls,
            "{name}"
        );
    }
}

/// The threads it says it made, and the forks beside them, and no I/O.
#[test]
fn threads_are_counted_and_do_no_io() {
    let _s = serial();
    let (t, d) = run(&Workload::Threads { count: 50 }, "tcw-threads");
    check_device(&t, &d);
    assert_eq!(d, DiskStats::default());
    assert_eq!(bound(&t, "process.threads", W), (50, 50));
    assert_eq!(bound(&t, "process.execs", W), (0, 0));
    assert_eq!(t.tallies.forks, 10);
}

/// One pinned thread per CPU, each with its CPU time, which no thread can
/// exceed its wall time by, and which the process's own clock holds; no I/O.
#[test]
fn spin_runs_a_pinned_thread_on_every_cpu_and_does_no_io() {
    let _s = serial();
    let (t, d) = run(&Workload::Spin { ms: 500 }, "tcw-spin");
    check_device(&t, &d);
    assert_eq!(d, DiskStats::default());
    let cpus = rustix::thread::sched_getaffinity(None).unwrap().count() as usize;
    assert_eq!(t.tallies.cpu_ns.len(), cpus, "{:?}", t.tallies.cpu_ns);
    assert_eq!(bound(&t, "process.threads", W), (cpus as u64, cpus as u64));
    let (lo, hi) = bound(&t, "cpu.time", W);
    assert_eq!(lo, t.tallies.cpu_ns.values().sum::<u64>());
    assert!(hi >= lo && hi - lo < 100_000_000, "{lo}..{hi}");
    for (cpu, ns) in &t.tallies.cpu_ns {
        // A thread cannot run longer than it spun (plus its clock reads);
        // on a loaded machine it may get much less of its CPU.
        assert!(*ns > 0 && *ns < 510_000_000, "CPU {cpu}: {ns} ns");
    }
}

#[test]
fn execs_record_every_child_and_leave_the_scratch_disk_alone() {
    let _s = serial();
    let (t, d) = run(&Workload::Execs { count: 20 }, "tcw-execs");
    check_device(&t, &d);
    assert_eq!(bound(&t, "process.execs", W), (20, 20));
    // The workload and its children: 20 execs, and after every fifth two
    // failed exec attempts and a fork that execs nothing (4 x 3 more).
    assert_eq!(t.pids.len(), 1 + 20 + 12);
    let mut p = t.pids.clone();
    p.sort_unstable();
    p.dedup();
    assert_eq!(p.len(), 33, "pids must be distinct: {:?}", t.pids);
    // The symlink lived off the scratch filesystem and is gone.
    assert!(std::fs::read_dir("/dev/shm").unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(&format!("tracecheck-execs-{}", t.pids[0]))));
}

#[test]
fn a_warm_file_is_refused() {
    let _s = serial();
    let disk = ScratchDisk::new("warm", 64);
    let dir = path_of(&disk.mnt);
    let w = Workload::CachedReread {
        size: M,
        passes: 2,
        request: 4096,
    };
    let mut a: Vec<String> = vec!["prepare".into()];
    a.extend(w.to_args());
    a.extend(["--dir".into(), dir.clone()]);
    assert!(tc(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .status
        .success());
    let file = w.input_path(&disk.mnt).unwrap();
    std::fs::read(&file).unwrap();
    a[0] = "run".into();
    let out = tc(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&path_of(&file)) && err.contains("256 of 256 pages"),
        "{err}"
    );
}

#[test]
fn run_without_prepare_names_the_missing_file() {
    let _s = serial();
    let disk = ScratchDisk::new("unprep", 64);
    let out = tc(&[
        "run",
        "mmap-read",
        "--size",
        "1M",
        "--dir",
        &path_of(&disk.mnt),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tracecheck-mmap-read-1048576.dat: missing") && err.contains("prepare"),
        "{err}"
    );
}

#[test]
fn wrong_device_is_refused() {
    let _s = serial();
    let disk = ScratchDisk::new("wrongdev", 64);
    let out = tc(&[
        "prepare",
        "opens",
        "--count",
        "1",
        "--dir",
        &path_of(&disk.mnt),
        "--expect-dev",
        "1:1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a path on the wrong filesystem") && err.contains(&disk.dev),
        "{err}"
    );
}

#[test]
fn tmpfs_and_zero_size_are_clear_errors() {
    let out = tc(&[
        "prepare",
        "direct-read",
        "--size",
        "4M",
        "--request",
        "1M",
        "--dir",
        "/dev/shm",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--dir /dev/shm") && err.contains("tmpfs"),
        "{err}"
    );
    let out = tc(&[
        "run",
        "direct-read",
        "--size",
        "0",
        "--request",
        "1M",
        "--dir",
        "/dev/shm",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "tc-workload: invalid --size: must be greater than 0"
    );
    let out = tc(&[
        "run",
        "direct-read",
        "--size",
        "4M",
        "--request",
        "1000",
        "--dir",
        "/dev/shm",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --request"));
}

/// Threads share direct-mixed's calls: the totals are the same as one
/// thread's, the main thread's share is what the design says, and the
/// other threads are real threads of the process (own tids, not the pid).
#[test]
fn threaded_direct_mixed_shares_the_calls_as_designed() {
    let _s = serial();
    let w = Workload::DirectMixed {
        read: 4 * M,
        write: 8 * M,
        request: M,
        threads: 4,
    };
    let (t, d) = run(&w, "tcw-mixthr");
    check_device(&t, &d);
    assert_eq!(d.read_bytes, 4 * M);
    assert_eq!(bound(&t, "syscall.read_calls", W), (4, 4));
    assert_eq!(bound(&t, "syscall.write_calls", W), (8, 8));
    let design = tracecheck_workloads::design::ground_truth(&w).tallies;
    assert_eq!(t.tallies.main_thread, design.main_thread);
    assert_eq!(t.tallies.main_thread["pread64"].calls, 1);
    assert_eq!(t.tallies.main_thread["pwrite64"].calls, 2);
    let mut tids = t.tallies.thread_ids.clone();
    tids.sort();
    tids.dedup();
    assert_eq!(tids.len(), 3, "{:?}", t.tallies.thread_ids);
    assert!(!tids.contains(&t.pids[0]));
}
