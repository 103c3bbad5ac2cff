//! `tracecheck card` on this machine, with a real bpftrace tool: every line
//! of the card is measured, so each assertion here is about what bpftrace
//! 0.17 did on this kernel.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tracecheck card SPEC --format json`, run here, as JSON.
fn json_card(spec: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("card")
        .arg(root().join(spec))
        .args(["--format", "json"])
        .output()
        .expect("run tracecheck card");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).expect("a JSON card")
}

#[test]
fn opensnoop_bt_report_card_on_this_machine() {
    let c = json_card("expectations/catalog/bpftrace/opensnoop");
    assert!(c["ready_ms"].as_u64().is_some(), "{c}");
    // bpftrace announces itself before attaching; opensnoop.bt's BEGIN
    // prints its header after.
    let first = c["first_line"][1].as_str().unwrap_or_default();
    assert!(first.starts_with("Attaching "), "{c}");
    let second = c["second_instance"].as_str().unwrap();
    assert!(second.starts_with("ran beside the first"), "{second}");
    assert_eq!(c["stop"]["signals"], serde_json::json!(["SIGINT"]), "{c}");
    assert_eq!(c["stop"]["status"], "exit 0", "{c}");
    assert_eq!(
        c["leftovers"],
        serde_json::json!([]),
        "bpftrace cleans up: {c}"
    );
    assert!(c["overhead"]["alone_ms"].as_f64().unwrap() > 0.0, "{c}");
    // The text form says the same in words.
    let text = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("card")
        .arg(root().join("expectations/catalog/bpftrace/opensnoop"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("two at once") && text.contains("leftovers     none"),
        "{text}"
    );
}

/// A tool whose command names the disk it watches (perf-tools' iosnoop,
/// `-d {maj},{min}`) gets a disk of the card's own, as a check's tool gets
/// the scratch disk: given the placeholder itself, iosnoop refuses to
/// start ("ERROR: setting -d or -t filter").
#[test]
fn a_tool_that_watches_a_disk_gets_one_for_its_card() {
    let c = json_card("expectations/catalog/perf-tools/iosnoop");
    assert_eq!(c["start_failure"], Value::Null, "{c}");
    assert!(c["ready_ms"].as_u64().is_some(), "{c}");
    let first = c["first_line"][1].as_str().unwrap_or_default();
    assert!(first.starts_with("Tracing block I/O"), "{c}");
    assert_eq!(c["stop"]["status"], "exit 0", "{c}");
}
