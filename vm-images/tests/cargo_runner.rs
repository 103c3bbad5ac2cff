//! `tracecheck-vm cargo-runner` as cargo's target runner, end to end with real
//! guests (three boots): `cargo test` on the fixture crate
//! `tests/fixtures/guest-tests` (copied under /tmp, which the guest hides, so
//! the automatic share is exercised too) fails because of its failing test
//! and shows why; with a name filter it passes and shows the passing test's
//! output; a kernel panic under the runner is exit 70 with the panic text.
//! Guests run one at a time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

const RUNNER: &str = env!("CARGO_BIN_EXE_tracecheck-vm");
const TRICKY: &str = "it's \"$HOME\" `x`\nline 2";

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The fixture crate, copied below a fresh /tmp directory.
struct Fixture {
    _dir: tempfile::TempDir,
    krate: PathBuf,
    target: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let krate = dir.path().join("guest-tests");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guest-tests"),
        &krate,
    );
    let target = dir.path().join("target");
    Fixture {
        _dir: dir,
        krate,
        target,
    }
}

fn cargo_test(f: &Fixture, args: &[&str]) -> (Output, String, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let _one = one_at_a_time();
    let t0 = Instant::now();
    let out = Command::new(cargo)
        .args(["test", "--offline", "--test", "in_guest"])
        .args(args)
        .current_dir(&f.krate)
        .env("CARGO_TARGET_DIR", &f.target)
        .env(
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
            format!(
                "{RUNNER} cargo-runner --target debian-6.1 --timeout-secs 120 --env TRACECHECK_FIXTURE_VALUE"
            ),
        )
        .env("TRACECHECK_FIXTURE_VALUE", TRICKY)
        .env_remove("TRACECHECK_FIXTURE_KERNEL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "cargo test {args:?}: {} in {:?}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        out.status,
        t0.elapsed()
    );
    (out, stdout, stderr)
}

#[test]
fn cargo_test_runs_in_the_guest_and_reports_failures_and_filters() {
    let f = fixture();

    let (out, stdout, stderr) = cargo_test(&f, &[]);
    assert!(
        stdout.contains("test runs_on_the_guest_kernel ... ok"),
        "the guest-only test must pass in the guest"
    );
    assert!(stdout.contains("test fails_on_purpose ... FAILED"));
    assert!(stdout.contains("deliberate failure in the guest"));
    assert!(stdout.contains("test result: FAILED. 1 passed; 1 failed"));
    assert!(!out.status.success());
    // The runner's summary: libtest's exit code 101, passed through.
    assert!(
        stderr.contains("in_guest") && stderr.contains("exited 101 in a debian-6.1 guest (6.1."),
        "{stderr}"
    );

    let (out, stdout, stderr) = cargo_test(&f, &["--", "runs_on_the_guest_kernel", "--nocapture"]);
    assert!(out.status.success());
    assert!(
        stdout.contains("guest kernel 6.1."),
        "test output comes back"
    );
    assert!(stdout.contains("test result: ok. 1 passed; 0 failed"));
    assert!(!stderr.contains("not passing"), "{stderr}");
}

#[test]
fn kernel_panic_under_the_runner_is_exit_70_with_the_panic_text() {
    let _one = one_at_a_time();
    let out = Command::new(RUNNER)
        .args([
            "cargo-runner",
            "--timeout-secs",
            "60",
            "/bin/sh",
            "-c",
            "echo before-crash; echo c > /proc/sysrq-trigger; sleep 60",
        ])
        .current_dir("/")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{}\n--- stdout\n{stdout}--- stderr\n{stderr}", out.status);
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(stdout, "before-crash\n");
    assert!(stderr.contains("tracecheck-vm: the guest kernel panicked while running /bin/sh"));
    assert!(stderr.contains("Kernel panic - not syncing: sysrq triggered crash"));
}
