//! Property test of the witness against real, concurrent I/O (run as root).
//!
//! Each case is 1 to 4 workloads (direct read or write, buffered write with
//! or without fsync, cached re-read, mmap read; random sizes and request
//! sizes, some over 512 KiB so that bios are split) run at the same time as
//! separate processes on one scratch loop device. Between two quiet points
//! the witness's device completions must equal the /proc/diskstats delta
//! exactly, and each O_DIRECT process must have submitted exactly its
//! bytes, in its direction, under its own pid and comm.
//!
//! The processes are this test binary re-executed: `worker_entry` returns
//! at once unless [`WORKER_ENV`] names a workload, and then runs it with
//! `Workload::run_on` under the comm the parent chose, once the parent
//! closes its stdin (so all of a case's processes start together).
//!
//! A failing case is shrunk to a small reproducer and saved in
//! `tests/prop.proptest-regressions`, which later runs replay first.

mod common;

use common::{DiskStats, ScratchDisk};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracecheck_witness::{IoGroup, Witness, WitnessConfig, WitnessReport};
use tracecheck_workloads::Workload;

/// Set in a worker's environment: the workload as `Workload::to_args`
/// prints it, space-separated.
const WORKER_ENV: &str = "TCW_PROP_WORKER";
const WORKER_DIR: &str = "TCW_PROP_DIR";
const WORKER_COMM: &str = "TCW_PROP_COMM";
const WORKER_DEV: &str = "TCW_PROP_DEV";
/// Every worker comm starts with this.
const COMM_PREFIX: &str = "tcwp";

const PAGE: u64 = 4096;
/// Largest input file of one process: 4 MiB.
const MAX_PAGES: u64 = 1024;
const CASES: u32 = 128;

