//! Diagnosis: for a failed claim, find what the reported number does match
//! (another layer's truth, a unit factor, twice the truth, the other
//! direction, other tasks) and say it in plain words with the numbers.
//!
//! Hypotheses are tried from the most specific to the least; the first that
//! explains the number within the claim's tolerance wins.

use super::context::Context;
use crate::units::{num, range};
use crate::verdict::{Diagnosis, Finding};
use tracecheck_model::{Direction, Layer, Truth, Who};

pub fn diagnose(c: &Context<'_>) -> Diagnosis {
    let v = c.reading.reported;
    let open = c.opening();
    let d = |finding, tail: String| Diagnosis {
        finding,
        sentence: format!("{open}; {tail}"),
    };

    // -1. The machine, not the tool: tracecheck's own sampler, at the
    // claim's rate beside the tool, missed the same CPU time too. Whatever
    // the tool printed, nothing here can say whether it samples right.
    if let Some(tail) = sampler_off(c) {
        return d(Finding::SamplerOff, tail);
    }

    // 0. A zero, or a count within 1 of it, matches no other layer: it is
    // "reported nothing" unless its cause is direct (below).
    let nothing = v <= 1;

    // 0a. A rate that, times the intervals it was printed for, is not the
    // truth divides by some other time than the interval's: for a rate
    // that is the first suspect, twice the truth included.
    if let Some(tail) = rate_not_per_interval(c).filter(|_| !nothing) {
        return d(Finding::RateNotPerInterval, tail);
    }

    // 0b. Exactly twice an exact truth is direct evidence of double
    // counting; it wins over a layer whose truth is only a range.
    if c.truth.lo == c.truth.hi && c.truth.hi > 1 && c.within(v, &scaled(c.truth, 2)) {
        return d(Finding::DoubleCounting, twice_sentence(v, c.truth));
    }

    // 0b'. The workload's own entry under its comm spelled as a Python
    // bytes literal (bcc 0.26's threadsnoop prints `b'tcw-78471f'`): the
    // count may be right, the key is not what a user filters on.
    if let Some(tail) = bytes_literal_key(c) {
        return d(Finding::BytesLiteralKey, tail);
    }
    if let Some(tail) = garbled_comm(c) {
        return d(Finding::GarbledComm, tail);
    }
    if let Some(tail) = unresolved_comm(c) {
        return d(Finding::StaleComm, tail);
    }

    // 0c. The missing part found under the workload's other threads' ids.
    if let Some((finding, tail)) = super::mistakes::keyed_by_thread(c) {
        return d(finding, tail);
    }

    // 0c'. The missing part found under the tasks that completions
    // interrupt (swapper, ksoftirqd): no task submits I/O there, so that is
    // direct evidence of charging at completion, and it wins over any
    // model whose number the short count happens to match (the
    // read-at-completion mutant's count, wherever completions landed, once
    // matched the main thread's share on direct-mixed).
    if let Some((finding, tail)) = charged_to_others(c, true) {
        return d(finding, tail);
    }

    // 0d. Short by no more than what the tool itself said it dropped: its
    // own words are direct evidence, whatever layer the rest might match.
    // Only for counts: a lost event is one operation, but no one knows how
    // many bytes it carried.
    let counts = c.metric.quantity.counts_events();
    let admitted = c
        .tool
        .lost_events
        .filter(|l| counts && l.events > 0)
        .map(|l| (l, c.truth.lo.saturating_sub(v)))
        .filter(|&(_, short)| short > 0);
    let said = |l: crate::record::LostEvents| {
        format!(
            "the tool itself said it lost {} events ({} loss notice(s) such as \"Possibly lost N samples\")",
            num(l.events),
            l.notices
        )
    };
    if let Some((lost, short)) = admitted.filter(|&(l, short)| short <= l.events) {
        let cover = if short == lost.events {
            "exactly the missing ones".to_string()
        } else {
            format!(
                "enough to cover the {} missing (the lost events were not all this workload's)",
                num(short)
            )
        };
        return d(
            Finding::LostEvents,
            format!(
                "{}, {cover}: it drops events when its buffer to user space overflows, so its rows are short under load; a larger buffer (bcc's -b, bpftrace's BPFTRACE_PERF_RB_PAGES) or a lower event rate would keep them",
                said(lost)
            ),
        );
    }
    // 0d'. Short by no more than the events ftrace's buffer lost or still
    // held unread when the tool was stopped (after it was given time to
    // read them): the kernel's own count of what the tool never printed.
    if let Some((f, lost, short)) = ftrace_lost(c, counts) {
        let mut parts = vec![];
        if f.overwritten + f.dropped > 0 {
            parts.push(format!(
                "overwrote or dropped {} events before the tool read them",
                num(f.overwritten + f.dropped)
            ));
        }
        if f.unread > 0 {
            parts.push(format!(
                "still held {} events the tool had not read when it was stopped, though it was given up to {} s to read them",
                num(f.unread),
                crate::tool::FTRACE_DRAIN.as_secs()
            ));
        }
        return d(
            Finding::FtraceLost,
            format!(
                "ftrace's trace buffer {}: {} events, enough to cover the {} missing; the tool prints only what it reads from the buffer and says nothing of the rest",
                parts.join(", and "),
                num(lost),
                num(short)
            ),
        );
    }

    // 1. Another layer's truth. For counts, bios and requests come first:
    // where they equal the calls made (one bio per call), counting bios is
    // the likelier mistake for a script that reads block tracepoints.
    let layers: &[Layer] = match c.metric.quantity {
        tracecheck_model::Quantity::Ops => &[
            Layer::Block,
            Layer::Disk,
            Layer::Syscall,
            Layer::Vfs,
            Layer::Pagecache,
        ],
        tracecheck_model::Quantity::Bytes => &[
            Layer::Syscall,
            Layer::Vfs,
            Layer::Disk,
            Layer::Block,
            Layer::Pagecache,
        ],
        // Only the system-call layer counts stat calls, only the process
        // layer threads, only the CPU time.
        tracecheck_model::Quantity::StatCalls
        | tracecheck_model::Quantity::KillCalls
        | tracecheck_model::Quantity::SleepCalls
        | tracecheck_model::Quantity::SyncCalls
        | tracecheck_model::Quantity::SetuidCalls
        | tracecheck_model::Quantity::Connects
        | tracecheck_model::Quantity::Accepts
        | tracecheck_model::Quantity::Listens
        | tracecheck_model::Quantity::Exits
        | tracecheck_model::Quantity::Threads
        | tracecheck_model::Quantity::Time
        | tracecheck_model::Quantity::Latency
        | tracecheck_model::Quantity::Size => &[],
    };
    for &layer in layers {
        if layer == c.metric.layer {
            continue;
        }
        let Some(m) = c.metric.at_layer(layer) else {
            continue;
        };
        let Some(t) = c.truth_at(m) else { continue };
        if nothing || !c.within(v, t) {
            continue;
        }
        let at = format!(
            "{} {} from the {}",
            range(t.lo, t.hi),
            m.unit(),
            t.source.as_str()
        );
        let dir = c.metric.fixed_direction();
        let below = matches!(c.metric.layer, Layer::Disk | Layer::Block);
        let (finding, tail) = match (below, layer, dir) {
            (true, Layer::Syscall | Layer::Vfs, Some(Direction::Read)) => (
                Finding::CountsCacheHitsAsDisk,
                format!("this equals the bytes returned by read() ({at}): the script counts page-cache hits as disk I/O"),
            ),
            (true, Layer::Syscall | Layer::Vfs, Some(Direction::Write)) => {
                // Who really wrote: the witness names the threads it saw
                // submit; the workload's design only knows it was the kernel.
                let seen = c
                    .metric
                    .at_layer(Layer::Block)
                    .and_then(|b| c.ev.truth.truths.iter().find(|t| t.metric == b && t.who == Who::Kernel && t.source == tracecheck_model::Source::Witness && t.lo > 0));
                let kernel = c.ev.truth.best(c.metric, &Who::Kernel).filter(|k| k.hi > 0);
                let later = match (seen, kernel) {
                    (Some(w), _) if c.per_process && c.truth.hi == 0 => format!(
                        "; not by this process: tracecheck's witness saw the data reach the disk later, as {}",
                        w.why
                    ),
                    (None, Some(k)) if c.per_process && c.truth.hi == 0 => format!(
                        "; the disk writes ({} B) were done later by kernel threads (writeback flushers, jbd2), not by this process",
                        range(k.lo, k.hi)
                    ),
                    _ => String::new(),
                };
                (
                    Finding::CountsPageCacheWritesAsDisk,
                    format!("this equals the bytes passed to write() ({at}): the script counts writes into the page cache as disk writes{later}"),
                )
            }
            (true, Layer::Block, _) if c.metric.quantity == tracecheck_model::Quantity::Ops => (
                Finding::BiosNotRequests,
                format!("this equals the bios submitted ({at}): the script counts bios (block_bio_queue) where the claim counts device requests (block_rq_complete); one bio can be split into several requests, and several merged into one"),
            ),
            (true, Layer::Disk, _) if c.metric.quantity == tracecheck_model::Quantity::Ops => (
                Finding::RequestsNotBios,
                format!("this equals the device requests completed ({at}): the script counts requests where the claim counts bios submitted"),
            ),
            (false, Layer::Disk | Layer::Block, _) => (
                Finding::CountsDiskNotSyscalls,
                format!("this equals what the disk did ({at}): the script counts disk I/O, not what the process asked for"),
            ),
            _ => (Finding::OtherLayer, format!("this equals the truth at {} ({at})", layer.describe())),
        };
        return d(finding, tail);
    }

    // 1b. Part of a system-call family (read and readv, not pread64).
    if let Some((finding, tail)) = super::mistakes::part_of_family(c) {
        return d(finding, tail);
    }

    // 2. Unit factors (of bytes: CPU time's wrong factor is a rate, 7).
    let byte_units: &[(u64, &str, &str)] = if c.metric.layer == Layer::Cpu {
        &[]
    } else {
        &[
            (512, "512-byte sectors", "bytes"),
            (1024, "KiB", "bytes"),
            (1000, "kB (1000 B)", "bytes"),
            (4096, "4 KiB pages", "bytes"),
        ]
    };
    for &(f, bigger, smaller) in byte_units {
        let scaled_up = v.checked_mul(f).filter(|x| c.within(*x, c.truth));
        if scaled_up.is_some() && v > 0 {
            return d(
                Finding::UnitFactor,
                format!("×{f} it equals the truth: the script reports {bigger} where the claim says {smaller}"),
            );
        }
        if v.is_multiple_of(f) && v > 0 && c.within(v / f, c.truth) {
            return d(
                Finding::UnitFactor,
                format!("÷{f} it equals the truth: the script multiplies by {f} once too often (e.g. counts bytes, then converts them again as if they were {bigger})"),
            );
        }
    }

    // 3. Twice the truth.
    if c.truth.hi > 0 && v > 0 && c.within(v, &scaled(c.truth, 2)) {
        return d(Finding::DoubleCounting, twice_sentence(v, c.truth));
    }

    // 4. The other direction.
    if let Some(dir) = c.metric.fixed_direction() {
        let opp = c.metric.with_direction(dir.opposite());
        if let Some(t) = c.truth_at(opp).filter(|t| t.hi > 0 && c.within(v, t)) {
            return d(
                Finding::WrongDirection,
                format!(
                    "this equals the {} truth ({} {}): the script swaps reads and writes",
                    dir.opposite().as_str(),
                    range(t.lo, t.hi),
                    opp.unit()
                ),
            );
        }
        if c.reading.reported == 0
            && c.reading.opposite > 0
            && c.within(c.reading.opposite, c.truth)
        {
            return d(
                Finding::WrongDirection,
                format!("the right amount ({} {}) was printed under the {} key: the script's direction test is inverted", num(c.reading.opposite), c.metric.unit(), dir.opposite().as_str()),
            );
        }
    }

    // 4b. The other mistakes of the neighbour model.
    if let Some((finding, tail)) = super::mistakes::by_model(c) {
        return d(finding, tail);
    }

    // 5. Charged to other tasks: only below the page cache, where work is
    // done in other contexts (completion interrupts, flushers, kworkers).
    // A system call, a VFS call or an exec runs in its caller's context,
    // so there others' entries are their own work, and how much of it
    // there is depends on what else the machine ran (a concurrent dd once
    // turned a missed call family into "charged to dd").
    if let Some((finding, tail)) = charged_to_others(c, false) {
        return d(finding, tail);
    }

    // 5b. Nothing for a workload that read only through page faults.
    if let Some((finding, tail)) = super::mistakes::missed_faults(c) {
        return d(finding, tail);
    }

    // 6. Nothing at all.
    if nothing {
        if let Some(tail) = garbage(c) {
            return d(Finding::UnparsedOutput, tail);
        }
        if let Some(tail) = direction_missing(c) {
            return d(Finding::MissesDirection, tail);
        }
        let why = if !c.reading.map_printed {
            format!("{} was never printed: its probes may not have attached, or they fire on events this workload does not cause", c.claim.map)
        } else {
            format!(
                "{} has no entry for the workload{}",
                c.claim.map,
                elsewhere(c)
            )
        };
        // What the tool said on its passing checks too is no evidence; a
        // probe that did not attach is the best evidence there is.
        let unattached = super::mistakes::unattached(c);
        let warn = if let Some(phrase) = super::mistakes::unattached_phrase(&unattached) {
            format!(" ({phrase})")
        } else {
            let tail = &c.tool.stderr_tail;
            tail.iter()
                .enumerate()
                .filter(|(_, l)| !c.ev.known_stderr.contains(l))
                .find(|(_, l)| {
                    let lower = l.to_lowercase();
                    // `awk: line 19: syntax error at or near ,` (a
                    // perf-tools script run by mawk) is one of these.
                    l.contains("WARNING") || lower.contains("error") || lower.contains("fail")
                })
                .map(|(i, l)| {
                    // A heading (`ERROR running perf:`, perf-tools'
                    // bitesize when its perf stat's command died of the
                    // stop signal) says what it is about on the next line.
                    let next = tail[i + 1..].iter().find(|n| !n.trim().is_empty());
                    match next {
                        Some(n) if l.trim_end().ends_with(':') => {
                            format!(" (the tool said: {} {})", l.trim(), n.trim())
                        }
                        _ => format!(" (the tool said: {})", l.trim()),
                    }
                })
                .unwrap_or_default()
        };
        return d(
            Finding::ReportedNothing,
            format!("it reported nothing: {why}{warn}"),
        );
    }

    // Short by more than the tool said it lost, and nothing else explains
    // it: the loss it admitted is still the best-founded cause, for part.
    if let Some((lost, short)) = admitted {
        return d(
            Finding::LostEvents,
            format!(
                "{}, {} of the {} missing; the other {} it did not report losing (a tool stopped with events still in its buffer drops those silently)",
                said(lost),
                num(lost.events),
                num(short),
                num(short - lost.events)
            ),
        );
    }

    // 7. Samples at another rate than the claim's: the tool's, unless the
    // kernel had lowered its limit below the claim's rate.
    if let Some(tail) = wrong_rate(c) {
        if let Some(limit) = throttled(c) {
            return d(Finding::SamplingThrottled, format!("{tail}; but {limit}"));
        }
        return d(Finding::WrongSampleRate, tail);
    }

    let ratio = v as f64 / c.truth.mid().max(1) as f64;
    d(Finding::Unexplained, format!("{ratio:.3}× the truth, which matches no layer, unit, direction or attribution tracecheck knows"))
}

