//! Which workloads can tell a claim apart from its neighbours.
//!
//! A number that is right on one workload can be wrong on another: a script
//! that counts read() bytes is right about disk reads for O_DIRECT and off
//! by 21× for cached re-reads. The neighbour model
//! (`tracecheck_model::neighbour`) lists, for every metric, the quantities a
//! script could report by mistake; each plan's design
//! (`tracecheck_workloads::design`) says what those quantities are on it.
//! A metric's default workloads are the fewest plans that leave no
//! neighbour within reach of the tolerance ([`for_metric`]), and
//! [`separation_table`] is the proof, kept in docs/separation.md.

use tracecheck_model::neighbour::{self, Mistake, Separation};
use tracecheck_model::{Directed, Direction, GroundTruth, Metric, Truth, Who};
use tracecheck_workloads::{design, Workload};

/// One workload with its parameters, under the name reports show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Name shown in reports and accepted by `--workload`.
    pub name: &'static str,
    pub workload: Workload,
    /// Why this workload is in the set, for `tracecheck workloads`.
    pub purpose: &'static str,
}

const M: u64 = 1 << 20;
const K: u64 = 1 << 10;

pub const PLANS: &[Plan] = &[
    Plan {
        name: "direct-read",
        workload: Workload::DirectRead { size: 16 * M, request: M },
        purpose: "O_DIRECT reads: read() bytes = disk bytes, all in the reader's context; each 1 MiB call is one bio \
                  and 8 device requests",
    },
    Plan {
        name: "direct-read-few",
        workload: Workload::DirectRead { size: 512 * K, request: 128 * K },
        purpose: "four O_DIRECT reads of 128 KiB, one request each: a device-wide count that misses the device's \
                  first request is a quarter short",
    },
    Plan {
        name: "cached-reread",
        workload: Workload::CachedReread { size: 16 * M, passes: 21, request: 3 * M },
        purpose: "one cold read, 20 re-reads from the page cache (read() bytes = 21× disk bytes, the disktop case); \
                  passes rotate read, readv, pread64, preadv2 and read to EOF, so the last call of a pass is short \
                  and one returns 0",
    },
    Plan {
        name: "mmap-read",
        workload: Workload::MmapRead { size: 16 * M },
        purpose: "page faults on a cold mapping: disk reads with no read() calls",
    },
    Plan {
        name: "direct-write",
        workload: Workload::DirectWrite { size: 16 * M, request: M },
        purpose: "O_DIRECT writes: write() bytes = disk bytes, submitted by the writer",
    },
    Plan {
        name: "direct-write-small",
        workload: Workload::DirectWrite { size: 16 * M, request: 16 << 10 },
        purpose: "1024 O_DIRECT writes of 16 KiB: one bio and one request each, so the journal's few blocks are \
                  under 2% of a device-wide count",
    },
    Plan {
        name: "buffered-write-fsync",
        workload: Workload::BufferedWrite { size: 16 * M, request: M, fsync: true, passes: 1 },
        purpose: "buffered writes then fsync: data submitted by the writer, journal by jbd2",
    },
    Plan {
        name: "buffered-write-nofsync",
        workload: Workload::BufferedWrite { size: 16 * M, request: M, fsync: false, passes: 1 },
        purpose: "buffered writes, exit before writeback: disk writes belong to the kernel's flushers, later",
    },
    Plan {
        name: "buffered-rewrite-fsync",
        workload: Workload::BufferedWrite { size: 16 * M, request: M, fsync: true, passes: 3 },
        purpose: "three buffered overwrites of the same 16 MiB, then fsync: write() bytes = 3× disk bytes",
    },
    Plan {
        name: "direct-mixed",
        workload: Workload::DirectMixed { read: 8 * M, write: 24 * M, request: 2 * M, threads: 4 },
        purpose: "O_DIRECT reads and writes interleaved by one process's 4 threads, 2 MiB a call (1 or 2 bios, \
                  16 or 17 requests): a read counter that also counts writes reports 4× the truth, and one keyed \
                  by thread id charges the process a quarter",
    },
    Plan {
        name: "opens",
        workload: Workload::Opens { count: 1000 },
        purpose: "exactly 1000 opens: 600 openat(), 200 open(), 200 openat2()",
    },
    Plan {
        name: "opens-2000",
        workload: Workload::Opens { count: 2000 },
        purpose: "the opens again, twice as many: a second workload for open counts, so a fixed offset (the \
                  tool's own opens, a missed first event) shows as a different error",
    },
    Plan {
        name: "stats",
        workload: Workload::Stats { count: 1000 },
        purpose: "exactly 1000 stat-family calls on one file: 390 newfstatat() (glibc's stat()), 290 statx(), \
                  200 newfstat(), 70 newstat(), 50 newlstat(): every subset of the family adds up to its own \
                  number, so a script that misses some is named exactly",
    },
    Plan {
        name: "stats-2000",
        workload: Workload::Stats { count: 2000 },
        purpose: "the stat-family calls again, twice as many: a second workload for stat counts",
    },
    Plan {
        name: "syncs",
        workload: Workload::Syncs { count: 126 },
        purpose: "exactly 126 sync-family calls on one clean page: 64 fsync(), 32 fdatasync(), 16 \
                  sync_file_range(), 8 msync(), 4 syncfs(), 2 sync(): every subset of the family adds up to its \
                  own number (bcc's syncsnoop, sync() alone, would report 2)",
    },
    Plan {
        name: "syncs-252",
        workload: Workload::Syncs { count: 252 },
        purpose: "the sync-family calls again, twice as many: a second workload for sync counts",
    },
    Plan {
        name: "setuids",
        workload: Workload::Setuids { count: 60 },
        purpose: "exactly 60 setuid-family calls that change nothing: 32 setuid(), 16 setreuid(), 8 \
                  setresuid(), 4 setfsuid(): every subset of the family adds up to its own number",
    },
    Plan {
        name: "setuids-120",
        workload: Workload::Setuids { count: 120 },
        purpose: "the setuid-family calls again, twice as many: a second workload for setuid counts",
    },
    Plan {
        name: "kills",
        workload: Workload::Kills { count: 500 },
        purpose: "exactly 500 kill() calls with signal 0: 250 to itself, 150 to its process group (pid 0), 100 \
                  to no process (ESRCH), between 250 tgkill() and 100 tkill() calls: a script that counts every \
                  *kill call reports 850, one that skips pid 0 reports 350",
    },
    Plan {
        name: "kills-1000",
        workload: Workload::Kills { count: 1000 },
        purpose: "the kill() calls again, twice as many: a second workload for kill counts",
    },
    Plan {
        name: "sleeps",
        workload: Workload::Sleeps { count: 200 },
        purpose: "exactly 200 sleeps of 100 µs: 80 nanosleep(), 120 clock_nanosleep() (glibc's sleep(), \
                  usleep() and nanosleep() since 2.31)",
    },
    Plan {
        name: "sleeps-400",
        workload: Workload::Sleeps { count: 400 },
        purpose: "the sleeps again, twice as many: a second workload for sleep counts",
    },
    Plan {
        name: "tcp-connects",
        workload: Workload::TcpConnects { count: 100 },
        purpose: "exactly 100 TCP connect() calls over loopback: 50 to an IPv4 listener, 30 to an IPv6 one, 20 \
                  refused at a closed IPv4 port; the 80 connections accepted by the same process: a tool that \
                  sees IPv4 alone reports 70 opens and 50 accepts, one that counts established connections \
                  alone 80 opens",
    },
    Plan {
        name: "tcp-connects-200",
        workload: Workload::TcpConnects { count: 200 },
        purpose: "the TCP connects again, twice as many (the same two listeners): a second workload for \
                  connects and accepts, where listens stay 2",
    },
    Plan {
        name: "threads",
        workload: Workload::Threads { count: 100 },
        purpose: "exactly 100 threads (pthread_create), and 20 forks that exit without exec: a script that \
                  counts every new task reports 120",
    },
    Plan {
        name: "paced-opens-1k",
        workload: Workload::PacedOpens { count: 2_000, rate: 1_000 },
        purpose: "2,000 openat() + close() at 1,000 a second: the slow end of a loss curve (`tracecheck loss`)",
    },
    Plan {
        name: "paced-opens-10k",
        workload: Workload::PacedOpens { count: 20_000, rate: 10_000 },
        purpose: "20,000 openat() + close() at 10,000 a second, for loss curves",
    },
    Plan {
        name: "paced-opens-50k",
        workload: Workload::PacedOpens { count: 100_000, rate: 50_000 },
        purpose: "100,000 openat() + close() at 50,000 a second, for loss curves",
    },
    Plan {
        name: "paced-opens-max",
        workload: Workload::PacedOpens { count: 200_000, rate: 0 },
        purpose: "200,000 openat() + close() as fast as the machine goes: the fast end of a loss curve",
    },
    Plan {
        name: "spin",
        workload: Workload::Spin { ms: 2000 },
        purpose: "one thread pinned to each CPU, spinning 2 s: a profiler's samples of the process at N Hz are N × \
                  its CPU-seconds, a timer on one CPU sees half of them on 2 CPUs, and another rate a multiple",
    },
    Plan {
        name: "spin-1s",
        workload: Workload::Spin { ms: 1000 },
        purpose: "the spinners again for half as long: a second workload for CPU time, so a profiler's count \
                  must scale with the time spun",
    },
    Plan {
        name: "queued-io",
        workload: Workload::DirectMixed { read: 512 << 10, write: 512 << 10, request: 4 << 10, threads: 4 },
        purpose: "256 O_DIRECT 4 KiB reads and writes from 4 threads at once, on a device of known latency \
                  (--vm: null_blk, 3 ms a request, one at a time): each request spends 3 ms at the device and \
                  about as long again for each request ahead of it in the queue, so device time and time \
                  queued differ by whole multiples, and ns, µs and ms lie 10 log2 buckets apart",
    },
    Plan {
        name: "paced-io",
        workload: Workload::DirectRead { size: 256 * K, request: 4 * K },
        purpose: "64 O_DIRECT 4 KiB reads from one thread, one after another, on the device of known latency: \
                  every request's device time is the set latency and nothing queues, a second workload for \
                  latency claims (and a tool that adds the time between requests shows it)",
    },
    Plan {
        name: "execs",
        workload: Workload::Execs { count: 50 },
        purpose: "exactly 50 execs (40 execve(), 10 execveat()), plus 20 failed execve() attempts and 10 forks \
                  that exec nothing",
    },
    Plan {
        name: "execs-100",
        workload: Workload::Execs { count: 100 },
        purpose: "the execs again, twice as many: a second workload for exec counts",
    },
];

