//! The witness against real I/O on a real loop device (run as root):
//! completion counts must equal /proc/diskstats deltas exactly, and
//! per-submitter, page-cache and syscall counts must equal what known
//! processes did.

mod common;

use common::{p, DiskStats, NamedDd, ScratchDisk};
use tracecheck_model::{Metric, Who};
use tracecheck_witness::{Attribution, Flow, IoGroup, Witness, WitnessConfig, WitnessReport};

const MIB: u64 = 1 << 20;

fn start(disk: &ScratchDisk, comm_prefix: &str) -> Witness {
    let config = WitnessConfig {
        comm_prefix: Some(comm_prefix.to_string()),
        ..WitnessConfig::device(disk.major, disk.minor)
    };
    match Witness::start(config) {
        Ok(w) => w,
        Err(e) => panic!("witness for {}: {e}", disk.loopdev),
    }
}

/// Snapshot the witness and diskstats with nothing in flight.
fn quiet_point(disk: &ScratchDisk, w: &Witness) -> (WitnessReport, DiskStats) {
    disk.wait_idle().expect("device goes idle");
    (
        w.snapshot().expect("snapshot"),
        disk.diskstats().expect("diskstats"),
    )
}

fn assert_matches_diskstats(r: &WitnessReport, d: &DiskStats) {
    let c = &r.device.complete;
    let missed = r
        .missed_by_program
        .get("block:block_rq_complete")
        .copied()
        .unwrap_or(0);
    if missed > 0 {
        // The kernel skipped the program (recursion on one CPU) and the
        // witness said so: its counts are then lower bounds, short by at
        // most the skipped events.
        eprintln!("witness reports {missed} skipped block_rq_complete events");
        assert!(c.read.bytes <= d.read_sectors * 512 && c.write.bytes <= d.write_sectors * 512);
        assert!(
            d.reads + d.writes + d.flushes
                - (c.read.count + c.write.count + r.device.flush.completed)
                <= missed
        );
        return;
    }
    assert_eq!(
        c.read.bytes,
        d.read_sectors * 512,
        "read bytes vs diskstats {d:?}"
    );
    assert_eq!(
        c.write.bytes,
        d.write_sectors * 512,
        "write bytes vs diskstats {d:?}"
    );
    assert_eq!(
        c.discard.bytes,
        d.discard_sectors * 512,
        "discard bytes vs diskstats {d:?}"
    );
    assert_eq!(c.read.count, d.reads, "reads completed vs diskstats {d:?}");
    assert_eq!(
        c.write.count, d.writes,
        "writes completed vs diskstats {d:?}"
    );
    assert_eq!(
        r.device.flush.completed, d.flushes,
        "flushes vs diskstats {d:?}"
    );
}

#[test]
fn completions_equal_the_diskstats_delta_exactly() {
    let disk = ScratchDisk::new("dstat", 256).expect("scratch disk");
    let dd = NamedDd::new("tcwd-dstat").expect("dd link");
    let data = p(&disk.path("data"));
    dd.run(&[
        "if=/dev/zero",
        &format!("of={data}"),
        "bs=1M",
        "count=24",
        "oflag=direct",
    ])
    .expect("prepare");
    disk.settle().expect("settle");
    let w = start(&disk, &dd.comm);
    let (w0, d0) = quiet_point(&disk, &w);

    // O_DIRECT reads (1 MiB: split in two requests unless the buffer sits
    // on a huge page), O_DIRECT writes,
    // buffered writes made durable by fsync (data, journal, preflush+FUA).
    dd.run(&[
        &format!("if={data}"),
        "of=/dev/null",
        "bs=1M",
        "count=24",
        "iflag=direct",
    ])
    .expect("read");
    dd.run(&[
        "if=/dev/zero",
        &format!("of={}", p(&disk.path("w"))),
        "bs=64K",
        "count=64",
        "oflag=direct",
    ])
    .expect("direct write");
    dd.run(&[
        "if=/dev/zero",
        &format!("of={}", p(&disk.path("b"))),
        "bs=1M",
        "count=8",
        "conv=fsync",
    ])
    .expect("buffered write");
    disk.settle().expect("settle");
    let (w1, d1) = quiet_point(&disk, &w);
    let r = w1.since(&w0);
    let d = d1.since(&d0);

    assert!(d.read_sectors * 512 >= 24 * MIB, "the workload ran: {d:?}");
    assert_matches_diskstats(&r, &d);
    assert_eq!(
        r.lost_by_map.values().sum::<u64>(),
        0,
        "{:?}",
        r.lost_by_map
    );
    let dev = &r.device;
    for g in [IoGroup::Read, IoGroup::Write] {
        // Everything submitted was issued and completed.
        assert_eq!(
            dev.submit.get(g).bytes,
            dev.complete.get(g).bytes,
            "{g:?} submit vs complete bytes"
        );
        assert_eq!(
            dev.issue.get(g).bytes,
            dev.complete.get(g).bytes,
            "{g:?} issue vs complete bytes"
        );
        // Data requests completed are the requests issued: the 0-byte
        // second completions of preflush+FUA writes are not extra ones.
        let data_rqs = dev.complete.get(g).count - dev.complete_without_data.get(g).count;
        assert_eq!(
            data_rqs,
            dev.issue.get(g).count,
            "{g:?} data requests issued vs completed"
        );
    }
    // bios -> requests: merges remove, splits add.
    let bios = dev.submit.read.count + dev.submit.write.count;
    let rqs = dev.issue.read.count + dev.issue.write.count;
    let m = &dev.merges;
    assert_eq!(
        bios + m.splits - m.back - m.front - m.requests,
        rqs,
        "{m:?}"
    );
    // The fsync made the journal commit with a preflush.
    assert!(
        dev.flush.issued > 0 && dev.flush.empty_completions > 0,
        "{:?}",
        dev.flush
    );
}

