//! Cost of the witness per block event, against the same counting done by
//! a bpftrace one-liner, on 4 KiB O_DIRECT reads from a scratch loop
//! device (one bio, one request, three block events and one sys_exit per
//! read). Run as root: `cargo bench -p tracecheck-witness`. Not in CI.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{black_box, Criterion};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tracecheck_witness::{Witness, WitnessConfig};

const O_DIRECT: i32 = 0o40000; // x86_64
const BLOCK: usize = 4096;
const FILE_BLOCKS: u64 = 4096; // 16 MiB
const BLOCK_EVENTS_PER_READ: f64 = 3.0; // bio_queue, rq_issue, rq_complete

struct Reader {
    file: File,
    buf: Vec<u8>,
    at: usize,
    next: u64,
}

impl Reader {
    fn new(path: &std::path::Path) -> Reader {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_DIRECT)
            .open(path)
            .expect("open O_DIRECT");
        let buf = vec![0u8; 2 * BLOCK];
        let at = (BLOCK - (buf.as_ptr() as usize % BLOCK)) % BLOCK;
        Reader {
            file,
            buf,
            at,
            next: 0,
        }
    }

    fn read_one(&mut self) -> usize {
        let off = (self.next % FILE_BLOCKS) * BLOCK as u64;
        self.next += 1;
        self.file
            .read_at(&mut self.buf[self.at..self.at + BLOCK], off)
            .expect("pread")
    }

    /// Mean time of one read over `n` reads.
    fn time(&mut self, n: u32) -> Duration {
        let t = Instant::now();
        for _ in 0..n {
            black_box(self.read_one());
        }
        t.elapsed() / n
    }
}

fn start_bpftrace(kdev: u32) -> Option<Child> {
    let prog = format!(
        "BEGIN {{ printf(\"ready\\n\"); }} tracepoint:block:block_rq_complete /args->dev == {kdev}/ {{ @[args->rwbs] = sum(args->nr_sector); }}"
    );
    let mut child = Command::new("bpftrace")
        .args(["-B", "line", "-e", &prog])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let out = child.stdout.take()?;
    let mut lines = BufReader::new(out).lines();
    let ready = lines.any(|l| l.map(|l| l.trim() == "ready").unwrap_or(false));
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Some(child)
}

/// The programs of the witness (names as the kernel keeps them, 15 bytes).
const WITNESS_PROGS: &[&str] = &[
    "bio_queue",
    "rq_issue",
    "rq_requeue",
    "rq_complete",
    "bio_backmerge",
    "bio_frontmerge",
    "rq_merge",
    "split",
    "pagecache_add",
    "sys_exit",
    "process_fork",
];
/// bpftrace's program for `tracepoint:block:block_rq_complete`.
const BPFTRACE_PROGS: &[&str] = &["block_rq_comple"];

