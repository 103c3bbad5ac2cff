//! The parsers against real bpftrace 0.17 output saved under
//! `tests/fixtures/bpftrace/` (each with the `.bt` script that printed it
//! and, in its header, how it was captured): snapshots of every parse, the
//! known byte totals of the I/O fixtures, and text/JSON agreement.

use std::path::PathBuf;
use tracecheck_model::{Direction, ParsedMap, ToolOutput, Value};
use tracecheck_probes::{parse, parse_bpftrace_json, parse_bpftrace_text, OutputFormat};

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bpftrace")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn text(stem: &str) -> ToolOutput {
    parse_bpftrace_text(&fixture(&format!("{stem}.txt")))
        .unwrap_or_else(|e| panic!("{stem}.txt: {e}"))
}

fn json(stem: &str) -> ToolOutput {
    parse_bpftrace_json(&fixture(&format!("{stem}.jsonl")))
        .unwrap_or_else(|e| panic!("{stem}.jsonl: {e}"))
}

const TEXT_FIXTURES: &[&str] = &[
    "forms",
    "stacks_and_text",
    "io_sizes",
    "rwbs_dup",
    "kprobe_warning",
];
const JSON_FIXTURES: &[&str] = &["forms", "stacks_and_text", "io_sizes", "rwbs_dup"];

#[test]
fn every_fixture_has_its_script_with_a_capture_comment() {
    for stem in TEXT_FIXTURES.iter().chain(JSON_FIXTURES) {
        let bt = fixture(&format!("{stem}.bt"));
        assert!(
            bt.starts_with("// Captured with capture.sh"),
            "{stem}.bt lacks its capture comment"
        );
    }
}

#[test]
fn snapshot_text_fixtures() {
    for stem in TEXT_FIXTURES {
        insta::assert_yaml_snapshot!(format!("text_{stem}"), text(stem));
    }
}

#[test]
fn snapshot_json_fixtures() {
    for stem in JSON_FIXTURES {
        insta::assert_yaml_snapshot!(format!("json_{stem}"), json(stem));
    }
}

