//! The `perf-tools-hist` format against real output of perf-tools'
//! iolatency (perf-tools-unstable 1.0.1~20200130), saved under
//! `tests/fixtures/perf_tools/`: the stdout kept in the record of
//! `tracecheck check expectations/catalog/perf-tools/iolatency --vm
//! debian-6.1` (queued-io on a null_blk device that completes each request
//! after 3 ms); and of bitesize-perf, run for 4 s on this host beside 32
//! O_DIRECT writes of 64 KiB, 16 reads of 4 KiB and 4 MiB of 1 MiB writes
//! to a loop device (which splits them into 128 KiB requests); and of
//! `perf report -n --sort comm,cpu` (linux-perf 6.1, format `perf-report`)
//! over `perf record -F 997 -a -e cpu-clock -- sleep 3` on this 2-CPU host,
//! beside a bash loop spinning for 2.5 s; and of `perf stat -I 250 -p PID`
//! (format `perf-stat`), from the record of `tracecheck check
//! expectations/catalog/perf/stat-interval` on this host: the workload
//! paced-opens-1k, 2,000 openat() at 1,000 a second.

use std::path::PathBuf;
use tracecheck_model::Value;
use tracecheck_probes::{parse, OutputFormat};

fn iolatency() -> tracecheck_model::ToolOutput {
    capture("iolatency_perf")
}

fn capture(stem: &str) -> tracecheck_model::ToolOutput {
    capture_as(stem, "perf-tools-hist")
}

fn capture_as(stem: &str, format: &str) -> tracecheck_model::ToolOutput {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/perf_tools/{stem}.txt"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let format: OutputFormat = format.parse().unwrap();
    parse(format, &text).unwrap_or_else(|e| panic!("{stem}: {e}"))
}

#[test]
fn snapshot() {
    insta::assert_yaml_snapshot!("perf_tools_hist_iolatency", iolatency());
    insta::assert_yaml_snapshot!("perf_tools_hist_bitesize", capture("bitesize_perf"));
    insta::assert_yaml_snapshot!(
        "perf_report_comm_cpu",
        capture_as("perf_report_comm_cpu", "perf-report")
    );
    insta::assert_yaml_snapshot!(
        "perf_stat_interval",
        capture_as("perf_stat_interval", "perf-stat")
    );
}

/// perf stat's intervals: the workload's 2,000 openat() calls in eight
/// intervals of ~250 ms, under the elapsed time at each one's end; the
/// interval before it ran and the one after it ended `<not counted>` (0);
/// its `/sec` is the count over the task-clock beside it (251 calls over
/// 6.56 ms of CPU time are 38.238 K/sec), not over the 0.25 s interval.
#[test]
fn perf_stat_intervals_keep_times_counts_and_rates() {
    let o = capture_as("perf_stat_interval", "perf-stat");
    assert_eq!(o.tables.len(), 1);
    let t = &o.tables[0];
    assert_eq!(t.header, ["TIME", "COUNTS", "UNIT", "EVENTS", "RATE"]);
    let col = |n: &str| t.column(n).unwrap();
    let openat: Vec<&Vec<String>> = t
        .rows
        .iter()
        .filter(|r| r[col("EVENTS")] == "syscalls:sys_enter_openat")
        .collect();
    assert_eq!(openat.len(), 10);
    let total: u64 = openat
        .iter()
        .map(|r| r[col("COUNTS")].parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 2_000);
    let first = openat.iter().find(|r| r[col("COUNTS")] == "251").unwrap();
    assert_eq!(first[col("RATE")], "38238");
    let clock = t
        .rows
        .iter()
        .find(|r| r[col("TIME")] == first[col("TIME")] && r[col("EVENTS")] == "task-clock")
        .unwrap();
    assert_eq!(
        (clock[col("COUNTS")].as_str(), clock[col("UNIT")].as_str()),
        ("6.56", "msec")
    );
    // Rows only: nothing in the output went unread.
    assert!(o.unparsed.is_empty(), "{:?}", o.unparsed);
}

/// The spinning bash's rows, one per CPU, add up to at most its 2.5 s at
/// 997 Hz, and most of it (the host's QEMU took the rest).
#[test]
fn perf_report_rows_split_by_command_and_cpu() {
    let o = capture_as("perf_report_comm_cpu", "perf-report");
    assert_eq!(o.tables.len(), 1);
    let t = &o.tables[0];
    assert_eq!(t.header, ["Overhead", "Samples", "Command", "CPU"]);
    let (cmd, cpu, n) = (
        t.column("Command").unwrap(),
        t.column("CPU").unwrap(),
        t.column("Samples").unwrap(),
    );
    let bash: Vec<(&str, u64)> = t
        .rows
        .iter()
        .filter(|r| r[cmd] == "bash")
        .map(|r| (r[cpu].as_str(), r[n].parse().unwrap()))
        .collect();
    assert_eq!(bash.len(), 2, "{bash:?}");
    let total: u64 = bash.iter().map(|(_, n)| n).sum();
    assert!((1_500..=2_493).contains(&total), "{total}");
    assert!(t.rows.iter().all(|r| r.len() == 4));
}

/// The loop device's requests in whole-KiB buckets: the 32 writes of
/// 64 KiB in [64, 128), 4 MiB as 32 requests of 128 KiB in [128, ...),
/// the 4 KiB reads in [1, 8); the host's own disk adds a few (perf stat
/// counts every disk).
#[test]
fn bitesize_buckets_hold_the_loop_devices_requests() {
    let o = capture("bitesize_perf");
    let m = o.map("Kbytes").expect("the Kbytes map");
    let Value::Histogram(b) = &m.entries[0].value else {
        panic!("not a histogram")
    };
    let at = |lo: i64| b.iter().find(|x| x.lo == lo).map(|x| (x.hi, x.count));
    assert_eq!(at(128), Some((None, 32)));
    assert!(matches!(at(64), Some((Some(128), n)) if n >= 32), "{b:?}");
    assert!(matches!(at(1), Some((Some(8), n)) if n >= 16), "{b:?}");
    assert_eq!(at(0), Some((Some(1), 0)));
}

/// One printing before it was stopped: 69 requests in [2, 4) ms, where a
/// 3 ms device puts them, and 5 in [4, 8).
#[test]
fn iolatency_buckets_hold_the_three_ms_requests() {
    let o = iolatency();
    let m = &o.maps[0];
    assert_eq!(m.name, "ms");
    let Value::Histogram(b) = &m.entries[0].value else {
        panic!("not a histogram")
    };
    let at = |lo: i64| b.iter().find(|x| x.lo == lo).map(|x| x.count);
    assert_eq!((at(2), at(4)), (Some(69), Some(5)));
    assert_eq!(m.entries[0].value.as_count(), 74);
}
