//! JUnit XML for CI systems: one test suite per tool and environment, one
//! test case per claim, judged metric and workload, the diagnosis as the
//! failure message and the fix in its description. Written with
//! quick-junit, the serializer cargo-nextest uses.

use crate::record::CheckRecord;
use crate::verdict::Status;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

/// The records as a JUnit report named `name`.
pub fn junit(name: &str, records: &[CheckRecord]) -> String {
    let mut suites: BTreeMap<(String, String), Vec<TestCase>> = BTreeMap::new();
    for r in records {
        let per_verdict =
            Duration::from_millis(r.timings.total_ms) / r.verdicts.len().max(1) as u32;
        for v in &r.verdicts {
            let sentence = v.diagnosis.as_ref().map(|d| d.sentence.clone());
            let mut status = match v.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Skip => TestCaseStatus::skipped(),
                Status::Fail | Status::Flaky => {
                    TestCaseStatus::non_success(NonSuccessKind::Failure)
                }
                Status::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
            };
            if let Some(d) = &v.diagnosis {
                status.set_type(d.finding.name());
            }
            if v.status == Status::Flaky {
                status.set_type("flaky");
            }
            let mut text = sentence.unwrap_or_default();
            text.extend(v.notes.iter().map(|n| format!("\nnote: {n}")));
            if let Some(f) = &v.fix {
                text.push_str(&format!("\nto measure it: {f}"));
            }
            if !text.is_empty() {
                status.set_message(text.lines().next().unwrap_or_default().to_string());
                status.set_description(text);
            }
            let mut case = TestCase::new(
                format!("{} / {} on {}", v.claim, v.metric, v.workload),
                status,
            );
            case.set_classname(r.tool.clone());
            case.set_time(per_verdict);
            suites
                .entry((r.tool.clone(), r.environment.clone()))
                .or_default()
                .push(case);
        }
    }
    let mut report = Report::new(name);
    for ((tool, env), cases) in suites {
        let mut suite = TestSuite::new(format!("{tool} on {env}"));
        suite.add_test_cases(cases);
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- tracecheck: cannot write JUnit: {e} -->\n"))
}