#[test]
fn direct_io_is_charged_to_the_process_that_did_it() {
    let disk = ScratchDisk::new("direct", 128).expect("scratch disk");
    let dd = NamedDd::new("tcwd-direct").expect("dd link");
    let data = p(&disk.path("data"));
    dd.run(&[
        "if=/dev/zero",
        &format!("of={data}"),
        "bs=1M",
        "count=16",
        "oflag=direct",
    ])
    .expect("prepare");
    disk.settle().expect("settle");
    let w = start(&disk, &dd.comm);
    let (w0, _) = quiet_point(&disk, &w);

    let reader = dd
        .run(&[
            &format!("if={data}"),
            "of=/dev/null",
            "bs=1M",
            "count=16",
            "iflag=direct",
        ])
        .expect("read");
    let writer = dd
        .run(&[
            "if=/dev/zero",
            &format!("of={data}"),
            "bs=64K",
            "count=64",
            "oflag=direct",
            "conv=notrunc",
        ])
        .expect("write");
    disk.settle().expect("settle");
    let (w1, _) = quiet_point(&disk, &w);
    let r = w1.since(&w0);

    let by = |pid: u32| r.submitted_by(|s| s.tgid == pid);
    assert_eq!(
        by(reader).read,
        Flow {
            bytes: 16 * MIB,
            count: 16
        },
        "{:?}",
        r.submitters
    );
    assert_eq!(by(reader).write, Flow::default());
    assert_eq!(
        by(writer).write,
        Flow {
            bytes: 4 * MIB,
            count: 64
        },
        "{:?}",
        r.submitters
    );
    assert_eq!(by(writer).read, Flow::default());

    // System calls: each dd wrote exactly what it copied (reads include
    // the loader's and locale files, so they are at least the data).
    let sys = |pid: u32| {
        r.syscalls
            .iter()
            .find(|s| s.tgid == pid)
            .cloned()
            .expect("syscall row")
    };
    assert_eq!(
        (sys(reader).write_bytes, sys(reader).write_calls),
        (16 * MIB, 16)
    );
    assert!(sys(reader).read_bytes >= 16 * MIB);
    assert_eq!(
        (sys(writer).write_bytes, sys(writer).write_calls),
        (4 * MIB, 64)
    );
    // O_DIRECT never went through the page cache.
    assert!(
        r.pagecache_adds
            .iter()
            .all(|a| a.tgid != reader && a.tgid != writer),
        "{:?}",
        r.pagecache_adds
    );

    let t = r.truths(&Attribution {
        comm_prefix: Some(dd.comm.clone()),
        pids: vec![],
    });
    let get = |name: &str, who: Who| {
        let m = Metric::parse(name).expect("metric");
        t.iter()
            .find(|t| t.metric == m && t.who == who)
            .map(|t| (t.lo, t.hi))
    };
    assert_eq!(
        get("block.read_bytes", Who::Workload),
        Some((16 * MIB, 16 * MIB))
    );
    assert_eq!(get("block.write_ios", Who::Workload), Some((64, 64)));
    assert_eq!(
        get("syscall.write_bytes", Who::Workload),
        Some((20 * MIB, 20 * MIB))
    );
    let disk_read = r.device.complete.read.bytes;
    assert_eq!(
        get("disk.read_bytes", Who::Device),
        Some((disk_read, disk_read))
    );
}

