//! `tracecheck::testing`, the API behind specs as cargo tests: a check of
//! one spec on one workload is a test that fails with tracecheck's report
//! for a wrong script and passes for a right one (`examples/spec-tests/`
//! runs the whole pattern under `cargo test`). Needs root, as checks do.

use std::path::PathBuf;
use tracecheck::env::host::HostEnvironment;
use tracecheck::env::Limits;
use tracecheck::spec::ToolSpec;
use tracecheck::testing::check_one;

fn spec(rel: &str) -> ToolSpec {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../expectations")
        .join(rel)
        .join("spec.toml");
    ToolSpec::load(&p).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn a_wrong_script_fails_its_test_with_the_diagnosis_and_a_right_one_passes() {
    let env = HostEnvironment::prepare(&[], 256, Limits::default(), None, true)
        .expect("a scratch disk (run as root)");
    // disktop.stp's bug: read() bytes, page-cache hits included, as disk reads.
    let report = check_one(&env, &spec("mutants/read-syscall-bytes"), "cached-reread")
        .expect_err("a wrong script must fail its test");
    assert!(report.contains("FAIL"), "{report}");
    assert!(report.contains("cached-reread"), "{report}");
    assert!(report.contains("page-cache hits"), "{report}");
    check_one(&env, &spec("correct/disk-read-bytes"), "cached-reread")
        .unwrap_or_else(|r| panic!("the right script must pass:\n{r}"));
}
