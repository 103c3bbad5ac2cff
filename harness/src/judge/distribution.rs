//! A latency or request-size claim's histogram held against the witness's
//! timing and sizing of every request, edge by edge: at each bucket bound the tool's count of samples
//! below it must be the truth's, within the claim's tolerance of the
//! sample count and with room for samples that lie near the bound (the
//! tool's timestamps are not the witness's). When the histogram does not
//! fit, the wrong quantities a script plausibly prints are tried in turn:
//! another unit (µs under a ns label: 1000×, 1024×; sectors or KiB under
//! a bytes label), the other span (queueing counted as device time, or the
//! reverse), both.

use super::evidence::Subject;
use super::reading::key_at;
use crate::spec::{Claim, KeyKind};
use crate::verdict::{BucketRow, Diagnosis, Finding, HistogramComparison};
use tracecheck_model::requests::{count_in, quantile};
use tracecheck_model::{Bucket, Layer, Measure, RequestSamples, Tallies, ToolOutput, Value};

/// How a claim's histogram is read against the requests: which number of
/// a request, whose requests, and what one printed unit is in the truth's
/// units (ns or bytes).
#[derive(Debug, Clone, Copy)]
pub struct Lens<'a> {
    pub measure: Measure,
    /// Only requests issued by this task (a claim keyed by comm).
    pub comm: Option<&'a str>,
    pub unit: f64,
    /// For a call's time: the median gap per call between the workload's
    /// own clock around a call and the witness's entry-to-exit time of it.
    /// It measures how long the path between user space and the system
    /// call's probes takes on this machine (about 2 µs natively, 35 µs
    /// under TCG), and a tool's probes run on that path beside the
    /// witness's. The median, not the mean: a call whose thread then
    /// waited for a CPU is no measure of that path.
    pub gap: u64,
}

impl<'a> Lens<'a> {
    /// The lens of a distribution claim about `subject`'s process.
    pub fn of(claim: &Claim, subject: &'a Subject) -> Lens<'a> {
        Lens {
            measure: Measure::of(claim.metric).unwrap_or(Measure::DeviceTime),
            comm: claim
                .has_key(KeyKind::Comm)
                .then_some(subject.comm.as_str()),
            unit: claim.hist_unit.unwrap_or(1) as f64,
            gap: 0,
        }
    }

    /// The lens with the run's own per-call gap (see [`Lens::gap`]), for a
    /// call's time.
    pub fn with_gap(self, t: &Tallies, lat: &RequestSamples) -> Lens<'a> {
        if self.measure != Measure::CallTime {
            return self;
        }
        let gaps = self
            .comm
            .and_then(|comm| {
                tracecheck_model::requests::call_gaps(&t.read_calls_clocked, &lat.calls, comm).ok()
            })
            .unwrap_or_default();
        Lens {
            gap: tracecheck_model::requests::quantile(&gaps, 0.5).unwrap_or(0),
            ..self
        }
    }

    /// The truth's samples, sorted.
    fn truth(&self, lat: &RequestSamples) -> Vec<u64> {
        lat.sorted(self.measure, self.comm)
    }

    /// The same lens with another unit or measure.
    fn with(self, measure: Measure, unit: f64) -> Lens<'a> {
        Lens {
            measure,
            unit,
            ..self
        }
    }

    /// How far a sample may lie from a bucket bound and still fall on
    /// either side of it in the tool's histogram. Times: 5% of the bound
    /// plus 20 µs, for the time between the tool's probe and the witness's
    /// firing on the same event (a few µs natively, tens under TCG), and
    /// for a call the run's own gap (one TCG run: calls the witness timed
    /// at 96 µs were under 64 µs in bpftrace's histogram). Sizes are exact.
    fn slack(&self, bound: u64) -> u64 {
        if self.measure.is_time() {
            bound / 20 + 20_000 + self.gap
        } else {
            0
        }
    }

    /// A value for people.
    fn human(&self, v: u64) -> String {
        if self.measure.is_time() {
            human_ns(v)
        } else {
            human_bytes(v)
        }
    }
}

