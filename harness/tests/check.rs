//! End-to-end: the real `tracecheck` binary, real bpftrace, real workloads
//! on a real loop device (we are root). Each test asserts verdicts that a
//! wrong harness would get wrong.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Run `tracecheck check SPEC --format json`; returns (exit code, report, stderr).
fn check(spec: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .arg(spec)
        .args(["--format", "json", "--record", "/dev/null"])
        .args(extra)
        .output()
        .expect("run tracecheck");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// Verdicts as (workload, metric, status, finding).
fn verdicts(report: &Value) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for c in report["checks"].as_array().expect("checks array") {
        for v in c["verdicts"].as_array().unwrap() {
            out.push((
                c["workload"].as_str().unwrap().to_string(),
                v["metric"].as_str().unwrap().to_string(),
                v["status"].as_str().unwrap().to_string(),
                v["diagnosis"]["finding"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

fn find<'a>(
    vs: &'a [(String, String, String, String)],
    workload: &str,
    metric: &str,
) -> &'a (String, String, String, String) {
    vs.iter()
        .find(|v| v.0 == workload && v.1 == metric)
        .unwrap_or_else(|| panic!("no verdict for {workload} {metric} in {vs:?}"))
}

/// A temporary spec directory with a script.
fn spec_dir(name: &str, spec: &str, script: Option<&str>) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tracecheck-it-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("spec.toml"), spec).unwrap();
    if let Some(s) = script {
        std::fs::write(d.join("script.bt"), s).unwrap();
    }
    d.join("spec.toml")
}

#[test]
fn disktop_port_counts_page_cache_hits_as_disk_reads() {
    let (code, report, stderr) =
        check(&root().join("expectations/examples/disktop/spec.toml"), &[]);
    assert_eq!(code, 1, "a failed claim exits 1; stderr:\n{stderr}");
    let vs = verdicts(&report);
    // O_DIRECT reads: read() bytes are disk bytes, so the port is right.
    assert_eq!(
        find(&vs, "direct-mixed", "disk.read_bytes").2,
        "PASS",
        "{vs:?}"
    );
    let cached = find(&vs, "cached-reread", "disk.read_bytes");
    assert_eq!(
        (cached.2.as_str(), cached.3.as_str()),
        ("FAIL", "counts_cache_hits_as_disk"),
        "{vs:?}"
    );
    // mmap reads make no read() calls: the port sees nothing.
    let mmap = find(&vs, "mmap-read", "disk.read_bytes");
    assert_eq!(
        (mmap.2.as_str(), mmap.3.as_str()),
        ("FAIL", "misses_faults")
    );
    assert_eq!(
        find(&vs, "direct-mixed", "disk.write_bytes").2,
        "PASS",
        "{vs:?}"
    );
    // The writer exits before writeback: its disk bytes are the flusher's.
    let nofsync = find(&vs, "buffered-write-nofsync", "disk.write_bytes");
    assert_eq!(
        (nofsync.2.as_str(), nofsync.3.as_str()),
        ("FAIL", "counts_page_cache_writes_as_disk"),
        "{vs:?}"
    );
    // The reference witness names who really wrote: a kworker flusher.
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"] == "buffered-write-nofsync")
        .unwrap();
    let sentence = c["verdicts"][0]["diagnosis"]["sentence"].as_str().unwrap();
    assert!(
        sentence.contains("witness saw") && sentence.contains("kworker/"),
        "{sentence}"
    );
    // ...and its device count equals diskstats.
    assert_eq!(
        c["witness"]["device"]["complete"]["write"]["bytes"],
        c["diskstats"]["write_bytes"]
    );

    // The reported number for the cached re-read is 21 passes of 16 MiB, and
    // the truth it failed against is what the device read (diskstats).
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"] == "cached-reread")
        .unwrap();
    let v = &c["verdicts"][0];
    assert_eq!(v["reported"].as_u64(), Some((21 * 16) << 20));
    assert_eq!(v["truth"]["source"], "diskstats");
    assert_eq!(v["truth"]["lo"], c["diskstats"]["read_bytes"]);
}

#[test]
fn a_correct_block_level_script_passes_on_every_workload() {
    let (code, report, stderr) = check(
        &root().join("expectations/examples/bio-bytes/spec.toml"),
        &[],
    );
    let vs = verdicts(&report);
    assert_eq!(code, 0, "verdicts: {vs:?}\nstderr:\n{stderr}");
    assert!(vs.len() >= 6, "at least 3 workloads x 2 directions: {vs:?}");
    assert!(vs.iter().all(|v| v.2 == "PASS"), "{vs:?}");
    // stderr is a pipe here: no progress lines unless asked for.
    assert!(!stderr.contains("preparing files"), "{stderr}");
}

#[test]
fn sectors_reported_as_bytes_are_a_unit_factor() {
    let spec = spec_dir(
        "sectors",
        "[tool]\nname = \"sectors\"\nscript = \"script.bt\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nkeys = [\"comm\"]\nworkloads = [\"direct-read\"]\n",
        Some("BEGIN { printf(\"go\\n\"); }\ntracepoint:block:block_bio_queue { @b[comm] = sum(args->nr_sector); }\n"),
    );
    let (code, report, stderr) = check(&spec, &[]);
    let vs = verdicts(&report);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        find(&vs, "direct-read", "disk.read_bytes").3,
        "unit_factor",
        "{vs:?}"
    );
}

#[test]
fn completion_context_attribution_is_charged_to_other_tasks() {
    let spec = spec_dir(
        "complete",
        "[tool]\nname = \"complete\"\nscript = \"script.bt\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nkeys = [\"comm\", \"device\"]\nworkloads = [\"direct-read\"]\n",
        Some("BEGIN { printf(\"go\\n\"); }\ntracepoint:block:block_rq_complete { @b[comm, args->dev] = sum(args->nr_sector * 512); }\n"),
    );
    let (code, report, stderr) = check(&spec, &[]);
    let vs = verdicts(&report);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        find(&vs, "direct-read", "disk.read_bytes").3,
        "other_tasks",
        "{vs:?}"
    );
}