/// The rate a profiler's samples of the workload match, when it is not the
/// claim's `sample_hz`: samples ÷ the CPU seconds of the truth. Said only
/// when that rate is far enough off to be a rate at all (under 90% or over
/// 110% of the claimed one), with the sampling rate a common wrong choice
/// would give (bpftrace's examples sample at 99 Hz).
fn wrong_rate(c: &Context<'_>) -> Option<String> {
    let hz = c.claim.sample_hz?;
    if c.metric.layer != Layer::Cpu || c.truth.mid() == 0 {
        return None;
    }
    let samples = crate::spec::samples_of(c.reading.reported, hz);
    let rate = samples as f64 * 1e9 / c.truth.mid() as f64;
    let off = rate / hz as f64;
    if (0.9..=1.1).contains(&off) {
        return None;
    }
    Some(format!(
        "its {} samples over the workload's {:.3} CPU-seconds are {rate:.0} samples a second, not the {hz} the \
         claim says: the script samples at another rate (profile:hz:N sets it; sample_hz must say the same N)",
        num(samples),
        c.truth.mid() as f64 / 1e9
    ))
}

/// A claim on a rate whose rates, times the printed length of the
/// intervals they were printed for, miss the truth: the time each count
/// was divided by, worked out from the ratio, is not the interval's.
fn rate_not_per_interval(c: &Context<'_>) -> Option<String> {
    let (intervals, secs) = c.reading.rate_span?;
    let truth = c.truth.mid();
    if truth == 0 || secs <= 0.0 {
        return None;
    }
    let ratio = c.reading.reported as f64 / truth as f64;
    Some(format!(
        "its rates are not per second of the intervals they were printed for: each times its interval's printed \
         length ({} interval(s), {secs:.3} s in all), they come to {:.3}× the truth, so it divided the counts by \
         about {:.3} s in all, not by the {secs:.3} s the intervals lasted",
        num(intervals as u64),
        ratio,
        secs / ratio
    ))
}

