//! A witness report as ground truth in the model's vocabulary: device
//! completions for the whole device (`disk.*`), block submissions charged
//! to the workload or to the kernel threads acting for it (`block.*`), and
//! the workload's read/write system calls (`syscall.*`).

use crate::report::{CpuSampleRow, CpuSamples, IoGroup, Stage, Submitter, WitnessReport};
use tracecheck_model::{Directed, Direction, Layer, Metric, Quantity, Source, Truth, Who};

/// Which tasks are the workload's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Tasks whose comm starts with this are the workload's.
    pub comm_prefix: Option<String>,
    /// Thread-group ids that are the workload's.
    pub pids: Vec<u32>,
}

impl Attribution {
    pub fn is_workload(&self, tgid: u32, comm: &str) -> bool {
        self.pids.contains(&tgid)
            || self
                .comm_prefix
                .as_deref()
                .is_some_and(|p| comm.starts_with(p))
    }
}

/// Kernel threads that submit I/O for others: writeback flushers
/// (`kworker/u*`, and any other kworker) and the ext4 journal (`jbd2/*`).
pub fn is_kernel_submitter(comm: &str) -> bool {
    comm.starts_with("kworker/") || comm.starts_with("jbd2/")
}

fn metric(layer: Layer, d: Direction, q: Quantity) -> Metric {
    Metric::fixed(layer, d, q)
}

/// Exact unless `lost` events were dropped, then a lower bound.
fn truth(m: Metric, who: Who, v: u64, lost: u64, why: String) -> Truth {
    if lost == 0 {
        Truth::exact(m, who, v, Source::Witness, why)
    } else {
        Truth::bounded(
            m,
            who,
            v,
            u64::MAX,
            Source::Witness,
            format!("{why}; at least: {lost} events lost (map full or program skipped)"),
        )
    }
}

/// `whom` names the submitters per direction (read, write), so a diagnosis
/// can say which threads really wrote ("kworker/u8:3 16,777,216 B").
fn block_truths(out: &mut Vec<Truth>, s: &Stage, who: Who, whom: [&str; 2], lost: u64) {
    for (i, (d, g)) in [
        (Direction::Read, IoGroup::Read),
        (Direction::Write, IoGroup::Write),
    ]
    .into_iter()
    .enumerate()
    {
        let f = s.get(g);
        let what = d.as_str();
        let whom = whom[i];
        out.push(truth(
            metric(Layer::Block, d, Quantity::Bytes),
            who.clone(),
            f.bytes,
            lost,
            format!(
                "{what} bytes in bios submitted by {whom} (block_bio_queue, submitter's context)"
            ),
        ));
        out.push(truth(
            metric(Layer::Block, d, Quantity::Ops),
            who.clone(),
            f.count,
            lost,
            format!("{what} bios submitted by {whom}, before merges and splits (block_bio_queue)"),
        ));
    }
}