/// Nanoseconds the kernel spent running the named programs, and how often
/// they ran (needs kernel.bpf_stats_enabled=1). Wall-clock time per read is
/// at the mercy of everything else on the host; this is not.
fn prog_stats(names: &[&str]) -> (u64, u64) {
    let Ok(out) = Command::new("bpftool")
        .args(["prog", "show", "-j"])
        .output()
    else {
        return (0, 0);
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut sum = (0, 0);
    for p in v.as_array().into_iter().flatten() {
        if names.contains(&p["name"].as_str().unwrap_or("")) {
            sum.0 += p["run_time_ns"].as_u64().unwrap_or(0);
            sum.1 += p["run_cnt"].as_u64().unwrap_or(0);
        }
    }
    sum
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    let disk = common::ScratchDisk::new("bench", 64).expect("scratch disk (run as root)");
    let data = disk.path("data");
    let out = format!("of={}", common::p(&data));
    common::run(
        "dd",
        &[
            "if=/dev/zero",
            &out,
            "bs=1M",
            "count=16",
            "oflag=direct",
            "status=none",
        ],
    )
    .expect("data");
    disk.settle().expect("settle");
    let kdev = (disk.major << 20) | disk.minor;
    let mut r = Reader::new(&data);
    let n = 5_000;
    let rounds = 7;
    r.time(2_000);

    // Modes alternate round by round and each reports its median, so load
    // from other processes on the host hits all three alike.
    let (mut base, mut wit, mut bt) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = 0u64;
    let stats_were =
        std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled").unwrap_or_default();
    let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", "1");
    // In-kernel cost: (ns, runs) summed over rounds, and reads done.
    let (mut wk, mut bk) = ((0u64, 0u64), (0u64, 0u64));
    let per_round = n as u64 + 200;
    for _ in 0..rounds {
        base.push(r.time(n).as_nanos() as f64);
        let w = Witness::start(WitnessConfig::device(disk.major, disk.minor)).expect("witness");
        r.time(200);
        wit.push(r.time(n).as_nanos() as f64);
        let k = prog_stats(WITNESS_PROGS);
        wk = (wk.0 + k.0, wk.1 + k.1);
        let rep = w.stop().expect("witness report");
        seen += rep.device.complete.read.count;
        if let Some(child) = start_bpftrace(kdev) {
            r.time(200);
            bt.push(r.time(n).as_nanos() as f64);
            let k = prog_stats(BPFTRACE_PROGS);
            bk = (bk.0 + k.0, bk.1 + k.1);
            stop(child);
        }
    }
    let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", stats_were.trim());
    let reads = (rounds as u64 * per_round) as f64;
    println!("in-kernel cost (kernel.bpf_stats_enabled: run time of the programs themselves):");
    println!(
        "  witness   : {:>6.0} ns per read over {} program runs ({:.0} ns per run)",
        wk.0 as f64 / reads,
        wk.1,
        wk.0 as f64 / wk.1.max(1) as f64
    );
    if bk.1 > 0 {
        println!(
            "  bpftrace  : {:>6.0} ns per read over {} program runs ({:.0} ns per run)",
            bk.0 as f64 / reads,
            bk.1,
            bk.0 as f64 / bk.1 as f64
        );
        println!(
            "  ratio witness/bpftrace per block event (rq_complete-equivalent): {:.2}; per read, all programs: {:.2}",
            (wk.0 as f64 / wk.1.max(1) as f64) / (bk.0 as f64 / bk.1 as f64),
            wk.0 as f64 / bk.0.max(1) as f64
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied()
    };
    let base = median(&mut base).unwrap_or(0.0);
    let wit = median(&mut wit).unwrap_or(0.0);
    let per_event = |t: f64| (t - base) / BLOCK_EVENTS_PER_READ;
    println!(
        "4 KiB O_DIRECT pread on {} (median of {rounds} rounds of {n} reads):",
        disk.loopdev
    );
    println!("  no tracer : {base:>7.0} ns/read");
    println!(
        "  witness   : {wit:>7.0} ns/read, {:+.0} ns per block event",
        per_event(wit)
    );
    println!(
        "  (the witness completed {seen} read requests for {} reads)",
        rounds as u64 * (n as u64 + 200)
    );
    match median(&mut bt) {
        Some(t) => {
            println!(
                "  bpftrace  : {t:>7.0} ns/read, {:+.0} ns per block event",
                per_event(t)
            );
            println!(
                "  overhead ratio witness/bpftrace: {:.2} (witness: 11 programs incl. sys_exit; bpftrace: 1)",
                (wit - base) / (t - base)
            );
        }
        None => {
            println!("  bpftrace  : did not start (is tracefs mounted at /sys/kernel/tracing?)")
        }
    }

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    c.bench_function("pread_4k_direct/no_tracer", |b| b.iter(|| r.read_one()));
    let w = Witness::start(WitnessConfig::device(disk.major, disk.minor)).expect("witness");
    c.bench_function("pread_4k_direct/witness", |b| b.iter(|| r.read_one()));
    drop(w);
    if let Some(child) = start_bpftrace(kdev) {
        c.bench_function("pread_4k_direct/bpftrace_one_liner", |b| {
            b.iter(|| r.read_one())
        });
        stop(child);
    }
    c.final_summary();
}