/// For a profiler's claim: what the tool printed is, within the claim's
/// tolerance, what the witness's own sampler (a cpu-clock event on every CPU
/// at the claim's rate, opened as profilers open theirs) counted beside it,
/// give or take that sampler's own miss of the truth. Then the tool's miss
/// is this machine's: it did not deliver samples at that rate during the
/// run (under TCG a guest's timer interrupts fall behind on a busy host).
/// A sampler that hit the truth excuses nothing (the window is then the
/// claim's own), and a count far from the sampler's is the tool's: perf
/// record's 0 samples where the sampler got 90% (a debian-6.1 guest), a
/// profiler at another rate, or on one CPU.
fn sampler_off(c: &Context<'_>) -> Option<String> {
    let hz = c.claim.sample_hz?;
    let w = c.ev.truth.truths.iter().find(|t| {
        t.metric == c.metric
            && t.who == Who::Workload
            && t.source == tracecheck_model::Source::Witness
    })?;
    let miss = w.lo.abs_diff(c.truth.mid());
    if !c.within_range(c.reading.reported, w.lo.saturating_sub(miss), w.lo + miss) {
        return None;
    }
    let truth = c.truth.mid().max(1);
    let (pct, side) = if w.lo < truth {
        (100.0 - w.lo as f64 * 100.0 / truth as f64, "under")
    } else {
        (w.lo as f64 * 100.0 / truth as f64 - 100.0, "over")
    };
    Some(format!(
        "but that is what this machine delivered: tracecheck's own sampler, at {hz} Hz on every CPU beside the \
         tool, counted {} ns ({}), {pct:.1}% {side} the workload's {} ns of CPU time, and the tool's count is \
         within the claim's tolerance of it, give or take the sampler's own miss. The machine did not deliver \
         samples at {hz} Hz during the run (under TCG a guest's timer interrupts fall behind on a busy host), \
         so the tool's count is no evidence either way; no verdict on the tool here",
        num(w.lo),
        w.why,
        range(c.truth.lo, c.truth.hi)
    ))
}

/// The kernel's limit on perf sampling, when it was under the claim's
/// rate by the time the tool stopped.
fn throttled(c: &Context<'_>) -> Option<String> {
    let hz = c.claim.sample_hz? as u64;
    let l = c.tool.perf_sample_limit?;
    (l.at_stop < hz).then(|| {
        format!(
            "the kernel's limit on perf sampling, kernel.perf_event_max_sample_rate, was {} a second when the tool \
             stopped ({} when it started): the kernel lowers it when perf interrupts take too long (as BPF \
             programs can under TCG), so no profiler could sample at {hz} Hz here; this is the machine's limit, \
             not the tool's mistake",
            num(l.at_stop),
            num(l.at_start)
        )
    })
}

/// The tool's entry for the workload, printed under `b'COMM'`: what it
/// holds and whether that is the truth.
fn bytes_literal_key(c: &Context<'_>) -> Option<String> {
    if !c.per_process || c.reading.reported > 0 {
        return None;
    }
    let key = format!("b'{}'", c.ev.subject.comm);
    let n = *c.reading.others.get(&key)?;
    let verdict = if c.within_range(n, c.truth.lo, c.truth.hi) {
        "within the tolerance of the truth: the number is right and the key is wrong"
    } else {
        "which is not the truth either"
    };
    Some(format!(
        "it printed the workload's comm as a Python bytes literal, {key}, and counted {} {} under it, {verdict} \
         (a str() of Python 3 bytes in the tool's print, so a user who looks for {} finds nothing)",
        num(n),
        c.metric.unit(),
        c.ev.subject.comm
    ))
}

/// Whether `key` is `comm` with its first `-<digits>` cut out, and perhaps
/// a `-PID` added (`tcwc6a-175` and `tcw-211` from `tcw-067c6a` and
/// `tcw-231520`): what an awk that strips the first `-[0-9]+` from ftrace's
/// `TASK-PID` field to get the task's name leaves of it.
fn garbles(key: &str, comm: &str) -> bool {
    let base = match key.rsplit_once('-') {
        Some((b, pid)) if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) => b,
        _ => key,
    };
    let Some(dash) = comm.find('-') else {
        return false;
    };
    let after = &comm[dash + 1..];
    let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && base == format!("{}{}", &comm[..dash], &after[digits..])
}

/// The tool's entries for the workload under garbled spellings of its comm
/// (`tcwc6a-175` for `tcw-067c6a`: perf-tools' iosnoop cuts the first
/// `-<digits>` out of ftrace's TASK-PID field; see [`garbles`]). What they
/// add up to, and whether that is the truth.
fn garbled_comm(c: &Context<'_>) -> Option<String> {
    let comm = &c.ev.subject.comm;
    if !c.per_process || c.reading.reported > 0 {
        return None;
    }
    let hits: Vec<(&String, u64)> = c
        .reading
        .others
        .iter()
        .filter(|(k, _)| garbles(k, comm))
        .map(|(k, v)| (k, *v))
        .collect();
    let (first, _) = hits.first()?;
    let n: u64 = hits.iter().map(|(_, v)| v).sum();
    let verdict = if c.within_range(n, c.truth.lo, c.truth.hi) {
        "within the tolerance of the truth: the number is right and the key is wrong"
    } else {
        "which is not the truth either"
    };
    let more = match hits.len() {
        1 => String::new(),
        k => format!(" and {} other spelling(s)", k - 1),
    };
    Some(format!(
        "it printed the workload's comm {comm} garbled, as {first}{more}, and counted {} {} under it, {verdict} \
         (a user who looks for {comm} finds nothing)",
        num(n),
        c.metric.unit(),
    ))
}

/// Where a tool that printed nothing for the workload put its entries:
/// `; its entries are under other names: a (3), b (1)`, the three largest,
/// or nothing when it printed none.
/// Nothing in the claim's direction for anyone, beside entries in the
/// other: the tool misses that direction entirely, not this workload's
/// share of it (bcc 0.31's biosnoop on 6.12 printed 452 read rows and not
/// one write, its own, jbd2's or the flushers').
fn direction_missing(c: &Context<'_>) -> Option<String> {
    let dir = c.metric.fixed_direction()?;
    let (this_way, other_way) = c.reading.any_task?;
    if this_way > 0 || other_way == 0 {
        return None;
    }
    Some(format!(
        "it reported nothing: {} has no {} entry at all, for any task on any device, beside {} {} of {}s: the tool \
         misses {}s entirely (a probe that never fires for them, or a direction test that never matches)",
        c.claim.map,
        dir.as_str(),
        num(other_way),
        c.metric.unit(),
        dir.opposite().as_str(),
        dir.as_str()
    ))
}

fn elsewhere(c: &Context<'_>) -> String {
    let mut top = c.reading.others_largest_first();
    top.retain(|(_, n)| **n > 0);
    if top.is_empty() {
        return String::new();
    }
    let names: Vec<String> = top
        .iter()
        .take(3)
        .map(|(k, n)| format!("{k} ({})", num(**n)))
        .collect();
    let more = match top.len() {
        0..=3 => String::new(),
        k => format!(" and {} more", k - 3),
    };
    format!(
        "; its entries are under other names: {}{more}",
        names.join(", ")
    )
}

/// ftrace's mark for a pid whose name it did not save.
const FTRACE_UNKNOWN_COMM: &str = "<...>";

/// The name the workload's process had before it took its comm: it runs
/// as this binary (`tracecheck`), then renames itself (PR_SET_NAME).
fn name_before_comm() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    // The kernel keeps 15 bytes of a task's name.
    Some(name.chars().take(15).collect())
}

