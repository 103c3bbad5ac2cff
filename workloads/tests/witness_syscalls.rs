//! The counted syscall truths against an independent witness: bpftrace on
//! the syscall and sched tracepoints, filtered by the workload's comm.
//! Pins the calls each workload makes, by name, against its own per-call
//! tally: the open family mix, one read-family call per re-read pass, the
//! write-family rotation, pread64() for O_DIRECT, execve() and execveat()
//! (failed attempts included), and that exec'd children carry the comm.

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
    let mut probes = String::new();
    for c in CALLS {
        probes.push_str(&format!(
            "tracepoint:syscalls:sys_enter_{c} {f} {{ @{c}++; }}\n"
        ));
    }
    let fmt: Vec<String> = CALLS.iter().map(|c| format!("{c}=%d")).collect();
    let args: Vec<String> = CALLS.iter().map(|c| format!("@{c}")).collect();
    let clears: String = CALLS.iter().map(|c| format!("clear(@{c}); ")).collect();
    format!(
        "BEGIN {{ printf(\"ready\\n\"); }}
         {probes}
         tracepoint:sched:sched_process_exec {f} {{ @exec++; }}
         END {{ printf(\"{} exec=%d\\n\", {}, @exec); {clears} clear(@exec); }}",
        fmt.join(" "),
        args.join(", ")
    )
}

/// The system calls the witness counts, in the order its summary prints them.
const CALLS: &[&str] = &[
    "openat",
    "open",
    "openat2",
    "read",
    "readv",
    "pread64",
    "preadv2",
    "write",
    "writev",
    "pwrite64",
    "pwritev2",
    "execve",
    "execveat",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "msync",
    "syncfs",
    "sync",
    "setuid",
    "setreuid",
    "setresuid",
    "setfsuid",
];

/// The witness's counts by name, from its summary line.
fn counts(summary: &str) -> std::collections::BTreeMap<String, u64> {
    summary
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(u64::MAX)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// The workload's own per-call tally, as the same map.
fn tallied(t: &tracecheck_model::GroundTruth) -> std::collections::BTreeMap<String, u64> {
    t.tallies
        .syscalls
        .iter()
        .map(|(k, v)| (k.clone(), v.calls))
        .filter(|(_, v)| *v > 0)
        .collect()
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
    // bpftrace 0.17 may ignore an early SIGINT: repeat it until it exits,
    // but not while it may still be running END. A second SIGINT 250 ms
    // after the first, on a busy CI machine, ended it with its maps
    // printed and END's printf lost.
    let pid = rustix::process::Pid::from_child(&bt);
    let mut rest = String::new();
    let reader = std::thread::spawn(move || {
        let _ = out.read_to_string(&mut rest);
        rest
    });
    'signals: for _ in 0..6 {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            if bt.try_wait().ok().flatten().is_some() {
                break 'signals;
            }
        }
    }
    let _ = bt.kill();
    let _ = bt.wait();
    let text = reader.join().unwrap_or_default();
    let summary = text
        .lines()
        .find(|l| l.starts_with("openat=") && l.contains(" exec="))
        .unwrap_or_else(|| panic!("no summary in {text:?}"));
    (truth, summary.to_string())
}

#[test]
fn syscall_truths_match_bpftrace() {
    assert!(
        Command::new("bpftrace").arg("--version").output().is_ok(),
        "bpftrace is not installed: run ci/install-deps.sh"
    );
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
        Workload::Syncs { count: 126 },
        Workload::Setuids { count: 60 },
    ];
    for w in &ws {
        let mut p = vec!["prepare".to_string()];
        p.extend(w.to_args());
        p.extend(["--dir".into(), dir.clone()]);
        assert!(tc(&p.iter().map(String::as_str).collect::<Vec<_>>())
            .status
            .success());
    }
    let want = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let (t, s) = witness(&disk, &ws[0]);
    assert_eq!(bound(&t, "syscall.open_calls", W), (300, 300));
    // Three in five opens are openat(), one open(), one openat2().
    let seen = want(&[("openat", 180), ("open", 60), ("openat2", 60)]);
    assert_eq!(counts(&s), seen, "{s}");
    assert_eq!(tallied(&t), seen);

    // Three passes of read, readv, pread64, each 16 full calls and one at EOF.
    let (t, s) = witness(&disk, &ws[1]);
    assert_eq!(bound(&t, "syscall.read_calls", W), (51, 51));
    let seen = want(&[("openat", 1), ("read", 17), ("readv", 17), ("pread64", 17)]);
    assert_eq!(tallied(&t), seen);
    assert_eq!(counts(&s), seen, "{s}");

    let (t, s) = witness(&disk, &ws[2]);
    assert_eq!(bound(&t, "syscall.read_calls", W), (4, 4));
    assert_eq!(counts(&s), want(&[("openat", 1), ("pread64", 4)]), "{s}");

    // Eight writes rotating write, pwrite64, writev, pwritev2, and the
    // closing fsync().
    let (t, s) = witness(&disk, &ws[3]);
    assert_eq!(bound(&t, "syscall.write_calls", W), (8, 8));
    assert_eq!(bound(&t, "syscall.sync_calls", W), (1, 1));
    let seen = want(&[
        ("fsync", 1),
        ("openat", 1),
        ("write", 2),
        ("pwrite64", 2),
        ("writev", 2),
        ("pwritev2", 2),
    ]);
    assert_eq!(tallied(&t), seen);
    assert_eq!(counts(&s), seen, "{s}");

    // Children exec'd through the comm-named symlink run as the comm: 10
    // execs (8 execve, 2 execveat), plus 4 failed execve() attempts.
    let (t, s) = witness(&disk, &ws[4]);
    assert_eq!(bound(&t, "process.execs", W), (10, 10));
    // (/bin/true's own loader opens and reads under the comm too: only
    // the exec calls are compared.)
    let execs: std::collections::BTreeMap<String, u64> = counts(&s)
        .into_iter()
        .filter(|(k, _)| k.starts_with("exec"))
        .collect();
    assert_eq!(
        execs,
        want(&[("execve", 12), ("execveat", 2), ("exec", 10)]),
        "{s}"
    );

    // The sync family by its powers of two, each call the tracepoint of
    // its own name.
    let (t, s) = witness(&disk, &ws[5]);
    assert_eq!(bound(&t, "syscall.sync_calls", W), (126, 126));
    let seen = want(&[
        ("openat", 1),
        ("fsync", 64),
        ("fdatasync", 32),
        ("sync_file_range", 16),
        ("msync", 8),
        ("syncfs", 4),
        ("sync", 2),
    ]);
    assert_eq!(tallied(&t), seen);
    assert_eq!(counts(&s), seen, "{s}");

    // The setuid family by its powers of two.
    let (t, s) = witness(&disk, &ws[6]);
    assert_eq!(bound(&t, "syscall.setuid_calls", W), (60, 60));
    let seen = want(&[
        ("setuid", 32),
        ("setreuid", 16),
        ("setresuid", 8),
        ("setfsuid", 4),
    ]);
    assert_eq!(tallied(&t), seen);
    assert_eq!(counts(&s), seen, "{s}");
}
