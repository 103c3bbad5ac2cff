//! The `perf-tools-hist` format against real output of perf-tools'
//! iolatency (perf-tools-unstable 1.0.1~20200130), saved under
//! `tests/fixtures/perf_tools/`: the stdout kept in the record of
//! `tracecheck check expectations/catalog/perf-tools/iolatency --vm
//! debian-6.1` (queued-io on a null_blk device that completes each request
//! after 3 ms).

use std::path::PathBuf;
use tracecheck_model::Value;
use tracecheck_probes::{parse, OutputFormat};

fn iolatency() -> tracecheck_model::ToolOutput {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/perf_tools/iolatency_perf.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let format: OutputFormat = "perf-tools-hist".parse().unwrap();
    parse(format, &text).unwrap()
}

#[test]
fn snapshot() {
    insta::assert_yaml_snapshot!("perf_tools_hist_iolatency", iolatency());
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