/// A size for people: `128 KiB`, `512 B`.
pub fn human_bytes(b: u64) -> String {
    if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else if b >= 1024 && b.is_multiple_of(1024) {
        format!("{} KiB", b >> 10)
    } else {
        format!("{b} B")
    }
}

/// The tool's histogram for the claim: every entry of its map that is for
/// the scratch device (all of them when the claim has no device key),
/// merged bucket by bucket. `Err` when the map holds no histogram.
pub fn tool_histogram(
    claim: &Claim,
    out: &ToolOutput,
    subject: &Subject,
) -> Result<Vec<Bucket>, String> {
    let Some(map) = out.map(&claim.map) else {
        return Ok(Vec::new());
    };
    let mut merged: Vec<Bucket> = Vec::new();
    for e in &map.entries {
        if key_at(claim, e, KeyKind::Device).is_some_and(|k| !subject.is_device(k)) {
            continue;
        }
        if key_at(claim, e, KeyKind::Comm)
            .is_some_and(|k| k.trim().trim_matches('"') != subject.comm)
        {
            continue;
        }
        let Value::Histogram(buckets) = &e.value else {
            return Err(format!(
                "{} printed a number, not a histogram: `{}` is a distribution (bpftrace hist()/lhist(), a bcc or SystemTap histogram)",
                claim.map,
                claim.metric.name()
            ));
        };
        for b in buckets {
            match merged.iter_mut().find(|m| m.lo == b.lo && m.hi == b.hi) {
                Some(m) => m.count += b.count,
                None => merged.push(b.clone()),
            }
        }
    }
    merged.sort_by_key(|b| b.lo);
    Ok(merged)
}

/// The tool's buckets in the truth's units, its values taken to be `unit`
/// each; negative bounds (lhist's underflow) start at 0.
fn in_ns(buckets: &[Bucket], unit: f64) -> Vec<(u64, Option<u64>, u64)> {
    let ns = |v: i64| (v.max(0) as f64 * unit).round() as u64;
    buckets
        .iter()
        .map(|b| (ns(b.lo), b.hi.map(ns), b.count))
        .collect()
}

/// Where the tool's histogram and the truth part: the first bound at which
/// the count below it differs by more than `tol`, even granting every
/// sample near the bound to either side. `None` when they agree at every
/// bound.
fn first_misfit(
    tool: &[(u64, Option<u64>, u64)],
    truth: &[u64],
    tol: u64,
    lens: Lens<'_>,
) -> Option<String> {
    let mut below = 0u64;
    let mut bounds: Vec<(u64, u64)> = Vec::new();
    if let Some((lo, _, _)) = tool.first() {
        bounds.push((*lo, 0));
    }
    for (_, hi, n) in tool {
        below += n;
        if let Some(h) = hi {
            bounds.push((*h, below));
        }
    }
    let total = below;
    let truth_n = truth.len() as u64;
    for (x, tool_below) in bounds {
        let s = lens.slack(x);
        let lo = count_in(truth, 0, Some(x.saturating_sub(s)));
        let hi = count_in(truth, 0, Some(x.saturating_add(s)));
        if tool_below + tol < lo || tool_below > hi + tol {
            return Some(format!(
                "{} of its samples lie below {}, where {} of the truth's do",
                tool_below,
                lens.human(x),
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}–{hi}")
                }
            ));
        }
    }
    // Above its last bound: what an open last bucket holds.
    let above = total.abs_diff(truth_n);
    (above > tol).then(|| format!("it holds {total} samples where the truth has {truth_n}"))
}

/// Does the tool's histogram fit `truth` (sorted) read through `lens`?
fn fits(buckets: &[Bucket], truth: &[u64], tol: u64, lens: Lens<'_>) -> bool {
    !truth.is_empty() && first_misfit(&in_ns(buckets, lens.unit), truth, tol, lens).is_none()
}

/// A time for people: `3.00 ms`, `12.0 µs`, `512 ns`.
pub fn human_ns(ns: u64) -> String {
    let f = ns as f64;
    if f >= 1e9 {
        format!("{:.2} s", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2} ms", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} µs", f / 1e3)
    } else {
        format!("{ns} ns")
    }
}

