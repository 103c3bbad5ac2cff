//! The counted syscall truths against an independent witness: bpftrace on
//! the syscall and sched tracepoints, filtered by the workload's comm.
//! Pins that the workload issues openat() (not the legacy open(2) rustix
//! uses on x86_64), read() for buffered reads, pread64() for O_DIRECT, and
//! that exec'd children carry the comm.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tracecheck_model::Who::Workload as W;
use tracecheck_workloads::Workload;

const COMM: &str = "tcw-witness";

/// Plain `@x++`, not count(): bpftrace 0.17's printf takes integers only,
/// and one single-threaded workload (children run one at a time) cannot
/// race itself.
fn script() -> String {
    let f = format!("/comm == \"{COMM}\"/");
    format!(
        "BEGIN {{ printf(\"ready\\n\"); }}
         tracepoint:syscalls:sys_enter_openat {f} {{ @openat++; }}
         tracepoint:syscalls:sys_enter_open {f} {{ @open++; }}
         tracepoint:syscalls:sys_enter_read {f} {{ @read++; }}
         tracepoint:syscalls:sys_enter_pread64 {f} {{ @pread64++; }}
         tracepoint:syscalls:sys_enter_write {f} {{ @write++; }}
         tracepoint:sched:sched_process_exec {f} {{ @exec++; }}
         END {{ printf(\"openat=%d open=%d read=%d pread64=%d write=%d exec=%d\\n\", @openat, @open, @read, @pread64, @write, @exec); clear(@openat); clear(@open); clear(@read); clear(@pread64); clear(@write); clear(@exec); }}"
    )
}

/// Run `w` (already prepared) under bpftrace; return the witness's counts.
fn witness(disk: &ScratchDisk, w: &Workload) -> (tracecheck_model::GroundTruth, String) {
    let mut bt = Command::new("bpftrace")
        .args(["-B", "line", "-e", &script()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn bpftrace");
    let mut out = BufReader::new(bt.stdout.take().expect("bpftrace stdout"));
    let mut line = String::new();
    let start = Instant::now();
    while !line.contains("ready") {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 || start.elapsed() > Duration::from_secs(60) {
            let _ = bt.kill();
            panic!("bpftrace did not attach");
        }
    }
    let mut args = vec!["run".to_string()];
    args.extend(w.to_args());
    args.extend([
        "--dir".into(),
        path_of(&disk.mnt),
        "--comm".into(),
        COMM.into(),
    ]);
    let o = tc(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let truth = serde_json::from_slice(&o.stdout).expect("truth JSON");
    // bpftrace 0.17 may ignore an early SIGINT: repeat it until it exits.
    let pid = rustix::process::Pid::from_child(&bt);
    let mut rest = String::new();
    let reader = std::thread::spawn(move || {
        let _ = out.read_to_string(&mut rest);
        rest
    });
    for _ in 0..20 {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        std::thread::sleep(Duration::from_millis(250));
        if bt.try_wait().ok().flatten().is_some() {
            break;
        }
    }
    let _ = bt.kill();
    let _ = bt.wait();
    let text = reader.join().unwrap_or_default();
    let summary = text
        .lines()
        .find(|l| l.starts_with("openat="))
        .unwrap_or_else(|| panic!("no summary in {text:?}"));
    (truth, summary.to_string())
}

#[test]
fn syscall_truths_match_bpftrace() {
    if Command::new("bpftrace").arg("--version").output().is_err() {
        eprintln!("bpftrace not installed: skipping");
        return;
    }
    let _s = serial();
    let disk = ScratchDisk::new("witness", 64);
    let dir = path_of(&disk.mnt);
    let ws = [
        Workload::Opens { count: 300 },
        Workload::CachedReread {
            size: 1 << 20,
            passes: 3,
            request: 64 << 10,
        },
        Workload::DirectRead {
            size: 1 << 20,
            request: 256 << 10,
        },
        Workload::BufferedWrite {
            size: 1 << 20,
            request: 128 << 10,
            fsync: true,
            passes: 1,
        },
        Workload::Execs { count: 10 },
    ];
    for w in &ws {
        let mut p = vec!["prepare".to_string()];
        p.extend(w.to_args());
        p.extend(["--dir".into(), dir.clone()]);
        assert!(tc(&p.iter().map(String::as_str).collect::<Vec<_>>())
            .status
            .success());
    }
    let (t, s) = witness(&disk, &ws[0]);
    assert_eq!(bound(&t, "syscall.open_calls", W), (300, 300));
    assert_eq!(s, "openat=300 open=0 read=0 pread64=0 write=0 exec=0");
    let (t, s) = witness(&disk, &ws[1]);
    assert_eq!(bound(&t, "syscall.read_calls", W), (48, 48));
    assert_eq!(s, "openat=1 open=0 read=48 pread64=0 write=0 exec=0");
    let (t, s) = witness(&disk, &ws[2]);
    assert_eq!(bound(&t, "syscall.read_calls", W), (4, 4));
    assert_eq!(s, "openat=1 open=0 read=0 pread64=4 write=0 exec=0");
    let (t, s) = witness(&disk, &ws[3]);
    assert_eq!(bound(&t, "syscall.write_calls", W), (8, 8));
    assert_eq!(s, "openat=1 open=0 read=0 pread64=0 write=8 exec=0");
    // Children exec'd through the comm-named symlink run as the comm.
    let (t, s) = witness(&disk, &ws[4]);
    assert_eq!(bound(&t, "process.execs", W), (10, 10));
    assert!(s.ends_with("exec=10"), "{s}");
}
