//! Establishing the truth of one check: the workload's own account, checked
//! against /proc/diskstats for the scratch device.
//!
//! The workload knows exactly what it asked for and, from its design, what
//! the disk must see (with explained slack). diskstats knows exactly what
//! the device did, but not who caused it. Where both exist they must agree;
//! where they do not, the check says "tracecheck cannot establish the truth
//! here" instead of judging the tool.

use crate::units::{num, range};
use serde::{Deserialize, Serialize};
use tracecheck_model::{
    Directed, Direction, GroundTruth, Layer, Measure, Metric, Quantity, RequestSamples, Source,
    Truth, Who,
};
use tracecheck_workloads::diskstats::DiskDelta;

/// A layer/direction whose truth tracecheck could not establish: the
/// workload's design and /proc/diskstats disagree beyond explained bounds.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unestablished {
    pub metric: Metric,
    pub why: String,
}

/// Add the device's truths to `gt` and cross-check them with the design.
pub fn establish(gt: &mut GroundTruth, delta: &DiskDelta, dev_name: &str) -> Vec<Unestablished> {
    let mut unest = Vec::new();
    let window = format!(
        "/proc/diskstats delta of {dev_name} over the workload and the settle that followed"
    );
    for dir in [Direction::Read, Direction::Write] {
        let (bytes, ios) = match dir {
            Direction::Read => (delta.read_bytes, delta.read_ios),
            Direction::Write => (delta.write_bytes, delta.write_ios),
        };
        let disk_b = Metric::fixed(Layer::Disk, dir, Quantity::Bytes);
        let disk_n = Metric::fixed(Layer::Disk, dir, Quantity::Ops);
        let block_b = Metric::fixed(Layer::Block, dir, Quantity::Bytes);
        gt.truths.push(Truth::exact(
            disk_b,
            Who::Device,
            bytes,
            Source::Diskstats,
            window.clone(),
        ));
        gt.truths.push(Truth::exact(
            disk_n,
            Who::Device,
            ios,
            Source::Diskstats,
            window.clone(),
        ));
        // Every byte submitted as a bio completes at the device: splits and
        // merges change request counts, never bytes.
        gt.truths.push(Truth::exact(
            block_b,
            Who::Device,
            bytes,
            Source::Diskstats,
            format!("{window}; bio bytes equal completed bytes (splits and merges change counts, not bytes)"),
        ));

        // The design's account of the device: the workload's share plus the
        // kernel's (flusher, journal).
        let designed: Vec<&Truth> = gt
            .truths
            .iter()
            .filter(|t| {
                t.metric == disk_b
                    && matches!(t.who, Who::Workload | Who::Kernel)
                    && t.source != Source::Diskstats
            })
            .collect();
        if designed.is_empty() {
            continue;
        }
        // One truth per `who`: the most exact one.
        let best = |who: Who| {
            designed
                .iter()
                .filter(|t| t.who == who)
                .min_by_key(|t| t.hi - t.lo)
                .copied()
        };
        let (w, k) = (best(Who::Workload), best(Who::Kernel));
        let lo = w.map_or(0, |t| t.lo) + k.map_or(0, |t| t.lo);
        let hi = w.map_or(0, |t| t.hi) + k.map_or(0, |t| t.hi);
        if !(lo..=hi).contains(&bytes) {
            let why = format!(
                "the {} workload's design says the device {} {} B ({}), but diskstats saw {} B",
                gt.workload,
                match dir {
                    Direction::Read => "reads",
                    Direction::Write => "writes",
                },
                range(lo, hi),
                [w, k]
                    .iter()
                    .flatten()
                    .map(|t| t.why.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                num(bytes)
            );
            for m in [disk_b, disk_n, block_b] {
                unest.push(Unestablished {
                    metric: m,
                    why: why.clone(),
                });
            }
            continue;
        }
        // Consistent. When the kernel adds nothing in this direction, every
        // device byte is the workload's: pin its share exactly.
        if k.is_none_or(|k| k.hi == 0) && w.is_some() {
            let why = format!(
                "{window}; every {} on the scratch device was the workload's (design: {} B, {})",
                dir.as_str(),
                range(lo, hi),
                w.map(|t| t.why.as_str()).unwrap_or("")
            );
            gt.truths.push(Truth::exact(
                disk_b,
                Who::Workload,
                bytes,
                Source::Diskstats,
                why.clone(),
            ));
            if !gt
                .truths
                .iter()
                .any(|t| t.metric == block_b && t.who == Who::Workload)
            {
                gt.truths.push(Truth::exact(
                    block_b,
                    Who::Workload,
                    bytes,
                    Source::Diskstats,
                    why,
                ));
            }
        }
    }
    // Block-submission truths per process follow the disk ones where the
    // workload gave none: the same bytes, submitted in the same context.
    let derived: Vec<Truth> = gt
        .truths
        .iter()
        .filter(|t| {
            t.metric.layer == Layer::Disk
                && t.metric.quantity == Quantity::Bytes
                && t.who != Who::Device
        })
        .filter_map(|t| {
            let b = t.metric.at_layer(Layer::Block)?;
            (!gt.truths.iter().any(|x| x.metric == b && x.who == t.who)).then(|| Truth {
                metric: b,
                ..t.clone()
            })
        })
        .collect();
    gt.truths.extend(derived);
    unest
}

/// Widen diskstats' request counts to the requests that carry data.
/// diskstats counts an empty preflush write (what the harness's syncfs
/// sends down) as a write I/O of 0 sectors; a script that counts
/// block_rq_complete with nr_sector > 0, as the correct scripts do, leaves
/// it out. Both are defensible readings of "requests completed", so the
/// truth is the range between them, with the witness's count of the empty
/// ones (`empty_read`, `empty_write`) as its lower end's cause.
pub fn allow_empty_requests(gt: &mut GroundTruth, empty_read: u64, empty_write: u64) {
    for t in gt.truths.iter_mut() {
        let n = match t.metric.fixed_direction() {
            Some(Direction::Read) => empty_read,
            Some(Direction::Write) => empty_write,
            None => 0,
        };
        let counted = t.metric.layer == Layer::Disk
            && t.metric.quantity == Quantity::Ops
            && t.who == Who::Device
            && t.source == Source::Diskstats;
        if counted && n > 0 {
            t.lo = t.lo.saturating_sub(n);
            t.why.push_str(&format!(
                "; {n} of them carried no data (an empty preflush request, from the harness's syncfs), which \
                 diskstats counts and a count of requests with sectors does not"
            ));
        }
    }
}

/// Add the reference witness's truths and hold them against the other two
/// witnesses: its device completions must equal diskstats (it counts as
/// diskstats counts), and what it saw the workload submit must lie within
/// the workload's own account. Where they disagree, the truth of that
/// quantity is not established.
pub fn cross_check_witness(gt: &mut GroundTruth, witnessed: Vec<Truth>) -> Vec<Unestablished> {
    let mut unest = Vec::new();
    let overlaps = |a: &Truth, b: &Truth| a.lo <= b.hi && b.lo <= a.hi;
    for w in &witnessed {
        if w.who == Who::Device && w.metric.layer == Layer::Disk {
            let stats = gt.truths.iter().find(|t| {
                t.metric == w.metric && t.who == Who::Device && t.source == Source::Diskstats
            });
            if let Some(d) = stats.filter(|d| !overlaps(w, d)) {
                unest.push(Unestablished {
                    metric: w.metric,
                    why: format!(
                        "tracecheck's witness saw {} {} completed ({}) but /proc/diskstats says {}",
                        range(w.lo, w.hi.min(u64::MAX - 1)),
                        w.metric.unit(),
                        w.why,
                        num(d.lo)
                    ),
                });
            }
        }
        if w.who == Who::Workload
            && w.metric.layer == Layer::Block
            && w.metric.quantity == Quantity::Bytes
        {
            let Some(disk_m) = w.metric.at_layer(Layer::Disk) else {
                continue;
            };
            let own = gt
                .truths
                .iter()
                .filter(|t| {
                    t.metric == disk_m && t.who == Who::Workload && t.source != Source::Witness
                })
                .min_by_key(|t| t.hi - t.lo);
            if let Some(d) = own.filter(|d| !overlaps(w, d)) {
                let why = format!(
                    "tracecheck's witness saw the workload submit {} B ({}), but its account says {} B ({}: {})",
                    range(w.lo, w.hi.min(u64::MAX - 1)),
                    w.why,
                    range(d.lo, d.hi),
                    d.source.as_str(),
                    d.why
                );
                unest.push(Unestablished {
                    metric: disk_m,
                    why: why.clone(),
                });
                unest.push(Unestablished {
                    metric: w.metric,
                    why,
                });
            }
        }
    }
    gt.truths.extend(witnessed);
    unest
}

/// The latency metrics: one distribution per request, at the device
/// (issue to end) and at the block layer (queueing included).
pub fn latency_metrics() -> [Metric; 2] {
    [Layer::Disk, Layer::Block].map(|l| Metric::new(l, Directed::Undirected, Quantity::Latency))
}

/// The size of each request at issue.
fn size_metric() -> Metric {
    Metric::new(Layer::Disk, Directed::Undirected, Quantity::Size)
}

fn unknown(metrics: impl IntoIterator<Item = Metric>, why: &str) -> Vec<Unestablished> {
    metrics
        .into_iter()
        .map(|metric| Unestablished {
            metric,
            why: why.to_string(),
        })
        .collect()
}

/// Both latency metrics unestablished, for `why`.
pub fn latency_unknown(why: &str) -> Vec<Unestablished> {
    unknown(latency_metrics(), why)
}

/// The time of each read-family call, entry to exit.
pub fn call_latency_metric() -> Metric {
    Metric::fixed(Layer::Syscall, Direction::Read, Quantity::Latency)
}

/// Every metric the witness's samples are the truth of (the latencies,
/// the size and the calls' time) unestablished, for `why`.
pub fn requests_unknown(why: &str) -> Vec<Unestablished> {
    unknown(
        latency_metrics()
            .into_iter()
            .chain([size_metric(), call_latency_metric()]),
        why,
    )
}

/// The requests the witness saw end but took no sample of, in words
/// (`the witness VERB N request(s) ...`); `None` when it took them all.
fn untaken(lat: &RequestSamples, verb: &str) -> Option<String> {
    (lat.lost > 0 || lat.unissued > 0).then(|| {
        format!(
            "the witness {verb} {} request(s) ({} beyond its room, {} issued before it attached)",
            lat.lost + lat.unissued,
            lat.lost,
            lat.unissued
        )
    })
}

/// The truth of a request-size claim: the size at issue of every request
/// the witness saw end with data, established when they are exactly the
/// requests and bytes diskstats counts (`data_requests`, `data_bytes`).
/// Any device will do: a size needs no known latency. The count truths
/// are the device's requests, and the workload's: those its own task
/// issued, held to the workload's account of its disk I/Os where it has
/// one.
pub fn establish_sizes(
    gt: &mut GroundTruth,
    lat: &RequestSamples,
    data_requests: u64,
    data_bytes: u64,
) -> Vec<Unestablished> {
    let metric = size_metric();
    let seen = lat.samples.len() as u64;
    let bytes: u64 = lat.samples.iter().map(|s| s.bytes as u64).sum();
    let mut why = Vec::new();
    why.extend(untaken(lat, "missed"));
    if seen != data_requests || bytes != data_bytes {
        why.push(format!(
            "the witness sized {} requests of {} B in all, but /proc/diskstats counts {} with data, {} B",
            num(seen),
            num(bytes),
            num(data_requests),
            num(data_bytes)
        ));
    }
    let own = lat.sorted(Measure::Size, Some(&gt.comm)).len() as u64;
    let rw = Metric::new(Layer::Disk, Directed::Both, Quantity::Ops);
    if let Some(t) = gt
        .find(rw, &Who::Workload)
        .find(|t| t.source != Source::Witness && !(t.lo..=t.hi).contains(&own))
    {
        why.push(format!(
            "the witness saw {} requests issued by {}, but its account says {} ({}: {})",
            num(own),
            gt.comm,
            range(t.lo, t.hi),
            t.source.as_str(),
            t.why
        ));
    }
    if !why.is_empty() {
        return vec![Unestablished {
            metric,
            why: why.join("; "),
        }];
    }
    gt.truths.push(Truth::exact(
        metric,
        Who::Device,
        seen,
        Source::Witness,
        "requests the witness sized at issue, as many and as many bytes as diskstats completed with data",
    ));
    gt.truths.push(Truth::exact(
        metric,
        Who::Workload,
        own,
        Source::Witness,
        format!(
            "requests the witness saw {} issue, as its own account of its disk I/Os says",
            gt.comm
        ),
    ));
    Vec::new()
}

/// Why a latency's truth is unknown on a device whose latency nobody set:
/// for as long as the check runs there, so measuring again will not help.
pub const NO_KNOWN_LATENCY: &str = "nobody set this scratch device's latency, so the witness's timing has \
     nothing to be checked against; latency claims are judged on a device of known latency: let tracecheck \
     make its own scratch disk (no --scratch-device), or use --vm debian-6.1 (null_blk)";

/// Why a latency's truth stays unknown on a device that serves requests
/// issued together one after another, after their issue: measuring again
/// will not help.
pub const QUEUED_AFTER_ISSUE: &str = ": the requests waited for one another after their issue, as on this \
     machine's delayed loop device, where the loop driver passes them on one at a time; there only \
     one-at-a-time I/O (paced-io) takes the set time, and queued I/O is judged on null_blk in a guest (--vm \
     debian-6.1)";

/// How far above the configured delay a request's median may end on a
/// device of known latency: the guest's own overhead between the issue
/// tracepoint and the driver's timer, and the timer's wake-up under TCG
/// (measured: well under a millisecond; docs/kernel-facts.md, "A device of
/// known latency").
pub const LATENCY_OVERHEAD_NS: u64 = 1_000_000;

/// The truth of a latency claim: the witness's timing of every request on
/// the device, established only on a device whose latency was set
/// (`known_ns`) and only when it agrees with it and with diskstats. The
/// sample count becomes each latency metric's count truth.
///
/// Cross-checks: every request the device completed with data was timed
/// (diskstats' I/Os less the data-less ones the witness saw), none ended
/// sooner after its issue than the device's set delay, the median ended
/// within [`LATENCY_OVERHEAD_NS`] of it, and no request was queued for
/// less time than it spent at the device.
pub fn establish_latency(
    gt: &mut GroundTruth,
    lat: &RequestSamples,
    data_requests: u64,
    known_ns: Option<u64>,
) -> Vec<Unestablished> {
    gt.tallies.requests = Some(lat.clone());
    let Some(known) = known_ns else {
        return latency_unknown(NO_KNOWN_LATENCY);
    };
    let timed = lat.samples.len() as u64;
    let issue = lat.sorted(Measure::DeviceTime, None);
    let median = tracecheck_model::requests::quantile(&issue, 0.5).unwrap_or(0);
    let ms = |ns: u64| format!("{:.3} ms", ns as f64 / 1e6);
    let mut why = Vec::new();
    why.extend(untaken(lat, "could not time"));
    if timed != data_requests {
        why.push(format!(
            "the witness timed {} requests but /proc/diskstats counts {} with data",
            num(timed),
            num(data_requests)
        ));
    }
    if timed == 0 {
        why.push("the workload made no request to time".into());
    }
    if issue.first().is_some_and(|&f| f < known) {
        why.push(format!(
            "a request ended {} after its issue, sooner than the device's set {}",
            ms(issue[0]),
            ms(known)
        ));
    }
    if median > known + LATENCY_OVERHEAD_NS {
        // Whole multiples of the delay: requests served one at a time
        // after their issue, as the host's FUSE-delayed loop device does
        // (workloads/src/delayed_file.rs).
        let queued_after_issue = if median >= 2 * known {
            QUEUED_AFTER_ISSUE
        } else {
            ""
        };
        why.push(format!(
            "the median request took {} from issue to end, more than {} over the device's set {}{queued_after_issue}",
            ms(median),
            ms(LATENCY_OVERHEAD_NS),
            ms(known)
        ));
    }
    let mut out = latency_unknown(&why.join("; "));
    if !why.is_empty() {
        return out;
    }
    out.clear();
    let [disk, block] = latency_metrics();
    gt.truths.push(Truth::exact(
        disk,
        Who::Device,
        timed,
        Source::Witness,
        format!(
            "requests the witness timed from issue to end, as many as diskstats completed with data; \
             median {} on a device set to {}",
            ms(median),
            ms(known)
        ),
    ));
    if !lat.has_queue_times() || lat.samples.iter().any(|s| s.queue_ns < s.issue_ns) {
        out.push(Unestablished {
            metric: block,
            why: "the kernel did not stamp every request's start (rq->start_time_ns), or stamped one \
                  after its issue: time in the queue is unknown"
                .into(),
        });
    } else {
        gt.truths.push(Truth::exact(
            block,
            Who::Device,
            timed,
            Source::Witness,
            "requests the witness timed from their creation (rq->start_time_ns) to end, as many as \
             diskstats completed with data",
        ));
    }
    out
}

/// How much longer a read-family call may take on the workload's own clock
/// than from the kernel's entry to its exit, on a call that waited for no
/// CPU: the syscall's entry and exit paths and the two clock reads around
/// it (about 2 µs natively, tens of µs under TCG).
pub const CALL_OVERHEAD_NS: u64 = 200_000;

/// The truth of a read-latency claim: the witness's timing of each of the
/// workload's read-family calls, from the kernel's entry to its exit. No
/// device of known latency is needed: each call's time is checked two
/// ways instead. The workload read CLOCK_MONOTONIC (bpf_ktime_get_ns's
/// clock) just before and just after each of its calls, by thread; the
/// witness timed as many calls of each thread under the workload's comm,
/// each inside the workload's readings around it; and at least one call
/// of the run is within [`CALL_OVERHEAD_NS`] of those readings, so the
/// witness does not time a part of each call. Only that one: a thread
/// that waits for a CPU after its call returned (threads outnumbering
/// CPUs, a guest's busy vCPU) widens its readings by that wait, which is
/// no part of the call.
pub fn establish_call_latency(gt: &mut GroundTruth, lat: &RequestSamples) -> Vec<Unestablished> {
    let metric = call_latency_metric();
    let timed = lat.sorted(Measure::CallTime, Some(&gt.comm));
    let made = gt
        .tallies
        .sum(tracecheck_model::neighbour::READ_CALLS)
        .calls;
    let kernel: u64 = timed.iter().sum();
    let ms = |ns: u64| format!("{:.3} ms", ns as f64 / 1e6);
    let n = timed.len() as u64;
    let mut why = Vec::new();
    if made == 0 {
        why.push("the workload made no read-family call".to_string());
    }
    if lat.calls_untimed > 0 {
        why.push(format!(
            "the witness could not time {} read-family call(s) (entered before it attached, or beyond its room)",
            num(lat.calls_untimed)
        ));
    }
    if n != made {
        why.push(format!(
            "the witness timed {} read-family calls under {}, but the workload made {}",
            num(n),
            gt.comm,
            num(made)
        ));
    }
    let clocked = &gt.tallies.read_calls_clocked;
    if made > 0 && clocked.len() as u64 != made {
        why.push(format!(
            "the workload clocked {} of its {} read-family calls",
            num(clocked.len() as u64),
            num(made)
        ));
    }
    let mut gaps = Vec::new();
    if why.is_empty() {
        match tracecheck_model::requests::call_gaps(clocked, &lat.calls, &gt.comm) {
            Ok(g) => gaps = g,
            Err(e) => why.push(e),
        }
        if gaps.first().is_some_and(|&g| g > CALL_OVERHEAD_NS) {
            why.push(format!(
                "every call took over {} longer on the workload's clock than the witness timed it (at least {}): \
                 the witness must time the whole call",
                ms(CALL_OVERHEAD_NS),
                ms(gaps[0])
            ));
        }
    }
    if !why.is_empty() {
        return unknown([metric], &why.join("; "));
    }
    let own: u64 = clocked.iter().map(|c| c.end_ns - c.start_ns).sum();
    gt.truths.push(Truth::exact(
        metric,
        Who::Workload,
        n,
        Source::Witness,
        format!(
            "read-family calls the witness timed from entry to exit, as many as the workload made, thread by \
             thread, each inside the workload's own clock readings around it; median {}, {} in all, {} on the \
             workload's clock (median {} µs more a call)",
            ms(tracecheck_model::requests::quantile(&timed, 0.5).unwrap_or(0)),
            ms(kernel),
            ms(own),
            tracecheck_model::requests::quantile(&gaps, 0.5).unwrap_or(0) / 1000
        ),
    ));
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn gt(truths: Vec<Truth>) -> GroundTruth {
        GroundTruth {
            workload: "cached-reread".into(),
            comm: "tcw-abc".into(),
            pids: vec![1],
            params: BTreeMap::new(),
            truths,
            tallies: Default::default(),
            needs_writeback: false,
            elapsed_ns: 0,
        }
    }

    fn m(s: &str) -> Metric {
        Metric::parse(s).unwrap()
    }

    #[test]
    fn consistent_reads_pin_the_workload_share_to_diskstats() {
        let mut g = gt(vec![Truth::bounded(
            m("disk.read_bytes"),
            Who::Workload,
            16 << 20,
            (16 << 20) + 65536,
            Source::Design,
            "cold file",
        )]);
        let d = DiskDelta {
            read_bytes: (16 << 20) + 4096,
            read_ios: 17,
            ..Default::default()
        };
        let u = establish(&mut g, &d, "loop9");
        assert!(u.is_empty());
        let t = g.best(m("disk.read_bytes"), &Who::Workload).unwrap();
        assert_eq!(
            (t.lo, t.hi, t.source),
            ((16 << 20) + 4096, (16 << 20) + 4096, Source::Diskstats)
        );
        let b = g.best(m("block.read_bytes"), &Who::Workload).unwrap();
        assert_eq!(b.lo, (16 << 20) + 4096);
    }

    #[test]
    fn diskstats_outside_the_design_makes_the_truth_unestablished() {
        let mut g = gt(vec![Truth::exact(
            m("disk.read_bytes"),
            Who::Workload,
            16 << 20,
            Source::Design,
            "cold file",
        )]);
        let d = DiskDelta {
            read_bytes: 32 << 20,
            ..Default::default()
        };
        let u = establish(&mut g, &d, "loop9");
        assert!(u
            .iter()
            .any(|u| u.metric == m("disk.read_bytes") && u.why.contains("33,554,432")));
    }

    #[test]
    fn a_witness_that_disagrees_with_diskstats_unestablishes_the_truth() {
        let mut g = gt(vec![Truth::exact(
            m("disk.read_bytes"),
            Who::Workload,
            16 << 20,
            Source::Design,
            "cold file",
        )]);
        let d = DiskDelta {
            read_bytes: 16 << 20,
            ..Default::default()
        };
        establish(&mut g, &d, "loop9");
        let agree = vec![
            Truth::exact(
                m("disk.read_bytes"),
                Who::Device,
                16 << 20,
                Source::Witness,
                "rq_complete",
            ),
            Truth::exact(
                m("block.read_bytes"),
                Who::Workload,
                16 << 20,
                Source::Witness,
                "bio_queue",
            ),
        ];
        assert!(cross_check_witness(&mut g.clone(), agree).is_empty());
        let device_off = vec![Truth::exact(
            m("disk.read_bytes"),
            Who::Device,
            8 << 20,
            Source::Witness,
            "rq_complete",
        )];
        let u = cross_check_witness(&mut g.clone(), device_off);
        assert!(
            u[0].why.contains("/proc/diskstats says 16,777,216"),
            "{:?}",
            u
        );
        let submit_off = vec![Truth::exact(
            m("block.read_bytes"),
            Who::Workload,
            4096,
            Source::Witness,
            "bio_queue",
        )];
        let u = cross_check_witness(&mut g, submit_off);
        assert_eq!(u.len(), 2);
    }

    #[test]
    fn kernel_share_keeps_the_workload_share_from_design() {
        let mut g = gt(vec![
            Truth::exact(
                m("disk.write_bytes"),
                Who::Workload,
                0,
                Source::Design,
                "no fsync",
            ),
            Truth::bounded(
                m("disk.write_bytes"),
                Who::Kernel,
                16 << 20,
                (16 << 20) + (1 << 20),
                Source::Design,
                "flusher + journal",
            ),
        ]);
        let d = DiskDelta {
            write_bytes: (16 << 20) + 40960,
            ..Default::default()
        };
        assert!(establish(&mut g, &d, "loop9").is_empty());
        let t = g.best(m("disk.write_bytes"), &Who::Workload).unwrap();
        assert_eq!((t.lo, t.source), (0, Source::Design));
        assert_eq!(
            g.best(m("block.write_bytes"), &Who::Workload).unwrap().hi,
            0
        );
    }
    #[test]
    fn read_call_times_are_checked_against_the_workloads_count_and_clock() {
        use tracecheck_model::{CallSample, CallTally, ClockedCall};
        // Call i of thread 7 enters at 10 ms × i + 1 µs and the witness
        // times it `ns`.
        let witnessed = |n: u64, ns: u64| RequestSamples {
            calls: (0..n)
                .map(|i| CallSample {
                    ns,
                    entered_ns: 10_000_000 * i + 1_000,
                    tid: 7,
                    comm: "tcw-abc".into(),
                })
                .chain([CallSample {
                    ns: 5,
                    entered_ns: 0,
                    tid: 9,
                    comm: "tracecheck".into(),
                }])
                .collect(),
            ..RequestSamples::default()
        };
        // The workload made `calls` calls; it clocked `clocked` of them,
        // from 1 µs before the witness's entry, `own_ns` long, the first
        // one `first_ns`.
        let made = |calls: u64, clocked: u64, own_ns: u64, first_ns: u64| {
            let mut g = gt(vec![]);
            g.tallies.syscalls.insert(
                "pread64".into(),
                CallTally {
                    calls,
                    ..Default::default()
                },
            );
            g.tallies.read_calls_clocked = (0..clocked)
                .map(|i| ClockedCall {
                    tid: 7,
                    start_ns: 10_000_000 * i,
                    end_ns: 10_000_000 * i + if i == 0 { first_ns } else { own_ns },
                })
                .collect();
            g
        };
        // 64 calls of 3 ms, 3.01 ms on the workload's clock, but for one
        // that waited 5 ms for a CPU after it returned: the truth is 64
        // samples (the harness's own call under its name aside).
        let mut g = made(64, 64, 3_010_000, 8_000_000);
        assert!(establish_call_latency(&mut g, &witnessed(64, 3_000_000)).is_empty());
        let t = g.best(call_latency_metric(), &Who::Workload).unwrap();
        assert_eq!((t.lo, t.hi), (64, 64));
        assert!(t.why.contains("median 10 µs more a call"), "{}", t.why);
        // One call unseen; one unclocked; a call the witness saw end
        // after the workload's reading; every call far longer than the
        // witness timed it.
        for (calls, clocked, own, first, why) in [
            (65, 65, 3_010_000, 3_010_000, "the workload made 65"),
            (64, 63, 3_010_000, 3_010_000, "clocked 63 of its 64"),
            (64, 64, 3_010_000, 2_990_000, "thread 7's call 1 of 64"),
            (
                64,
                64,
                3_500_000,
                3_500_000,
                "every call took over 0.200 ms longer",
            ),
        ] {
            let mut g = made(calls, clocked, own, first);
            let u = establish_call_latency(&mut g, &witnessed(64, 3_000_000));
            assert_eq!(u.len(), 1);
            assert!(u[0].why.contains(why), "{}", u[0].why);
            assert!(g.best(call_latency_metric(), &Who::Workload).is_none());
        }
        let u = establish_call_latency(&mut made(0, 0, 0, 0), &witnessed(0, 0));
        assert!(u[0].why.contains("no read-family call"), "{}", u[0].why);
    }
}