fn unit_word(m: Measure, unit: u64) -> &'static str {
    match (m.is_time(), unit) {
        (true, 1) => "ns",
        (true, 1_000) => "µs",
        (true, 1_000_000) => "ms",
        (true, 1_000_000_000) => "s",
        (true, 1_024) => "units of 1024 ns",
        (true, 1_048_576) => "units of 2^20 ns",
        (false, 1) => "bytes",
        (false, 512) => "sectors",
        (false, 1024) => "KiB",
        (false, 4096) => "pages",
        (false, 1_048_576) => "MiB",
        _ => "units",
    }
}

/// The span a layer's latency covers, in words.
fn span(layer: Layer) -> &'static str {
    match layer {
        Layer::Block => "from the request's creation, queueing included, to its completion",
        Layer::Syscall => "from the read-family call's entry to its exit",
        _ => "from the request's issue to the device to its completion",
    }
}

/// The tool's median bucket, as printed.
fn median_bucket(buckets: &[Bucket], lens: Lens<'_>) -> Option<String> {
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    let mut seen = 0;
    for (lo, hi, n) in in_ns(buckets, lens.unit) {
        seen += n;
        if seen * 2 >= total && total > 0 {
            return Some(match hi {
                Some(h) => format!("[{}, {})", lens.human(lo), lens.human(h)),
                None => format!("{} and over", lens.human(lo)),
            });
        }
    }
    None
}

/// The tool's buckets beside the truth's count in each (samples near a
/// bound counted where they lie), for reports and the HTML page; where the
/// truth lies outside the tool's buckets, the same kind of bucket (log2,
/// or linear of the same width) is carried on until it covers the truth,
/// so a histogram in the wrong place is drawn beside where it should be.
pub fn comparison(buckets: &[Bucket], lat: &RequestSamples, lens: Lens<'_>) -> HistogramComparison {
    let unit = lens.unit.round() as u64;
    let truth = lens.truth(lat);
    let mut bounds: Vec<(i64, Option<i64>, u64)> =
        buckets.iter().map(|b| (b.lo, b.hi, b.count)).collect();
    extend_to_cover(&mut bounds, &truth, unit);
    let at = |v: i64| v.max(0) as u64 * unit;
    HistogramComparison {
        unit: unit_word(lens.measure, unit).to_string(),
        rows: bounds
            .iter()
            .map(|&(lo, hi, tool)| BucketRow {
                lo,
                hi,
                tool,
                truth: count_in(&truth, at(lo), hi.map(at)),
            })
            .collect(),
        truth_below: count_in(&truth, 0, bounds.first().map(|b| at(b.0))),
        truth_median_ns: quantile(&truth, 0.5),
        truth_p99_ns: quantile(&truth, 0.99),
    }
}

/// Most buckets a comparison is carried on by, either way.
const MAX_EXTRA_BUCKETS: usize = 40;

/// Add empty tool buckets below and above `rows` until the truth's samples
/// (sorted, in the truth's units) lie within them: log2 when the last
/// bucket doubles, else linear of its width.
fn extend_to_cover(rows: &mut Vec<(i64, Option<i64>, u64)>, truth: &[u64], unit: u64) {
    let (Some(&(first_lo, first_hi, _)), Some(&(last_lo, last_hi, _))) =
        (rows.first(), rows.last())
    else {
        return;
    };
    let (Some(lo_v), Some(hi_v)) = (truth.first(), truth.last()) else {
        return;
    };
    let in_units = |v: u64| (v / unit.max(1)) as i64;
    let log2 = |lo: i64, hi: Option<i64>| hi == Some(lo * 2) && lo > 0;
    // Upward, from a closed last bucket.
    if let Some(mut hi) = last_hi {
        let width = hi - last_lo;
        let doubling = log2(last_lo, last_hi);
        let mut n = 0;
        while hi <= in_units(*hi_v) && n < MAX_EXTRA_BUCKETS && width > 0 {
            let next = if doubling { hi * 2 } else { hi + width };
            rows.push((hi, Some(next), 0));
            hi = next;
            n += 1;
        }
    }
    // Downward.
    let width = first_hi.map(|h| h - first_lo).unwrap_or(0);
    let doubling = log2(first_lo, first_hi);
    let mut lo = first_lo;
    let mut below = Vec::new();
    while lo > in_units(*lo_v) && below.len() < MAX_EXTRA_BUCKETS && width > 0 {
        let prev = if doubling { lo / 2 } else { lo - width };
        if prev < 0 || prev == lo {
            break;
        }
        below.push((prev, Some(lo), 0));
        lo = prev;
    }
    below.reverse();
    below.append(rows);
    *rows = below;
}

