//! The `bcc-hist`, `folded` and `bcc-json` formats against real output of bcc's tools (0.26, and 0.31 for `-j`): log2
//! histograms (bitesize), linear ones (runqlen), folded stacks and `-j` dicts, saved
//! under `tests/fixtures/bcc/` (its README says how each was captured):
//! snapshots of every parse, and the counts the capture's own workloads
//! must have produced.

use std::path::PathBuf;
use tracecheck_model::{ToolOutput, Value};
use tracecheck_probes::{parse, OutputFormat};

fn capture(stem: &str) -> ToolOutput {
    capture_as(stem, "bcc-hist")
}

fn capture_as(stem: &str, format: &str) -> ToolOutput {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bcc")
        .join(format!("{stem}.txt"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let format: OutputFormat = format.parse().unwrap();
    parse(format, &text).unwrap_or_else(|e| panic!("{stem}: {e}"))
}

#[test]
fn snapshots() {
    insta::assert_yaml_snapshot!("bcc_hist_bitesize_bpfcc", capture("bitesize_bpfcc"));
    insta::assert_yaml_snapshot!(
        "folded_profile_bpfcc",
        capture_as("profile_bpfcc_folded", "folded")
    );
    insta::assert_yaml_snapshot!("bcc_hist_runqlen_bpfcc_cpus", capture("runqlen_bpfcc_cpus"));
    insta::assert_yaml_snapshot!("bcc_hist_runqlen_bpfcc", capture("runqlen_bpfcc"));
    insta::assert_yaml_snapshot!(
        "bcc_json_biolatency_bpfcc",
        capture_as("biolatency_bpfcc_json", "bcc-json")
    );
}

/// biolatency -j's one dict: the usecs map with no key, its log2 buckets
/// holding the 259 requests of direct-mixed (as diskstats counted them).
#[test]
fn biolatency_json_holds_the_workloads_requests() {
    let o = capture_as("biolatency_bpfcc_json", "bcc-json");
    assert_eq!(o.maps.len(), 1);
    let m = o.map("usecs").expect("the usecs map");
    assert_eq!(m.entries.len(), 1);
    assert!(m.entries[0].keys.is_empty());
    assert_eq!(m.entries[0].value.as_count(), 259);
    let Value::Histogram(b) = &m.entries[0].value else {
        panic!("not a histogram")
    };
    // interval-start 2, interval-end 3: [2, 4).
    assert_eq!((b[1].lo, b[1].hi), (2, Some(4)));
    assert!(o.unparsed.is_empty(), "{:?}", o.unparsed);
}

/// bcc's `profile -f -F 997` prints one line per distinct stack, the
/// process name first: the lines kept of the spin workload's (`tcw-`) add
/// up per process, and the other processes' stay apart.
#[test]
fn folded_stacks_sum_by_process_name() {
    let o = capture_as("profile_bpfcc_folded", "folded");
    let m = &o.maps[0];
    assert_eq!(m.name, "stacks");
    let (by_comm, _) = m.sum_by(|e| Some(e.keys[0].clone()));
    let spin: Vec<(&String, &u64)> = by_comm
        .iter()
        .filter(|(k, _)| k.starts_with("tcw-"))
        .collect();
    assert_eq!(spin.len(), 1, "{by_comm:?}");
    assert!(by_comm.contains_key("tracecheck"), "{by_comm:?}");
    assert!(o.unparsed.is_empty(), "{:?}", o.unparsed);
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

/// runqlen's linear histograms: `runqlen-bpfcc -C 4 1` samples every CPU
/// at 99 Hz for one 4 s interval, so each `cpu = N` section holds 99 x 4 =
/// 396 samples, in buckets one run-queue length wide; without `-C`, one
/// histogram holds both CPUs' (794: 397 each, the interval ran a little
/// over 4 s). Every sample is in the 0 bucket (see the README).
#[test]
fn runqlen_linear_sections_hold_99_samples_a_second_per_cpu() {
    let o = capture("runqlen_bpfcc_cpus");
    assert_eq!(o.maps.len(), 1, "one printing, after its one interval");
    let m = &o.maps[0];
    assert_eq!(m.name, "runqlen");
    let mut cpus: Vec<(&str, u64)> = m
        .entries
        .iter()
        .map(|e| (e.keys[0].as_str(), e.value.as_count()))
        .collect();
    cpus.sort();
    assert_eq!(cpus, [("0", 396), ("1", 396)]);
    let Value::Histogram(b) = &m.entries[0].value else {
        panic!("not a histogram")
    };
    // A linear bucket `0 : 396` is the one length 0: [0, 1).
    assert_eq!((b[0].lo, b[0].hi, b[0].count), (0, Some(1), 396));
    assert_eq!(
        o.unparsed,
        ["Sampling run queue length... Hit Ctrl-C to end."]
    );

    let o = capture("runqlen_bpfcc");
    let m = &o.maps[0];
    assert_eq!(m.entries.len(), 1);
    assert!(m.entries[0].keys.is_empty());
    assert_eq!(m.entries[0].value.as_count(), 794);
}
