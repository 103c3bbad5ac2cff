//! Bench command (not a timed test): `cargo bench -p tracecheck --bench throughput`.
//!
//! 1. The workload generator's O_DIRECT sequential read and write throughput
//!    on the scratch device, next to fio doing the same I/O (same file, same
//!    request size, psync engine, O_DIRECT) in the same run, interleaved, as
//!    a ratio. Target: >= 0.95x fio.
//! 2. The harness's own overhead per check: wall time minus the tool's
//!    start-up and the workload, as a fraction of the check's wall time.
//!
//! Needs root, fio and bpftrace (ci/install-deps.sh). Prints a table; no
//! assertion, since speed is a measurement, not a test.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use tracecheck::env::host::HostEnvironment;
use tracecheck::env::{check_spec, Choices, Limits, ToolRuns};
use tracecheck::spec::ToolSpec;
use tracecheck_workloads::scratch_disk::ScratchDisk;
use tracecheck_workloads::Workload;

const SIZE: u64 = 256 << 20;
const REQUEST: u64 = 1 << 20;
const ROUNDS: usize = 5;

fn fio(file: &Path, write: bool) -> f64 {
    let out = Command::new("fio")
        .args([
            "--name=tc",
            "--ioengine=psync",
            "--direct=1",
            "--output-format=json",
        ])
        .arg(format!("--rw={}", if write { "write" } else { "read" }))
        .arg(format!("--bs={REQUEST}"))
        .arg(format!("--size={SIZE}"))
        .arg(format!("--filename={}", file.display()))
        .output()
        .expect("run fio (apt-get install fio)");
    assert!(
        out.status.success(),
        "fio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fio json");
    let job = &v["jobs"][0][if write { "write" } else { "read" }];
    // bw_bytes is bytes per second over the job's run time.
    job["bw_bytes"].as_f64().expect("bw_bytes")
}