/// The unit factors a script plausibly gets wrong for times, as the factor
/// its values are off by (value printed × factor = claimed unit), with
/// words.
const TIME_SLIPS: &[(f64, &str)] = &[
    (1e3, "its values are 1000× smaller than the claim's unit: it divides once too often (µs under a ns label, ms under µs)"),
    (1e-3, "its values are 1000× larger than the claim's unit: it forgot to divide (ns under a µs label, µs under ms)"),
    (1024.0, "its values are 1024× smaller than the claim's unit: it shifts by 10 bits (>> 10) where it means /1000, or once too often"),
    (1.0 / 1024.0, "its values are 1024× larger than the claim's unit"),
    (1e6, "its values are 10^6× smaller than the claim's unit (ms under a ns label)"),
    (1e-6, "its values are 10^6× larger than the claim's unit (ns under a ms label)"),
];

/// The same for sizes.
const SIZE_SLIPS: &[(f64, &str)] = &[
    (512.0, "its values are 512× smaller than the claim's unit: sectors (nr_sector) under a bytes label"),
    (1024.0, "its values are 1024× smaller than the claim's unit: KiB under a bytes label"),
    (1.0 / 1024.0, "its values are 1024× larger than the claim's unit: bytes under a KiB label"),
    (4096.0, "its values are 4096× smaller than the claim's unit: pages under a bytes label"),
];

/// Why a distribution histogram whose sample count is right does not fit
/// the truth, or `None` when it fits.
pub fn misfit(
    claim: &Claim,
    buckets: &[Bucket],
    lat: &RequestSamples,
    lens: Lens<'_>,
) -> Option<Diagnosis> {
    let layer = claim.metric.layer;
    let truth = lens.truth(lat);
    let n = truth.len() as u64;
    let tol = claim.tolerance.widen(n, n).1.saturating_sub(n).max(1);
    let tool = in_ns(buckets, lens.unit);
    let why = first_misfit(&tool, &truth, tol, lens)?;
    let medians = format!(
        "its median bucket is {}, the truth's median {} (p99 {})",
        median_bucket(buckets, lens).unwrap_or_else(|| "none".into()),
        lens.human(quantile(&truth, 0.5).unwrap_or(0)),
        lens.human(quantile(&truth, 0.99).unwrap_or(0)),
    );
    let slips = if lens.measure.is_time() {
        TIME_SLIPS
    } else {
        SIZE_SLIPS
    };
    // Another unit, on the right span.
    for (f, words) in slips {
        let other = lens.with(lens.measure, lens.unit * f);
        if fits(buckets, &truth, tol, other) {
            let steps = f.log2().abs().round();
            return Some(Diagnosis {
                finding: Finding::WrongUnit,
                sentence: format!(
                    "{words}: read as {} its histogram matches the truth, {steps} log2 buckets away from where the \
                     claim's unit puts it ({why}; {medians})",
                    unit_word(lens.measure, other.unit.round() as u64)
                ),
            });
        }
    }
    // The other span, in this unit or a slipped one.
    let other_span = match lens.measure {
        Measure::DeviceTime => Some((Measure::QueueTime, Layer::Block)),
        Measure::QueueTime => Some((Measure::DeviceTime, Layer::Disk)),
        // A call's time has no other span the witness times per call.
        Measure::Size | Measure::CallTime => None,
    };
    if let Some((m, other)) = other_span.filter(|_| lat.has_queue_times()) {
        let span_words = format!(
            "it times {}, where the claim's `{}` is {}",
            span(other),
            claim.metric.name(),
            span(layer)
        );
        let ot = lens.with(m, lens.unit).truth(lat);
        if fits(buckets, &ot, tol, lens.with(m, lens.unit)) {
            return Some(Diagnosis {
                finding: Finding::WrongSpan,
                sentence: format!(
                    "{span_words}: its histogram matches the witness's {} times ({why}; {medians})",
                    other.as_str()
                ),
            });
        }
        for (f, words) in slips {
            if fits(buckets, &ot, tol, lens.with(m, lens.unit * f)) {
                return Some(Diagnosis {
                    finding: Finding::WrongSpan,
                    sentence: format!("{span_words}, and {words} ({why}; {medians})"),
                });
            }
        }
    }
    let what = if lens.measure == Measure::CallTime {
        format!("the calls' times {}", span(layer))
    } else if lens.measure.is_time() {
        format!("the requests' latencies {}", span(layer))
    } else {
        "the requests' sizes at issue".to_string()
    };
    Some(Diagnosis {
        finding: Finding::WrongShape,
        sentence: format!(
            "its histogram does not match {what} in any plausible unit: {why}; {medians}"
        ),
    })
}

