//! The `stap-hist` format against real output of SystemTap 4.8's shipped
//! scripts, saved under `tests/fixtures/stap/` (captured as `capture.sh`
//! there says): a snapshot of the parse, and the entries the capture's own
//! I/O must have produced.

use std::path::PathBuf;
use tracecheck_model::{ToolOutput, Value};
use tracecheck_probes::{parse, OutputFormat};

fn hist(stem: &str) -> ToolOutput {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stap")
        .join(format!("{stem}.txt"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let format: OutputFormat = "stap-hist".parse().unwrap();
    parse(format, &text).unwrap_or_else(|e| panic!("{stem}: {e}"))
}

#[test]
fn snapshots() {
    insta::assert_yaml_snapshot!("stap_hist_bitesize_nd", hist("bitesize_nd"));
}

#[test]
fn bitesize_nd_sections_key_one_map() {
    let o = hist("bitesize_nd");
    assert_eq!(o.maps.len(), 1);
    let m = &o.maps[0];
    assert_eq!(m.name, "I/O size (bytes)");
    let count = |comm: &str| -> u64 {
        let e = m.entries.iter().find(|e| e.keys == [comm]).unwrap();
        let Value::Histogram(b) = &e.value else {
            panic!("a histogram")
        };
        b.iter().map(|b| b.count).sum()
    };
    assert_eq!(count("dd"), 3);
    assert_eq!(count("ext4lazyinit"), 8);
    assert_eq!(o.unparsed, ["Tracing block I/O... Hit Ctrl-C to end."]);
}