/// The worker side: a no-op in a normal test run.
#[test]
fn worker_entry() {
    let Ok(args) = std::env::var(WORKER_ENV) else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
    let args: Vec<&str> = args.split(' ').collect();
    let w = Workload::from_args(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let dev = var(WORKER_DEV);
    let (ma, mi) = dev.split_once(':').expect("MAJ:MIN");
    let dev = (
        ma.parse().expect("major number"),
        mi.parse().expect("minor number"),
    );
    // The start barrier: the parent closes our stdin once every process
    // of the case is running.
    let mut b = [0u8; 1];
    let _ = std::io::stdin().read(&mut b);
    if let Err(e) = w.run_on(Path::new(&var(WORKER_DIR)), &var(WORKER_COMM), Some(dev)) {
        panic!("{args:?}: {e}");
    }
}

fn is_direct(w: &Workload) -> Option<IoGroup> {
    match w {
        Workload::DirectRead { .. } => Some(IoGroup::Read),
        Workload::DirectWrite { .. } => Some(IoGroup::Write),
        _ => None,
    }
}

/// One process's workload. Sizes are whole requests; requests are whole
/// pages, from one page to 1.5 MiB (the loop device's requests hold at
/// most 128 segments, 512 KiB, so the larger ones are split).
fn workload() -> impl Strategy<Value = Workload> {
    let request_pages = prop_oneof![1u64..=16, 17u64..=128, 129u64..=384];
    (0u8..7, request_pages, 1u64..=16, 1u64..=3).prop_map(|(kind, rp, n, passes)| {
        let n = n.min((MAX_PAGES / rp).max(1));
        let (size, request) = (rp * n * PAGE, rp * PAGE);
        match kind {
            0 => Workload::DirectRead { size, request },
            1 => Workload::DirectWrite { size, request },
            2 => Workload::BufferedWrite {
                size,
                request,
                fsync: false,
                passes,
            },
            3 => Workload::BufferedWrite {
                size,
                request,
                fsync: true,
                passes,
            },
            4 => Workload::CachedReread {
                size,
                passes,
                request,
            },
            5 => Workload::MmapRead { size },
            _ => Workload::DirectMixed {
                read: size,
                write: size,
                request,
                threads: 1 + size / request % 3,
            },
        }
    })
}

fn inflight_zero(disk: &ScratchDisk) -> Result<bool, String> {
    let p = format!("/sys/block/{}/inflight", disk.name);
    let s = std::fs::read_to_string(&p).map_err(|e| format!("{p}: {e}"))?;
    Ok(s.split_whitespace().all(|n| n == "0"))
}

/// Wait until nothing is in flight and the diskstats counters stopped
/// moving (three equal reads 10 ms apart).
fn quiesce(disk: &ScratchDisk) -> Result<DiskStats, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut last, mut stable) = (None, 0);
    loop {
        if Instant::now() > deadline {
            return Err(format!("{} never went quiet", disk.name));
        }
        let d = disk.diskstats()?;
        if inflight_zero(disk)? && last == Some(d) {
            stable += 1;
            if stable >= 2 {
                return Ok(d);
            }
        } else {
            stable = 0;
        }
        last = Some(d);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A witness snapshot and diskstats at one quiet point: nothing in flight
/// and diskstats unchanged across the snapshot.
fn quiet_point(disk: &ScratchDisk, w: &Witness) -> Result<(WitnessReport, DiskStats), String> {
    loop {
        let before = quiesce(disk)?;
        let r = w.snapshot().map_err(|e| e.to_string())?;
        if disk.diskstats()? == before && inflight_zero(disk)? {
            return Ok((r, before));
        }
    }
}

fn syncfs(disk: &ScratchDisk) -> Result<(), String> {
    common::run("sync", &["-f", &disk.mnt.to_string_lossy()]).map(|_| ())
}

/// Kills and reaps the workers still running when a case fails.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

/// Removes a case's directory when the case ends, failed or not.
struct CaseDir(PathBuf);

impl Drop for CaseDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Start every worker, then release them together; wait for all.
fn run_workers(
    disk: &ScratchDisk,
    jobs: &[(Workload, PathBuf, String)],
) -> Result<Vec<u32>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut workers = Workers(Vec::new());
    for (w, dir, comm) in jobs {
        let child = Command::new(&exe)
            .args(["worker_entry", "--exact", "--test-threads=1", "-q"])
            .env(WORKER_ENV, w.to_args().join(" "))
            .env(WORKER_DIR, dir)
            .env(WORKER_COMM, comm)
            .env(WORKER_DEV, format!("{}:{}", disk.major, disk.minor))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        workers.0.push(child);
    }
    let pids = workers.0.iter().map(Child::id).collect();
    for c in &mut workers.0 {
        drop(c.stdin.take());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for (c, (w, _, comm)) in workers.0.iter_mut().zip(jobs) {
        let status = loop {
            match c.try_wait().map_err(|e| e.to_string())? {
                Some(s) => break s,
                None if Instant::now() > deadline => {
                    return Err(format!("{comm} ({w:?}) still running after 60 s"))
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        };
        if !status.success() {
            let mut out = String::new();
            if let Some(mut s) = c.stdout.take() {
                let _ = s.read_to_string(&mut out);
            }
            if let Some(mut s) = c.stderr.take() {
                let _ = s.read_to_string(&mut out);
            }
            return Err(format!("{comm} ({w:?}): {status}\n{out}"));
        }
    }
    Ok(pids)
}

fn missed(r: &WitnessReport, tp: &str) -> u64 {
    r.missed_by_program.get(tp).copied().unwrap_or(0)
}

/// Device completions against the diskstats delta: exact, or short by at
/// most the completions the kernel reports having skipped the program for.
/// Witness completions against diskstats: equal, or within the events the
/// kernel says it skipped. One more outcome is told apart, not passed over:
/// a lone read completion the witness never saw (`Ok(Some(..))`), which
/// [`run_case`] allows once a run. Seen twice on CI's fresh machines (a
/// 128 KiB read of 39, and one of 31, in thousands of cases; never here in
/// 3,500): the witness saw the request issued, its block_rq_complete
/// program ran once for every other completion and skipped none, yet
/// diskstats counted this one, whose sectors are added right after that
/// tracepoint. Not explained. The witness's own account then shows it (a
/// read issued and never completed, with nothing in flight) and the harness
/// refuses to judge on it: its completions differ from diskstats, so the
/// truth is unknown (establish::cross_check_witness), never a wrong verdict.
fn check_device(r: &WitnessReport, d: &DiskStats) -> Result<Option<String>, String> {
    let c = &r.device.complete;
    let skipped = missed(r, "block:block_rq_complete");
    let ctx = || {
        format!(
            "witness {:?}, events {:?}, skipped {:?} vs diskstats delta {d:?}",
            r.device, r.events, r.missed_by_program
        )
    };
    if skipped > 0 {
        eprintln!("witness reports {skipped} skipped block_rq_complete events: checking bounds");
        let rqs = c.read.count + c.write.count + r.device.flush.completed;
        if c.read.bytes > d.read_sectors * 512
            || c.write.bytes > d.write_sectors * 512
            || rqs > d.reads + d.writes + d.flushes
            || d.reads + d.writes + d.flushes - rqs > skipped
        {
            return Err(format!("beyond {skipped} skipped events: {}", ctx()));
        }
        return Ok(None);
    }
    let (issued, done) = (r.device.issue.read, c.read);
    let unseen_read = issued.count == d.reads
        && issued.bytes == d.read_sectors * 512
        && done.count + 1 == d.reads
        && done.bytes < issued.bytes;
    // The unseen one is held to its issue, which diskstats must match.
    let read = if unseen_read { issued } else { done };
    let pairs = [
        ("read bytes", read.bytes, d.read_sectors * 512),
        ("write bytes", c.write.bytes, d.write_sectors * 512),
        ("discard bytes", c.discard.bytes, d.discard_sectors * 512),
        ("reads completed", read.count, d.reads),
        ("writes completed", c.write.count, d.writes),
        ("flushes completed", r.device.flush.completed, d.flushes),
    ];
    for (what, got, want) in pairs {
        if got != want {
            return Err(format!(
                "{what}: witness {got}, diskstats {want}; {}",
                ctx()
            ));
        }
    }
    Ok(unseen_read.then(|| {
        format!(
            "one read completion unseen by the witness ({} B): issued {} reads, completed {}, diskstats {}; {}",
            issued.bytes - done.bytes,
            issued.count,
            done.count,
            d.reads,
            ctx()
        )
    }))
}

/// An O_DIRECT process submitted exactly its bytes, in its direction, all
/// under its comm; short by at most what the witness reports lost.
fn check_direct(
    r: &WitnessReport,
    w: &Workload,
    g: IoGroup,
    pid: u32,
    comm: &str,
) -> Result<(), String> {
    let (size, request) = match *w {
        Workload::DirectRead { size, request } | Workload::DirectWrite { size, request } => {
            (size, request)
        }
        _ => return Ok(()),
    };
    let rows = || r.submitters.iter().filter(|s| s.tgid == pid);
    let ctx = || {
        format!(
            "{comm} (pid {pid}, {w:?}): its rows {:?}",
            rows().collect::<Vec<_>>()
        )
    };
    if let Some(s) = rows().find(|s| s.comm != comm) {
        return Err(format!("submitted under comm {}: {}", s.comm, ctx()));
    }
    let mine = r.submitted_by(|s| s.tgid == pid && s.comm == comm);
    let other = match g {
        IoGroup::Read => IoGroup::Write,
        _ => IoGroup::Read,
    };
    let lost =
        r.lost_by_map.get("submitters").copied().unwrap_or(0) + missed(r, "block:block_bio_queue");
    let got = mine.get(g).bytes;
    if lost > 0 {
        // Each lost event is one bio, of at most one request's bytes.
        eprintln!("witness reports {lost} lost submissions: {comm} must be within {lost} bios");
        if got > size || size - got > lost * request {
            return Err(format!("{got} bytes of {size}, {lost} lost: {}", ctx()));
        }
    } else if got != size {
        return Err(format!("{g:?} bytes {got}, expected {size}: {}", ctx()));
    }
    if mine.get(other).bytes != 0 || mine.discard.bytes != 0 {
        return Err(format!("I/O in the other direction: {}", ctx()));
    }
    Ok(())
}

/// The witness's own books balance: in a quiet window every byte submitted
/// was issued and completed, every data request issued completed once, and
/// bios become requests by splits (+1) and merges (-1).
fn check_flow(r: &WitnessReport, unseen_read: bool) -> Result<(), String> {
    let dev = &r.device;
    if r.lost > 0 {
        return Ok(());
    }
    for g in [IoGroup::Read, IoGroup::Write] {
        let (s, i, c) = (
            dev.submit.get(g).bytes,
            dev.issue.get(g).bytes,
            dev.complete.get(g).bytes,
        );
        // A lone unseen read completion (check_device) leaves its request
        // issued and not completed; everything else must still flow.
        let unseen = u64::from(unseen_read && g == IoGroup::Read);
        if s != i || (unseen == 0 && i != c) || (unseen == 1 && i <= c) {
            return Err(format!(
                "{g:?}: submitted {s}, issued {i}, completed {c} bytes: {dev:?}"
            ));
        }
        let data_rqs = dev.complete.get(g).count - dev.complete_without_data.get(g).count;
        if data_rqs + unseen != dev.issue.get(g).count {
            return Err(format!(
                "{g:?}: {data_rqs} data requests completed, {} issued: {dev:?}",
                dev.issue.get(g).count
            ));
        }
    }
    let bios = dev.submit.read.count + dev.submit.write.count;
    let rqs = dev.issue.read.count + dev.issue.write.count;
    let m = &dev.merges;
    if bios + m.splits != rqs + m.back + m.front + m.requests {
        return Err(format!(
            "{bios} bios + {} splits - merges {m:?} != {rqs} requests: {dev:?}",
            m.splits
        ));
    }
    Ok(())
}

struct Totals {
    cases: AtomicU64,
    processes: AtomicU64,
    direct: AtomicU64,
    bytes: AtomicU64,
    splits: AtomicU64,
    lost: AtomicU64,
    /// Cases with a lone read completion the witness did not see.
    unseen: AtomicU64,
}

fn run_case(disk: &ScratchDisk, case: u64, procs: &[Workload], t: &Totals) -> Result<(), String> {
    let dev = Some((disk.major, disk.minor));
    let dir = CaseDir(disk.path(&format!("case{case}")));
    let mut jobs = Vec::new();
    for (i, w) in procs.iter().enumerate() {
        // A directory each: two workloads of one kind and size would share
        // an input file name.
        let sub = dir.0.join(i.to_string());
        std::fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        w.prepare_on(&sub, dev)
            .map_err(|e| format!("prepare {w:?}: {e}"))?;
        jobs.push((
            w.clone(),
            sub,
            format!("{COMM_PREFIX}{:05}-{i}", case % 100_000),
        ));
    }
    syncfs(disk)?;
    let witness = Witness::start(WitnessConfig {
        comm_prefix: Some(COMM_PREFIX.into()),
        ..WitnessConfig::device(disk.major, disk.minor)
    })
    .map_err(|e| e.to_string())?;
    let (w0, d0) = quiet_point(disk, &witness)?;

    let pids = run_workers(disk, &jobs)?;
    syncfs(disk)?;
    let (w1, d1) = quiet_point(disk, &witness)?;
    // Stamps left at a quiet point: requests whose completion it missed.
    let pending = witness.in_flight().map_err(|e| e.to_string())?;
    drop(witness);
    let r = w1.since(&w0);
    let d = d1.since(&d0);

    let left = || {
        format!(
            "{} read and {} write latency samples, {} completions unstamped; issued, never seen complete: {:?}",
            r.requests.samples.iter().filter(|s| !s.write).count(),
            r.requests.samples.iter().filter(|s| s.write).count(),
            r.requests.unissued,
            pending
        )
    };
    let unseen = check_device(&r, &d).map_err(|e| format!("{e}; {}", left()))?;
    if let Some(miss) = &unseen {
        let miss = format!("{miss}; {}", left());
        if t.unseen.fetch_add(1, Ordering::Relaxed) > 0 {
            return Err(format!(
                "a second lone unseen completion in this run: {miss}"
            ));
        }
        eprintln!("ALLOWED ONCE A RUN: {miss}");
    }
    for ((w, _, comm), pid) in jobs.iter().zip(&pids) {
        if let Some(g) = is_direct(w) {
            check_direct(&r, w, g, *pid, comm)?;
            t.direct.fetch_add(1, Ordering::Relaxed);
        }
    }
    check_flow(&r, unseen.is_some())?;
    t.cases.fetch_add(1, Ordering::Relaxed);
    t.processes.fetch_add(procs.len() as u64, Ordering::Relaxed);
    t.bytes
        .fetch_add((d.read_sectors + d.write_sectors) * 512, Ordering::Relaxed);
    t.splits
        .fetch_add(r.device.merges.splits, Ordering::Relaxed);
    t.lost.fetch_add(r.lost, Ordering::Relaxed);
    Ok(())
}

#[test]
fn witness_matches_diskstats_and_direct_processes_for_random_concurrent_mixes() {
    let started = Instant::now();
    let disk = ScratchDisk::new("prop", 256).expect("scratch disk");
    let cases = match std::env::var("PROPTEST_CASES") {
        Ok(_) => Config::default().cases,
        Err(_) => CASES,
    };
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/prop.proptest-regressions"
        )))),
        source_file: Some(file!()),
        ..Config::default()
    });
    let next = AtomicU64::new(0);
    let totals = Totals {
        cases: AtomicU64::new(0),
        processes: AtomicU64::new(0),
        direct: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        splits: AtomicU64::new(0),
        lost: AtomicU64::new(0),
        unseen: AtomicU64::new(0),
    };
    let result = runner.run(
        &prop::collection::vec(workload(), 1..=4),
        |procs: Vec<Workload>| {
            let case = next.fetch_add(1, Ordering::Relaxed);
            run_case(&disk, case, &procs, &totals)
                .map_err(|e| TestCaseError::fail(format!("{procs:?}: {e}")))
        },
    );
    // Unmount and detach before reporting, pass or fail.
    drop(disk);
    eprintln!(
        "{} passing cases ({} runs with shrinking), {} processes ({} O_DIRECT checked), {} MiB through the disk, {} bio splits, {} lost events, {} lone read completion(s) unseen (one allowed), in {:.1} s",
        totals.cases.load(Ordering::Relaxed),
        next.load(Ordering::Relaxed),
        totals.processes.load(Ordering::Relaxed),
        totals.direct.load(Ordering::Relaxed),
        totals.bytes.load(Ordering::Relaxed) >> 20,
        totals.splits.load(Ordering::Relaxed),
        totals.lost.load(Ordering::Relaxed),
        totals.unseen.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Guest runs of the property: cases per kernel. TCG emulation makes a
/// case ~10x slower than on the host, so fewer; set
/// `TRACECHECK_GUEST_PROP_CASES` for a longer run.
const GUEST_CASES: u32 = 32;

/// The same property on each Debian kernel the README offers, in a QEMU
/// guest on its virtio scratch disk: this test binary runs the host test
/// above there (the witness's completion counting depends on the kernel's
/// request-flag layout, which differs between 6.1 and 6.12;
/// docs/kernel-facts.md). One guest at a time.
#[test]
fn witness_matches_diskstats_in_debian_guests() {
    use tracecheck_vm::{
        build_image, choose_accel, run_guest, runner, BuildOptions, GuestSpec, KernelTarget,
        Outcome,
    };
    let exe = std::env::current_exe().expect("test binary path");
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cases = std::env::var("TRACECHECK_GUEST_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(GUEST_CASES);
    let opts = BuildOptions::default();
    for target in KernelTarget::ALL {
        let image = build_image(*target, &opts).expect("guest image");
        let accel = choose_accel(&image, &opts.cache_dir).expect("accelerator");
        let env: Vec<(String, String)> = [
            ("PROPTEST_CASES", cases.to_string()),
            (common::SCRATCH_DEVICE_ENV, "serial:scratch".to_string()),
            ("RUST_BACKTRACE", "1".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let script = runner::runner_script(
            &manifest.to_string_lossy(),
            &env,
            &exe.to_string_lossy(),
            &[
                "--exact".into(),
                "witness_matches_diskstats_and_direct_processes_for_random_concurrent_mixes".into(),
                "--nocapture".into(),
            ],
        );
        let mut gs = GuestSpec::new(&image, accel, script);
        gs.scratch_disk_bytes = Some(256 << 20);
        gs.shares = runner::shares_for(
            &[exe.clone(), manifest.clone()],
            &[],
            image.root_dir.is_some(),
        )
        .expect("shares");
        gs.run_timeout = Duration::from_secs(60 + 30 * u64::from(cases));
        let started = Instant::now();
        let out = run_guest(&gs).expect("start the guest");
        let stderr = &out.stderr;
        eprintln!(
            "{target} ({}): {:?} in {:.1} s\n{stderr}",
            image.kver,
            out.outcome,
            started.elapsed().as_secs_f64()
        );
        assert!(
            matches!(out.outcome, Outcome::Exited { code: 0 }),
            "{target}: {:?}\n{}\nconsole:\n{}",
            out.outcome,
            out.stdout,
            out.last_serial_lines(30).join("\n")
        );
        // At least `cases`: proptest replays the cases saved in
        // prop.proptest-regressions (shared into the guest) before the
        // new ones, and each passing replay counts too.
        let passed = stderr.lines().find_map(|l| {
            l.split_once(" passing cases")
                .and_then(|(n, _)| n.split_whitespace().last()?.parse::<u32>().ok())
        });
        assert!(
            passed.is_some_and(|n| n >= cases),
            "{target}: the guest ran {passed:?} passing cases, fewer than {cases}:\n{stderr}"
        );
    }
}

/// CI's failing case of 2026-12-04, as the witness and diskstats counted it:
/// 39 reads issued and counted by diskstats, 38 completions seen (128 KiB
/// short). check_device tells it apart, with the flow otherwise whole; two
/// reads unseen, or a byte count that disagrees, still fail.
#[test]
fn a_lone_unseen_read_completion_is_told_apart_and_nothing_more() {
    use tracecheck_witness::{DeviceReport, Flow, FlushCounts, MergeCounts, Stage};
    let flow = |bytes, count| Flow { bytes, count };
    let stage = |read, write| Stage {
        read,
        write,
        discard: Flow::default(),
    };
    let report = |completed: Flow| WitnessReport {
        device: DeviceReport {
            major: 7,
            minor: 0,
            submit: stage(flow(4_349_952, 10), flow(4_374_528, 8)),
            issue: stage(flow(4_349_952, 39), flow(4_374_528, 37)),
            requeue: Stage::default(),
            complete: stage(completed, flow(4_374_528, 38)),
            complete_without_data: stage(Flow::default(), flow(0, 1)),
            flush: FlushCounts {
                bios: 1,
                issued: 3,
                completed: 3,
                empty_completions: 3,
            },
            merges: MergeCounts {
                back: 3,
                front: 0,
                requests: 0,
                splits: 61,
            },
        },
        ..WitnessReport::default()
    };
    let d = DiskStats {
        reads: 39,
        read_sectors: 8_496,
        writes: 38,
        write_sectors: 8_544,
        discards: 0,
        discard_sectors: 0,
        flushes: 3,
    };
    let seen = report(flow(4_349_952, 39));
    assert_eq!(check_device(&seen, &d), Ok(None));
    assert_eq!(check_flow(&seen, false), Ok(()));
    let one = report(flow(4_218_880, 38));
    let miss = check_device(&one, &d)
        .expect("told apart")
        .expect("a lone miss");
    assert!(
        miss.contains("(131072 B): issued 39 reads, completed 38"),
        "{miss}"
    );
    assert_eq!(check_flow(&one, true), Ok(()));
    assert!(check_flow(&one, false).is_err());
    assert!(check_device(&report(flow(4_087_808, 37)), &d).is_err());
    let other = DiskStats {
        read_sectors: 8_488,
        ..d
    };
    assert!(check_device(&one, &other).is_err());
}