impl WitnessReport {
    /// This report as truths with [`Source::Witness`].
    pub fn truths(&self, who: &Attribution) -> Vec<Truth> {
        let mut out = Vec::new();
        let dev = format!("{}:{}", self.device.major, self.device.minor);
        let missed = |tp: &str| self.missed_by_program.get(tp).copied().unwrap_or(0);
        let dropped = |map: &str| self.lost_by_map.get(map).copied().unwrap_or(0);
        let missed_complete = missed("block:block_rq_complete");
        for (d, g) in [
            (Direction::Read, IoGroup::Read),
            (Direction::Write, IoGroup::Write),
        ] {
            let f = self.device.complete.get(g);
            let empty = self.device.complete_without_data.get(g).count;
            out.push(truth(
                metric(Layer::Disk, d, Quantity::Bytes),
                Who::Device,
                f.bytes,
                missed_complete,
                format!("{} bytes completed on {dev} (block_rq_complete, counted as diskstats counts sectors)", d.as_str()),
            ));
            out.push(truth(
                metric(Layer::Disk, d, Quantity::Ops),
                Who::Device,
                f.count,
                missed_complete,
                format!(
                    "{} requests completed on {dev} as diskstats counts them, {empty} of them empty preflush requests",
                    d.as_str()
                ),
            ));
        }

        let lost = dropped("submitters") + missed("block:block_bio_queue");
        let mine = self.submitted_by(|s| who.is_workload(s.tgid, &s.comm));
        block_truths(
            &mut out,
            &mine,
            Who::Workload,
            ["the workload", "the workload"],
            lost,
        );
        let is_kernel =
            |s: &Submitter| !who.is_workload(s.tgid, &s.comm) && is_kernel_submitter(&s.comm);
        let kernel = self.submitted_by(is_kernel);
        let names = [IoGroup::Read, IoGroup::Write].map(|g| self.submitter_names(g, is_kernel));
        block_truths(
            &mut out,
            &kernel,
            Who::Kernel,
            [names[0].as_str(), names[1].as_str()],
            lost,
        );

        let lost = dropped("syscalls") + missed("raw_syscalls:sys_exit");
        let rows = self
            .syscalls
            .iter()
            .filter(|s| who.is_workload(s.tgid, &s.comm));
        let (mut rb, mut wb, mut rc, mut wc) = (0, 0, 0, 0);
        for s in rows {
            rb += s.read_bytes;
            wb += s.write_bytes;
            rc += s.read_calls;
            wc += s.write_calls;
        }
        let calls = "read, pread64, readv, preadv, preadv2";
        let wcalls = "write, pwrite64, writev, pwritev, pwritev2";
        for (d, q, v, why) in [
            (
                Direction::Read,
                Quantity::Bytes,
                rb,
                format!("bytes returned by {calls} (sys_exit)"),
            ),
            (
                Direction::Write,
                Quantity::Bytes,
                wb,
                format!("bytes returned by {wcalls} (sys_exit)"),
            ),
            (
                Direction::Read,
                Quantity::Ops,
                rc,
                format!("successful {calls} calls"),
            ),
            (
                Direction::Write,
                Quantity::Ops,
                wc,
                format!("successful {wcalls} calls"),
            ),
        ] {
            out.push(truth(
                metric(Layer::Syscall, d, q),
                Who::Workload,
                v,
                lost,
                why,
            ));
        }
        if let Some(cs) = &self.cpu_samples {
            out.push(sampled_cpu_time(cs, who));
        }
        out
    }
}

/// The workload's CPU time as tracecheck's own sampler saw it: its samples
/// of the workload's tasks, each worth 1/hz s. A check on the machine, not
/// a count: the judge holds it beside the workload's own clocks, which stay
/// the truth, to tell a profiler's error from a machine that did not
/// deliver samples at that rate.
///
/// Only the samples under the workload's own name count when it has one:
/// its clocks time the measured phase, which it runs under that name, and
/// a profiler keyed by comm sees the same. Its start under the name it was
/// exec'd with is neither (in a TCG guest that start took 156 samples on
/// one CPU, 16% of that CPU's share of a 1 s spin, and made the sampler
/// look 2% over the truth while it was 6% under under the workload's name).
fn sampled_cpu_time(cs: &CpuSamples, who: &Attribution) -> Truth {
    let named = |r: &CpuSampleRow| match &who.comm_prefix {
        Some(p) => r.comm.starts_with(p.as_str()),
        None => who.pids.contains(&r.tgid),
    };
    let n = cs.of(named);
    let before = cs.of(|r| who.pids.contains(&r.tgid) && !named(r));
    let hz = u64::from(cs.hz.max(1));
    let per_cpu: Vec<String> = cs
        .cpus
        .iter()
        .map(|cpu| format!("CPU {cpu}: {}", cs.of(|r| r.cpu == *cpu && named(r))))
        .collect();
    let start = if before > 0 {
        format!("; {before} more of its pids under another name, its start, left out as its clocks leave it out")
    } else {
        String::new()
    };
    truth(
        Metric::new(Layer::Cpu, Directed::Undirected, Quantity::Time),
        Who::Workload,
        n * 1_000_000_000 / hz,
        cs.lost,
        format!(
            "{n} samples of the workload's tasks by tracecheck's own sampler, a cpu-clock event on each CPU at {} Hz, \
             each worth 1/{} s ({}{start})",
            cs.hz,
            cs.hz,
            per_cpu.join(", ")
        ),
    )
}

impl WitnessReport {
    /// "kworker/u8:3 (16777216 B), jbd2/loop2-8 (12288 B)": the tasks
    /// matching `pred` that submitted in direction `g`, largest first;
    /// "kworker and jbd2 threads (none seen)" when there are none.
    pub fn submitter_names(&self, g: IoGroup, pred: impl Fn(&Submitter) -> bool) -> String {
        let mut by: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for s in self
            .submitters
            .iter()
            .filter(|s| s.direction == g && pred(s))
        {
            *by.entry(s.comm.as_str()).or_insert(0) += s.bytes;
        }
        if by.is_empty() {
            return "kworker and jbd2 threads (none seen)".to_string();
        }
        let mut v: Vec<_> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.iter()
            .map(|(c, b)| format!("{c} ({b} B)"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Flow, Submitter};

    fn sub(comm: &str, tgid: u32, direction: IoGroup, bytes: u64) -> Submitter {
        Submitter {
            tgid,
            pid: tgid,
            comm: comm.into(),
            direction,
            bytes,
            bios: 1,
        }
    }

    fn find<'a>(t: &'a [Truth], name: &str, who: Who) -> &'a Truth {
        let m = Metric::parse(name).expect("vocabulary name");
        t.iter()
            .find(|t| t.metric == m && t.who == who)
            .expect("truth present")
    }

