//! Evidence for the bounds: every workload at 16 MiB on a fresh scratch
//! disk, diskstats deltas printed beside the truth's device bounds (and
//! still asserted to lie inside them). Slow-ish; run with
//! `cargo test -p tracecheck-workloads --test measure -- --ignored --nocapture`.

mod common;

use common::*;
use tracecheck_model::Who::Device;
use tracecheck_workloads::Workload;

#[test]
#[ignore = "measurement run: prints a table for tightening bounds"]
fn sixteen_mib_table() {
    let _s = serial();
    const M: u64 = 1 << 20;
    let ws = [
        Workload::DirectRead {
            size: 16 * M,
            request: M,
        },
        Workload::DirectWrite {
            size: 16 * M,
            request: M,
        },
        Workload::CachedReread {
            size: 16 * M,
            passes: 21,
            request: 128 << 10,
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
            passes: 1,
        },
        Workload::MmapRead { size: 16 * M },
        Workload::Opens { count: 1000 },
        Workload::Execs { count: 100 },
    ];
    let reps: usize = std::env::var("TCW_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    println!(
        "{:<28} {:>10} {:>20} {:>5} {:>10} {:>10} {:>24} {:>9} {:>5}",
        "workload", "rd bytes", "bounds", "rd io", "io bounds", "wr bytes", "bounds", "wr io", "ms"
    );
    for w in &ws {
        for _ in 0..reps {
            let disk = ScratchDisk::new(w.kind(), 128);
            let (t, d) = prepare_and_run(&disk, &w.to_args(), "tcw-measure");
            let rb = bound(&t, "disk.read_bytes", Device);
            let ri = bound(&t, "disk.read_ios", Device);
            let wb = bound(&t, "disk.write_bytes", Device);
            let wi = bound(&t, "disk.write_ios", Device);
            println!(
                "{:<28} {:>10} {:>20} {:>5} {:>10} {:>10} {:>24} {:>9} {:>5}",
                w.to_args()[..1].join(" ")
                    + if matches!(w, Workload::BufferedWrite { fsync: true, .. }) {
                        " --fsync"
                    } else {
                        ""
                    },
                d.read_bytes,
                format!("[{},{}]", rb.0, rb.1),
                d.read_ios,
                format!("[{},{}]", ri.0, ri.1),
                d.write_bytes,
                format!("[{},{}]", wb.0, wb.1),
                format!("{} [{},{}]", d.write_ios, wi.0, wi.1),
                t.elapsed_ns / 1_000_000
            );
            check_device(&t, &d);
        }
    }
}