/// The latency every request of a known-latency plan takes at the device
/// (a null_blk device's `completion_nsec`): 3 ms lies mid-bucket in log2
/// histograms of ns ([2^21, 2^22)), µs ([2048, 4096)) and ms ([2, 4)),
/// with room for the guest's overhead.
pub const KNOWN_LATENCY_NS: u64 = 3_000_000;

impl Plan {
    /// The device latency this plan runs on, if it needs a device of known
    /// latency (latency claims: their truth is checked against it).
    pub fn known_latency_ns(&self) -> Option<u64> {
        ["queued-io", "paced-io"]
            .contains(&self.name)
            .then_some(KNOWN_LATENCY_NS)
    }
}

pub fn plan(name: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    PLANS.iter().map(|p| p.name).collect()
}

/// Who a claim's number is charged to: the workload's processes when the
/// claim is keyed per process, otherwise the device for the disk and
/// block layers.
fn scope(m: Metric, per_process: bool) -> Who {
    if per_process {
        Who::Workload
    } else {
        neighbour::scopes(m)
            .last()
            .cloned()
            .unwrap_or(Who::Workload)
    }
}

/// The directions a metric is judged in.
fn resolved(m: Metric) -> Vec<Metric> {
    match m.direction {
        Directed::FromKey => vec![
            m.with_direction(Direction::Read),
            m.with_direction(Direction::Write),
        ],
        _ => vec![m],
    }
}

