//! `tracecheck check --vm debian-6.1`: the real binary boots real Debian 6.1
//! guests under QEMU (TCG here) and runs itself inside as the agent. Three
//! guest boots in all: a correct tool passes with the host's number, a
//! kprobe tool (impossible on this host) gets the cache-hit diagnosis, and a
//! tool that crashes the kernel gets a verdict saying so while the next
//! check of the same run still runs in a fresh guest.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One guest-running tracecheck at a time: two TCG guests on a small host
/// would slow each other past their timeouts.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `tracecheck check SPEC --vm debian-6.1 --format json`; (exit, report, stderr).
fn check_in_vm(spec: &Path, extra: &[&str]) -> (i32, Value, String) {
    let _one = one_at_a_time();
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .arg(spec)
        .args([
            "--vm",
            "debian-6.1",
            "--format",
            "json",
            "--record",
            "/dev/null",
        ])
        .args(extra)
        .output()
        .expect("run tracecheck");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "{stderr}\n({} in {:.1} s)",
        spec.display(),
        t.elapsed().as_secs_f64()
    );
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn checks(report: &Value) -> &Vec<Value> {
    report["checks"].as_array().expect("checks array")
}

/// The verdict for `metric` in the check on `workload`.
fn verdict<'a>(report: &'a Value, workload: &str, metric: &str) -> &'a Value {
    checks(report)
        .iter()
        .filter(|c| c["workload"] == workload)
        .flat_map(|c| c["verdicts"].as_array().unwrap())
        .find(|v| v["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} verdict on {workload}: {report:#}"))
}

#[test]
fn bio_bytes_passes_in_a_guest_with_the_hosts_number() {
    let (code, report, stderr) = check_in_vm(
        &root().join("expectations/examples/bio-bytes"),
        &["--workload", "direct-read"],
    );
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert_eq!(checks(&report).len(), 1, "--workload keeps one check");
    let c = &checks(&report)[0];
    let env = c["environment"].as_str().unwrap();
    assert!(
        env.starts_with("guest debian-6.1 (kernel 6.1.") && env.contains("amd64"),
        "{env}"
    );
    let v = verdict(&report, "direct-read", "disk.read_bytes");
    assert_eq!(v["status"], "PASS", "{v:#}");
    assert_eq!(v["reported"], 16_777_216, "{v:#}");
    assert_eq!(v["truth"]["lo"], 16_777_216, "{v:#}");
    // Measured on the guest's own virtio scratch disk, not a loop device.
    assert!(c["device"].as_str().unwrap().starts_with("vd"), "{c:#}");
    // The reference witness loads on the 6.1 kernel too, and agrees with
    // the guest's diskstats exactly.
    assert!(c["witness_error"].is_null(), "{}", c["witness_error"]);
    let w = &c["witness"]["device"]["complete"];
    assert_eq!(w["read"]["bytes"], c["diskstats"]["read_bytes"], "{c:#}");
    assert_eq!(w["read"]["count"], c["diskstats"]["read_ios"], "{c:#}");
}

#[test]
fn kprobe_disktop_counts_cache_hits_as_disk_reads_in_a_guest() {
    let (code, report, stderr) = check_in_vm(
        &root().join("expectations/examples/disktop-kprobe"),
        &["--workload", "cached-reread"],
    );
    assert_eq!(code, 1, "a failed claim exits 1\n{stderr}\n{report:#}");
    let v = verdict(&report, "cached-reread", "disk.read_bytes");
    assert_eq!(v["status"], "FAIL", "{v:#}");
    assert_eq!(
        v["diagnosis"]["finding"], "counts_cache_hits_as_disk",
        "{v:#}"
    );
}

#[test]
fn crashing_and_hanging_tools_get_verdicts_and_the_next_check_still_passes() {
    let dir = std::env::temp_dir().join(format!("tracecheck-guest-crash-{}", std::process::id()));
    for (name, command) in [
        // SIGINT and SIGTERM ignored: the crash comes 1 s after ready even
        // if the workload is done sooner.
        (
            "crash",
            r#"["sh", "-c", "trap '' INT TERM; echo ready; sleep 1; echo c > /proc/sysrq-trigger"]"#,
        ),
        // Freezes the scratch filesystem, then writes to it: the write
        // waits uninterruptibly inside the kernel for a thaw that never
        // comes (a task in D state, as a stuck driver would leave it).
        (
            "hang",
            r#"["sh", "-c", "trap '' INT TERM; m=$(awk '$1 ~ /^\\/dev\\/vd/ {print $2; exit}' /proc/mounts); echo ready; fsfreeze -f \"$m\" && echo x > \"$m/hang\"; sleep 600"]"#,
        ),
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(
            dir.join(name).join("spec.toml"),
            format!(
                "[tool]\nname = \"kernel {name}\"\ncommand = {command}\n\n[[claim]]\nmap = \"@r\"\nmetric = \"disk.read_bytes\"\nkeys = [\"comm\"]\nworkloads = [\"direct-read\"]\n"
            ),
        )
        .unwrap();
    }
    // One run: the crasher, the hanger, then a correct tool, each in a
    // fresh guest.
    let _guard = one_at_a_time();
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .arg(dir.join("crash"))
        .arg(dir.join("hang"))
        .arg(root().join("expectations/examples/bio-bytes"))
        .args([
            "--vm",
            "debian-6.1",
            "--workload",
            "direct-read",
            "--format",
            "json",
            "--record",
            "/dev/null",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{report:#}");
    let cs = checks(&report);
    assert_eq!(cs.len(), 3, "all three checks ran: {report:#}");
    let finding = |i: usize| {
        cs[i]["verdicts"][0]["diagnosis"]["finding"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let sentence = |i: usize| {
        cs[i]["verdicts"][0]["diagnosis"]["sentence"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(finding(0), "kernel_crashed", "{:#}", cs[0]);
    assert!(
        sentence(0).contains("the tool crashed the kernel") && sentence(0).contains("sysrq"),
        "{}",
        sentence(0)
    );
    assert_eq!(finding(1), "guest_hung", "{:#}", cs[1]);
    assert!(
        sentence(1).contains("blocked for more than"),
        "{}",
        sentence(1)
    );
    let pass = &cs[2]["verdicts"][0];
    assert_eq!(pass["status"], "PASS", "{pass:#}");
    assert_eq!(pass["reported"], 16_777_216, "{pass:#}");
    assert_eq!(
        stderr.matches("booting debian-6.1 guest").count(),
        3,
        "{stderr}"
    );
    let qemus = Command::new("pgrep")
        .arg("-c")
        .arg("qemu-system")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&qemus.stdout).trim(),
        "0",
        "no QEMU outlives the run"
    );
}
