//! Bench command (not a timed test): `cargo bench -p tracecheck --bench guest_runs`.
//!
//! The correct example (bio-bytes, 5 default workloads) in a debian-6.1
//! guest three ways, interleaved, in the same run: a guest per check (one
//! `tracecheck check --workload W` each, as before one guest per spec),
//! one guest for the spec with a tool run per workload
//! (`--tool-run-per-workload`), and one guest with one tool run. Prints
//! the wall times and their ratios; asserts only that every way's verdicts
//! all passed, since speed is a measurement, not a test.
//!
//! Needs root, QEMU and the guest image (the first run downloads it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const ROUNDS: usize = 2;
const WORKLOADS: &[&str] = &[
    "cached-reread",
    "mmap-read",
    "buffered-write-nofsync",
    "buffered-rewrite-fsync",
    "direct-mixed",
];

/// One `tracecheck check` of the example in the guest; true if it passed.
fn check(spec: &Path, extra: &[&str]) -> bool {
    Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .arg(spec)
        .args(["--vm", "debian-6.1", "--record", "/dev/null", "-q"])
        .args(extra)
        .status()
        .expect("run tracecheck")
        .success()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../expectations/examples/bio-bytes");
    let (mut per_check, mut per_workload, mut one) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for w in WORKLOADS {
            assert!(check(&spec, &["--workload", w]), "{w}");
        }
        per_check.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        assert!(check(&spec, &["--tool-run-per-workload"]));
        per_workload.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        assert!(check(&spec, &[]));
        one.push(t.elapsed().as_secs_f64());
    }
    let (a, b, c) = (median(per_check), median(per_workload), median(one));
    println!(
        "bio-bytes, {} checks, debian-6.1 guest, median of {ROUNDS}:\n  a guest per check          {a:6.1} s\n  one guest, tool per check  {b:6.1} s  ({:.2}x faster)\n  one guest, one tool run    {c:6.1} s  ({:.2}x faster)",
        WORKLOADS.len(),
        a / b,
        a / c
    );
}
