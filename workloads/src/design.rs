//! What each workload does by design, without running it: the calls it
//! will make ([`counts`]) and the truths that follow on a nominal scratch
//! disk ([`ground_truth`]). The separation table (docs/separation.md) and
//! the choice of a metric's default workloads are computed from these; a
//! test holds real runs to the same counts.

use crate::ops::{self, Counts, REREAD_CALLS, WRITE_CALLS};
use crate::truths::{self, Facts};
use crate::workload::Workload;
use std::collections::BTreeMap;
use tracecheck_model::GroundTruth;

/// The facts of the harness's scratch disk as it makes it: requests capped
/// at 128 KiB, a loop device's 128 segments, one extent per input file,
/// ext4's 5 s commit interval, a
/// run well under a second, fsync() owning the data.
pub fn nominal_facts() -> Facts {
    Facts {
        max_request_bytes: crate::scratch_disk::MAX_SECTORS_KB * 1024,
        max_segments: 128,
        // A 16 MiB file written in one go into a fresh ext4 gets one
        // extent (ext4 extents hold up to 128 MiB); real runs count theirs.
        extents: 1,
        commit_interval_ns: 5_000_000_000,
        elapsed_ns: 500_000_000,
        fsync_owns_data: true,
        fsync_reason: "nominal: a short run under the dirty thresholds".into(),
    }
}

/// CPUs a spin workload is designed for: one thread on each.
pub const NOMINAL_CPUS: u32 = 2;

/// The calls `w` makes, exactly as the workload will count them.
pub fn counts(w: &Workload) -> Counts {
    let mut c = Counts::default();
    let call = |c: &mut Counts, name: &'static str, read: bool, asked: u64, got: u64| {
        let t = c.by_call.entry(name).or_default();
        t.calls += 1;
        t.bytes += got;
        t.requested += asked;
        if read {
            c.read_calls += 1;
            c.read_bytes += got;
        } else {
            c.write_calls += 1;
            c.write_bytes += got;
        }
    };
    let open = |c: &mut Counts, name: &'static str| {
        c.open_calls += 1;
        c.by_call.entry(name).or_default().calls += 1;
    };
    // O_DIRECT: one open, then whole calls of `request` bytes each (the
    // order of reads and writes does not change the counts).
    let direct = |c: &mut Counts, read: u64, write: u64, request: u64| {
        open(c, "openat");
        for _ in 0..read / request {
            call(c, "pread64", true, request, request);
        }
        for _ in 0..write / request {
            call(c, "pwrite64", false, request, request);
        }
    };
    match *w {
        Workload::DirectRead { size, request } => direct(&mut c, size, 0, request),
        Workload::DirectWrite { size, request } => direct(&mut c, 0, size, request),
        Workload::DirectMixed {
            read,
            write,
            request,
            threads,
        } => {
            direct(&mut c, read, write, request);
            c.threads_created = threads - 1;
            // The main thread's share, by the same rule the run uses.
            if threads > 1 {
                for (name, n) in [("pread64", read / request), ("pwrite64", write / request)] {
                    let mine = (0..n)
                        .filter(|&k| ops::mixed_task(name == "pread64", k, threads) == 0)
                        .count() as u64;
                    c.main_thread.insert(
                        name,
                        tracecheck_model::CallTally {
                            calls: mine,
                            bytes: mine * request,
                            requested: mine * request,
                        },
                    );
                }
                // Ids are only known at run time; the design stands for
                // them with placeholders past any real pid.
                c.thread_ids = (1..threads as u32).map(|i| u32::MAX - i).collect();
            }
        }
        Workload::CachedReread {
            size,
            passes,
            request,
        } => {
            open(&mut c, "openat");
            for p in 0..passes {
                let name = REREAD_CALLS[(p % 4) as usize];
                let mut left = size;
                loop {
                    let got = left.min(request);
                    call(&mut c, name, true, request, got);
                    if got == 0 {
                        break;
                    }
                    left -= got;
                }
            }
        }
        Workload::BufferedWrite {
            size,
            request,
            passes,
            ..
        } => {
            open(&mut c, "openat");
            for i in 0..passes * (size / request) {
                call(
                    &mut c,
                    WRITE_CALLS[(i as usize) % WRITE_CALLS.len()],
                    false,
                    request,
                    request,
                );
            }
        }
        Workload::MmapRead { .. } => open(&mut c, "openat"),
        Workload::Opens { count } => (0..count).for_each(|i| open(&mut c, ops::open_call(i))),
        Workload::PacedOpens { count, .. } => (0..count).for_each(|_| open(&mut c, "openat")),
        Workload::Threads { count } => {
            c.forks = count / 5;
            c.threads_created = count;
        }
        // Nominally two CPUs (this project's machines), each thread on its
        // own for the whole time.
        Workload::Spin { ms } => {
            for cpu in 0..NOMINAL_CPUS {
                c.cpu_ns.insert(cpu, ms * 1_000_000);
            }
            c.threads_created = NOMINAL_CPUS as u64;
            c.process_cpu_ns = NOMINAL_CPUS as u64 * ms * 1_000_000;
        }
        Workload::Stats { count } => {
            open(&mut c, "openat");
            (0..count).for_each(|i| c.statted(ops::stat_call(i)));
        }
        Workload::Kills { count } => {
            let mut i = 0;
            while c.kill_calls < count {
                c.signalled(ops::kill_call(i));
                i += 1;
            }
        }
        Workload::Sleeps { count } => (0..count).for_each(|i| c.slept(ops::sleep_call(i))),
        Workload::Setuids { count } => (0..count).for_each(|i| c.setuid(ops::setuid_call(i))),
        Workload::Syncs { count } => {
            open(&mut c, "openat");
            (0..count).for_each(|i| c.synced(ops::sync_call(i)));
        }
        Workload::TcpConnects { count } => {
            crate::tcp::LISTENS.iter().for_each(|v6| c.listened(*v6));
            (0..count).for_each(|i| c.connected(crate::tcp::connect_kind(i)));
        }
        Workload::Execs { count } => {
            for child in ops::exec_children(count) {
                c.forks += 1;
                match child {
                    ops::Child::Execve => c.execs += 1,
                    ops::Child::Execveat => {
                        c.execs += 1;
                        c.execveat += 1;
                    }
                    ops::Child::FailedExec | ops::Child::NoExec => {}
                }
                if child != ops::Child::NoExec {
                    c.exec_attempts += 1;
                }
            }
        }
    }
    c
}

