//! The example CI workflow (`ci/github-actions.yml`) may only use what
//! tracecheck has: every flag it passes to `tracecheck run` and
//! `tracecheck merge` is one the CLI takes, and every kernel of its matrix
//! is `host` or a `--vm` target. A renamed flag fails here, not in a
//! user's CI.

use std::path::PathBuf;
use std::process::Command;

fn help(sub: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .args([sub, "--help"])
        .output()
        .expect("run tracecheck");
    assert!(out.status.success(), "tracecheck {sub} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn workflow() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ci/github-actions.yml");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The command lines calling `tracecheck SUB`, continuation lines joined.
fn invocations(text: &str, sub: &str) -> Vec<String> {
    let needle = format!("tracecheck {sub} ");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if !l.contains(&needle) || l.trim_start().starts_with('#') {
            continue;
        }
        let mut cmd = l.to_string();
        let mut j = i;
        while cmd.trim_end().ends_with('\\') && j + 1 < lines.len() {
            j += 1;
            cmd = format!("{} {}", cmd.trim_end().trim_end_matches('\\'), lines[j]);
        }
        out.push(cmd);
    }
    out
}

fn flags(cmd: &str) -> Vec<String> {
    cmd.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"')
        .filter(|t| t.starts_with("--") && t.len() > 2)
        .map(|t| t.split('=').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_example_workflow_uses_only_real_flags() {
    let text = workflow();
    for sub in ["run", "merge"] {
        let calls = invocations(&text, sub);
        assert!(
            !calls.is_empty(),
            "the workflow never calls tracecheck {sub}"
        );
        let h = help(sub);
        for cmd in calls {
            for f in flags(&cmd) {
                assert!(
                    h.contains(&format!("{f} ")) || h.contains(&format!("{f}\n")),
                    "ci/github-actions.yml passes {f} to tracecheck {sub}, which has no such flag:\n{cmd}"
                );
            }
        }
    }
}

#[test]
fn the_example_workflow_matrix_names_real_kernels() {
    let text = workflow();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("kernel: ["))
        .expect("a kernel matrix");
    let list = line
        .split('[')
        .nth(1)
        .unwrap()
        .trim_end()
        .trim_end_matches(']');
    let run_help = help("run");
    for k in list.split(',').map(str::trim) {
        assert!(
            k == "host" || run_help.contains(k),
            "the matrix kernel {k} is neither host nor a --vm target"
        );
    }
}