/// (sectors read, sectors written) deltas x 512 from a `.diskstats` file
/// holding the device's /proc/diskstats line before and after the run.
fn diskstats_bytes(name: &str) -> (u64, u64) {
    let text = fixture(name);
    let rows: Vec<Vec<u64>> = text
        .lines()
        .map(|l| {
            l.split_whitespace()
                .skip(3)
                .map(|f| f.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2, "{name}: want a before and an after line");
    (
        (rows[1][2] - rows[0][2]) * 512,
        (rows[1][6] - rows[0][6]) * 512,
    )
}

fn bytes_by_direction(m: &ParsedMap) -> (u64, u64, usize) {
    let (sums, dups) = m.sum_by(|e| Direction::from_key(e.keys.first()?));
    (
        sums.get(&Direction::Read).copied().unwrap_or(0),
        sums.get(&Direction::Write).copied().unwrap_or(0),
        dups,
    )
}

/// rwbs_dup.bt: the rwbs-keyed map prints equal-looking keys on separate
/// lines; kept apart by the parser, they sum to exactly what the device did.
#[test]
fn duplicated_rwbs_keys_sum_to_the_diskstats_bytes() {
    for (out, stats) in [
        (text("rwbs_dup"), "rwbs_dup.txt.diskstats"),
        (json("rwbs_dup"), "rwbs_dup.jsonl.diskstats"),
    ] {
        let m = out.map("@bytes").expect("@bytes printed");
        let (read, written, dups) = bytes_by_direction(m);
        assert!(
            dups > 0,
            "{stats}: the fixture must show the duplicate-key quirk"
        );
        assert_eq!((read, written), diskstats_bytes(stats), "{stats}");
        // The reads are the 20 files read once (1+..+20 pages) plus metadata.
        let ra: u64 = m
            .entries
            .iter()
            .filter(|e| e.keys == ["RA"])
            .map(|e| e.value.as_count())
            .sum();
        assert_eq!(ra, 210 * 4096);
    }
}

/// io_sizes.bt: 16 x 64 KiB O_DIRECT writes and 8 x 4 KiB O_DIRECT reads.
#[test]
fn io_sizes_match_the_dd_sizes() {
    const TOTAL: i64 = 16 * 65536 + 8 * 4096;
    for out in [text("io_sizes"), json("io_sizes")] {
        let one = |name: &str| {
            out.map(name).unwrap_or_else(|| panic!("{name}")).entries[0]
                .value
                .clone()
        };
        assert_eq!(one("@ios"), Value::Scalar(24));
        assert_eq!(
            one("@size_stats"),
            Value::Stats {
                count: 24,
                average: TOTAL / 24,
                total: TOTAL
            }
        );
        assert_eq!(one("@size_avg"), Value::Scalar(TOTAL / 24));
        assert_eq!(
            (one("@size_min"), one("@size_max")),
            (Value::Scalar(4096), Value::Scalar(65536))
        );
        let Value::Histogram(h) = one("@size") else {
            panic!("@size is a hist")
        };
        let in_bucket = |lo: i64| h.iter().find(|b| b.lo == lo).map(|b| b.count);
        assert_eq!((in_bucket(4096), in_bucket(65536)), (Some(8), Some(16)));
        assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 24);
        let Value::Histogram(l) = one("@size_lin") else {
            panic!("@size_lin is an lhist")
        };
        assert_eq!(
            l.iter().map(|b| (b.lo, b.hi, b.count)).collect::<Vec<_>>(),
            [(0, Some(32), 8), (32, Some(64), 0), (64, Some(96), 16)]
        );
    }
}

/// The same script printed as text and as JSON parses to the same maps
/// (stacks and pids left out where they differ between the two runs).
#[test]
fn text_and_json_agree() {
    for stem in ["forms", "io_sizes", "stacks_and_text"] {
        let keep = |o: ToolOutput| -> Vec<ParsedMap> {
            o.maps
                .into_iter()
                .filter(|m| m.name != "@ks" && m.name != "@us")
                .collect()
        };
        assert_eq!(keep(text(stem)), keep(json(stem)), "{stem}");
    }
}

#[test]
fn print_then_exit_gives_two_printings_in_order() {
    for out in [text("forms"), json("forms")] {
        let names: Vec<&str> = out.maps.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(&names[..4], ["@calls", "@h", "@", "@big"]);
        assert_eq!(names.iter().filter(|n| **n == "@calls").count(), 2);
        assert_eq!(names.iter().filter(|n| **n == "@h").count(), 2);
        assert!(out
            .unparsed
            .contains(&"between prints @notamap: 1".to_string()));
    }
}

#[test]
fn hist_values_of_4g_and_more_land_in_the_2g_bucket_in_0_17() {
    for out in [text("stacks_and_text"), json("stacks_and_text")] {
        let Value::Histogram(h) = &out.map("@hbig").unwrap().entries[0].value else {
            panic!()
        };
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].lo, h[0].hi, h[0].count), (1 << 31, Some(1 << 32), 2));
    }
}

#[test]
fn stack_keys_are_frames_joined_by_newlines() {
    let out = text("stacks_and_text");
    let us = &out.map("@us").unwrap().entries[0];
    assert_eq!(us.keys.len(), 2);
    assert!(us.keys[0].starts_with("syscall+25\n0x"), "{:?}", us.keys[0]);
    assert!(us.keys[1].parse::<u32>().is_ok());
    assert_eq!(
        out.map("@ks").unwrap().entries[0].keys[0].lines().count(),
        2
    );
    // String and tuple values cannot be compared; they are kept as text.
    assert!(out.unparsed.contains(&"@tuple: (1, two)".to_string()));
}

#[test]
fn kprobe_warning_keeps_every_non_map_line_in_order() {
    let out = parse(OutputFormat::BpftraceText, &fixture("kprobe_warning.txt")).unwrap();
    assert_eq!(out.unparsed.len(), 8);
    assert!(out.unparsed[0].starts_with("ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK"));
    assert_eq!(
        out.unparsed[4],
        "WARNING: could not attach probe kprobe:vfs_read, skipping."
    );
    assert_eq!(out.unparsed[5], "READY");
    assert_eq!(out.maps.len(), 1);
    assert_eq!(out.maps[0].entries[0].keys, ["dd"]);
}

/// `parse` picks the parser named by the format.
#[test]
fn parse_dispatches_on_the_format() {
    let txt = fixture("forms.txt");
    let jsonl = fixture("forms.jsonl");
    assert_eq!(
        parse(OutputFormat::BpftraceText, &txt).unwrap(),
        text("forms")
    );
    assert_eq!(
        parse(OutputFormat::BpftraceJson, &jsonl).unwrap(),
        json("forms")
    );
    let by_name = |name: &str, t: &str| parse(name.parse().unwrap(), t).unwrap();
    assert_eq!(by_name("bpftrace-json", &jsonl), json("forms"));
    assert!(parse(OutputFormat::BpftraceJson, &txt)
        .unwrap()
        .maps
        .is_empty());
}
