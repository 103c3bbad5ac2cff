//! Real shipped tools from `expectations/catalog/`, judged on this machine
//! with real bpftrace: each gets the verdict its own code earns, with the
//! cause named. A parser or judge change that turns one of these into a
//! PASS, or into a different cause, fails here.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn judge(spec: &str) -> (i32, Vec<(String, String, String)>, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .arg(root.join(spec))
        .args(["--format", "json", "--record", "/dev/null"])
        .output()
        .expect("run tracecheck");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{spec}: no JSON report ({e}):\n{stderr}"));
    let mut vs = Vec::new();
    for c in report["checks"].as_array().unwrap() {
        for v in c["verdicts"].as_array().unwrap() {
            vs.push((
                c["workload"].as_str().unwrap().to_string(),
                v["status"].as_str().unwrap().to_string(),
                v["diagnosis"]["finding"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    (out.status.code().unwrap_or(-1), vs, stderr)
}

/// opensnoop.bt traces open() and openat() but not openat2(): on the opens
/// workload (600 openat, 200 open, 200 openat2) it prints 800 rows.
#[test]
fn opensnoop_bt_misses_openat2() {
    let (code, vs, stderr) = judge("expectations/catalog/bpftrace/opensnoop/spec.toml");
    assert_eq!(code, 1, "{vs:?}\n{stderr}");
    assert_eq!(
        vs,
        [(
            "opens".to_string(),
            "FAIL".to_string(),
            "part_of_call_family".to_string()
        )],
        "{stderr}"
    );
}

/// execsnoop.bt prints every exec attempt (its man page says the exec "may
/// have failed"): 70 rows for 50 execs, 20 of the attempts failed.
#[test]
fn execsnoop_bt_counts_failed_exec_attempts() {
    let (code, vs, stderr) = judge("expectations/catalog/bpftrace/execsnoop/spec.toml");
    assert_eq!(code, 1, "{vs:?}\n{stderr}");
    assert_eq!(
        vs,
        [(
            "execs".to_string(),
            "FAIL".to_string(),
            "exec_attempts".to_string()
        )],
        "{stderr}"
    );
}