#[test]
fn broken_tools_get_verdicts_not_panics() {
    // A script bpftrace rejects: exits before it is ready.
    let spec = spec_dir(
        "syntax",
        "[tool]\nname = \"syntax\"\nscript = \"script.bt\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nkeys = [\"comm\"]\nworkloads = [\"direct-read\"]\n",
        Some("BEGIN { printf(\"go\\n\") \ntracepoint:nope:nope { @b[comm] = count(); }\n"),
    );
    let (code, report, stderr) = check(&spec, &[]);
    assert_eq!(code, 1, "{stderr}");
    let c = &report["checks"][0];
    assert_eq!(c["verdicts"][0]["status"], "ERROR");
    assert_eq!(c["tool_run"]["failure"]["kind"], "exited_before_ready");
    assert!(
        !c["tool_run"]["stderr_tail"].as_array().unwrap().is_empty(),
        "stderr tail kept"
    );

    // A tool that never prints: never ready within its timeout.
    let spec = spec_dir(
        "silent",
        "[tool]\nname = \"silent\"\ncommand = [\"sleep\", \"600\"]\nready_timeout = \"2s\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nworkloads = [\"direct-read\"]\n",
        None,
    );
    let (code, report, _) = check(&spec, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        report["checks"][0]["tool_run"]["failure"]["kind"],
        "never_ready"
    );

    // A tool that ignores SIGINT: stopped by escalation, and the verdict says so.
    let spec = spec_dir(
        "stubborn",
        "[tool]\nname = \"stubborn\"\ncommand = [\"sh\", \"-c\", \"trap '' INT; echo ready; echo '@b: 5'; exec sleep 600\"]\nstop_timeout = \"1s\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nworkloads = [\"direct-read\"]\n",
        None,
    );
    let (_, report, stderr) = check(&spec, &[]);
    let c = &report["checks"][0];
    assert_eq!(c["tool_run"]["stop"]["escalated"], true, "{stderr}");
    let notes = c["verdicts"][0]["notes"].to_string();
    assert!(
        notes.contains("did not stop on its first SIGINT"),
        "{notes}"
    );

    // Garbage where a map should be: an ERROR naming the parse failure.
    let spec = spec_dir(
        "garbage",
        "[tool]\nname = \"garbage\"\ncommand = [\"sh\", \"-c\", \"echo ready; trap 'echo \\\"@b[abc: zz\\\"; exit 0' INT; while :; do sleep 0.1; done\"]\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nkeys = [\"comm\"]\nworkloads = [\"direct-read\"]\n",
        None,
    );
    let (code, report, stderr) = check(&spec, &[]);
    assert_eq!(code, 1, "{stderr}");
    let v = &report["checks"][0]["verdicts"][0];
    assert_eq!(v["status"], "ERROR");
    assert!(
        v["diagnosis"]["sentence"]
            .as_str()
            .unwrap()
            .contains("cannot parse"),
        "{v}"
    );
}