fn ours(w: &Workload, dir: &Path) -> f64 {
    let gt = w.run(dir, "tcw-bench").expect("workload run");
    SIZE as f64 / (gt.elapsed_ns as f64 / 1e9)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is accepted and ignored.
    let disk = ScratchDisk::create(1024).expect("scratch disk (run as root)");
    println!("O_DIRECT sequential, {} MiB in {} KiB requests, scratch {}, median of {ROUNDS} interleaved rounds", SIZE >> 20, REQUEST >> 10, disk.name);
    println!(
        "{:<8} {:>14} {:>14} {:>8}",
        "", "tracecheck", "fio", "ratio"
    );
    for write in [false, true] {
        let dir = disk.fresh_dir(if write { "w" } else { "r" }).unwrap();
        let w = if write {
            Workload::DirectWrite {
                size: SIZE,
                request: REQUEST,
            }
        } else {
            Workload::DirectRead {
                size: SIZE,
                request: REQUEST,
            }
        };
        w.prepare(&dir).expect("prepare");
        let file = w.input_path(&dir).expect("input file");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            a.push(ours(&w, &dir));
            b.push(fio(&file, write));
        }
        let (a, b) = (median(a), median(b));
        println!(
            "{:<8} {:>10.0} MB/s {:>10.0} MB/s {:>7.3}x",
            if write { "write" } else { "read" },
            a / 1e6,
            b / 1e6,
            a / b
        );
    }

    // Harness overhead: one real check of the correct example on O_DIRECT reads.
    let spec_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../expectations/examples/bio-bytes/spec.toml");
    let mut spec = ToolSpec::load(&spec_path).expect("example spec");
    for c in &mut spec.claims {
        c.workloads = vec![tracecheck::select::plan("direct-read").unwrap()];
    }
    tracecheck::env::host::ensure_tracefs().expect("tracefs");
    let never = AtomicBool::new(false);
    let env = HostEnvironment::on_disk(disk, Limits::default());
    let mut fractions = Vec::new();
    println!("\nharness overhead per check (bio-bytes on direct-read, {ROUNDS} checks):");
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>10} {:>10} | {:>8} {:>8} {:>8} {:>8} {:>8}",
        "total",
        "tool start",
        "tool exit",
        "workload",
        "harness",
        "fraction",
        "prepare",
        "settle",
        "witness*",
        "stop",
        "rest"
    );
    let (mut alone, mut totals, mut tool_and_work) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        // The tool started and stopped alone, in the same round, so that a
        // start slowed by the witness loading beside it shows as overhead.
        let t0 = std::time::Instant::now();
        let mut tool = tracecheck::tool::RunningTool::start(&spec).expect("tool starts");
        tool.wait_ready(&spec, &never).expect("tool ready");
        alone.push(t0.elapsed().as_secs_f64() * 1000.0);
        let _ = tool.stop(spec.stop, spec.stop_timeout);

        let recs = check_spec(&env, &spec, &Choices::ALL, &never, &mut |_| {}).expect("check");
        let t = &recs[0].timings;
        let f = t.harness_ms() as f64 / t.total_ms as f64;
        fractions.push(f);
        totals.push(t.total_ms as f64);
        tool_and_work.push((t.tool_exit_ms + t.workload_ms) as f64);
        // The witness loads while the tool starts, inside "tool start".
        let rest = t
            .harness_ms()
            .saturating_sub(t.prepare_ms + t.settle_ms + (t.tool_stop_ms - t.tool_exit_ms));
        println!(
            "{:>5} ms {:>7} ms {:>7} ms {:>7} ms {:>7} ms {:>9.1}% | {:>5} ms {:>5} ms {:>5} ms {:>5} ms {:>5} ms",
            t.total_ms,
            t.tool_start_ms,
            t.tool_exit_ms,
            t.workload_ms,
            t.harness_ms(),
            f * 100.0,
            t.prepare_ms,
            t.settle_ms,
            t.witness_ms,
            t.tool_stop_ms - t.tool_exit_ms,
            rest
        );
    }
    println!("* the witness loads while the tool starts; its time is inside \"tool start\"");
    let against_alone: Vec<f64> = (0..ROUNDS)
        .map(|i| 1.0 - (alone[i] + tool_and_work[i]) / totals[i])
        .collect();
    println!(
        "the tool's start alone: median {:.0} ms; harness overhead counting every ms of a check's tool start beyond that as the harness's: median {:.1}%",
        median(alone),
        median(against_alone) * 100.0
    );
    println!("median harness overhead: {:.1}% of a check's wall time (all but the tool's own start and exit and the workload: prepare, settle, witness, reading the tool's output, parse and compare)", median(fractions) * 100.0);

    // One tool run for a spec's workloads against one per workload, on the
    // example's own default workloads, interleaved.
    let spec = ToolSpec::load(&spec_path).expect("example spec");
    let (mut shared, mut apart, mut overhead) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for tool_runs in [ToolRuns::SharedWherePossible, ToolRuns::PerWorkload] {
            let choices = Choices {
                tool_runs,
                ..Choices::ALL
            };
            let t0 = std::time::Instant::now();
            let recs = check_spec(&env, &spec, &choices, &never, &mut |_| {}).expect("check");
            let wall = t0.elapsed().as_secs_f64();
            if tool_runs == ToolRuns::SharedWherePossible {
                assert!(recs.iter().all(|r| r.tool_run_shared.is_some()));
                let tool_and_work: u64 = recs
                    .iter()
                    .map(|r| {
                        r.timings.tool_start_ms + r.timings.tool_exit_ms + r.timings.workload_ms
                    })
                    .sum();
                overhead.push(1.0 - tool_and_work as f64 / (wall * 1000.0));
                shared.push(wall);
            } else {
                apart.push(wall);
            }
        }
    }
    let (a, b) = (median(shared), median(apart));
    println!(
        "\nbio-bytes on its {} default workloads, median of {ROUNDS}: one tool run {a:.2} s, one per workload {b:.2} s: {:.2}x faster; harness overhead in the one-run way {:.1}% of the wall time",
        tracecheck::env::checks_of(&spec).len(),
        b / a,
        median(overhead) * 100.0
    );
}
