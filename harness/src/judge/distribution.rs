//! A latency claim's histogram held against the witness's timing of every
//! request, edge by edge: at each bucket bound the tool's count of samples
//! below it must be the truth's, within the claim's tolerance of the
//! sample count and with room for samples that lie near the bound (the
//! tool's timestamps are not the witness's). When the histogram does not
//! fit, the wrong quantities a script plausibly prints are tried in turn:
//! another unit (µs under a ns label: 1000×, 1024×), the other span
//! (queueing counted as device time, or the reverse), both.

use super::evidence::Subject;
use crate::spec::{Claim, KeyKind};
use crate::verdict::{BucketRow, Diagnosis, Finding, HistogramComparison};
use tracecheck_model::latency::{count_in, quantile};
use tracecheck_model::{Bucket, Latencies, Layer, ToolOutput, Value};

/// How far a sample may lie from a bucket bound and still fall on either
/// side of it in the tool's histogram: 5% of the bound plus 20 µs, for the
/// time between the tool's probe and the witness's firing on the same
/// event (a few µs natively, tens under TCG).
fn slack(bound: u64) -> u64 {
    bound / 20 + 20_000
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
    let dev_at = claim.keys.iter().position(|k| *k == KeyKind::Device);
    let mut merged: Vec<Bucket> = Vec::new();
    for e in &map.entries {
        if let Some(k) = dev_at.and_then(|i| e.keys.get(i)) {
            if !subject.is_device(k) {
                continue;
            }
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

/// The tool's buckets in nanoseconds, its values taken to be `unit_ns`
/// each; negative bounds (lhist's underflow) start at 0.
fn in_ns(buckets: &[Bucket], unit_ns: f64) -> Vec<(u64, Option<u64>, u64)> {
    let ns = |v: i64| (v.max(0) as f64 * unit_ns).round() as u64;
    buckets
        .iter()
        .map(|b| (ns(b.lo), b.hi.map(ns), b.count))
        .collect()
}

/// Where the tool's histogram and the truth part: the first bound at which
/// the count below it differs by more than `tol`, even granting every
/// sample near the bound to either side. `None` when they agree at every
/// bound.
fn first_misfit(tool: &[(u64, Option<u64>, u64)], truth: &[u64], tol: u64) -> Option<String> {
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
        let s = slack(x);
        let lo = count_in(truth, 0, Some(x.saturating_sub(s)));
        let hi = count_in(truth, 0, Some(x.saturating_add(s)));
        if tool_below + tol < lo || tool_below > hi + tol {
            return Some(format!(
                "{} of its samples lie below {}, where {} of the truth's do",
                tool_below,
                human_ns(x),
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

/// Does the tool's histogram fit `truth` (sorted ns) with its values taken
/// as `unit_ns` each?
fn fits(buckets: &[Bucket], unit_ns: f64, truth: &[u64], tol: u64) -> bool {
    !truth.is_empty() && first_misfit(&in_ns(buckets, unit_ns), truth, tol).is_none()
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

fn unit_word(ns: u64) -> &'static str {
    match ns {
        1 => "ns",
        1_000 => "µs",
        1_000_000 => "ms",
        1_000_000_000 => "s",
        1_024 => "units of 1024 ns",
        1_048_576 => "units of 2^20 ns",
        _ => "units",
    }
}

/// The span a layer's latency covers, in words.
fn span(layer: Layer) -> &'static str {
    match layer {
        Layer::Block => "from the request's creation, queueing included, to its completion",
        _ => "from the request's issue to the device to its completion",
    }
}

/// The tool's median bucket, as printed.
fn median_bucket(buckets: &[Bucket], unit_ns: f64) -> Option<String> {
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    let mut seen = 0;
    for (lo, hi, n) in in_ns(buckets, unit_ns) {
        seen += n;
        if seen * 2 >= total && total > 0 {
            return Some(match hi {
                Some(h) => format!("[{}, {})", human_ns(lo), human_ns(h)),
                None => format!("{} and over", human_ns(lo)),
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
pub fn comparison(claim: &Claim, buckets: &[Bucket], lat: &Latencies) -> HistogramComparison {
    let unit_ns = claim.latency_unit_ns.unwrap_or(1);
    let truth = lat.sorted(claim.metric.layer);
    let mut bounds: Vec<(i64, Option<i64>, u64)> =
        buckets.iter().map(|b| (b.lo, b.hi, b.count)).collect();
    extend_to_cover(&mut bounds, &truth, unit_ns);
    let ns = |v: i64| v.max(0) as u64 * unit_ns;
    HistogramComparison {
        unit: unit_word(unit_ns).to_string(),
        rows: bounds
            .iter()
            .map(|&(lo, hi, tool)| BucketRow {
                lo,
                hi,
                tool,
                truth: count_in(&truth, ns(lo), hi.map(ns)),
            })
            .collect(),
        truth_below: count_in(&truth, 0, bounds.first().map(|b| ns(b.0))),
        truth_median_ns: quantile(&truth, 0.5),
        truth_p99_ns: quantile(&truth, 0.99),
    }
}

/// Most buckets a comparison is carried on by, either way.
const MAX_EXTRA_BUCKETS: usize = 40;

/// Add empty tool buckets below and above `rows` until the truth's samples
/// (ns, sorted) lie within them: log2 when the last bucket doubles, else
/// linear of its width.
fn extend_to_cover(rows: &mut Vec<(i64, Option<i64>, u64)>, truth: &[u64], unit_ns: u64) {
    let (Some(&(first_lo, first_hi, _)), Some(&(last_lo, last_hi, _))) =
        (rows.first(), rows.last())
    else {
        return;
    };
    let (Some(lo_ns), Some(hi_ns)) = (truth.first(), truth.last()) else {
        return;
    };
    let in_units = |ns: u64| (ns / unit_ns.max(1)) as i64;
    let log2 = |lo: i64, hi: Option<i64>| hi == Some(lo * 2) && lo > 0;
    // Upward, from a closed last bucket.
    if let Some(mut hi) = last_hi {
        let width = hi - last_lo;
        let doubling = log2(last_lo, last_hi);
        let mut n = 0;
        while hi <= in_units(*hi_ns) && n < MAX_EXTRA_BUCKETS && width > 0 {
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
    while lo > in_units(*lo_ns) && below.len() < MAX_EXTRA_BUCKETS && width > 0 {
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

/// The unit factors a script plausibly gets wrong, as the factor its
/// values are off by (value printed × factor = claimed unit), with words.
const UNIT_SLIPS: &[(f64, &str)] = &[
    (1e3, "its values are 1000× smaller than the claim's unit: it divides once too often (µs under a ns label, ms under µs)"),
    (1e-3, "its values are 1000× larger than the claim's unit: it forgot to divide (ns under a µs label, µs under ms)"),
    (1024.0, "its values are 1024× smaller than the claim's unit: it shifts by 10 bits (>> 10) where it means /1000, or once too often"),
    (1.0 / 1024.0, "its values are 1024× larger than the claim's unit"),
    (1e6, "its values are 10^6× smaller than the claim's unit (ms under a ns label)"),
    (1e-6, "its values are 10^6× larger than the claim's unit (ns under a ms label)"),
];

/// Why a latency histogram whose sample count is right does not fit the
/// truth, or `None` when it fits.
pub fn misfit(claim: &Claim, buckets: &[Bucket], lat: &Latencies) -> Option<Diagnosis> {
    let unit_ns = claim.latency_unit_ns.unwrap_or(1) as f64;
    let layer = claim.metric.layer;
    let truth = lat.sorted(layer);
    let n = truth.len() as u64;
    let tol = claim.tolerance.widen(n, n).1.saturating_sub(n).max(1);
    let tool = in_ns(buckets, unit_ns);
    let why = first_misfit(&tool, &truth, tol)?;
    let other = if layer == Layer::Block {
        Layer::Disk
    } else {
        Layer::Block
    };
    let other_truth = lat.has_queue_times().then(|| lat.sorted(other));
    let medians = format!(
        "its median bucket is {}, the truth's median {} (p99 {})",
        median_bucket(buckets, unit_ns).unwrap_or_else(|| "none".into()),
        human_ns(quantile(&truth, 0.5).unwrap_or(0)),
        human_ns(quantile(&truth, 0.99).unwrap_or(0)),
    );
    let span_words = format!(
        "it times {}, where the claim's `{}` is {}",
        span(other),
        claim.metric.name(),
        span(layer)
    );
    // Another unit, on the right span.
    for (f, words) in UNIT_SLIPS {
        if fits(buckets, unit_ns * f, &truth, tol) {
            let steps = f.log2().abs().round();
            return Some(Diagnosis {
                finding: Finding::WrongTimeUnit,
                sentence: format!(
                    "{words}: read as {} its histogram matches the truth, {steps} log2 buckets away from where the \
                     claim's unit puts it ({why}; {medians})",
                    unit_word((unit_ns * f).round() as u64)
                ),
            });
        }
    }
    if let Some(ot) = &other_truth {
        if fits(buckets, unit_ns, ot, tol) {
            return Some(Diagnosis {
                finding: Finding::WrongSpan,
                sentence: format!(
                    "{span_words}: its histogram matches the witness's {} times ({why}; {medians})",
                    other.as_str()
                ),
            });
        }
        for (f, words) in UNIT_SLIPS {
            if fits(buckets, unit_ns * f, ot, tol) {
                return Some(Diagnosis {
                    finding: Finding::WrongSpan,
                    sentence: format!("{span_words}, and {words} ({why}; {medians})"),
                });
            }
        }
    }
    Some(Diagnosis {
        finding: Finding::WrongShape,
        sentence: format!(
            "its histogram does not match the requests' latencies {} in any plausible unit: {why}; {medians}",
            span(layer)
        ),
    })
}

/// Why a latency histogram holds the wrong number of samples, and whether
/// the samples it did print lie where the truth's do (then it drops whole
/// requests rather than timing them wrong).
pub fn miscount(
    claim: &Claim,
    buckets: &[Bucket],
    lat: &Latencies,
    has_device_key: bool,
) -> Diagnosis {
    let truth = lat.sorted(claim.metric.layer);
    let truth_n = truth.len() as u64;
    let reported: u64 = buckets.iter().map(|b| b.count).sum();
    let unit_ns = claim.latency_unit_ns.unwrap_or(1) as f64;
    let median = quantile(&truth, 0.5).unwrap_or(0);
    // The tool's median bucket holds the truth's median (granting the
    // bound's slack): its samples are the truth's, fewer or more of them.
    let placed = {
        let total: u64 = reported;
        let mut seen = 0;
        in_ns(buckets, unit_ns).into_iter().find_map(|(lo, hi, n)| {
            seen += n;
            (total > 0 && seen * 2 >= total).then(|| {
                lo.saturating_sub(slack(lo)) <= median
                    && hi.is_none_or(|h| median < h.saturating_add(slack(h)))
            })
        })
    }
    .unwrap_or(false);
    let shape = if placed {
        format!(
            "; the samples it printed lie where the truth's do (its median bucket {} holds the truth's median {}), so it \
             drops or adds whole requests rather than timing them wrong",
            median_bucket(buckets, unit_ns).unwrap_or_default(),
            human_ns(median)
        )
    } else {
        String::new()
    };
    let sentence = if reported < truth_n {
        format!(
            "it holds {reported} samples where the device completed {truth_n} requests with data: it misses {} (a \
             start event some requests never pass, requests it forgets between intervals or at its end, or a start \
             stamp keyed by something two requests share){shape}",
            truth_n - reported
        )
    } else {
        format!(
            "it holds {reported} samples where the scratch device completed {truth_n} requests with data: {} more, {}{shape}",
            reported - truth_n,
            if has_device_key {
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
    use tracecheck_model::{Metric, RequestLatency};

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
            latency_unit_ns: Some(unit_ns),
        }
    }

    /// 200 requests at 3.1–3.3 ms at the device, each queued 3–12 ms more.
    fn truth() -> Latencies {
        Latencies {
            samples: (0..200u64)
                .map(|i| RequestLatency {
                    issue_ns: 3_100_000 + (i % 3) * 100_000,
                    queue_ns: 3_100_000 + (i % 3) * 100_000 + 3_000_000 * (1 + i % 3),
                    bytes: 4096,
                    write: i % 2 == 0,
                })
                .collect(),
            ..Latencies::default()
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
        assert!(misfit(&claim("disk.latency", 1), &ns, &t).is_none());
        let us = log2(t.samples.iter().map(|s| s.issue_ns / 1000));
        assert!(misfit(&claim("disk.latency", 1000), &us, &t).is_none());
        let queued = log2(t.samples.iter().map(|s| s.queue_ns));
        assert!(misfit(&claim("block.latency", 1), &queued, &t).is_none());
    }

    #[test]
    fn microseconds_under_a_nanosecond_label_are_named() {
        let t = truth();
        let us = log2(t.samples.iter().map(|s| s.issue_ns / 1000));
        let d = misfit(&claim("disk.latency", 1), &us, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongTimeUnit, "{}", d.sentence);
        assert!(d.sentence.contains("1000× smaller"), "{}", d.sentence);
        assert!(d.sentence.contains("read as µs"), "{}", d.sentence);
    }

    #[test]
    fn queue_time_counted_as_device_time_is_named() {
        let t = truth();
        let queued = log2(t.samples.iter().map(|s| s.queue_ns));
        let d = misfit(&claim("disk.latency", 1), &queued, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongSpan, "{}", d.sentence);
        assert!(d.sentence.contains("queueing included"), "{}", d.sentence);
        // And the reverse: device time where the claim includes the queue.
        let device = log2(t.samples.iter().map(|s| s.issue_ns));
        let d = misfit(&claim("block.latency", 1), &device, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongSpan, "{}", d.sentence);
        assert!(d.sentence.contains("issue to the device"), "{}", d.sentence);
    }

    #[test]
    fn samples_near_a_bound_may_fall_either_side() {
        // Every truth sample just under 2^22 ns; the tool saw them all
        // just over it (its probe fired a few µs later).
        let t = Latencies {
            samples: (0..100)
                .map(|_| RequestLatency {
                    issue_ns: (1 << 22) - 10_000,
                    queue_ns: (1 << 22) - 10_000,
                    bytes: 4096,
                    write: false,
                })
                .collect(),
            ..Latencies::default()
        };
        let over = vec![Bucket {
            lo: 1 << 22,
            hi: Some(1 << 23),
            count: 100,
        }];
        assert!(misfit(&claim("disk.latency", 1), &over, &t).is_none());
        // Two buckets further is no jitter.
        let far = vec![Bucket {
            lo: 1 << 24,
            hi: Some(1 << 25),
            count: 100,
        }];
        let d = misfit(&claim("disk.latency", 1), &far, &t).expect("misfit");
        assert_eq!(d.finding, Finding::WrongShape, "{}", d.sentence);
    }

    #[test]
    fn a_comparison_is_carried_on_to_where_the_truth_lies() {
        let t = truth();
        let us = log2(t.samples.iter().map(|s| s.issue_ns / 1000));
        let c = comparison(&claim("disk.latency", 1), &us, &t);
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
    fn a_short_count_says_what_is_missing() {
        let t = truth();
        let c = claim("disk.latency", 1);
        let all = log2(t.samples.iter().map(|s| s.issue_ns));
        let mut short = all.clone();
        short[0].count -= 50;
        let d = miscount(&c, &short, &t, false);
        assert_eq!(d.finding, Finding::MissingSamples);
        assert!(d.sentence.contains("misses 50"), "{}", d.sentence);
        assert!(
            d.sentence.contains("lie where the truth's do"),
            "{}",
            d.sentence
        );
        let mut more = all.clone();
        more[0].count += 60;
        assert!(miscount(&c, &more, &t, false)
            .sentence
            .contains("other devices"));
        // Fewer samples, and in the wrong place: no claim about its shape.
        let far = vec![Bucket {
            lo: 1 << 30,
            hi: Some(1 << 31),
            count: 10,
        }];
        assert!(!miscount(&c, &far, &t, false).sentence.contains("lie where"));
    }
}