/// `ready = "reading:trace_pipe"`: a tool that prints its header first and
/// opens its trace pipe two seconds later (as perf-tools' snoops print their
/// header, then clear the trace buffer, then read trace_pipe) is ready at
/// the open, not at the header.
#[test]
fn a_tool_reading_its_pipe_is_ready_only_once_it_opens_it() {
    let spec = spec_dir(
        "reading",
        "[tool]\nname = \"reading\"\ncommand = [\"sh\", \"-c\", \": > trace_pipe; echo COMM PID; sleep 2; trap 'echo @b: 5; exit 0' INT; tail -f trace_pipe & wait\"]\nready = \"reading:trace_pipe\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nworkloads = [\"direct-read\"]\n",
        None,
    );
    let (_, report, stderr) = check(&spec, &[]);
    let run = &report["checks"][0]["tool_run"];
    let ready = run["ready_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("{run}\n{stderr}"));
    assert!(
        ready >= 2000,
        "ready at {ready} ms, before the open\n{stderr}"
    );
    assert!(ready < 10_000, "ready at {ready} ms\n{stderr}");
}

#[test]
fn a_malformed_spec_is_an_error_naming_file_and_line() {
    let spec = spec_dir(
        "badspec",
        "[tool]\nname = \"x\"\nscript = \"script.bt\"\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.reed_bytes\"\n",
        Some("BEGIN {}"),
    );
    let (code, _, stderr) = check(&spec, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("spec.toml:7:"), "{stderr}");
    assert!(
        stderr.contains("did you mean `disk.read_bytes`"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_keeps_finished_checks_and_leaves_nothing_behind() {
    use std::io::{BufRead, BufReader};
    let record =
        std::env::temp_dir().join(format!("tracecheck-it-ctrlc-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&record);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .arg(root().join("expectations/examples/disktop/spec.toml"))
        // stderr is a pipe: progress must be asked for, as it is how this
        // test knows the second check has started.
        .args(["--format", "json", "--progress", "always", "--record"])
        .arg(&record)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // stdout is read beside, so that a report larger than the pipe's
    // buffer cannot block the run while this test waits on stderr.
    let mut stdout = child.stdout.take().unwrap();
    let report_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    // Interrupt once the second check has started.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.starts_with("[2/") {
            break;
        }
        line.clear();
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let stdout = report_reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "stderr: {seen}{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    // The finished check is reported and recorded.
    let report: Value = serde_json::from_slice(&stdout).expect("a report of the finished checks");
    assert!(!report["checks"].as_array().unwrap().is_empty());
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(recorded.lines().count() >= 1);
    // No loop device, mount or tool of this run is left.
    let tag = format!("tracecheck-{pid}-");
    let loops =
        String::from_utf8(Command::new("losetup").arg("-a").output().unwrap().stdout).unwrap();
    assert!(!loops.contains(&tag), "{loops}");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(&tag), "{mounts}");
    let _ = std::fs::remove_file(&record);
}

#[test]
fn histogram_sample_counts_are_request_counts() {
    // A size histogram per device and direction: its sample count for the
    // scratch device's reads must equal diskstats' reads completed.
    let spec = spec_dir(
        "hist",
        "[tool]\nname = \"hist\"\nscript = \"script.bt\"\n\n[[claim]]\nmap = \"@sizes\"\nmetric = \"disk.read_ios\"\nkeys = [\"device\", \"direction\"]\nworkloads = [\"direct-read\", \"cached-reread\"]\n",
        Some("BEGIN { printf(\"go\\n\"); }\ntracepoint:block:block_rq_complete { @sizes[args->dev, args->rwbs] = hist(args->nr_sector * 512); }\n"),
    );
    let (code, report, stderr) = check(&spec, &[]);
    let vs = verdicts(&report);
    assert_eq!(code, 0, "{vs:?}\n{stderr}");
    for c in report["checks"].as_array().unwrap() {
        let v = &c["verdicts"][0];
        assert_eq!(v["reported"], c["diskstats"]["read_ios"], "{v}");
        assert!(
            v["reported"].as_u64().unwrap() >= 16,
            "16 MiB in at most 1.25 MiB requests: {v}"
        );
    }
}

#[test]
fn repeated_checks_give_the_same_verdict_every_time() {
    let (code, report, stderr) = check(
        &root().join("expectations/examples/disktop/spec.toml"),
        &["--repeat", "3", "--progress", "always"],
    );
    assert_eq!(code, 1, "the port fails, and not by chance: {stderr}");
    assert!(
        report["summary"].get("flaky").is_none(),
        "{:#}",
        report["summary"]
    );
    for c in report["checks"].as_array().unwrap() {
        for v in c["verdicts"].as_array().unwrap() {
            let notes: Vec<&str> = v["notes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                notes.iter().any(|n| n.ends_with("in all 3 runs")),
                "{} on {}: {notes:?}",
                v["claim"],
                v["workload"]
            );
        }
    }
    // Each run is recorded: progress names them, and the run's tally ends
    // with nothing left.
    assert!(stderr.contains("run 3/3"), "{stderr}");
    assert!(
        stderr.contains(" done, ") && stderr.contains("none left"),
        "{stderr}"
    );
}

#[test]
fn a_tool_that_never_starts_leaves_no_files_behind() {
    // Each check prepares a 16 MiB input; without clean-up on the early
    // return, eight of them would fill a 64 MiB scratch disk.
    let spec = spec_dir(
        "never-starts",
        "[tool]\nname = \"never starts\"\ncommand = [\"false\"]\n\n[[claim]]\nmap = \"@b\"\nmetric = \"disk.read_bytes\"\nkeys = [\"comm\"]\n",
        None,
    );
    let (code, report, stderr) = check(
        &spec,
        &[
            "--workload",
            "direct-read",
            "--repeat",
            "8",
            "--scratch-size",
            "64",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("No space left"), "{stderr}");
    let vs = verdicts(&report);
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(
        (vs[0].2.as_str(), vs[0].3.as_str()),
        ("ERROR", "tool_failed"),
        "{vs:?}"
    );
}

#[test]
fn shard_records_merge_into_one_report_and_junit() {
    let dir = std::env::temp_dir().join(format!("tracecheck-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rec = |n: &str| dir.join(format!("{n}.jsonl"));
    // Two "shards": the correct script on one workload, the disktop port on
    // another.
    for (name, spec, workload) in [
        ("a", "bio-bytes", "direct-read"),
        ("b", "disktop", "cached-reread"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
            .arg("check")
            .arg(root().join("expectations/examples").join(spec))
            .args(["--workload", workload, "--quiet", "--record"])
            .arg(rec(name))
            .output()
            .unwrap();
        assert!(out.status.code().is_some(), "{out:?}");
    }
    let junit = dir.join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("merge")
        .args([rec("a"), rec("b")])
        .args(["--format", "json", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    // One failed claim among them: the merged run fails as a whole.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checks"].as_array().unwrap().len(), 2);
    assert_eq!(report["summary"]["pass"], 2, "{:#}", report["summary"]);
    assert_eq!(report["summary"]["fail"], 1, "{:#}", report["summary"]);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"3\"") && xml.contains("failures=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("type=\"counts_cache_hits_as_disk\"") && xml.contains("page-cache hits"),
        "{xml}"
    );

    // A file that is not a record file is an error naming file and line.
    std::fs::write(dir.join("bad.jsonl"), "{\"tool\": 3}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .args(["merge"])
        .arg(dir.join("bad.jsonl"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.jsonl:1:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_split_a_run_without_overlap_and_merge_back() {
    // The kprobe port errors at once on this kernel: cheap checks to split.
    let spec = root().join("expectations/examples/disktop-kprobe");
    let dir = std::env::temp_dir().join(format!("tracecheck-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let workloads = |report: &Value| -> Vec<String> {
        report["checks"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| c["workload"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, whole, _) = check(&spec, &[]);
    let mut all = workloads(&whole);
    assert!(all.len() >= 3, "{all:?}");
    let mut seen = Vec::new();
    let mut files = Vec::new();
    for i in 1..=3 {
        let rec = dir.join(format!("{i}.jsonl"));
        let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
            .arg("check")
            .arg(&spec)
            .args(["--format", "json", "--shard", &format!("{i}/3"), "--record"])
            .arg(&rec)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert!(stderr.contains(&format!("shard {i}/3")), "{stderr}");
        seen.extend(workloads(&report));
        files.push(rec);
    }
    all.sort();
    seen.sort();
    assert_eq!(seen, all, "every check in exactly one shard");
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("merge")
        .args(&files)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged["checks"].as_array().unwrap().len(), all.len());
    assert_eq!(
        out.status.code(),
        Some(1),
        "the port's ERRORs fail the merged run"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The JSON report and the record lines of real checks (a FAIL with its
/// diagnosis and fix, and a PASS) validate against the committed schemas
/// in docs/schema/, which a unit test keeps equal to the types.
#[test]
fn reports_and_records_validate_against_the_committed_schemas() {
    let schema = |name: &str| -> jsonschema::Validator {
        let p = root().join("docs/schema").join(name);
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        jsonschema::validator_for(&v).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let (report, record) = (schema("report.schema.json"), schema("record.schema.json"));
    let dir = std::env::temp_dir().join(format!("tracecheck-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (spec, want) in [
        ("expectations/mutants/read-at-completion/spec.toml", "FAIL"),
        ("expectations/correct/device-ios/spec.toml", "PASS"),
    ] {
        let rec = dir.join("records.jsonl");
        let _ = std::fs::remove_file(&rec);
        let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
            .arg("check")
            .arg(root().join(spec))
            .args([
                "--workload",
                "direct-mixed",
                "--format",
                "json",
                "--quiet",
                "--record",
            ])
            .arg(&rec)
            .output()
            .expect("run tracecheck");
        let json: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        assert_eq!(json["checks"][0]["verdicts"][0]["status"], want, "{spec}");
        assert_eq!(json["schema"], 1);
        let errors: Vec<String> = report
            .iter_errors(&json)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{spec}: the report breaks its schema: {errors:#?}"
        );
        let lines = std::fs::read_to_string(&rec).unwrap();
        assert!(!lines.trim().is_empty());
        for (i, l) in lines.lines().enumerate() {
            let v: Value = serde_json::from_str(l).unwrap();
            let errors: Vec<String> = record
                .iter_errors(&v)
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{spec}: record line {} breaks its schema: {errors:#?}",
                i + 1
            );
        }
    }
}

#[test]
fn a_truth_tracecheck_cannot_establish_is_measured_again_alone() {
    // On its first run only, the tool reads the scratch disk over and over
    // in the background: diskstats then sees more than the workloads did,
    // so the truth cannot be established. The second measurement of each
    // check, with a fresh run of the tool, is quiet and passes.
    let spec = spec_dir(
        "again",
        "[tool]\nname = \"noisy once\"\ncommand = [\"sh\", \"tool.sh\"]\n\n[[claim]]\nmap = \"@bytes\"\nmetric = \"disk.bytes\"\nkeys = [\"comm\", \"direction\", \"device\"]\nworkloads = [\"direct-read\", \"cached-reread\"]\n",
        None,
    );
    let dir = spec.parent().unwrap().to_path_buf();
    let _ = std::fs::remove_file(dir.join("noisy-once"));
    std::fs::write(
        dir.join("tool.sh"),
        r#"d=$(dirname "$0")
m=$(awk -v tag="tracecheck-$PPID-" 'index($2, tag) {print $2; exit}' /proc/mounts)
if [ ! -e "$d/noisy-once" ] && [ -n "$m" ]; then
  touch "$d/noisy-once"
  dd if=/dev/zero of="$m/noise" bs=1M count=4 oflag=direct 2>/dev/null
  ( while :; do dd if="$m/noise" of=/dev/null bs=1M iflag=direct 2>/dev/null; done ) &
fi
exec bpftrace -e 'BEGIN { printf("ready\n"); } tracepoint:block:block_bio_queue { @bytes[comm, args->rwbs, args->dev] = sum(args->nr_sector * 512); }'
"#,
    )
    .unwrap();
    let record = dir.join("records.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .arg(&spec)
        .args(["--format", "json", "--settle-timeout", "2s", "--record"])
        .arg(&record)
        .output()
        .expect("run tracecheck");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        dir.join("noisy-once").exists(),
        "the noise never ran: {stderr}"
    );
    let vs = verdicts(&report);
    assert_eq!(out.status.code(), Some(0), "{vs:?}\n{stderr}");
    assert_eq!(vs.len(), 4, "{vs:?}");
    let checks = report["checks"].as_array().unwrap();
    for c in checks {
        let why = c["measured_again_after"].as_str().unwrap_or("");
        assert!(why.contains("diskstats"), "{:#}", c);
        let note = c["verdicts"][0]["notes"].to_string();
        assert!(note.contains("measured a second time"), "{note}");
    }
    // The first measurements are kept in the record file, as run 1 of 2.
    let lines: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let firsts = lines.iter().filter(|l| l["repeat_run"] == 0).count();
    assert_eq!(firsts, 2, "{lines:#?}");
    assert!(lines
        .iter()
        .filter(|l| l["repeat_run"] == 0)
        .all(|l| l["verdicts"][0]["diagnosis"]["finding"] == "truth_unknown"));
    let _ = std::fs::remove_dir_all(&dir);
}