/// Nothing under the workload's comm, and rows under ftrace's `<...>` or
/// the name the process had before it took its comm: a tool that takes the
/// task name from ftrace's output (perf-tools) gets the name ftrace saved
/// for the pid at a context switch, looked up when the trace is read; a
/// process that renamed itself since shows its old name, or `<...>` when
/// none was saved. Either may be missing (one CI run had every row under
/// the old name), but together they must hold more than the one or two
/// calls the harness itself makes under its name; and the old name alone
/// counts only when it holds the whole truth and the comm nothing.
fn unresolved_comm(c: &Context<'_>) -> Option<String> {
    let v = c.reading.reported;
    if !c.per_process || v >= c.truth.lo {
        return None;
    }
    let unknown = c
        .reading
        .others
        .get(FTRACE_UNKNOWN_COMM)
        .copied()
        .unwrap_or(0);
    let before = name_before_comm()
        .and_then(|n| c.reading.others.get(&n).map(|v| (n, *v)))
        .filter(|(_, v)| *v > 0);
    let elsewhere = unknown + before.as_ref().map_or(0, |(_, v)| *v);
    if elsewhere <= 1 {
        return None;
    }
    let n = v + elsewhere;
    // Without `<...>`, rows under the old name are ambiguous: the harness's
    // prepare phase runs under that name too and makes calls of its own
    // (opens, reads; a whole file's when it makes it cold, while a script
    // that counts every process's reads is running). Only a tool that
    // printed nothing under the comm and the whole truth under the old name
    // is taken as ftrace's stale name (taking half the truth there turned
    // bpftrace scripts' misses into stale names).
    let right = c.within_range(n, c.truth.lo, c.truth.hi);
    if unknown == 0 && (v > 0 || !right) {
        return None;
    }
    let unit = c.metric.unit();
    let mut parts = Vec::new();
    if unknown > 0 {
        parts.push(format!(
            "{} {unit} are under `{FTRACE_UNKNOWN_COMM}`",
            num(unknown)
        ));
    }
    if let Some((name, v)) = before {
        parts.push(format!(
            "{} {unit} under {name}, the name the workload's process had before it took its comm (and the \
             harness's own)",
            num(v)
        ));
    }
    let verdict = if right {
        "the number is right and the key is wrong".to_string()
    } else if n < c.truth.lo {
        format!(
            "not the truth either: {} {unit} of the truth's are under no name",
            num(c.truth.lo - n),
        )
    } else {
        "not the truth either".to_string()
    };
    let mine = match v {
        0 => "nothing".to_string(),
        v => format!("only {} {unit}", num(v)),
    };
    Some(format!(
        "it printed {mine} under the workload's comm {comm}: {} ({} in all, {verdict}). The tool takes the \
         task name from ftrace's output, where it is looked up when the trace is read among the names ftrace \
         saved at context switches: a process that renamed itself (prctl PR_SET_NAME, as a shell's exec of \
         a new program does too) shows its old name, or `<...>`, until it is switched out under the new one",
        parts.join(" and "),
        num(n),
        comm = c.ev.subject.comm,
    ))
}

/// More than this many unparsed lines, with the claim's map missing, is
/// output of its own kind: a banner or two is not.
const GARBAGE_LINES: usize = 5;