/// The ground truth a run of `w` would report by design on the nominal
/// scratch disk (before diskstats and the witness pin what they measure).
pub fn ground_truth(w: &Workload) -> GroundTruth {
    let c = counts(w);
    let comm = "tcw-design";
    GroundTruth {
        workload: w.kind().to_string(),
        comm: comm.into(),
        pids: vec![1],
        params: BTreeMap::new(),
        truths: truths::truths(w, &c, comm, &nominal_facts()),
        tallies: truths::tallies(w, &c),
        needs_writeback: false,
        elapsed_ns: nominal_facts().elapsed_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_go_to_eof_and_rotate_calls() {
        let c = counts(&Workload::CachedReread {
            size: 16 << 20,
            passes: 21,
            request: 3 << 20,
        });
        // 5 full calls, one short (1 MiB), one returning 0, per pass.
        assert_eq!(c.read_calls, 21 * 7);
        assert_eq!(c.read_bytes, 21 * (16 << 20));
        assert_eq!(c.by_call["read"].calls, 6 * 7);
        assert_eq!(c.by_call["readv"].requested, 5 * 7 * (3 << 20));
    }

    #[test]
    fn execs_make_attempts_forks_and_execveats_that_differ() {
        let c = counts(&Workload::Execs { count: 50 });
        assert_eq!(
            (c.execs, c.execveat, c.exec_attempts, c.forks),
            (50, 10, 70, 80)
        );
    }

    #[test]
    fn opens_mix_the_family() {
        let c = counts(&Workload::Opens { count: 1000 });
        assert_eq!(c.open_calls, 1000);
        assert_eq!(c.by_call["openat"].calls, 600);
        assert_eq!(c.by_call["open"].calls, 200);
        assert_eq!(c.by_call["openat2"].calls, 200);
    }

    /// 500 kill() calls: 150 of them to the process group, with 250
    /// tgkill() and 100 tkill() calls between them.
    #[test]
    fn kills_mix_kill_calls_with_thread_kills() {
        let c = counts(&Workload::Kills { count: 500 });
        assert_eq!((c.kill_calls, c.kill_group), (500, 150));
        assert_eq!(c.by_call["kill"].calls, 500);
        assert_eq!(c.by_call["tgkill"].calls, 250);
        assert_eq!(c.by_call["tkill"].calls, 100);
    }

    /// 100 connect() calls: 80 connections accepted, 30 over IPv6, 20
    /// refused.
    #[test]
    fn tcp_connects_mix_families_and_refusals() {
        let c = counts(&Workload::TcpConnects { count: 100 });
        assert_eq!(
            (c.tcp_connects, c.tcp_accepts, c.tcp_v6, c.tcp_refused),
            (100, 80, 30, 20)
        );
    }

    /// The stat mix covers exactly the model's stat family, and no two
    /// subsets of it add up to within 2% of each other: a partial count
    /// names the calls it saw.
    #[test]
    fn stats_mix_the_family_and_every_subset_sums_apart() {
        let c = counts(&Workload::Stats { count: 1000 });
        assert_eq!(c.stat_calls, 1000);
        assert_eq!(c.open_calls, 1, "one openat() for newfstat's descriptor");
        let mut names: Vec<&str> = ops::STAT_MIX.iter().map(|(n, _)| *n).collect();
        let mut family = tracecheck_model::neighbour::STAT_CALLS.to_vec();
        names.sort();
        family.sort();
        assert_eq!(names, family);
        for (name, per100) in ops::STAT_MIX {
            assert_eq!(c.by_call[name].calls, per100 * 10, "{name}");
        }
        let n = ops::STAT_MIX.len();
        let mut sums: Vec<u64> = (1..(1u32 << n) - 1)
            .map(|m| {
                (0..n)
                    .filter(|i| m & (1 << i) != 0)
                    .map(|i| ops::STAT_MIX[i].1 * 10)
                    .sum()
            })
            .collect();
        sums.sort();
        assert!(sums.windows(2).all(|w| w[1] - w[0] >= 20), "{sums:?}");
    }
}
