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
    for _ in 0..rounds {
        base.push(r.time(n).as_nanos() as f64);
        let w = Witness::start(WitnessConfig::device(disk.major, disk.minor)).expect("witness");
        r.time(200);
        wit.push(r.time(n).as_nanos() as f64);
        let rep = w.stop().expect("witness report");
        seen += rep.device.complete.read.count;
        if let Some(child) = start_bpftrace(kdev) {
            r.time(200);
            bt.push(r.time(n).as_nanos() as f64);
            stop(child);
        }
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