    #[test]
    fn submitters_are_charged_to_workload_kernel_or_nobody() {
        let mut r = WitnessReport::default();
        r.device.complete.write = Flow {
            bytes: 3 << 20,
            count: 5,
        };
        r.submitters = vec![
            sub("tcw-direct", 100, IoGroup::Write, 1 << 20),
            sub("sh", 101, IoGroup::Write, 4096),
            sub("kworker/u8:2", 7, IoGroup::Write, 2 << 20),
            sub("jbd2/loop0-8", 8, IoGroup::Write, 8192),
            sub("systemd", 1, IoGroup::Write, 999),
        ];
        let t = r.truths(&Attribution {
            comm_prefix: Some("tcw-".into()),
            pids: vec![101],
        });
        assert_eq!(
            find(&t, "block.write_bytes", Who::Workload).lo,
            (1 << 20) + 4096
        );
        assert_eq!(
            find(&t, "block.write_bytes", Who::Kernel).lo,
            (2 << 20) + 8192
        );
        assert_eq!(find(&t, "block.write_ios", Who::Kernel).hi, 2);
        assert_eq!(find(&t, "disk.write_bytes", Who::Device).lo, 3 << 20);
        assert_eq!(find(&t, "disk.write_ios", Who::Device).lo, 5);
        assert!(t
            .iter()
            .all(|t| t.source == Source::Witness && t.is_exact()));
    }

    /// The sampler's count is the workload's under its own name: its start
    /// under the name it was exec'd with is left out, and said.
    #[test]
    fn the_samplers_count_leaves_out_the_workloads_start_under_another_name() {
        let row = |tgid, comm: &str, cpu, samples| CpuSampleRow {
            tgid,
            comm: comm.into(),
            cpu,
            samples,
        };
        let r = WitnessReport {
            cpu_samples: Some(CpuSamples {
                hz: 1000,
                cpus: vec![0, 1],
                rows: vec![
                    row(172, "tcw-04e6b2", 0, 925),
                    row(172, "tcw-04e6b2", 1, 876),
                    row(172, "tracecheck", 0, 156),
                    row(0, "swapper/0", 0, 33),
                ],
                lost: 0,
            }),
            ..WitnessReport::default()
        };
        let t = r.truths(&Attribution {
            comm_prefix: Some("tcw-04e6b2".into()),
            pids: vec![172],
        });
        let c = find(&t, "cpu.time", Who::Workload);
        assert_eq!(c.lo, 1801 * 1_000_000);
        assert!(c.why.contains("CPU 0: 925, CPU 1: 876"), "{}", c.why);
        assert!(c.why.contains("156 more"), "{}", c.why);
    }

    #[test]
    fn lost_events_turn_truths_into_lower_bounds() {
        let r = WitnessReport {
            submitters: vec![sub("tcw-x", 1, IoGroup::Read, 4096)],
            lost_by_map: [("submitters".to_string(), 3)].into(),
            lost: 3,
            ..WitnessReport::default()
        };
        let t = r.truths(&Attribution {
            comm_prefix: Some("tcw-".into()),
            pids: vec![],
        });
        let b = find(&t, "block.read_bytes", Who::Workload);
        assert_eq!((b.lo, b.is_exact()), (4096, false));
        assert!(b.why.contains("3 events lost"));
        assert!(find(&t, "disk.read_bytes", Who::Device).is_exact());
    }

    #[test]
    fn skipped_completions_turn_disk_truths_into_lower_bounds() {
        let mut r = WitnessReport::default();
        r.device.complete.read = Flow {
            bytes: 8192,
            count: 2,
        };
        r.missed_by_program
            .insert("block:block_rq_complete".into(), 1);
        let t = r.truths(&Attribution::default());
        let d = find(&t, "disk.read_ios", Who::Device);
        assert_eq!((d.lo, d.hi), (2, u64::MAX));
        assert!(find(&t, "block.read_bytes", Who::Workload).is_exact());
    }
}
