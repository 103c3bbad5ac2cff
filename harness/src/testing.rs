//! Specs as cargo tests. A crate that keeps its tracing scripts next to
//! their specs gets one test per spec and workload from `cargo test` (or
//! `cargo nextest run`), through a test target without libtest's harness:
//!
//! ```toml
//! [dev-dependencies]
//! tracecheck = { path = "..." }
//!
//! [[test]]
//! name = "specs"
//! harness = false
//! ```
//!
//! ```no_run
//! // tests/specs.rs
//! fn main() -> std::process::ExitCode {
//!     tracecheck::testing::main(concat!(env!("CARGO_MANIFEST_DIR"), "/specs"))
//! }
//! ```
//!
//! Every directory under that path holding a `spec.toml` is a spec; each
//! of its checks (`tracecheck check SPEC --workload W`) is a test named
//! `SPEC::WORKLOAD`, so `cargo test -- bio-bytes::` runs one spec and
//! `cargo test -- --list` lists them without running anything. A test is a
//! real check on this machine's kernel (root and BPF, as `tracecheck check`
//! needs): it passes when every verdict is PASS and fails with tracecheck's
//! report, diagnosis included, otherwise (a SKIP, a verdict without ground
//! truth, fails too: a check that judged nothing proves nothing). The tests
//! share one scratch disk and run one at a time, whatever `--test-threads`
//! says, since two tracers at once would see each other's workloads. The
//! scratch disk is a new loop device, or the block device that
//! `TRACECHECK_SCRATCH_DEVICE` names (reformatted). Run through
//! `tracecheck-vm cargo-runner --scratch-mib 256 --env
//! TRACECHECK_SCRATCH_DEVICE=serial:scratch`, the same tests run in a
//! guest, on its virtio scratch disk. `examples/spec-tests/` is a working
//! crate.

use crate::env::host::HostEnvironment;
use crate::env::{check_spec, checks_of, Choices, Limits};
use crate::record::CheckRecord;
use crate::report::{self, ColorChoice, Style};
use crate::spec::{specs_under, ToolSpec};
use crate::verdict::Status;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Run the specs under `dir` as tests (see the module's comment) and
/// return the exit status for `main`.
pub fn main(dir: impl AsRef<Path>) -> ExitCode {
    // The checks start their workloads as `EXE workload ...`: this test
    // binary serves as that, so the crate needs no tracecheck binary.
    let mut argv = std::env::args_os().skip(1);
    if argv.next().is_some_and(|a| a == "workload") {
        let rest: Vec<String> = argv.map(|a| a.to_string_lossy().into_owned()).collect();
        return tracecheck_workloads::cli::main_with_args("tracecheck workload", rest).into();
    }
    if std::env::var_os("TRACECHECK_BIN").is_none() {
        if let Ok(me) = std::env::current_exe() {
            // SAFETY: at the start of main, before any thread is started.
            unsafe { std::env::set_var("TRACECHECK_BIN", me) };
        }
    }
    let args = Arguments::from_args();
    // Made by the first test that runs, so that listing needs no root.
    let env: Arc<Mutex<Option<HostEnvironment>>> = Arc::new(Mutex::new(None));
    let conclusion = libtest_mimic::run(&args, trials(dir.as_ref(), &env));
    // The scratch disk goes before the process does.
    drop(env.lock().unwrap_or_else(|e| e.into_inner()).take());
    conclusion.exit_code()
}

/// One test per spec and workload under `dir`; a directory that cannot be
/// read, or a spec that does not load, is one failing test saying why.
fn trials(dir: &Path, env: &Arc<Mutex<Option<HostEnvironment>>>) -> Vec<Trial> {
    let paths = match specs_under(dir) {
        Ok(p) => p,
        Err(e) => {
            let msg = e.to_string();
            return vec![Trial::test("specs", move || Err(msg.into()))];
        }
    };
    let mut out = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let spec = match ToolSpec::load(&path.join("spec.toml")) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                let msg = e.to_string();
                out.push(Trial::test(
                    format!("{name}::spec"),
                    move || Err(msg.into()),
                ));
                continue;
            }
        };
        for check in checks_of(&spec) {
            let (spec, env) = (spec.clone(), env.clone());
            let workload = check.plan.name.to_string();
            out.push(Trial::test(format!("{name}::{workload}"), move || {
                // One check at a time: the lock is held throughout.
                let mut env = env.lock().unwrap_or_else(|e| e.into_inner());
                if env.is_none() {
                    // A device named by TRACECHECK_SCRATCH_DEVICE (a guest's
                    // virtio disk: `serial:scratch`), else a new loop device.
                    let devices: Vec<String> = std::env::var("TRACECHECK_SCRATCH_DEVICE")
                        .into_iter()
                        .collect();
                    *env = Some(
                        HostEnvironment::prepare(&devices, 256, Limits::default(), None, true)
                            .map_err(|e| Failed::from(format!("no scratch disk: {e}")))?,
                    );
                }
                let env = env.as_ref().expect("made above");
                check_one(env, &spec, &workload).map_err(Failed::from)
            }));
        }
    }
    out
}

/// Check `spec` on `workload` alone: `Ok` when every verdict is a PASS,
/// otherwise tracecheck's report of the check.
pub fn check_one(env: &HostEnvironment, spec: &ToolSpec, workload: &str) -> Result<(), String> {
    let only = [workload.to_string()];
    let choices = Choices {
        only: &only,
        ..Choices::ALL
    };
    let never = AtomicBool::new(false);
    let records =
        check_spec(env, spec, &choices, &never, &mut |_| {}).map_err(|e| e.to_string())?;
    if passed(&records) {
        Ok(())
    } else {
        Err(report::table(&records, &Style::new(ColorChoice::Never)))
    }
}

/// Did every claim of these records PASS (and was there any)?
fn passed(records: &[CheckRecord]) -> bool {
    let mut vs = records.iter().flat_map(|r| &r.verdicts).peekable();
    vs.peek().is_some() && vs.all(|v| v.status == Status::Pass)
}
