//! Diagnoses from the neighbour model (`tracecheck_model::neighbour`): a
//! failed number held against what each plausible mistake would have
//! reported on this very run, computed from the run's own truths and
//! tallies, and against every part of a system-call family.

use super::context::Context;
use super::evidence::who_for;
use crate::units::{num, range};
use crate::verdict::Finding;
use tracecheck_model::neighbour::{self, Mistake};
use tracecheck_model::{Direction, Layer, Quantity};

/// Does the claim count system calls (rather than the bytes they moved)?
/// At the system-call layer every quantity but bytes is a count of calls.
fn counts_calls(c: &Context<'_>) -> bool {
    c.metric.layer == Layer::Syscall && c.metric.quantity != Quantity::Bytes
}

/// The calls of the family the claim's direction belongs to, with what
/// each did on this run (only those the workload made) and, for bytes,
/// what each asked for.
fn family(c: &Context<'_>) -> Vec<(&'static str, u64, u64)> {
    let dir = c.metric.fixed_direction();
    if dir.is_none() && c.metric.layer != Layer::Syscall {
        return Vec::new();
    }
    let names = neighbour::call_family(c.metric);
    let t = &c.ev.truth.tallies;
    names
        .iter()
        .map(|n| (*n, t.call(n)))
        .filter(|(_, t)| t.calls > 0)
        .map(|(n, t)| {
            // A disk or block claim that counts system calls counts bytes.
            if counts_calls(c) {
                (n, t.calls, t.calls)
            } else {
                (n, t.bytes, t.requested)
            }
        })
        .collect()
}

/// The reported number as the sum over some, not all, of the family's
/// calls: "the script traces read() and readv() only"; failing that, for
/// read bytes, as the bytes those calls asked for (a script that takes the
/// length argument at entry and traces part of the family, as bcc's
/// fileslower does).
pub fn part_of_family(c: &Context<'_>) -> Option<(Finding, String)> {
    let v = c.reading.reported;
    let fam = family(c);
    if fam.len() < 2 || v <= 1 {
        return None;
    }
    let reads = c.metric.fixed_direction() == Some(Direction::Read)
        && c.metric.quantity == Quantity::Bytes
        && matches!(c.metric.layer, Layer::Syscall | Layer::Vfs);
    let n = fam.len();
    let passes: &[bool] = if reads { &[false, true] } else { &[false] };
    for (&asked, mask) in passes
        .iter()
        .flat_map(|a| (1..(1u32 << n) - 1).map(move |m| (a, m)))
    {
        let sum: u64 = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| if asked { fam[i].2 } else { fam[i].1 })
            .sum();
        if sum == 0 || !c.within_range(v, sum, sum) {
            continue;
        }
        let pick = |inside: bool| {
            (0..n)
                .filter(|i| (mask & (1 << i) != 0) == inside)
                .map(|i| format!("{}()", fam[i].0))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let what = if counts_calls(c) {
            "the calls made to"
        } else if asked {
            "the bytes asked for by"
        } else {
            "the bytes through"
        };
        let asked_too = if asked {
            ", and it counts the bytes each call asked for (its length argument), not the bytes the call returned"
        } else {
            ""
        };
        // Below the page cache the layer is the bigger mistake: the finding
        // names it, and the sentence adds the calls the script misses.
        let (finding, below) = match (c.metric.layer, c.metric.fixed_direction()) {
            (Layer::Disk | Layer::Block, Some(Direction::Read)) => (
                Finding::CountsCacheHitsAsDisk,
                "; and it counts system-call bytes, page-cache hits included, as disk I/O",
            ),
            (Layer::Disk | Layer::Block, _) => (
                Finding::CountsPageCacheWritesAsDisk,
                "; and it counts bytes written into the page cache as disk writes",
            ),
            _ => (Finding::PartOfCallFamily, ""),
        };
        return Some((
            finding,
            format!(
                "this equals {what} {} alone ({} from the workload, which also used {}): the script traces only part of \
                 the system-call family{asked_too}{below}",
                pick(true),
                num(sum),
                pick(false)
            ),
        ));
    }
    None
}

