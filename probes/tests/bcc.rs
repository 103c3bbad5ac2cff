//! The `bcc-hist` format against real output of bcc 0.26's tools, saved
//! under `tests/fixtures/bcc/` (its README says how each was captured):
//! snapshots of every parse, and the counts the capture's own workloads
//! must have produced.

use std::path::PathBuf;
use tracecheck_model::{ToolOutput, Value};
use tracecheck_probes::{parse, OutputFormat};

fn capture(stem: &str) -> ToolOutput {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bcc")
        .join(format!("{stem}.txt"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let format: OutputFormat = "bcc-hist".parse().unwrap();
    parse(format, &text).unwrap_or_else(|e| panic!("{stem}: {e}"))
}

#[test]
fn snapshots() {
    insta::assert_yaml_snapshot!("bcc_hist_bitesize_bpfcc", capture("bitesize_bpfcc"));
}

#[test]
fn bitesize_sections_hold_the_workloads_requests() {
    let o = capture("bitesize_bpfcc");
    assert_eq!(o.maps.len(), 1, "one printing, at Ctrl-C");
    let m = &o.maps[0];
    assert_eq!(m.name, "Kbytes");
    let of = |comm: &str| m.entries.iter().find(|e| e.keys == [comm]);
    // direct-read: 16 MiB of O_DIRECT reads in 128 requests of 128 KiB,
    // all in the 128 -> 255 Kbytes bucket.
    let read = of("tcw-8dcdca").expect("the direct-read workload's section");
    assert_eq!(read.value.as_count(), 128);
    let Value::Histogram(b) = &read.value else {
        panic!("not a histogram")
    };
    let last = b.last().unwrap();
    assert_eq!((last.lo, last.hi, last.count), (128, Some(256), 128));
    // buffered-write-nofsync wrote nothing itself: the flusher did.
    assert!(of("tcw-a60fa8").is_none());
    assert!(of("kworker/u4:0").is_some_and(|e| e.value.as_count() >= 112));
    assert_eq!(o.unparsed, ["Tracing block I/O... Hit Ctrl-C to end."]);
}
