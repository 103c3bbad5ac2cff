//! A held run (`--hold`, for a tool given the workload's pid): the hold
//! comes after the setup and before the thread takes its name, so its own
//! calls (a line on stdout, a poll() of stdin) are outside the truth, and
//! the truth is what an unheld run of the same workload measures.

mod common;

use common::ScratchDisk;
use tracecheck_workloads::Workload;

#[test]
fn a_held_run_waits_under_its_old_name_and_measures_the_same() {
    let _one = common::serial();
    let disk = ScratchDisk::new("hold", 64);
    let lib = disk.inner();
    let dev = Some((lib.major, lib.minor));
    let w = Workload::Opens { count: 100 };
    let dir = lib.fresh_dir("hold").unwrap();
    w.prepare_on(&dir, dev).unwrap();

    let seen = std::cell::RefCell::new(None);
    let hold = || -> std::io::Result<()> {
        *seen.borrow_mut() = Some(rustix::thread::name()?);
        Ok(())
    };
    let held = w.run_held(&dir, "tcw-held", dev, Some(&hold)).unwrap();
    let name = seen.into_inner().expect("the hold was called");
    assert_ne!(
        name.to_str().unwrap(),
        "tcw-held",
        "held under the workload's name"
    );

    let plain = w.run_on(&dir, "tcw-plain", dev).unwrap();
    let numbers = |t: &tracecheck_model::GroundTruth| {
        t.truths
            .iter()
            .map(|x| (x.metric.to_string(), x.lo, x.hi))
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(&held), numbers(&plain));
    assert!(numbers(&held)
        .iter()
        .any(|(m, lo, hi)| m == "syscall.open_calls" && (*lo, *hi) == (100, 100)));
}