/// The tool printed plenty, but nothing the parser could read as the
/// claim's map: say how much, and show a sample.
fn garbage(c: &Context<'_>) -> Option<String> {
    if c.reading.map_printed || c.unparsed.len() <= GARBAGE_LINES {
        return None;
    }
    let bytes: usize = c.unparsed.iter().map(|l| l.len() + 1).sum();
    let sample: Vec<String> = c
        .unparsed
        .iter()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .map(|l| {
            let l = l.trim();
            match l.char_indices().nth(80) {
                Some((i, _)) => format!("{}…", &l[..i]),
                None => l.to_string(),
            }
        })
        .collect();
    Some(format!(
        "it never printed {} but printed {} line(s) ({} B) the spec's output format does not read, e.g. {}",
        c.claim.map,
        num(c.unparsed.len() as u64),
        num(bytes as u64),
        sample
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn twice_sentence(v: u64, t: &Truth) -> String {
    format!(
        "this is {:.2}× the truth: the script counts each event twice (e.g. both at entry and at exit, at issue and at completion, or both the bio and the request)",
        v as f64 / t.mid().max(1) as f64
    )
}

fn scaled(t: &Truth, f: u64) -> Truth {
    Truth {
        lo: t.lo * f,
        hi: t.hi * f,
        ..t.clone()
    }
}

/// The trace buffer's counters of a tool that read ftrace, the events it
/// lost (overwritten, dropped, or unread at the stop) and the shortfall,
/// when the claim counts events and the loss covers the shortfall.
fn ftrace_lost(c: &Context<'_>, counts: bool) -> Option<(crate::record::FtraceBuffer, u64, u64)> {
    let f = c.tool.ftrace.as_ref()?.buffer?;
    let lost = f.overwritten + f.dropped + f.unread;
    let short = c.truth.lo.saturating_sub(c.reading.reported);
    (counts && lost > 0 && short > 0 && short <= lost).then_some((f, lost, short))
}

/// Tasks that are merely on the CPU when a completion interrupt runs.
/// Short below the page cache, with the rest in the map under other tasks.
/// `interrupted_only`: only when the tasks completions interrupt are among
/// the largest of them (direct evidence, tried before the number's
/// coincidences with other truths); otherwise any tasks, as a last resort.
fn charged_to_others(c: &Context<'_>, interrupted_only: bool) -> Option<(Finding, String)> {
    let v = c.reading.reported;
    let below_the_cache = matches!(
        c.metric.layer,
        Layer::Block | Layer::Disk | Layer::Pagecache
    );
    if !c.per_process || !below_the_cache || v >= c.truth.lo {
        return None;
    }
    let missing = c.truth.lo - v;
    let others_sum: u64 = c.reading.others.values().sum();
    // No upper bound on the others: a script that keys completions by
    // whatever task ran also charges the rest of the machine's I/O (the
    // read-at-completion mutant's others are many times the shortfall).
    // The steps before the last-resort call name the cause where the
    // number itself fits one (fileslower's bytes asked for by part of the
    // family).
    if others_sum == 0 || others_sum < missing - missing / 10 {
        return None;
    }
    let top = c.reading.others_largest_first();
    let interrupted = top.iter().take(3).any(|(k, _)| is_irq_context(k));
    if interrupted_only && !interrupted {
        return None;
    }
    let list = top
        .iter()
        .take(4)
        .map(|(k, n)| format!("{k} {} {}", num(**n), c.metric.unit()))
        .collect::<Vec<_>>()
        .join(", ");
    let why = if interrupted {
        "the script takes comm/pid where the I/O completes (interrupt context: whatever task was on that CPU), not where it was submitted"
    } else if top
        .iter()
        .take(3)
        .any(|(k, _)| k.starts_with("kworker/") && k.ends_with('H'))
    {
        "the script takes comm/pid where the request was dispatched (a kworker), not where it was submitted"
    } else if let Some(found) = super::mistakes::missed_faults(c) {
        // Unrelated tasks that happened to do I/O are weaker evidence than
        // a workload that read only through faults.
        return Some(found);
    } else {
        "the script charges the I/O to tasks other than the one that caused it"
    };
    Some((
        Finding::OtherTasks,
        format!("the rest went to other tasks ({list}): {why}"),
    ))
}

fn is_irq_context(comm: &str) -> bool {
    comm.starts_with("swapper")
        || comm.starts_with("ksoftirqd")
        || comm.starts_with("irq/")
        || comm.starts_with("migration")
}

#[cfg(test)]
mod tests {
    //! Each finding, from a hand-built truth and tool output. The numbers
    //! are those of the 16 MiB workloads the harness runs.
    use crate::judge::{judge, Evidence, Subject};
    use crate::record::ToolRecord;
    use crate::spec::{Claim, KeyKind, Tolerance};
    use crate::verdict::{Finding, Status, Verdict};
    use std::collections::BTreeMap;
    use tracecheck_model::{
        GroundTruth, MapEntry, Metric, ParsedMap, Source, ToolOutput, Truth, Value, Who,
    };

    const S: u64 = 16 << 20;

    fn m(s: &str) -> Metric {
        Metric::parse(s).unwrap()
    }

    fn cached_reread() -> GroundTruth {
        GroundTruth {
            workload: "cached-reread".into(),
            comm: "tcw-aaaaaa".into(),
            pids: vec![4242],
            params: BTreeMap::new(),
            tallies: Default::default(),
            truths: vec![
                Truth::exact(
                    m("syscall.read_bytes"),
                    Who::Workload,
                    21 * S,
                    Source::Workload,
                    "21 passes",
                ),
                Truth::exact(
                    m("vfs.read_bytes"),
                    Who::Workload,
                    21 * S,
                    Source::Workload,
                    "21 passes",
                ),
                Truth::exact(
                    m("disk.read_bytes"),
                    Who::Workload,
                    S,
                    Source::Diskstats,
                    "cold once",
                ),
                Truth::exact(
                    m("disk.read_bytes"),
                    Who::Device,
                    S,
                    Source::Diskstats,
                    "diskstats",
                ),
                Truth::exact(
                    m("disk.write_bytes"),
                    Who::Workload,
                    0,
                    Source::Design,
                    "reads only",
                ),
                Truth::exact(
                    m("syscall.write_bytes"),
                    Who::Workload,
                    0,
                    Source::Workload,
                    "reads only",
                ),
            ],
            needs_writeback: false,
            elapsed_ns: 1,
        }
    }

    fn direct_write() -> GroundTruth {
        GroundTruth {
            workload: "direct-write".into(),
            truths: vec![
                Truth::exact(
                    m("syscall.write_bytes"),
                    Who::Workload,
                    S,
                    Source::Workload,
                    "O_DIRECT",
                ),
                Truth::exact(
                    m("syscall.read_bytes"),
                    Who::Workload,
                    0,
                    Source::Workload,
                    "writes only",
                ),
                Truth::exact(
                    m("disk.write_bytes"),
                    Who::Workload,
                    S,
                    Source::Design,
                    "O_DIRECT",
                ),
                Truth::exact(
                    m("disk.read_bytes"),
                    Who::Workload,
                    0,
                    Source::Diskstats,
                    "writes only",
                ),
            ],
            ..cached_reread()
        }
    }

    fn claim(metric: &str, keys: &[KeyKind]) -> Claim {
        Claim {
            name: "c".into(),
            map: "@b".into(),
            table: None,
            metric: m(metric),
            keys: keys.to_vec(),
            tolerance: Tolerance::Percent(1.0),
            workloads: vec![],
            sample_hz: None,
            hist_unit: None,
        }
    }

    fn out(entries: &[(&[&str], i64)]) -> ToolOutput {
        ToolOutput {
            maps: vec![ParsedMap {
                name: "@b".into(),
                entries: entries
                    .iter()
                    .map(|(k, v)| MapEntry {
                        keys: k.iter().map(|s| s.to_string()).collect(),
                        value: Value::Scalar(*v),
                    })
                    .collect(),
            }],
            unparsed: vec![],
            tables: vec![],
        }
    }

    fn subject_of(gt: &GroundTruth) -> Subject {
        Subject {
            comm: gt.comm.clone(),
            pids: gt.pids.clone(),
            dev_major: 7,
            dev_minor: 3,
            dev_name: "loop3".into(),
            siblings: Default::default(),
        }
    }

    fn run(gt: &GroundTruth, c: &Claim, o: &ToolOutput) -> Vec<Verdict> {
        run_with(gt, c, o, &[], &[])
    }

    /// `run` with the tool's stderr and the lines its passing checks printed.
    fn run_with(
        gt: &GroundTruth,
        c: &Claim,
        o: &ToolOutput,
        stderr: &[&str],
        known_stderr: &[String],
    ) -> Vec<Verdict> {
        run_lost(gt, c, o, stderr, known_stderr, None)
    }

    /// `run_with`, the tool having said it lost events.
    fn run_lost(
        gt: &GroundTruth,
        c: &Claim,
        o: &ToolOutput,
        stderr: &[&str],
        known_stderr: &[String],
        lost_events: Option<crate::record::LostEvents>,
    ) -> Vec<Verdict> {
        let tool = ToolRecord {
            command: vec!["bpftrace".into()],
            stderr_tail: stderr.iter().map(|l| l.to_string()).collect(),
            lost_events,
            ..Default::default()
        };
        run_tool(gt, c, o, known_stderr, &tool)
    }

    /// The verdicts on `o`, the tool's run being `tool`.
    fn run_tool(
        gt: &GroundTruth,
        c: &Claim,
        o: &ToolOutput,
        known_stderr: &[String],
        tool: &ToolRecord,
    ) -> Vec<Verdict> {
        let subject = subject_of(gt);
        let ev = Evidence {
            workload: &gt.workload,
            truth: gt,
            unestablished: &[],
            subject: &subject,
            advice: None,
            known_stderr,
        };
        judge(c, Ok(o), tool, &ev)
    }

    /// A tool that reads ftrace's buffer (killsnoop-perf: an entry and an
    /// exit event per call) and printed 487 of 500 calls, while the buffer
    /// still held 26 events unread at its stop: the kernel's count covers
    /// the 13 missing. Without such a count, or with one too small, it is
    /// not the cause.
    #[test]
    fn a_shortfall_ftrace_s_buffer_accounts_for_is_ftrace_lost() {
        let mut gt = cached_reread();
        gt.truths.push(Truth::exact(
            m("syscall.kill_calls"),
            Who::Workload,
            500,
            Source::Workload,
            "kills",
        ));
        let c = claim("syscall.kill_calls", &[KeyKind::Comm]);
        let o = out(&[(&["tcw-aaaaaa"], 487)]);
        let with = |unread, overwritten| ToolRecord {
            command: vec!["killsnoop-perf".into()],
            ftrace: Some(crate::record::FtraceUse {
                events: vec!["syscalls:sys_enter_kill".into()],
                probes: vec![],
                buffer: Some(crate::record::FtraceBuffer {
                    read: 974,
                    unread,
                    overwritten,
                    dropped: 0,
                }),
            }),
            ..Default::default()
        };
        let v = run_tool(&gt, &c, &o, &[], &with(26, 0));
        assert_eq!(finding(&v[0]), Finding::FtraceLost);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(
            s.contains("still held 26 events the tool had not read when it was stopped")
                && s.contains("enough to cover the 13 missing"),
            "{s}"
        );
        let v = run_tool(&gt, &c, &o, &[], &with(0, 40));
        assert!(
            v[0].diagnosis
                .as_ref()
                .unwrap()
                .sentence
                .contains("overwrote or dropped 40 events"),
            "{:?}",
            v[0].diagnosis
        );
        let v = run_tool(&gt, &c, &o, &[], &with(5, 0));
        assert_ne!(
            finding(&v[0]),
            Finding::FtraceLost,
            "5 events cannot hide 13 calls"
        );
        let v = run_tool(&gt, &c, &o, &[], &with(0, 0));
        assert_ne!(finding(&v[0]), Finding::FtraceLost);
    }

    /// A mistake whose number is within the tolerance of the truth on a
    /// workload names no cause there: bcc's biolatency counted 256 of
    /// direct-mixed's 259 requests, within 1% of 258 (the requests less the
    /// first), which is within 1% of the truth itself. On four requests,
    /// where the first is a quarter, the same mistake is named.
    #[test]
    fn a_mistake_within_tolerance_of_the_truth_names_no_cause() {
        let with = |requests| {
            let mut gt = cached_reread();
            gt.truths.push(Truth::exact(
                m("disk.read_ios"),
                Who::Device,
                requests,
                Source::Diskstats,
                "diskstats",
            ));
            gt
        };
        let c = claim("disk.read_ios", &[]);
        let v = run(&with(259), &c, &out(&[(&[], 256)]));
        assert_ne!(finding(&v[0]), Finding::MissesFirstRequest, "{v:?}");
        let v = run(&with(4), &c, &out(&[(&[], 3)]));
        assert_eq!(finding(&v[0]), Finding::MissesFirstRequest, "{v:?}");
        // A truth of 4 to 5 (a flush's empty write counted or not): the
        // mistake's 3 to 4 only meets it, and 3 still names it.
        let mut gt = with(4);
        let t = gt.truths.last_mut().unwrap();
        t.hi = 5;
        let v = run(&gt, &c, &out(&[(&[], 3)]));
        assert_eq!(finding(&v[0]), Finding::MissesFirstRequest, "{v:?}");
    }

    #[test]
    fn a_shortfall_the_tool_said_it_lost_is_lost_events() {
        let mut gt = cached_reread();
        gt.truths.push(Truth::exact(
            m("syscall.open_calls"),
            Who::Workload,
            1000,
            Source::Workload,
            "opens",
        ));
        let c = claim("syscall.open_calls", &[KeyKind::Comm]);
        // 66 calls short of the truth; the tool said it lost 66, or 80.
        let o = out(&[(&["tcw-aaaaaa"], 934)]);
        let lost = |events| Some(crate::record::LostEvents { events, notices: 6 });
        let v = run_lost(&gt, &c, &o, &[], &[], lost(66));
        assert_eq!(finding(&v[0]), Finding::LostEvents);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(s.contains("exactly the missing ones"), "{s}");
        let v = run_lost(&gt, &c, &o, &[], &[], lost(80));
        assert_eq!(finding(&v[0]), Finding::LostEvents);
        // A loss smaller than the shortfall is the cause only for its part,
        // when nothing else explains the number; never beside a byte count.
        let v = run_lost(&gt, &c, &o, &[], &[], lost(10));
        assert_eq!(finding(&v[0]), Finding::LostEvents);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(s.contains("10 of the 66 missing; the other 56"), "{s}");
        let bytes = claim("disk.read_bytes", &[KeyKind::Comm]);
        let o = out(&[(&["tcw-aaaaaa"], (S / 2) as i64)]);
        let v = run_lost(&gt, &bytes, &o, &[], &[], lost(1 << 30));
        assert_ne!(finding(&v[0]), Finding::LostEvents);
        // Every count of events, not only the `Ops` of a layer: bcc's
        // killsnoop in a TCG guest printed 738 of 1,000 kill() calls and
        // said it lost 196 (it was judged unexplained).
        gt.truths.push(Truth::exact(
            m("syscall.kill_calls"),
            Who::Workload,
            1000,
            Source::Workload,
            "kills",
        ));
        let kills = claim("syscall.kill_calls", &[KeyKind::Comm]);
        let o = out(&[(&["tcw-aaaaaa"], 738)]);
        let v = run_lost(&gt, &kills, &o, &[], &[], lost(196));
        assert_eq!(finding(&v[0]), Finding::LostEvents);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(s.contains("196 of the 262 missing; the other 66"), "{s}");
    }

    /// A `cpu.time` claim at 997 Hz, 5%, on a run whose threads ran 3.9 s,
    /// with tracecheck's own sampler's account when `sampled`, judged on
    /// `printed` samples under the workload's comm.
    fn judge_spin(sampled: Option<u64>, printed: i64, tool: &ToolRecord) -> Verdict {
        let mut gt = cached_reread();
        gt.truths.push(Truth::exact(
            m("cpu.time"),
            Who::Workload,
            3_900_000_000,
            Source::Workload,
            "spin",
        ));
        if let Some(ns) = sampled {
            gt.truths.push(Truth::exact(
                m("cpu.time"),
                Who::Workload,
                ns,
                Source::Witness,
                "N samples by tracecheck's own sampler",
            ));
        }
        let mut c = claim("cpu.time", &[KeyKind::Comm]);
        c.sample_hz = Some(997);
        c.tolerance = Tolerance::Percent(5.0);
        let o = out(&[(&["tcw-aaaaaa"], printed)]);
        let subject = subject_of(&gt);
        let ev = Evidence {
            workload: &gt.workload,
            truth: &gt,
            unestablished: &[],
            subject: &subject,
            advice: None,
            known_stderr: &[],
        };
        judge(&c, Ok(&o), tool, &ev).remove(0)
    }

    fn finding(v: &Verdict) -> Finding {
        assert_eq!(v.status, Status::Fail, "{v:?}");
        v.diagnosis.as_ref().unwrap().finding
    }

    #[test]
    fn each_probe_that_failed_is_counted_once() {
        let lines: Vec<String> = [
            "/usr/sbin/biolatency.bt:17-19: WARNING: blk_account_io_start is not traceable (either \
             non-existing, inlined, or marked as \"notrace\"); attaching to it will likely fail",
            "WARNING: could not attach probe kprobe:blk_account_io_start, skipping.",
            "WARNING: could not attach probe kprobe:__blk_account_io_done, skipping.",
            "WARNING: could not attach probe uprobe:/lib/x86_64-linux-gnu/libc.so.6:pthread_create, skipping.",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let refs: Vec<&String> = lines.iter().collect();
        assert_eq!(super::super::mistakes::probes_named(&refs), 3);
    }

    #[test]
    fn the_comm_as_a_python_bytes_literal_is_named() {
        let gt = cached_reread();
        let c = claim("disk.read_bytes", &[KeyKind::Comm]);
        let o = out(&[(&["b'tcw-aaaaaa'"], S as i64), (&["other"], 5)]);
        let v = run(&gt, &c, &o);
        assert_eq!(finding(&v[0]), Finding::BytesLiteralKey);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(
            s.contains("b'tcw-aaaaaa'") && s.contains("the number is right"),
            "{s}"
        );
    }

    #[test]
    fn a_comm_ftrace_had_not_saved_is_named() {
        let mut gt = cached_reread();
        gt.comm = "tcw-067c6a".into();
        let c = claim("disk.read_bytes", &[KeyKind::Comm]);
        let old = super::name_before_comm().unwrap();
        // Under `<...>` only, under the old name only, and both.
        for o in [
            out(&[(&["<...>"], S as i64), (&["other"], 5)]),
            out(&[(&[old.as_str()], S as i64)]),
            out(&[(&["<...>"], 4096), (&[old.as_str()], S as i64 - 4096)]),
        ] {
            let v = run(&gt, &c, &o);
            assert_eq!(finding(&v[0]), Finding::StaleComm);
            let s = &v[0].diagnosis.as_ref().unwrap().sentence;
            assert!(
                s.contains("the number is right and the key is wrong"),
                "{s}"
            );
        }
        // One row under the old name is the harness's own call, not evidence;
        // nor are the prepare phase's calls beside a short count under the
        // comm (a BPF tool that missed part of a family).
        let o = out(&[(&[old.as_str()], 1)]);
        assert_ne!(finding(&run(&gt, &c, &o)[0]), Finding::StaleComm);
        // Two thirds of the truth under the old name could be the prepare
        // phase's own (it reads the whole file to make it cold): nothing
        // under the comm, and the sentence says where the rows are.
        let o = out(&[(&[old.as_str()], S as i64 * 2 / 3)]);
        let v = run(&gt, &c, &o);
        assert_eq!(finding(&v[0]), Finding::ReportedNothing);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(
            s.contains(&format!("its entries are under other names: {old} (")),
            "{s}"
        );
        let o = out(&[
            (&["tcw-067c6a"], S as i64 / 2),
            (&[old.as_str()], S as i64 / 2),
        ]);
        assert_ne!(finding(&run(&gt, &c, &o)[0]), Finding::StaleComm);
    }

    #[test]
    fn a_garbled_comm_is_named() {
        let mut gt = cached_reread();
        gt.comm = "tcw-067c6a".into();
        let c = claim("disk.read_bytes", &[KeyKind::Comm]);
        let o = out(&[
            (&["tcwc6a-229"], S as i64 - 4096),
            (&["tcwc6a-230"], 4096),
            (&["tcw-231"], 4096),
            (&["other"], 5),
        ]);
        let v = run(&gt, &c, &o);
        assert_eq!(finding(&v[0]), Finding::GarbledComm);
        assert!(
            super::garbles("tcwc6a-175", "tcw-067c6a") && super::garbles("tcw-211", "tcw-231520")
        );
        assert!(!super::garbles("tcw-067c6a", "tcw-067c6a"));
        assert!(
            !super::garbles("kworker/0:1H", "tcw-067c6a")
                && !super::garbles("tcwc6a", "tcw-abcdef")
        );
        assert!(
            !super::garbles("tcw-067c6a-175", "tcw-067c6a"),
            "the comm itself with its pid"
        );
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(
            s.contains("and 1 other spelling") && s.contains("the number is right"),
            "{s}"
        );
    }

    #[test]
    fn garbage_instead_of_the_map_is_its_own_finding() {
        let mut o = out(&[]);
        o.maps.clear();
        o.unparsed = (0..400)
            .map(|i| format!("\u{1}\u{2}garbage {i} zzzz"))
            .collect();
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &o,
        );
        assert_eq!(finding(&v[0]), Finding::UnparsedOutput);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(s.contains("400 line(s)") && s.contains("garbage 0"), "{s}");
    }

    #[test]
    fn probes_that_did_not_attach_are_the_evidence_for_nothing() {
        let gt = cached_reread();
        let c = claim("disk.read_bytes", &[KeyKind::Comm]);
        let mut o = out(&[]);
        o.maps.clear();
        let stderr = [
            "WARNING: something else",
            "WARNING: could not attach probe kprobe:blk_account_io_start, skipping.",
            "WARNING: could not attach probe kprobe:blk_account_io_done, skipping.",
        ];
        // Nothing printed at all: no measurement, an ERROR, whatever the
        // truth (a PASS on a workload whose truth is 0 would be a lie).
        let v = run_with(&gt, &c, &o, &stderr, &[]);
        assert_eq!(v[0].status, Status::Error, "{v:?}");
        assert_eq!(v[0].reported, None);
        let d = v[0].diagnosis.as_ref().unwrap();
        assert_eq!(d.finding, Finding::ToolFailed);
        assert!(
            d.sentence.contains("printed no entry")
                && d.sentence.contains("2 of its probes did not attach")
                && d.sentence.contains("blk_account_io_start"),
            "{}",
            d.sentence
        );
        // It saw another process, so some probe works: its zero for the
        // workload is judged, and the warning is the evidence.
        let o = out(&[(&["other"], 5)]);
        let v = run_with(&gt, &c, &o, &stderr, &[]);
        assert_eq!(finding(&v[0]), Finding::ReportedNothing);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(
            s.contains("2 of its probes did not attach") && s.contains("blk_account_io_start"),
            "{s}"
        );
    }

    /// perf-tools' bitesize, when the stop signal killed its perf stat's
    /// `sleep` first, prints `ERROR running perf:` and perf's raw counts on
    /// stderr instead of its histogram: the line after the heading says why.
    #[test]
    fn an_error_heading_is_quoted_with_the_line_after_it() {
        let gt = cached_reread();
        let c = claim("disk.read_bytes", &[]);
        let empty = ToolOutput::default();
        let v = run_with(
            &gt,
            &c,
            &empty,
            &["ERROR running perf:", "sleep: Interrupt", "# started on"],
            &[],
        );
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(
            s.contains("(the tool said: ERROR running perf: sleep: Interrupt)"),
            "{s}"
        );
    }

    #[test]
    fn stderr_seen_on_passing_checks_is_not_quoted() {
        let gt = cached_reread();
        let c = claim("disk.read_bytes", &[KeyKind::Comm]);
        let o = out(&[(&["other"], 5)]);
        let noise = "ERROR: couldn't set RLIMIT_MEMLOCK";
        let said = |known: &[String]| {
            run_with(&gt, &c, &o, &[noise], known)[0]
                .diagnosis
                .as_ref()
                .unwrap()
                .sentence
                .contains("the tool said")
        };
        assert!(said(&[]), "a new warning is quoted");
        assert!(
            !said(&[noise.to_string()]),
            "a warning its passing checks also printed is not"
        );
    }

    /// A table of per-second rates under elapsed times (perf stat -I):
    /// `rates` one per interval, each 0.5 s long, for event `x`, beside
    /// rows of another event the claim's `where` leaves out.
    fn rate_table(rates: &[f64]) -> (Claim, ToolOutput) {
        let mut c = claim("syscall.read_bytes", &[]);
        c.table = Some(crate::spec::TableRead {
            columns: vec![],
            sum: Some("RATE".into()),
            scale: 1,
            filter: vec![("EVENTS".into(), vec!["x".into()])],
            rate_over: Some("TIME".into()),
        });
        let mut rows = Vec::new();
        for (i, r) in rates.iter().enumerate() {
            let t = format!("{:.9}", 0.5 * (i + 1) as f64);
            rows.push(vec![t.clone(), "x".into(), format!("{r}")]);
            rows.push(vec![t, "y".into(), "1000000000".into()]);
        }
        let o = ToolOutput {
            maps: vec![],
            unparsed: vec![],
            tables: vec![tracecheck_model::Table {
                header: vec!["TIME".into(), "EVENTS".into(), "RATE".into()],
                line: 1,
                rows,
            }],
        };
        (c, o)
    }

    #[test]
    fn rates_count_for_their_printed_interval_and_a_wrong_time_base_is_named() {
        let gt = cached_reread();
        let truth = 21 * S;
        // Half the bytes in each of two 0.5 s intervals: the rate per
        // second is the truth itself.
        let per_s = truth as f64;
        let (c, o) = rate_table(&[per_s, per_s]);
        let v = run(&gt, &c, &o);
        assert_eq!(v[0].status, Status::Pass, "{:?}", v[0].diagnosis);
        // Divided by a tenth of each interval (a task's CPU time): 10×.
        let (c, o) = rate_table(&[per_s * 10.0, per_s * 10.0]);
        let v = run(&gt, &c, &o);
        assert_eq!(finding(&v[0]), Finding::RateNotPerInterval);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(s.contains("(2 interval(s), 1.000 s in all)"), "{s}");
        assert!(s.contains("about 0.100 s in all"), "{s}");
    }

    #[test]
    fn a_time_column_that_goes_back_is_an_error_naming_the_row() {
        let gt = cached_reread();
        let (c, mut o) = rate_table(&[1.0, 1.0]);
        o.tables[0].rows[2][0] = "0.1".into();
        let v = run(&gt, &c, &o);
        assert_eq!(v[0].status, Status::Error, "{v:?}");
        let s = format!("{:?}", v[0]);
        assert!(
            s.contains("row 3") && s.contains("goes back in time"),
            "{s}"
        );
    }

    /// 21 samples at "997 Hz" over 3.9 CPU-seconds: the tool's rate, unless
    /// the kernel's perf sampling limit had fallen under 997 by its stop
    /// (seen in debian-6.12 guests under TCG), which is the machine's.
    #[test]
    fn a_sampler_short_of_its_rate_is_the_machines_when_the_kernel_throttled_it() {
        let judged = |limit: Option<crate::record::SampleLimit>| {
            let tool = ToolRecord {
                command: vec!["profile".into()],
                perf_sample_limit: limit,
                ..Default::default()
            };
            judge_spin(None, 21, &tool)
        };
        let limit = |at_stop| {
            Some(crate::record::SampleLimit {
                at_start: 100_000,
                at_stop,
            })
        };
        let v = judged(limit(100_000));
        assert_eq!(finding(&v), Finding::WrongSampleRate);
        let v = judged(None);
        assert_eq!(finding(&v), Finding::WrongSampleRate);
        let v = judged(limit(6));
        assert_eq!(v.status, Status::Error, "{v:?}");
        let d = v.diagnosis.unwrap();
        assert_eq!(d.finding, Finding::SamplingThrottled);
        assert!(
            d.sentence
                .contains("was 6 a second when the tool stopped (100,000 when it started)"),
            "{}",
            d.sentence
        );
    }

    /// The same 21 samples where tracecheck's own sampler, at 997 Hz beside
    /// the tool, counted the workload's 3.9 s too: the tool's rate is wrong
    /// (FAIL). Where its own sampler came to 30 ms as well, the machine did
    /// not deliver the rate: ERROR, no verdict on the tool, and a tool that
    /// printed the truth on such a run still PASSes. The machine excuses
    /// only a count near what its sampler got.
    #[test]
    fn a_profiler_short_of_its_rate_is_the_machines_when_tracechecks_own_sampler_is_short_too() {
        let judged =
            |sampled: u64, printed: i64| judge_spin(Some(sampled), printed, &ToolRecord::default());
        let v = judged(3_880_000_000, 21);
        assert_eq!(finding(&v), Finding::WrongSampleRate);
        let v = judged(30_090_270, 21);
        assert_eq!(v.status, Status::Error, "{v:?}");
        let d = v.diagnosis.unwrap();
        assert_eq!(d.finding, Finding::SamplerOff);
        assert!(d.sentence.contains("99.2% under"), "{}", d.sentence);
        // Over by more than the tolerance is off too, for a tool over
        // with it; 21 samples are no count such a machine explains.
        assert_eq!(
            finding(&judged(4_300_000_000, 21)),
            Finding::WrongSampleRate
        );
        let v = judged(4_300_000_000, 4_280);
        assert_eq!(v.status, Status::Error);
        let d = v.diagnosis.unwrap();
        assert_eq!(d.finding, Finding::SamplerOff);
        assert!(d.sentence.contains("10.3% over"), "{}", d.sentence);
        // A tool that printed the truth is judged on it.
        assert_eq!(judged(30_090_270, 3_888).status, Status::Pass);
        // A sampler 4.1% short, inside the tolerance itself, excuses a tool
        // 7.8% short (bcc 0.31's profile in debian-13); one 0.5% short
        // does not.
        let v = judged(3_740_100_000, 3_587);
        assert_eq!(v.status, Status::Error, "{v:?}");
        assert!(v.diagnosis.unwrap().sentence.contains("4.1% under"));
        assert_eq!(finding(&judged(3_880_500_000, 3_587)), Finding::Unexplained);
        // A sampler 10% short excuses a tool 13% short, not one that
        // printed nothing (perf record in a debian-6.1 guest).
        let v = judged(3_510_000_000, 3_393);
        assert_eq!(v.status, Status::Error, "{v:?}");
        assert_eq!(v.diagnosis.unwrap().finding, Finding::SamplerOff);
        assert_eq!(finding(&judged(3_510_000_000, 0)), Finding::ReportedNothing);
    }

    #[test]
    fn right_number_passes() {
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &out(&[(&["tcw-aaaaaa"], S as i64)]),
        );
        assert_eq!(v[0].status, Status::Pass);
    }

    #[test]
    fn cache_hits_counted_as_disk_reads() {
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &out(&[(&["tcw-aaaaaa"], 21 * S as i64)]),
        );
        assert_eq!(finding(&v[0]), Finding::CountsCacheHitsAsDisk);
        let s = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(
            s.contains("352,321,536 B")
                && s.contains("16,777,216 B")
                && s.contains("page-cache hits"),
            "{s}"
        );
    }

    #[test]
    fn sectors_as_bytes() {
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &out(&[(&["tcw-aaaaaa"], (S / 512) as i64)]),
        );
        assert_eq!(finding(&v[0]), Finding::UnitFactor);
        assert!(v[0]
            .diagnosis
            .as_ref()
            .unwrap()
            .sentence
            .contains("512-byte sectors"));
    }

    #[test]
    fn twice_the_truth() {
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &out(&[(&["tcw-aaaaaa"], 2 * S as i64)]),
        );
        assert_eq!(finding(&v[0]), Finding::DoubleCounting);
    }

    /// The missing three quarters under the workload's other threads' ids
    /// is direct evidence of keying by thread; the same numbers under
    /// unrelated ids are only "other tasks".
    #[test]
    fn keyed_by_thread_is_seen_under_the_other_threads_ids() {
        let mut gt = direct_write();
        let pid = gt.pids[0];
        let o = out(&[
            (&[&pid.to_string()], (S / 4) as i64),
            (&["9001"], (S / 4) as i64),
            (&["9002"], (S / 4) as i64),
            (&["9003"], (S / 4) as i64),
        ]);
        let c = claim("disk.write_bytes", &[KeyKind::Pid]);
        assert_eq!(finding(&run(&gt, &c, &o)[0]), Finding::OtherTasks);
        gt.tallies.thread_ids = vec![9001, 9002, 9003];
        let v = run(&gt, &c, &o);
        assert_eq!(finding(&v[0]), Finding::KeyedByThread);
        let sentence = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(sentence.contains("tid 9002"), "{sentence}");
    }

    /// A number that is the main thread's share is keying by thread only
    /// under a pid key: threads share their comm, so under a comm key the
    /// same number, with the rest under the tasks completions landed on, is
    /// the completing task's (CI's read-at-completion mutant once printed
    /// such a coincidence on direct-mixed).
    #[test]
    fn the_main_threads_share_is_keyed_by_thread_only_under_a_pid_key() {
        let mut gt = direct_write();
        let t = |bytes| tracecheck_model::CallTally {
            calls: 1,
            bytes,
            ..Default::default()
        };
        gt.tallies.syscalls.insert("pwrite64".into(), t(S));
        gt.tallies.main_thread.insert("pwrite64".into(), t(S / 4));
        let by_comm = out(&[
            (&["tcw-aaaaaa"], (S / 4) as i64),
            (&["swapper/1"], (3 * S / 4) as i64),
        ]);
        let v = run(&gt, &claim("disk.write_bytes", &[KeyKind::Comm]), &by_comm);
        assert_eq!(finding(&v[0]), Finding::OtherTasks);
        let pid = gt.pids[0].to_string();
        let by_pid = out(&[
            (&[pid.as_str()], (S / 4) as i64),
            (&["77"], (3 * S / 4) as i64),
        ]);
        let v = run(&gt, &claim("disk.write_bytes", &[KeyKind::Pid]), &by_pid);
        assert_eq!(finding(&v[0]), Finding::KeyedByThread);
    }

    /// The rest under the tasks completions interrupt is direct evidence,
    /// and wins over a short count's coincidence with another truth: here
    /// the workload's reads, which a swapped direction would print.
    #[test]
    fn completions_charged_to_swapper_win_over_a_coincidence() {
        let mut gt = direct_write();
        for t in &mut gt.truths {
            if t.metric == m("disk.read_bytes") {
                (t.lo, t.hi) = (S / 4, S / 4);
            }
        }
        let o = out(&[
            (&["tcw-aaaaaa"], (S / 4) as i64),
            (&["swapper/1"], (3 * S / 4) as i64),
        ]);
        let v = run(&gt, &claim("disk.write_bytes", &[KeyKind::Comm]), &o);
        assert_eq!(finding(&v[0]), Finding::OtherTasks);
        // Unrelated tasks are no such evidence: the coincidence stands.
        let o = out(&[
            (&["tcw-aaaaaa"], (S / 4) as i64),
            (&["dd"], (3 * S / 4) as i64),
        ]);
        let v = run(&gt, &claim("disk.write_bytes", &[KeyKind::Comm]), &o);
        assert_eq!(finding(&v[0]), Finding::WrongDirection);
    }

    /// Not one write for anyone, beside reads: the tool misses writes
    /// (bcc 0.31's biosnoop on 6.12); one write row elsewhere and it is
    /// only this workload's that is missing.
    #[test]
    fn a_tool_with_no_write_for_anyone_misses_writes() {
        let c = claim("disk.write_bytes", &[KeyKind::Comm, KeyKind::Direction]);
        let o = out(&[(&["tcw-aaaaaa", "R"], 8192), (&["sshd", "R"], 4096)]);
        let v = run(&direct_write(), &c, &o);
        assert_eq!(finding(&v[0]), Finding::MissesDirection);
        let sentence = &v[0].diagnosis.as_ref().unwrap().sentence;
        assert!(sentence.contains("misses writes entirely"), "{sentence}");
        let o = out(&[(&["tcw-aaaaaa", "R"], 8192), (&["sshd", "W"], 4096)]);
        let v = run(&direct_write(), &c, &o);
        assert_ne!(finding(&v[0]), Finding::MissesDirection);
    }

    #[test]
    fn charged_to_the_completing_cpus_task() {
        let o = out(&[
            (&["swapper/1"], (S / 2) as i64),
            (&["ksoftirqd/0"], (S / 2) as i64),
            (&["tcw-aaaaaa"], 0),
        ]);
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &o,
        );
        assert_eq!(finding(&v[0]), Finding::OtherTasks);
        assert!(v[0]
            .diagnosis
            .as_ref()
            .unwrap()
            .sentence
            .contains("where the I/O completes"));
        assert_eq!(v[0].others[0].1, S / 2);
    }

    #[test]
    fn nothing_reported() {
        let o = ToolOutput::default();
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &o,
        );
        assert_eq!(finding(&v[0]), Finding::ReportedNothing);
        assert!(v[0]
            .diagnosis
            .as_ref()
            .unwrap()
            .sentence
            .contains("@b was never printed"));
    }

    #[test]
    fn swapped_directions() {
        let c = claim("disk.bytes", &[KeyKind::Comm, KeyKind::Direction]);
        let v = run(
            &direct_write(),
            &c,
            &out(&[(&["tcw-aaaaaa", "R"], S as i64)]),
        );
        let read = v
            .iter()
            .find(|v| v.metric.name() == "disk.read_bytes")
            .unwrap();
        let write = v
            .iter()
            .find(|v| v.metric.name() == "disk.write_bytes")
            .unwrap();
        assert_eq!(finding(read), Finding::WrongDirection);
        assert_eq!(finding(write), Finding::WrongDirection);
    }

    #[test]
    fn duplicate_keys_are_summed_and_noted() {
        let o = out(&[
            (&["tcw-aaaaaa", "RA"], (S / 2) as i64),
            (&["tcw-aaaaaa", "RA"], (S / 2) as i64),
        ]);
        let v = run(
            &cached_reread(),
            &claim("disk.bytes", &[KeyKind::Comm, KeyKind::Direction]),
            &o,
        );
        let read = v
            .iter()
            .find(|v| v.metric.name() == "disk.read_bytes")
            .unwrap();
        assert_eq!(read.status, Status::Pass);
        assert!(
            read.notes
                .iter()
                .any(|n| n.contains("1 duplicate key line")),
            "{:?}",
            read.notes
        );
    }

    #[test]
    fn a_map_of_the_wrong_shape_is_an_error_not_a_failure() {
        let v = run(
            &cached_reread(),
            &claim("disk.read_bytes", &[KeyKind::Comm]),
            &out(&[(&["tcw-aaaaaa", "R"], 1)]),
        );
        assert_eq!(v[0].status, Status::Error);
        assert!(v[0]
            .diagnosis
            .as_ref()
            .unwrap()
            .sentence
            .contains("has 1 key(s)"));
    }
}