#[test]
fn fsync_charges_data_to_the_writer_and_the_journal_to_jbd2() {
    let disk = ScratchDisk::new("fsync", 128).expect("scratch disk");
    let dd = NamedDd::new("tcwd-fsync").expect("dd link");
    let w = start(&disk, &dd.comm);
    let (w0, d0) = quiet_point(&disk, &w);

    let writer = dd
        .run(&[
            "if=/dev/zero",
            &format!("of={}", p(&disk.path("b"))),
            "bs=1M",
            "count=8",
            "conv=fsync",
        ])
        .expect("buffered write");
    let (w1, d1) = quiet_point(&disk, &w);
    let r = w1.since(&w0);

    assert_matches_diskstats(&r, &d1.since(&d0));
    assert_eq!(
        r.submitted_by(|s| s.tgid == writer).write.bytes,
        8 * MIB,
        "{:?}",
        r.submitters
    );
    let journal = r.submitted_by(|s| s.comm.starts_with("jbd2/"));
    assert!(journal.write.bytes > 0, "{:?}", r.submitters);
    // Every 4 KiB file page the writer dirtied was inserted once (large
    // folios or not); the bitmaps, inode table and buddy cache it touched
    // on this fresh filesystem are metadata pages, counted apart.
    let pages: u64 = r
        .pagecache_adds
        .iter()
        .filter(|a| a.tgid == writer)
        .map(|a| a.pages)
        .sum();
    assert_eq!(pages, 8 * MIB / 4096, "{:?}", r.pagecache_adds);
    let meta: u64 = r
        .pagecache_adds
        .iter()
        .filter(|a| a.tgid == writer)
        .map(|a| a.meta_pages)
        .sum();
    assert!(
        meta > 0,
        "a fresh filesystem's first write reads its allocation metadata: {:?}",
        r.pagecache_adds
    );
    let t = r.truths(&Attribution {
        comm_prefix: Some(dd.comm.clone()),
        pids: vec![],
    });
    let m = Metric::parse("block.write_bytes").expect("metric");
    let kernel = t
        .iter()
        .find(|t| t.metric == m && t.who == Who::Kernel)
        .expect("kernel truth");
    assert_eq!(
        kernel.lo,
        journal.write.bytes
            + r.submitted_by(|s| s.comm.starts_with("kworker/"))
                .write
                .bytes
    );
}

#[test]
fn flushes_and_empty_completions_add_no_bytes_and_no_data_requests() {
    let disk = ScratchDisk::new("flush", 64).expect("scratch disk");
    for _ in 0..2 {
        disk.settle().expect("settle");
    }
    let w = start(&disk, "tcwd-none");
    let (w0, d0) = quiet_point(&disk, &w);
    // syncfs() with nothing dirty: ext4 still sends a cache flush.
    for _ in 0..5 {
        disk.settle().expect("settle");
    }
    let (w1, d1) = quiet_point(&disk, &w);
    let r = w1.since(&w0);
    let d = d1.since(&d0);

    assert_matches_diskstats(&r, &d);
    assert_eq!(
        d.write_sectors + d.read_sectors,
        0,
        "nothing was dirty: {d:?} {:?}",
        r.submitters
    );
    assert!(
        r.device.flush.bios >= 5 && r.device.flush.completed >= 5,
        "{:?}",
        r.device.flush
    );
    // diskstats counts each empty preflush write as a write I/O; the
    // witness counts it there too and says it carried no data.
    assert_eq!(
        r.device.complete.write,
        Flow {
            bytes: 0,
            count: d.writes
        }
    );
    assert_eq!(r.device.complete_without_data.write.count, d.writes);
    assert_eq!(
        r.device.submit,
        Default::default(),
        "flush bios are not data bios"
    );
    assert_eq!(
        r.device.issue,
        Default::default(),
        "flush requests are not data requests"
    );
    assert!(r.submitters.is_empty(), "{:?}", r.submitters);
}