/// What each mistake of the model the earlier steps do not cover says, in
/// words, with the value it would have reported here.
fn sentence(m: Mistake, value: (u64, u64), unit: &str) -> Option<(Finding, String)> {
    // Where the number comes from: the neighbour model applied to this
    // run's own truths and the workload's counts.
    let at = format!(
        "{} {unit}, computed from this run's truths and the workload's own counts",
        range(value.0, value.1)
    );
    let s = |f: Finding, tail: &str| Some((f, format!("this equals {tail} ({at})")));
    match m {
        Mistake::BothDirections => s(
            Finding::BothDirections,
            "reads and writes added up: the script counts every I/O under this direction, whatever its own \
             (the bcc#4871 bug class)",
        ),
        Mistake::OneDirection(d) => s(
            Finding::OneDirectionOnly,
            &format!(
                "the workload's {}s alone: the script counts one direction where the claim adds reads and writes \
                 up (a filter on the rwbs letter, or a probe on one path only)",
                d.as_str()
            ),
        ),
        Mistake::Requested => s(
            Finding::RequestedNotReturned,
            "the bytes the calls asked for: the script sums the length argument (at sys_enter) instead of the \
             bytes returned (sys_exit's ret), so short reads at end of file and calls returning 0 count in full",
        ),
        Mistake::ExecAttempts => s(
            Finding::ExecAttempts,
            "the exec attempts, failed ones included: the script counts sys_enter_execve, not successful execs \
             (sched_process_exec)",
        ),
        Mistake::Forks => s(
            Finding::ForksNotExecs,
            "the fork() calls: the script counts new processes (fork or sched_process_fork), not execs",
        ),
        Mistake::NewTasks => s(
            Finding::NewTasksNotThreads,
            "the threads and the forked processes together: the script counts every new task \
             (sched_process_fork, or task_newtask without testing CLONE_THREAD in clone_flags), not threads",
        ),
        Mistake::OneCpu => s(
            Finding::OneCpuOnly,
            "the workload's CPU time on one CPU alone (it ran one thread on each): the script samples one CPU, \
             as a timer that fires on one CPU does (bpftrace's interval:hz, where profile:hz fires on every CPU), \
             or it filters on one",
        ),
        Mistake::ExecveOnly => s(
            Finding::MissesExecveat,
            "the execs made through execve() alone: the script misses execveat()",
        ),
        Mistake::AllInsertions => s(
            Finding::AllPageInsertions,
            "every page-cache insertion, writes included: the script counts mm_filemap_add_to_page_cache for \
             writes too, which insert pages without reading them",
        ),
        Mistake::PageAccesses => s(
            Finding::PageAccesses,
            "every page the workload read, cache hits included: the script counts page accesses, not misses",
        ),
        Mistake::DirtierCharged => s(
            Finding::ChargesDirtier,
            "the writeback of the pages this process dirtied: the script charges the flushers' writes to the task \
             that dirtied the pages, but this process submitted none of them",
        ),
        Mistake::ThreadExits => s(
            Finding::CountsThreadExits,
            "the processes' and the threads' exits together: the script counts every task that ends \
             (sched_process_exit fires for each thread), not processes (test pid == tid)",
        ),
        Mistake::Ipv4Only => s(
            Finding::Ipv4Only,
            "the IPv4 connections alone: the script misses IPv6 (a probe on IPv4's functions alone, such as \
             tcp_v4_connect, or a filter on \
             AF_INET)",
        ),
        Mistake::EstablishedOnly => s(
            Finding::EstablishedOnly,
            "the established connections alone: the script misses the connect() calls that were refused, \
             whose SYN was sent all the same (it counts at the handshake's end, or at connect()'s return of 0)",
        ),
        Mistake::FirstRequestMissed => s(
            Finding::MissesFirstRequest,
            "the device's requests less its first one: the script counts a request only against the one \
             before it (bcc's biopattern keeps the sector where the last request ended, and counts nothing \
             until it has one), so each device, and with an interval each interval, loses its first",
        ),
        Mistake::ThreadKills => s(
            Finding::CountsThreadKills,
            "the kill() calls and the tkill() and tgkill() calls together: the script counts every \
             signal-sending call (sys_enter_*kill), where the claim counts kill() alone",
        ),
        Mistake::GroupKillsMissed => s(
            Finding::MissesGroupKills,
            "the kill() calls to a pid other than 0: the script misses kill(0, sig), which signals the caller's \
             process group; a filter on the stored target pid (`/@tpid[tid]/`) is false when that pid is 0",
        ),
        Mistake::MainThreadOnly => s(
            Finding::KeyedByThread,
            "the main thread's share alone: the script keys by thread id (bpftrace's tid) where the claim keys \
             by process (pid), so the other threads' I/O is not charged to the process",
        ),
        Mistake::Sectors | Mistake::Pages | Mistake::Kib => Some((
            Finding::UnitFactor,
            format!(
                "this equals the workload's bytes in {} ({at}): the script sums sizes where the claim counts \
                 operations",
                m.describe()
            ),
        )),
        // Covered by the layer (bios and requests included), unit, twice,
        // direction and other-task steps.
        _ => None,
    }
}