/// Why a distribution histogram holds the wrong number of samples, and
/// whether the samples it did print lie where the truth's do (then it
/// drops or adds whole requests rather than measuring them wrong).
pub fn miscount(
    buckets: &[Bucket],
    lat: &RequestSamples,
    lens: Lens<'_>,
    has_device_key: bool,
) -> Diagnosis {
    let truth = lens.truth(lat);
    let truth_n = truth.len() as u64;
    let reported: u64 = buckets.iter().map(|b| b.count).sum();
    let median = quantile(&truth, 0.5).unwrap_or(0);
    // The tool's median bucket holds the truth's median (granting the
    // bound's slack): its samples are the truth's, fewer or more of them.
    let placed = {
        let mut seen = 0;
        in_ns(buckets, lens.unit)
            .into_iter()
            .find_map(|(lo, hi, n)| {
                seen += n;
                (reported > 0 && seen * 2 >= reported).then(|| {
                    lo.saturating_sub(lens.slack(lo)) <= median
                        && hi.is_none_or(|h| median < h.saturating_add(lens.slack(h)))
                })
            })
    }
    .unwrap_or(false);
    let shape = if placed {
        format!(
            "; the samples it printed lie where the truth's do (its median bucket {} holds the truth's median {}), so it \
             drops or adds whole requests rather than measuring them wrong",
            median_bucket(buckets, lens).unwrap_or_default(),
            lens.human(median)
        )
    } else {
        String::new()
    };
    let calls = lens.measure == Measure::CallTime;
    let whose = match lens.comm {
        Some(c) if calls => format!("{c} made"),
        Some(c) => format!("{c} issued"),
        None if calls => "the workload made".to_string(),
        None => "the device completed".to_string(),
    };
    let what = if calls {
        "read-family calls"
    } else {
        "requests with data"
    };
    let sentence = if reported < truth_n && calls {
        format!(
            "it holds {reported} samples where {whose} {truth_n} {what}: it misses {} (a call of the family it \
             does not trace: read, pread64, readv, preadv, preadv2; or calls it forgets at its end){shape}",
            truth_n - reported
        )
    } else if reported < truth_n {
        format!(
            "it holds {reported} samples where {whose} {truth_n} {what}: it misses {} (a start event \
             some requests never pass, requests it forgets between intervals or at its end, or a start stamp keyed \
             by something two requests share){shape}",
            truth_n - reported
        )
    } else {
        format!(
            "it holds {reported} samples where {whose} {truth_n} {what}: {} more, {}{shape}",
            reported - truth_n,
            if calls {
                "calls of another family timed as reads (the workload's writes), or calls counted twice"
            } else if has_device_key || lens.comm.is_some() {
                "counted twice or from events that are no request's end"
            } else {
                "likely other devices' requests (the claim has no device key to tell them apart)"
            }
        )
    };
    Diagnosis {
        finding: Finding::MissingSamples,
        sentence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Tolerance;
    use tracecheck_model::{Metric, RequestSample};

    fn claim(metric: &str, unit_ns: u64) -> Claim {
        Claim {
            name: "c".into(),
            map: "@ns".into(),
            table: None,
            metric: Metric::parse(metric).unwrap(),
            keys: vec![],
            tolerance: Tolerance::Percent(5.0),
            workloads: vec![],
            sample_hz: None,
            hist_unit: Some(unit_ns),
        }
    }

    fn subject() -> Subject {
        Subject {
            comm: "tcw-1".into(),
            pids: vec![1],
            dev_major: 253,
            dev_minor: 0,
            dev_name: "nullb0".into(),
            siblings: Default::default(),
        }
    }

    fn fit(c: &Claim, b: &[Bucket], t: &RequestSamples) -> Option<Diagnosis> {
        let s = subject();
        misfit(c, b, t, Lens::of(c, &s))
    }

    fn count(c: &Claim, b: &[Bucket], t: &RequestSamples) -> Diagnosis {
        let s = subject();
        miscount(b, t, Lens::of(c, &s), false)
    }

    fn compare(c: &Claim, b: &[Bucket], t: &RequestSamples) -> HistogramComparison {
        let s = subject();
        comparison(b, t, Lens::of(c, &s))
    }

    /// 200 requests at 3.1–3.3 ms at the device, each queued 3–12 ms more.
    fn truth() -> RequestSamples {
        RequestSamples {
            samples: (0..200u64)
                .map(|i| RequestSample {
                    issue_ns: 3_100_000 + (i % 3) * 100_000,
                    queue_ns: 3_100_000 + (i % 3) * 100_000 + 3_000_000 * (1 + i % 3),
                    bytes: 4096,
                    write: i % 2 == 0,
                    comm: "tcw-1".into(),
                })
                .collect(),
            ..RequestSamples::default()
        }
    }

    /// A log2 histogram of `values`, as bpftrace's hist() prints it.
    fn log2(values: impl Iterator<Item = u64>) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = Vec::new();
        for v in values {
            let lo = if v == 0 {
                0
            } else {
                1i64 << (63 - v.leading_zeros())
            };
            let hi = Some(if lo == 0 { 1 } else { lo * 2 });
            match out.iter_mut().find(|b| b.lo == lo) {
                Some(b) => b.count += 1,
                None => out.push(Bucket { lo, hi, count: 1 }),
            }
        }
        out.sort_by_key(|b| b.lo);
        out
    }

    #[test]
    fn a_right_histogram_fits_in_its_unit() {
        let t = truth();
        let ns = log2(t.samples.iter().map(|s| s.issue_ns));
        assert!(fit(&claim("disk.latency", 1), &ns, &t).is_none());
        let us = log2(t.samples.iter().map(|s| s.issue_ns / 1000));
        assert!(fit(&claim("disk.latency", 1000), &us, &t).is_none());
        let queued = log2(t.samples.iter().map(|s| s.queue_ns));
        assert!(fit(&claim("block.latency", 1), &queued, &t).is_none());
    }

    #[test]
    fn microseconds_under_a_nanosecond_label_are_named() {
        let t = truth();
        let us = log2(t.samples.iter().map(|s| s.issue_ns / 1000));
        let d = fit(&claim("disk.latency", 1), &us, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongUnit, "{}", d.sentence);
        assert!(d.sentence.contains("1000× smaller"), "{}", d.sentence);
        assert!(d.sentence.contains("read as µs"), "{}", d.sentence);
    }

    #[test]
    fn queue_time_counted_as_device_time_is_named() {
        let t = truth();
        let queued = log2(t.samples.iter().map(|s| s.queue_ns));
        let d = fit(&claim("disk.latency", 1), &queued, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongSpan, "{}", d.sentence);
        assert!(d.sentence.contains("queueing included"), "{}", d.sentence);
        // And the reverse: device time where the claim includes the queue.
        let device = log2(t.samples.iter().map(|s| s.issue_ns));
        let d = fit(&claim("block.latency", 1), &device, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongSpan, "{}", d.sentence);
        assert!(d.sentence.contains("issue to the device"), "{}", d.sentence);
    }

    #[test]
    fn samples_near_a_bound_may_fall_either_side() {
        // Every truth sample just under 2^22 ns; the tool saw them all
        // just over it (its probe fired a few µs later).
        let t = RequestSamples {
            samples: (0..100)
                .map(|_| RequestSample {
                    issue_ns: (1 << 22) - 10_000,
                    queue_ns: (1 << 22) - 10_000,
                    bytes: 4096,
                    write: false,
                    comm: "tcw-1".into(),
                })
                .collect(),
            ..RequestSamples::default()
        };
        let over = vec![Bucket {
            lo: 1 << 22,
            hi: Some(1 << 23),
            count: 100,
        }];
        assert!(fit(&claim("disk.latency", 1), &over, &t).is_none());
        // Two buckets further is no jitter.
        let far = vec![Bucket {
            lo: 1 << 24,
            hi: Some(1 << 25),
            count: 100,
        }];
        let d = fit(&claim("disk.latency", 1), &far, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongShape, "{}", d.sentence);
    }

    #[test]
    fn a_comparison_is_carried_on_to_where_the_truth_lies() {
        let t = truth();
        let us = log2(t.samples.iter().map(|s| s.issue_ns / 1000));
        let c = compare(&claim("disk.latency", 1), &us, &t);
        // The tool's µs buckets [2048, 4096) read as ns, then log2 buckets
        // on up to [2^21, 2^22) ns, where the truth's 3.1-3.3 ms lie.
        assert_eq!(c.rows.first().map(|r| (r.lo, r.tool)), Some((2048, 200)));
        let last = c.rows.last().unwrap();
        assert_eq!(
            (last.lo, last.hi, last.tool, last.truth),
            (1 << 21, Some(1 << 22), 0, 200)
        );
        assert_eq!(c.rows.iter().map(|r| r.truth).sum::<u64>(), 200);
    }

    #[test]
    fn sizes_are_exact_and_sectors_under_a_bytes_label_are_named() {
        let sizes = |b: u32, n: usize, comm: &'static str| {
            (0..n).map(move |_| RequestSample {
                issue_ns: 1,
                queue_ns: 1,
                bytes: b,
                write: false,
                comm: comm.into(),
            })
        };
        let t = RequestSamples {
            samples: sizes(131072, 100, "tcw-1")
                .chain(sizes(16384, 50, "tcw-1"))
                .chain(sizes(4096, 20, "jbd2/nullb0-8"))
                .collect(),
            ..RequestSamples::default()
        };
        let mut c = claim("disk.request_size", 1);
        c.keys = vec![KeyKind::Comm];
        let own = |f: fn(u32) -> u64| {
            log2(
                t.samples
                    .iter()
                    .filter(|s| s.comm == "tcw-1")
                    .map(|s| f(s.bytes)),
            )
        };
        assert!(fit(&c, &own(|b| b as u64), &t).is_none());
        let d = fit(&c, &own(|b| b as u64 / 512), &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongUnit, "{}", d.sentence);
        assert!(d.sentence.contains("sectors"), "{}", d.sentence);
        // A byte more stays in its log2 bucket; three times as much does not.
        let d = fit(&c, &own(|b| b as u64 + 1), &t);
        assert!(d.is_none(), "{d:?}");
        let d = fit(&c, &own(|b| b as u64 * 3), &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongShape, "{}", d.sentence);
        // Device-wide, the journal's requests are in the truth too.
        c.keys = vec![];
        assert!(fit(&c, &own(|b| b as u64), &t).is_some());
    }

    #[test]
    fn a_short_count_says_what_is_missing() {
        let t = truth();
        let c = claim("disk.latency", 1);
        let all = log2(t.samples.iter().map(|s| s.issue_ns));
        let mut short = all.clone();
        short[0].count -= 50;
        let d = count(&c, &short, &t);
        assert_eq!(d.finding, Finding::MissingSamples);
        assert!(d.sentence.contains("misses 50"), "{}", d.sentence);
        assert!(
            d.sentence.contains("lie where the truth's do"),
            "{}",
            d.sentence
        );
        let mut more = all.clone();
        more[0].count += 60;
        assert!(count(&c, &more, &t).sentence.contains("other devices"));
        // Fewer samples, and in the wrong place: no claim about its shape.
        let far = vec![Bucket {
            lo: 1 << 30,
            hi: Some(1 << 31),
            count: 10,
        }];
        assert!(!count(&c, &far, &t).sentence.contains("lie where"));
    }
    /// 140 read-family calls: 20 at EOF in a µs, 120 copies of ~0.5 ms
    /// from the page cache; and 30 requests the first pass made.
    fn calls() -> RequestSamples {
        RequestSamples {
            calls: (0..140u64)
                .map(|i| tracecheck_model::CallSample {
                    ns: if i < 20 {
                        1_000 + i
                    } else {
                        500_000 + i * 1_000
                    },
                    entered_ns: (i + 1) * 1_000_000,
                    tid: 7,
                    comm: "tcw-1".into(),
                })
                .chain([tracecheck_model::CallSample {
                    ns: 9_000_000,
                    entered_ns: 0,
                    tid: 8,
                    comm: "other".into(),
                }])
                .collect(),
            ..truth()
        }
    }

    #[test]
    fn read_calls_are_held_to_the_calls_not_the_requests() {
        let t = calls();
        let mut c = claim("syscall.read_latency", 1);
        c.keys = vec![KeyKind::Comm];
        let mine = || t.calls.iter().filter(|s| s.comm == "tcw-1").map(|s| s.ns);
        assert!(fit(&c, &log2(mine()), &t).is_none());
        let d = fit(&c, &log2(mine().map(|n| n / 1000)), &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongUnit, "{}", d.sentence);
        // The device's requests instead: 200 samples, not 140.
        let d = count(&c, &log2(t.samples.iter().map(|s| s.issue_ns)), &t);
        assert_eq!(d.finding, Finding::MissingSamples);
        assert!(
            d.sentence.contains(
                "where tcw-1 made 140 read-family calls: 60 more, calls of another family"
            ),
            "{}",
            d.sentence
        );
        // read() alone: a quarter of them.
        let d = count(&c, &log2(mine().take(35)), &t);
        assert!(d.sentence.contains("misses 105"), "{}", d.sentence);
        assert!(
            d.sentence.contains("a call of the family"),
            "{}",
            d.sentence
        );
        // Under TCG a tool's probes ran tens of µs inside the witness's:
        // the run's own gap (the workload's clock over the witness's)
        // widens the slack at each bound by as much.
        let short = log2(mine().map(|n| n.saturating_sub(60_000)));
        assert!(fit(&c, &short, &t).is_some());
        // 70 µs around most calls; a few waited 5 ms for a CPU after
        // theirs, which the median leaves out.
        let tallies = Tallies {
            read_calls_clocked: t
                .calls
                .iter()
                .filter(|s| s.comm == "tcw-1")
                .enumerate()
                .map(|(i, s)| tracecheck_model::ClockedCall {
                    tid: s.tid,
                    start_ns: s.entered_ns - 1_000,
                    end_ns: s.entered_ns + s.ns + if i % 10 == 0 { 5_000_000 } else { 69_000 },
                })
                .collect(),
            ..Tallies::default()
        };
        let s = subject();
        let lens = Lens::of(&c, &s).with_gap(&tallies, &t);
        assert_eq!(lens.gap, 70_000);
        assert!(misfit(&c, &short, &t, lens).is_none());
        // The same calls twice as long fit neither unit nor span.
        let d = fit(&c, &log2(mine().map(|n| n * 2)), &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongShape, "{}", d.sentence);
        assert!(d.sentence.contains("the calls' times"), "{}", d.sentence);
    }
}