#[test]
fn cold_buffered_read_inserts_each_page_once() {
    let disk = ScratchDisk::new("cold", 128).expect("scratch disk");
    let dd = NamedDd::new("tcwd-cold").expect("dd link");
    let data = p(&disk.path("data"));
    // Written with O_DIRECT, so none of it is in the page cache.
    dd.run(&[
        "if=/dev/zero",
        &format!("of={data}"),
        "bs=1M",
        "count=16",
        "oflag=direct",
    ])
    .expect("prepare");
    disk.settle().expect("settle");
    let w = start(&disk, &dd.comm);
    let (w0, d0) = quiet_point(&disk, &w);
    let reader = dd
        .run(&[&format!("if={data}"), "of=/dev/null", "bs=64K"])
        .expect("read");
    let again = dd
        .run(&[&format!("if={data}"), "of=/dev/null", "bs=64K"])
        .expect("re-read");
    let (w1, d1) = quiet_point(&disk, &w);
    let r = w1.since(&w0);
    assert_matches_diskstats(&r, &d1.since(&d0));

    let pages = |pid: u32| {
        r.pagecache_adds
            .iter()
            .filter(|a| a.tgid == pid)
            .map(|a| a.pages)
            .sum::<u64>()
    };
    assert_eq!(pages(reader), 16 * MIB / 4096, "{:?}", r.pagecache_adds);
    assert_eq!(pages(again), 0, "the re-read is served from the page cache");
    assert!(r.device.complete.read.bytes >= 16 * MIB);
    // Readahead: the reader submitted the file's bytes, far fewer bios than
    // its 256 read() calls.
    let sub = r.submitted_by(|s| s.tgid == reader).read;
    assert!(sub.bytes >= 16 * MIB && sub.count < 256, "{sub:?}");
    let sys = r
        .syscalls
        .iter()
        .find(|s| s.tgid == again)
        .expect("re-reader row");
    assert!(
        sys.read_bytes >= 16 * MIB && sys.write_bytes == 16 * MIB,
        "{sys:?}"
    );
}

#[test]
fn a_bad_device_is_an_error_that_names_it() {
    let e = Witness::start(WitnessConfig::device(5000, 1)).expect_err("major too large");
    assert!(e.to_string().contains("5000:1"), "{e}");
    let e = Witness::start(WitnessConfig {
        comm_prefix: Some("x".repeat(16)),
        ..WitnessConfig::device(7, 0)
    })
    .expect_err("prefix too long");
    assert!(e.to_string().contains(&"x".repeat(16)), "{e}");
}

#[test]
fn report_serializes_with_the_documented_shape() {
    let disk = ScratchDisk::new("json", 64).expect("scratch disk");
    let w = start(&disk, "tcwd-json");
    let v = serde_json::to_value(w.stop().expect("stop")).expect("json");
    for path in [
        "/device/complete/read/bytes",
        "/device/submit/write/count",
        "/device/issue/read/count",
        "/lost",
    ] {
        assert!(v.pointer(path).is_some_and(|x| x.is_u64()), "{path} in {v}");
    }
    for key in ["submitters", "pagecache_adds", "syscalls"] {
        assert!(v[key].is_array(), "{key}");
    }
    assert!(v["events"]["block:block_rq_complete"].is_u64());
}

/// The sampler at 997 Hz beside the spin workload's threads (one pinned to
/// each CPU for 1.5 s, each reading its own CPU clock): its samples of
/// them, each worth 1/997 s, come to their CPU time within 5%, on every
/// CPU; a rate it did not ask for (99 Hz) would be 90% under.
#[test]
fn the_sampler_counts_the_spinning_threads_cpu_time_at_its_rate() {
    // Unnamed threads take their creator's comm: this test thread's name,
    // which the test harness sets (15 bytes kept), with no other test's.
    let comm: String = std::thread::current()
        .name()
        .expect("the test harness names its threads")
        .chars()
        .take(15)
        .collect();
    let w = Witness::start(WitnessConfig {
        comm_prefix: Some(comm.clone()),
        sample_hz: Some(997),
        ..WitnessConfig::device(7, 0)
    })
    .unwrap_or_else(|e| panic!("witness with its sampler: {e}"));
    let counts = tracecheck_workloads::ops::spin(1500).expect("spin");
    let r = w.stop().expect("witness report");
    let cs = r.cpu_samples.as_ref().expect("the sampler's counts");
    let cpus = counts.cpu_ns.len();
    assert_eq!(cs.cpus.len(), cpus, "{cs:?}");
    let spun: u64 = counts.cpu_ns.values().sum();
    let who = Attribution {
        comm_prefix: Some(comm.clone()),
        pids: vec![],
    };
    let m = Metric::parse("cpu.time").unwrap();
    let t = r
        .truths(&who)
        .into_iter()
        .find(|t| t.metric == m && t.who == Who::Workload)
        .expect("a sampled cpu.time");
    let (lo, hi) = (spun * 95 / 100, counts.process_cpu_ns * 105 / 100);
    assert!(
        (lo..=hi).contains(&t.lo),
        "sampled {} ns ({}) for threads that ran {spun} ns (process {} ns)",
        t.lo,
        t.why,
        counts.process_cpu_ns
    );
    for (cpu, ns) in &counts.cpu_ns {
        let n = cs.of(|row| row.cpu == *cpu && row.comm == comm);
        let sampled = n * 1_000_000_000 / 997;
        assert!(
            sampled >= ns * 95 / 100,
            "CPU {cpu}: {n} samples ({sampled} ns) where its thread ran {ns} ns"
        );
    }
    assert_eq!(cs.lost, 0);
}