/// The first mistake of the model whose value on this run the reported
/// number matches (a zero matches none of them).
pub fn by_model(c: &Context<'_>) -> Option<(Finding, String)> {
    let v = c.reading.reported;
    if v <= 1 {
        return None;
    }
    let who = who_for(c.metric.layer, c.per_process);
    // A script keyed by thread is seen only under a pid key: every thread
    // inherits the process's comm, so a comm-keyed map puts all of them in
    // one row. Under comm alone a number that happens to be the main
    // thread's share is a coincidence (the read-at-completion mutant's
    // count, wherever completions landed, once matched it within 1%).
    let by_pid = c.claim.has_key(crate::spec::KeyKind::Pid);
    for m in neighbour::neighbours(c.metric, &who) {
        if m == neighbour::Mistake::MainThreadOnly && !by_pid {
            continue;
        }
        let Some(value) = m.value(c.metric, &who, c.ev.truth) else {
            continue;
        };
        if value.1 <= 1 || !c.within_range(v, value.0, value.1) {
            continue;
        }
        // A mistake whose number is within the claim's tolerance of the
        // truth here cannot be told from it on this workload, so a number
        // that matches it names no cause (bcc's biolatency: 256 of 259
        // requests is within 1% of 258, the requests less the first).
        if within_the_truth(c, value) {
            continue;
        }
        if let Some(found) = sentence(m, value, c.metric.unit()) {
            return Some(found);
        }
    }
    None
}

/// Whether `lo..=hi` lies wholly within the truth's range widened by the
/// claim's tolerance: every number the mistake could give would pass. A
/// range that only meets it (the requests less the first, 3 to 4, beside
/// a truth of 4 to 5) still tells the mistake from the truth where it
/// leaves it.
fn within_the_truth(c: &Context<'_>, (lo, hi): (u64, u64)) -> bool {
    let (tlo, thi) = c.claim.tolerance.widen(c.truth.lo, c.truth.hi);
    lo >= tlo && hi <= thi
}

