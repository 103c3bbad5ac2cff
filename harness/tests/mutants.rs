//! tracecheck's own mutation corpus (expectations/mutants): every script
//! there carries one known bug and must FAIL with the diagnosis its
//! `expect.toml` names; every script in expectations/correct must PASS on
//! all its default workloads, and each mutant names the correct script that
//! fixes it. Real bpftrace, real loop devices: one `tracecheck check` run
//! over the whole corpus.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One corpus run at a time: a TCG guest beside the host's checks would
/// starve both on this 2-core machine.
static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dirs(under: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(under))
        .unwrap_or_else(|e| panic!("{under}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("spec.toml").is_file())
        .collect();
    v.sort();
    v
}

/// Does the spec claim a latency? Its truth needs a device of known
/// latency, which only a guest has (null_blk).
fn claims_latency(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("spec.toml")).is_ok_and(|t| t.contains(".latency\""))
}

/// The corpus's specs under `under`, latency ones (`true`) or the rest.
fn corpus(under: &str, latency: bool) -> Vec<PathBuf> {
    dirs(under)
        .into_iter()
        .filter(|d| claims_latency(d) == latency)
        .collect()
}

type ByName = BTreeMap<String, Vec<(String, String, String, String)>>;

/// Hold one run's verdicts to the corpus: every mutant FAILs with its
/// expected finding and suggests its fix, every correct script PASSes.
/// Prints the tally; returns the problems.
fn assess(mutants: &[PathBuf], correct: &[PathBuf], by: &ByName) -> Vec<String> {
    let (mut right, mut wrong, mut missed, mut false_alarms) = (0, 0, 0, 0);
    let mut problems = Vec::new();
    for m in mutants {
        let name = m.file_name().unwrap().to_string_lossy().into_owned();
        let (finding, fix) = expected(m);
        assert!(
            fix.join("spec.toml").is_file(),
            "{name}: its fix {} has no spec.toml",
            fix.display()
        );
        let vs = by.get(&name).cloned().unwrap_or_default();
        let errors: Vec<_> = vs.iter().filter(|v| v.1 == "ERROR").collect();
        let fails: Vec<_> = vs.iter().filter(|v| v.1 == "FAIL").collect();
        // The fix a failure suggests is the corrected script beside it.
        let fix_name = fix.file_name().unwrap().to_string_lossy().into_owned();
        for v in &fails {
            if let Some(i) = v.3.find("expectations/correct/") {
                let named = v.3[i + "expectations/correct/".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("");
                if named != fix_name {
                    problems.push(format!("{name}: the diagnosis suggests {named}, the corpus fixes it with {fix_name}"));
                }
            }
        }
        if !errors.is_empty() {
            problems.push(format!("{name}: ERROR verdicts {errors:?}"));
        }
        if fails.is_empty() {
            missed += 1;
            problems.push(format!("{name}: MISSED (every verdict passed: {vs:?})"));
        } else if fails.iter().any(|v| v.2 == finding) {
            right += 1;
        } else {
            wrong += 1;
            problems.push(format!(
                "{name}: caught with a wrong cause, expected {finding}: {fails:?}"
            ));
        }
    }
    for c in correct {
        let name = c.file_name().unwrap().to_string_lossy().into_owned();
        let vs = by.get(&name).cloned().unwrap_or_default();
        if vs.is_empty() || vs.iter().any(|v| v.1 != "PASS") {
            false_alarms += 1;
            problems.push(format!("{name} (correct): {vs:?}"));
        }
    }
    println!(
        "| mutants | caught, right cause | caught, wrong cause | missed | correct scripts | false alarms |\n\
         |---|---|---|---|---|---|\n| {} | {right} | {wrong} | {missed} | {} | {false_alarms} |",
        mutants.len(),
        correct.len()
    );
    problems
}

/// Every verdict of one run over `specs`, by spec directory name:
/// (workload, status, finding, suggested fix).
fn run(specs: &[PathBuf], extra: &[&str]) -> ByName {
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .arg("check")
        .args(specs)
        .args(extra)
        .args(["--format", "json", "--color", "never"])
        .output()
        .expect("run tracecheck");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut by: BTreeMap<String, Vec<(String, String, String, String)>> = BTreeMap::new();
    for c in report["checks"].as_array().expect("checks") {
        let spec = Path::new(c["spec"].as_str().expect("spec path"));
        let name = spec
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for v in c["verdicts"].as_array().expect("verdicts") {
            by.entry(name.clone()).or_default().push((
                v["workload"].as_str().unwrap_or("").to_string(),
                v["status"].as_str().unwrap_or("").to_string(),
                v["diagnosis"]["finding"].as_str().unwrap_or("").to_string(),
                v["fix"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    by
}

fn expected(dir: &Path) -> (String, PathBuf) {
    let text = std::fs::read_to_string(dir.join("expect.toml"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let t: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}/expect.toml: {e}", dir.display()));
    let finding = t["finding"].as_str().expect("finding").to_string();
    let fix = dir.join(t["fix"].as_str().expect("fix"));
    (finding, fix)
}

#[test]
fn every_mutant_is_caught_with_its_cause_and_every_correct_script_passes() {
    let _one = ONE.lock().unwrap_or_else(|p| p.into_inner());
    let mutants = corpus("expectations/mutants", false);
    let correct = corpus("expectations/correct", false);
    assert!(mutants.len() >= 30, "{} mutants", mutants.len());
    let all: Vec<PathBuf> = mutants.iter().chain(&correct).cloned().collect();
    // The default: one tool run for each spec whose claims are all keyed by
    // process, one per workload for the rest.
    let by = run(&all, &[]);
    let problems = assess(&mutants, &correct, &by);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The same corpus and the examples with a fresh tool run for every
    // workload: the same verdict (status and cause) for every claim on
    // every workload.
    // The examples too, outside the corpus's own assertions.
    let examples = dirs("expectations/examples");
    assert!(!examples.is_empty());
    let mut by = by;
    by.extend(run(&examples, &[]));
    let all: Vec<PathBuf> = all.into_iter().chain(examples).collect();
    let apart = run(&all, &["--tool-run-per-workload"]);
    let strip = |m: &BTreeMap<String, Vec<(String, String, String, String)>>| {
        m.iter()
            .map(|(k, vs)| {
                let mut v: Vec<_> = vs
                    .iter()
                    .map(|v| (v.0.clone(), v.1.clone(), v.2.clone()))
                    .collect();
                v.sort();
                (k.clone(), v)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (shared, per_workload) = (strip(&by), strip(&apart));
    let differ: Vec<String> = shared
        .keys()
        .chain(per_workload.keys())
        .filter(|k| shared.get(*k) != per_workload.get(*k))
        .map(|k| {
            format!(
                "{k}: one tool run {:?}\n  one per workload {:?}",
                shared.get(k),
                per_workload.get(k)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "the two ways disagree:\n{}",
        differ.join("\n")
    );
}

/// The latency corpus, in a guest: its truth is the witness's timing of
/// every request on a null_blk device of known latency (3 ms a request),
/// which the host has no module for. A correct device-time script and a
/// correct queue-time one pass; a script that prints µs under a ns label
/// fails with wrong_unit, one that starts the clock at queue
/// insertion with wrong_span. The read-call latency corpus runs here too
/// (it also runs on the host, with the rest): under TCG a call's path to
/// its probes takes tens of µs, which the judge's slack must allow for
/// (the run's own gap between the workload's clock and the witness's).
#[test]
fn latency_mutants_are_caught_in_a_guest() {
    let _one = ONE.lock().unwrap_or_else(|p| p.into_inner());
    let calls = |under: &str| {
        dirs(under)
            .into_iter()
            .filter(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("read-latency"))
            })
            .collect::<Vec<_>>()
    };
    let mutants: Vec<PathBuf> = corpus("expectations/mutants", true)
        .into_iter()
        .chain(calls("expectations/mutants"))
        .collect();
    let correct: Vec<PathBuf> = corpus("expectations/correct", true)
        .into_iter()
        .chain(calls("expectations/correct"))
        .collect();
    assert!(mutants.len() >= 2 && correct.len() >= 2);
    let all: Vec<PathBuf> = mutants.iter().chain(&correct).cloned().collect();
    let by = run(&all, &["--vm", "debian-6.1"]);
    let problems = assess(&mutants, &correct, &by);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The latency corpus on this machine, which has no null_blk: tracecheck
/// makes its own device of known latency, a loop device over a FUSE file
/// it delays by 3 ms a request (workloads/src/delayed_file.rs). There
/// one-at-a-time reads (paced-io) take the set time from issue, and are
/// judged: the correct scripts pass, the µs-under-ns mutant fails with
/// wrong_unit. Requests issued together wait for each other after their
/// issue there, so queued-io's truth stays unknown, with the reason, and
/// is never a PASS.
#[test]
fn latency_corpus_on_this_machine_s_delayed_device() {
    let _one = ONE.lock().unwrap_or_else(|p| p.into_inner());
    let specs: Vec<PathBuf> = [
        "expectations/correct/disk-latency",
        "expectations/correct/block-latency",
        "expectations/mutants/disk-latency-us-as-ns",
    ]
    .iter()
    .map(|d| root().join(d))
    .collect();
    let by = run(&specs, &[]);
    let verdict = |spec: &str, workload: &str| {
        by.get(spec)
            .and_then(|vs| vs.iter().find(|v| v.0 == workload))
            .map(|v| (v.1.as_str(), v.2.as_str()))
            .unwrap_or_else(|| panic!("{spec} on {workload}: no verdict in {by:?}"))
    };
    for spec in ["disk-latency", "block-latency"] {
        assert_eq!(verdict(spec, "paced-io"), ("PASS", ""), "{by:?}");
    }
    assert_eq!(
        verdict("disk-latency-us-as-ns", "paced-io"),
        ("FAIL", "wrong_unit"),
        "{by:?}"
    );
    for spec in ["disk-latency", "block-latency", "disk-latency-us-as-ns"] {
        assert_eq!(
            verdict(spec, "queued-io"),
            ("ERROR", "truth_unknown"),
            "{by:?}"
        );
    }
}