/// A truth's or a neighbour's bounds.
pub type Range = (u64, u64);

/// A separating plan, the truth and the neighbour's value on it, and how
/// far apart they are.
pub type Separated = (&'static Plan, Range, Range, Separation);

/// One row of the separation table: a metric (direction resolved), who it
/// is charged to, one neighbour, and the plan that separates them most.
#[derive(Debug, Clone)]
pub struct Cell {
    pub metric: Metric,
    pub who: Who,
    pub mistake: Mistake,
    /// The separating plan with the truth, the neighbour's value and their
    /// separation; `None` when no plan separates them.
    pub best: Option<Separated>,
}

/// The tolerance the table is built for: the default claim tolerance.
pub const TABLE_TOLERANCE: f64 = 0.01;

/// Every plan with its design, computed once: they are constants.
fn designs() -> &'static [(&'static Plan, GroundTruth)] {
    static DESIGNS: std::sync::OnceLock<Vec<(&'static Plan, GroundTruth)>> =
        std::sync::OnceLock::new();
    DESIGNS.get_or_init(|| {
        PLANS
            .iter()
            .map(|p| (p, design::ground_truth(&p.workload)))
            .collect()
    })
}

/// How far `mistake` is from the truth of `m` for `who` on one design.
fn separation_on(
    gt: &GroundTruth,
    m: Metric,
    who: &Who,
    mistake: Mistake,
) -> Option<(Range, Range, Separation)> {
    let truth = gt.best(m, who).map(|t| (t.lo, t.hi))?;
    let value = mistake.value(m, who, gt)?;
    let sep = Separation::between(truth, value);
    sep.separates(TABLE_TOLERANCE)
        .then_some((truth, value, sep))
}

/// Does a plan also name the mistake, not only catch it? Its wrong number
/// must not be 0 (a script that reports nothing matches no neighbour),
/// unless 0 is the mistake's own mark, and no other neighbour may come
/// within reach of it on the same plan: otherwise the judge could not say
/// which of the two the script made.
fn names_it(gt: &GroundTruth, m: Metric, who: &Who, mistake: Mistake, value: (u64, u64)) -> bool {
    if value.1 == 0 && !mistake.zero_is_its_mark() {
        return false;
    }
    neighbour::neighbours(m, who)
        .into_iter()
        .filter(|other| other.class() != mistake.class())
        .filter_map(|other| other.value(m, who, gt))
        .all(|v| Separation::between(value, v).separates(TABLE_TOLERANCE))
}

/// The plans among `plans` that separate `mistake` from `m` for `who`:
/// those that also name it if any do, otherwise those that catch it.
fn separating(
    plans: &[(&'static Plan, GroundTruth)],
    m: Metric,
    who: &Who,
    mistake: Mistake,
) -> Vec<Separated> {
    let mut all = Vec::new();
    let mut naming = Vec::new();
    for (p, gt) in plans {
        let Some((t, v, s)) = separation_on(gt, m, who, mistake) else {
            continue;
        };
        if names_it(gt, m, who, mistake, v) {
            naming.push((*p, t, v, s));
        }
        all.push((*p, t, v, s));
    }
    if naming.is_empty() {
        all
    } else {
        naming
    }
}

/// The cells of metric `m` charged to `who`, each with the plan among
/// `plans` that separates it most (naming it where one can).
fn cells_among(m: Metric, who: &Who, plans: &[(&'static Plan, GroundTruth)]) -> Vec<Cell> {
    let mut out = Vec::new();
    for rm in resolved(m) {
        for mistake in neighbour::neighbours(rm, who) {
            let best = separating(plans, rm, who, mistake)
                .into_iter()
                .max_by(|a, b| a.3 .0.total_cmp(&b.3 .0));
            out.push(Cell {
                metric: rm,
                who: who.clone(),
                mistake,
                best,
            });
        }
    }
    out
}

/// The default workload set for a claim on `m`: the fewest plans (greedy
/// set cover, ties to the earlier plan) under which every neighbour of
/// every judged direction is separated from the truth (by a plan that also
/// names it, where one can), in plan order; plus, for a direction no
/// chosen plan exercises, the first plan where its truth is not 0, and for
/// one with no tight truth (within 5%), the first plan that has one.
pub fn for_metric(m: Metric, per_process: bool) -> Vec<&'static Plan> {
    if m.quantity == tracecheck_model::Quantity::Latency
        && m.layer == tracecheck_model::Layer::Syscall
    {
        // A call's time needs no device of known latency (it is checked
        // against the workload's own clock): read() calls served from the
        // page cache in µs, and O_DIRECT pread64() calls that each wait
        // for a 3 ms request. A script that times the device's requests
        // instead has no sample on the first; one that traces read() alone
        // none on the second; µs and ns lie 10 log2 buckets apart on both.
        // Neither writes: direct-mixed's 12 pwrite64() calls beside its 4
        // reads show a script that times writes too.
        return PLANS
            .iter()
            .filter(|p| ["direct-mixed", "cached-reread", "paced-io"].contains(&p.name))
            .collect();
    }
    if m.quantity == tracecheck_model::Quantity::Latency {
        // A distribution's neighbours differ in shape on one run (see the
        // plan's purpose), not in totals across runs.
        return PLANS
            .iter()
            .filter(|p| p.known_latency_ns().is_some())
            .collect();
    }
    if m.quantity == tracecheck_model::Quantity::Size {
        // 128 KiB requests (1 MiB calls split at the scratch disk's cap)
        // and 16 KiB ones: bytes, KiB, sectors and pages of either lie
        // 9, 12 or 3 log2 buckets apart.
        return PLANS
            .iter()
            .filter(|p| ["direct-read", "direct-write-small"].contains(&p.name))
            .collect();
    }
    let who = scope(m, per_process);
    let all = designs();
    // Each neighbour with the plans that separate it.
    let mut left: Vec<Vec<&'static Plan>> = resolved(m)
        .into_iter()
        .flat_map(|rm| {
            neighbour::neighbours(rm, &who)
                .into_iter()
                .map(move |x| (rm, x))
        })
        .map(|(rm, x)| {
            separating(all, rm, &who, x)
                .into_iter()
                .map(|c| c.0)
                .collect::<Vec<_>>()
        })
        .filter(|ps| !ps.is_empty())
        .collect();
    let mut chosen: Vec<&'static Plan> = Vec::new();
    while !left.is_empty() {
        // The plan in the most remaining sets; the earliest on a tie.
        let Some(best) = PLANS
            .iter()
            .filter(|p| !chosen.contains(p))
            .map(|p| (p, left.iter().filter(|ps| ps.contains(&p)).count()))
            .fold(None::<(&'static Plan, usize)>, |acc, (p, n)| match acc {
                Some((_, m)) if m >= n => acc,
                _ => Some((p, n)),
            })
            .filter(|(_, n)| *n > 0)
        else {
            break;
        };
        left.retain(|ps| !ps.contains(&best.0));
        chosen.push(best.0);
    }
    // Each judged direction must see a workload where its truth is not 0
    // (a claim never exercised cannot pass honestly), and one where it is
    // tight, within 5% (a claim is held to a number, not only a range).
    let nonzero = |t: &Truth| t.lo > 0;
    let tight = |t: &Truth| t.lo > 0 && t.hi * 100 <= t.lo * 105;
    // Whether plan `p`'s truth of `rm` is `wanted`.
    let holds = |p: &Plan, rm: Metric, wanted: &dyn Fn(&Truth) -> bool| {
        all.iter()
            .any(|(q, gt)| *q == p && gt.best(rm, &who).is_some_and(wanted))
    };
    for wanted in [&nonzero as &dyn Fn(&Truth) -> bool, &tight] {
        for rm in resolved(m) {
            let has = |p: &Plan| holds(p, rm, wanted);
            if !chosen.iter().any(|p| has(p)) {
                if let Some(p) = PLANS.iter().find(|p| has(p)) {
                    chosen.push(p);
                }
            }
        }
    }
    // Every claim is held on at least two workloads where its truth is
    // tight (not 0, within 5%): a number right on one run may be right by
    // accident (an offset that a second count exposes). The second is
    // another run of a chosen plan's kind where there is one, else the
    // first plan that has it.
    for rm in resolved(m) {
        let has = |p: &Plan| holds(p, rm, &tight);
        while chosen.iter().filter(|p| has(p)).count() < 2 {
            let fresh = |p: &&'static Plan| !chosen.contains(p) && has(p);
            let same_kind = PLANS.iter().filter(fresh).find(|p| {
                chosen
                    .iter()
                    .any(|c| has(c) && c.workload.kind() == p.workload.kind())
            });
            match same_kind.or_else(|| PLANS.iter().find(fresh)) {
                Some(p) => chosen.push(p),
                None => break,
            }
        }
    }
    PLANS.iter().filter(|p| chosen.contains(p)).collect()
}

/// Every metric × scope × neighbour, each with the default plan that
/// separates it most (docs/separation.md).
pub fn separation_table() -> Vec<Cell> {
    let all = designs();
    let mut out = Vec::new();
    for m in neighbour::resolved_metrics() {
        for who in neighbour::scopes(m) {
            let per_process = *who == Who::Workload;
            let defaults: Vec<_> = for_metric(m, per_process)
                .into_iter()
                .filter_map(|p| all.iter().find(|(q, _)| *q == p).cloned())
                .collect();
            out.extend(cells_among(m, who, &defaults));
        }
    }
    out
}

fn range(r: Range) -> String {
    crate::units::range(r.0, r.1)
}

/// docs/separation.md, as `tracecheck separation` prints it.
pub fn separation_markdown() -> String {
    let mut s = String::from(
        "# Separation: every metric against every neighbour\n\n\
         Generated by `tracecheck separation`; a test fails when this file differs from its output or a cell is \
         empty.\n\n\
         For each metric a claim can name (direction resolved), charged to the workload's processes (`workload`, \
         claims keyed by comm or pid) or to the whole scratch device (`device`), and each quantity a wrong script \
         could report instead (the neighbour model, `model/src/neighbour.rs`): the default workload where the two \
         differ most, their values by the workload's design on the nominal scratch disk \
         (`workloads/src/design.rs`), and the ratio between the nearest ends of the two ranges. A claim with the \
         default 1% tolerance needs a ratio of at least 1.10 (10× the tolerance); ∞ means one of the two is 0.\n\n\
         A metric's default workloads are the fewest that separate all of its rows (`harness/src/select.rs`); \
         `tracecheck workloads` lists them.\n\n\
         Threads, children and parents: the workload's threads share its pid and inherit its comm, so a claim \
         keyed by comm or pid charges their I/O to the process, and a script keyed by thread id does not (the \
         row \"keyed by thread id\"). A forked child keeps the comm and its pid is one of the workload's, so \
         under either key its I/O is the workload's too; what a child does that its parent did not ask for \
         (a fork with no exec) is the row \"fork() calls instead of execs\". Tools that filter by one pid \
         get it from the harness (`{pid}` in a command): the workload starts held and goes on once the tool is \
         ready. The neighbour model has no row yet for a tool that follows that pid alone and misses its \
         children.\n\n",
    );
    let mut current: Option<(Metric, Who)> = None;
    for c in separation_table() {
        if current.as_ref() != Some(&(c.metric, c.who.clone())) {
            let per_process = c.who == Who::Workload;
            let defaults: Vec<_> = for_metric(c.metric, per_process)
                .iter()
                .map(|p| p.name)
                .collect();
            s.push_str(&format!(
                "\n## `{}` charged to {}\n\ndefault workloads: {}\n\n\
                 | neighbour | workload | truth | neighbour's value | ratio |\n|---|---|---|---|---|\n",
                c.metric.name(),
                who_word(&c.who),
                defaults.join(", ")
            ));
            current = Some((c.metric, c.who.clone()));
        }
        match &c.best {
            Some((p, t, v, sep)) => s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                c.mistake.describe(),
                p.name,
                range(*t),
                range(*v),
                sep
            )),
            None => s.push_str(&format!("| {} | **none** | | | |\n", c.mistake.describe())),
        }
    }
    s
}

fn who_word(w: &Who) -> &'static str {
    match w {
        Who::Workload => "the workload",
        Who::Device => "the device",
        Who::Kernel => "kernel threads",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_for(m: &str, per_process: bool) -> Vec<&'static str> {
        for_metric(Metric::parse(m).unwrap(), per_process)
            .iter()
            .map(|p| p.name)
            .collect()
    }

    #[test]
    fn disk_read_claims_include_writes_and_cache_hits() {
        let got = names_for("disk.read_bytes", true);
        // A read counter must see writes (bcc#4871) and cached re-reads
        // (disktop) and page faults.
        assert!(
            got.iter().any(|n| plan(n)
                .unwrap()
                .workload
                .to_args()
                .iter()
                .any(|a| a.contains("write"))),
            "{got:?}"
        );
        assert!(got.contains(&"cached-reread"), "{got:?}");
        assert!(got.contains(&"mmap-read"), "{got:?}");
    }

    #[test]
    fn every_claim_is_held_on_two_workloads_where_its_truth_is_not_0() {
        let all = designs();
        let mut short = Vec::new();
        for m in neighbour::resolved_metrics() {
            for who in neighbour::scopes(m) {
                let defaults = for_metric(m, *who == Who::Workload);
                let latency = matches!(
                    m.quantity,
                    tracecheck_model::Quantity::Latency | tracecheck_model::Quantity::Size
                );
                // A distribution's truth is the witness's timing and sizing
                // of one run, not a design number: its plans are its own.
                let held: Vec<&str> = defaults
                    .iter()
                    .filter(|p| {
                        latency
                            || all
                                .iter()
                                .any(|(q, gt)| q == *p && gt.best(m, who).is_some_and(|t| t.lo > 0))
                    })
                    .map(|p| p.name)
                    .collect();
                if held.len() < 2 {
                    short.push(format!("{} ({who:?}): {held:?}", m.name()));
                }
            }
        }
        assert!(
            short.is_empty(),
            "held on fewer than two workloads:\n{}",
            short.join("\n")
        );
        // The second is another run of the same kind where there is one.
        assert_eq!(
            names_for("syscall.kill_calls", true),
            ["kills", "kills-1000"]
        );
        assert_eq!(names_for("cpu.time", true), ["spin", "spin-1s"]);
    }

    #[test]
    fn every_cell_of_the_table_is_separated() {
        let empty: Vec<String> = separation_table()
            .iter()
            .filter(|c| c.best.is_none())
            .map(|c| format!("{} ({:?}): {}", c.metric, c.who, c.mistake.describe()))
            .collect();
        assert!(
            empty.is_empty(),
            "no default workload separates:\n{}",
            empty.join("\n")
        );
    }

    /// Every metric has a default workload whose truth is not 0 and is
    /// exact or nearly so (within 5%): a claim is held to a number, not
    /// only to a range.
    #[test]
    fn every_metric_has_a_tight_truth_among_its_defaults() {
        let mut loose = Vec::new();
        // A latency truth is no design's: the witness times every request
        // at run time, on a device of known latency (establish_latency).
        for m in neighbour::resolved_metrics()
            .into_iter()
            .filter(|m| !m.is_distribution())
        {
            for who in neighbour::scopes(m) {
                let tight = for_metric(m, *who == Who::Workload).iter().any(|p| {
                    design::ground_truth(&p.workload)
                        .best(m, who)
                        .is_some_and(|t| t.lo > 0 && t.hi * 100 <= t.lo * 105)
                });
                if !tight {
                    loose.push(format!("{m} ({who:?})"));
                }
            }
        }
        assert!(loose.is_empty(), "no tight truth: {}", loose.join(", "));
    }

    /// A truth range wider than 5% says why: its `why` states the bounds
    /// (at least / at most) and what sets them.
    #[test]
    fn wide_truths_explain_their_bounds() {
        let mut silent = Vec::new();
        for p in PLANS {
            for t in design::ground_truth(&p.workload).truths {
                if t.hi * 100 > t.lo.max(1) * 105 {
                    let w = t.why.to_lowercase();
                    let says = [">=", "<=", "at least", "at most", "up to"]
                        .iter()
                        .any(|k| w.contains(k));
                    if !says {
                        silent.push(format!("{} {} {:?}: {}", p.name, t.metric, t.who, t.why));
                    }
                }
            }
        }
        assert!(
            silent.is_empty(),
            "wide truths without their bounds:\n{}",
            silent.join("\n")
        );
    }

    #[test]
    fn docs_separation_md_is_current() {
        let doc = include_str!("../../docs/separation.md");
        assert!(
            doc == separation_markdown(),
            "docs/separation.md is stale: regenerate it with `tracecheck separation > docs/separation.md`"
        );
    }

    #[test]
    fn process_and_open_claims_run_on_their_workloads() {
        assert_eq!(names_for("process.execs", true), ["execs", "execs-100"]);
        assert_eq!(
            names_for("syscall.open_calls", true),
            ["opens", "opens-2000"]
        );
    }
}