/// Direct evidence of keying by thread: the number is short of the truth,
/// and the rest sits in the map under the ids of the workload's other
/// threads. This wins over any layer that happens to match the short
/// number, as the missing part is seen where it went.
pub fn keyed_by_thread(c: &Context<'_>) -> Option<(Finding, String)> {
    let v = c.reading.reported;
    let tids = &c.ev.truth.tallies.thread_ids;
    if !c.per_process || tids.is_empty() || v >= c.truth.lo {
        return None;
    }
    let mut under: Vec<(u32, u64)> = c
        .reading
        .others
        .iter()
        .filter_map(|(k, n)| Some((k.trim().parse::<u32>().ok()?, *n)))
        .filter(|(tid, n)| tids.contains(tid) && *n > 0)
        .collect();
    let theirs: u64 = under.iter().map(|(_, n)| n).sum();
    if under.is_empty() || !c.within(v + theirs, c.truth) {
        return None;
    }
    under.sort();
    let list = under
        .iter()
        .map(|(tid, n)| format!("tid {tid} {}", num(*n)))
        .collect::<Vec<_>>()
        .join(", ");
    Some((
        Finding::KeyedByThread,
        format!(
            "the rest ({} {}) is in the map under the workload's other threads ({list}): the script keys by thread \
             id (bpftrace's tid) where the claim keys by process (pid); summed over the process's threads it would \
             be right",
            num(theirs),
            c.metric.unit()
        ),
    ))
}

/// The tool's stderr lines that say a probe did not attach, leaving out
/// lines it also printed on its passing checks (those are no evidence).
pub fn unattached<'c>(c: &'c Context<'_>) -> Vec<&'c String> {
    c.tool
        .stderr_tail
        .iter()
        .filter(|l| !c.ev.known_stderr.contains(l))
        .filter(|l| attach_failure(l))
        .collect()
}

/// How many probes the attach-failure lines name, each counted once:
/// bpftrace 0.17 says "X is not traceable" and then "could not attach probe
/// kprobe:X" for the same X. A line that names no probe counts alone.
pub fn probes_named(lines: &[&String]) -> usize {
    let mut names: Vec<&str> = lines
        .iter()
        .map(|l| {
            let l = l.as_str();
            let after_kind = [
                "kprobe:",
                "kretprobe:",
                "uprobe:",
                "uretprobe:",
                "tracepoint:",
            ]
            .iter()
            .find_map(|k| l.split_once(k).map(|(_, rest)| rest));
            let before_untraceable = l
                .split_once(" is not traceable")
                .and_then(|(head, _)| head.split_whitespace().last());
            let name = after_kind
                .map(|rest| rest.split([',', ' ']).next().unwrap_or(rest))
                .or(before_untraceable)
                .unwrap_or(l);
            name.rsplit(':').next().unwrap_or(name)
        })
        .collect();
    names.sort();
    names.dedup();
    names.len()
}

/// "N of its probes did not attach; the tool said: LINE" for the
/// attach-failure lines, quoting the first; `None` when there are none.
pub fn unattached_phrase(lines: &[&String]) -> Option<String> {
    let first = lines.first()?;
    Some(format!(
        "{} of its probes did not attach; the tool said: {}",
        probes_named(lines),
        first.trim()
    ))
}

/// Does this line of a tool's stderr say a probe failed to attach?
pub fn attach_failure(line: &str) -> bool {
    let l = line.to_lowercase();
    l.contains("attach")
        && ["could not", "fail", "skipping", "error"]
            .iter()
            .any(|k| l.contains(k))
}

/// A zero whose cause is direct: the workload read only through page
/// faults, and nothing says the tool's probes failed to attach.
pub fn missed_faults(c: &Context<'_>) -> Option<(Finding, String)> {
    let faults = c.ev.truth.tallies.fault_read_bytes;
    if c.reading.reported > 1 || faults == 0 || !unattached(c).is_empty() {
        return None;
    }
    if c.metric.fixed_direction() != Some(Direction::Read) {
        return None;
    }
    Some((
        Finding::MissesFaults,
        format!(
            "this workload read its {} B through mmap page faults, which make no read() calls, and the script \
             reported nothing for it (with no sign of a probe that failed to attach): it sees only I/O inside \
             read() calls (as disktop.stp's vfs probes), not page faults",
            num(faults)
        ),
    ))
}
