//! The HTML report (`--html FILE`): one self-contained page a person opens
//! in a browser. For every verdict: the tool's number beside the truth's
//! as bars on the same axis (the truth's range and the accepted range as
//! bands), the status and the diagnosis in the table's words, and, when
//! the tool printed a histogram for the claim, that histogram.
//!
//! Pure: records and specs in, a String out. The charts are plotters' SVG,
//! inlined; the CSS is inline too, and the page has no script and loads
//! nothing, so it reads the same offline, attached to a CI run, years on.

use crate::judge::reading::key_at;
use crate::record::CheckRecord;
use crate::report::{overall, summary};
use crate::spec::{Claim, KeyKind, ToolSpec};
use crate::units::{num, range};
use crate::verdict::{Status, Verdict};
use plotters::prelude::*;
use std::collections::BTreeMap;
use tracecheck_model::{Bucket, Direction, MapEntry, Value};

/// The tool's bars, in every chart.
pub const TOOL_COLOR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
/// The truth's bars, in every chart.
pub const TRUTH_COLOR: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
/// The accepted range (the truth widened by the tolerance).
const ACCEPTED_COLOR: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);

const CHART_W: u32 = 540;
const CHART_H: u32 = 300;

/// A claim's distribution as the tool printed it, and the truth's when one
/// is known, for [`histogram_svg`].
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// The tool's map the buckets come from (`@`, `@usecs`).
    pub map: String,
    /// The workload's buckets, summed over its entries (a tool keyed by
    /// comm and pid prints one histogram per pair). Empty when the map
    /// holds histograms but none of them is the workload's.
    pub tool: Vec<Bucket>,
    /// The truth's buckets: a latency claim's, the witness's timings
    /// counted in the tool's bounds; `None` for other histograms (a
    /// count's truth is a number, drawn in the totals chart).
    pub truth: Option<Vec<Bucket>>,
}

/// The page: a summary, then each tool's checks, one section per verdict.
/// `specs` are the specs the records came from (matched by path); without
/// a record's spec its histograms are not found, and the rest is drawn.
pub fn page(records: &[CheckRecord], specs: &[ToolSpec]) -> String {
    let mut o = String::new();
    o += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    o += "<title>tracecheck report</title>\n<style>\n";
    o += CSS;
    o += "</style>\n</head>\n<body>\n<h1>tracecheck report</h1>\n";
    o += &summary_html(records);
    if records.is_empty() {
        o += "<p>No check finished, so there is nothing to draw.</p>\n";
    }
    let mut tools: Vec<&str> = records.iter().map(|r| r.tool.as_str()).collect();
    tools.dedup();
    let mut n = 0;
    for tool in tools {
        let rs: Vec<&CheckRecord> = records.iter().filter(|r| r.tool == tool).collect();
        let first = rs[0];
        o += &format!(
            "<section class=\"tool\">\n<h2>{}</h2>\n<p class=\"where\">{} &middot; on {}, scratch disk {}</p>\n",
            escape(tool),
            escape(&first.spec.display().to_string()),
            escape(&first.environment),
            escape(&first.device)
        );
        for r in &rs {
            // A guest's records name the spec by its absolute path.
            let same = |a: &std::path::Path, b: &std::path::Path| {
                a == b
                    || a.canonicalize()
                        .ok()
                        .is_some_and(|a| Some(a) == b.canonicalize().ok())
            };
            let spec = specs.iter().find(|s| same(&s.path, &r.spec));
            for v in &r.verdicts {
                n += 1;
                let dist = spec.and_then(|s| distribution(s, r, v));
                o += &verdict_html(n, r, v, dist.as_ref());
            }
            o += &tool_output_html(r);
        }
        o += &diskstats_html(&rs);
        o += "</section>\n";
    }
    o += &format!(
        "<footer>tracecheck {}: every number here is also in the run's record file (JSON lines).</footer>\n",
        env!("CARGO_PKG_VERSION")
    );
    o += "</body>\n</html>\n";
    o
}

const CSS: &str = "\
body { font-family: sans-serif; margin: 2em auto; max-width: 1160px; color: #222; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.where, footer { color: #666; }
.summary { font-size: 1.2em; }
table.verdicts { border-collapse: collapse; margin: 1em 0; }
table.verdicts td, table.verdicts th { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; color: #fff; }
.status.PASS { background: #2a7d2a; }
.status.FAIL { background: #c0392b; }
.status.ERROR { background: #8e44ad; }
.status.SKIP { background: #b7950b; }
.status.FLAKY { background: #d35400; }
.verdict { border: 1px solid #ddd; border-radius: 0.4em; padding: 0.6em 1em; margin: 1em 0; }
.verdict h3 { margin: 0.2em 0; }
.meta { color: #555; margin: 0.2em 0; }
.diagnosis { background: #fdf2f0; border-left: 4px solid #c0392b; padding: 0.4em 0.8em; }
.fix, .note { color: #555; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; }
figcaption { color: #555; font-size: 0.9em; max-width: 540px; }
pre.out { max-height: 12em; overflow: auto; background: #f6f6f6; padding: 0.5em; }
";

fn summary_html(records: &[CheckRecord]) -> String {
    let s = summary(records);
    let mut o = format!(
        "<p class=\"summary\">{}: {} (exit status {})</p>\n",
        status_html(overall(records)),
        s.counts(),
        s.exit_code
    );
    // The table's columns, linking to each verdict's charts below.
    o += "<table class=\"verdicts\">\n<tr><th>tool</th><th>claim</th><th>workload</th><th></th><th>reported</th><th>truth</th></tr>\n";
    let mut n = 0;
    for r in records {
        for v in &r.verdicts {
            n += 1;
            o += &format!(
                "<tr><td>{}</td><td><a href=\"#v{n}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                escape(&r.tool),
                escape(&v.claim),
                escape(&workload_label(r, v)),
                status_html(v.status),
                escape(&reported_words(v)),
                escape(&truth_words(v)),
            );
        }
    }
    o += "</table>\n";
    o
}

fn status_html(s: Status) -> String {
    format!("<span class=\"status {0}\">{0}</span>", s.word())
}

/// The workload as the table names it, with the direction a claim was
/// judged in.
fn workload_label(r: &CheckRecord, v: &Verdict) -> String {
    match v.metric.fixed_direction() {
        Some(Direction::Read) => format!("{} [r]", r.workload),
        Some(Direction::Write) => format!("{} [w]", r.workload),
        None => r.workload.clone(),
    }
}

fn reported_words(v: &Verdict) -> String {
    v.reported
        .map(|x| format!("{} {}", num(x), v.unit))
        .unwrap_or_else(|| "-".into())
}

fn truth_words(v: &Verdict) -> String {
    v.truth
        .as_ref()
        .map(|t| format!("{} {} ({})", range(t.lo, t.hi), v.unit, t.source.as_str()))
        .unwrap_or_else(|| "-".into())
}

fn verdict_html(n: usize, r: &CheckRecord, v: &Verdict, dist: Option<&Distribution>) -> String {
    let mut o = format!(
        "<div class=\"verdict\" id=\"v{n}\">\n<h3>{} {}</h3>\n",
        status_html(v.status),
        escape(&v.claim)
    );
    o += &format!(
        "<p class=\"meta\">{} &middot; metric <code>{}</code> &middot; workload <b>{}</b> (process {})</p>\n",
        escape(&r.tool),
        escape(v.metric.name()),
        escape(&workload_label(r, v)),
        escape(&r.comm)
    );
    let accepted = v
        .accepted
        .map(|(lo, hi)| {
            format!(
                "; accepted {} {} (tolerance {})",
                range(lo, hi),
                v.unit,
                v.tolerance
            )
        })
        .unwrap_or_default();
    o += &format!(
        "<p>reported <b>{}</b>, truth <b>{}</b>{}</p>\n",
        escape(&reported_words(v)),
        escape(&truth_words(v)),
        escape(&accepted)
    );
    // The same words as the table, unwrapped: the browser wraps.
    if let Some(d) = &v.diagnosis {
        o += &format!("<p class=\"diagnosis\">{}</p>\n", escape(&d.sentence));
    }
    if let Some(f) = &v.fix {
        o += &format!("<p class=\"fix\">to measure it: {}</p>\n", escape(f));
    }
    for note in &v.notes {
        o += &format!("<p class=\"note\">note: {}</p>\n", escape(note));
    }
    o += "<div class=\"charts\">\n";
    match totals_svg(v) {
        Some(svg) => {
            o += &format!(
                "<figure>{svg}<figcaption>Totals: the tool's number (blue) beside the truth's (orange; a range is shaded above its low end), with the accepted range in green.</figcaption></figure>\n"
            )
        }
        None => o += "<p>Neither the tool nor the truth has a number to draw.</p>\n",
    }
    if let Some(d) = dist {
        if d.tool.is_empty() && d.truth.is_none() {
            o += &format!(
                "<p>The tool printed histograms in {}, none of them for this workload.</p>\n",
                escape(&d.map)
            );
        } else {
            let title = format!("histogram {} for {}", d.map, r.comm);
            let svg = histogram_svg(&title, "", &d.tool, d.truth.as_deref());
            let caption = match d.truth {
                Some(_) => "The tool's histogram (blue) beside the truth's (orange), bucket by bucket.",
                None => "The tool's histogram, buckets as it printed them. No truth distribution recorded.",
            };
            o += &format!("<figure>{svg}<figcaption>{caption}</figcaption></figure>\n");
        }
    }
    o += "</div>\n</div>\n";
    o
}

/// Lines of the tool's stdout shown under a check; the record file keeps
/// all of it.
const STDOUT_LINES: usize = 60;

/// What the tool printed for a check, folded away (`<details>` needs no
/// script): the evidence under the numbers.
fn tool_output_html(r: &CheckRecord) -> String {
    let t = &r.tool_run;
    let lines: Vec<&str> = t.stdout.lines().collect();
    let shown = lines.len().min(STDOUT_LINES);
    let mut text = lines[..shown].join("\n");
    if lines.len() > shown {
        text += &format!("\n[{} more lines in the record file]", lines.len() - shown);
    }
    let shared = if r.tool_run_shared.is_some() {
        " (one run of the tool served several workloads: this is the whole run's output)"
    } else {
        ""
    };
    let mut o = format!(
        "<details><summary>What the tool printed beside {}{shared}: <code>{}</code></summary>\n<pre class=\"out\">{}</pre>\n",
        escape(&r.workload),
        escape(&t.command.join(" ")),
        escape(&text)
    );
    if !t.stderr_tail.is_empty() {
        o += &format!(
            "<p class=\"meta\">the end of its stderr:</p>\n<pre class=\"out\">{}</pre>\n",
            escape(&t.stderr_tail.join("\n"))
        );
    }
    o += "</details>\n";
    o
}

fn diskstats_html(rs: &[&CheckRecord]) -> String {
    let mut o = String::from(
        "<p class=\"meta\">iostat's view of the scratch disk (/proc/diskstats) during each workload:</p>\n<ul class=\"meta\">\n",
    );
    for r in rs {
        let line = match r.diskstats {
            Some(d) => format!(
                "read {} B in {} I/Os, wrote {} B in {} I/Os, {} flushes",
                num(d.read_bytes),
                num(d.read_ios),
                num(d.write_bytes),
                num(d.write_ios),
                num(d.flushes)
            ),
            None => "not measured (the tool did not run)".into(),
        };
        o += &format!("<li>{}: {}</li>\n", escape(&r.workload), escape(&line));
    }
    o += "</ul>\n";
    o
}

/// Text for HTML element content and attribute values. Everything from a
/// record passes through here: tool output and names are untrusted.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o += "&amp;",
            '<' => o += "&lt;",
            '>' => o += "&gt;",
            '"' => o += "&quot;",
            '\'' => o += "&#39;",
            c => o.push(c),
        }
    }
    o
}

/// The tool's histogram for verdict `v` of record `r`: the claim's map
/// parsed again from the tool's stdout (the record keeps the text, not the
/// parse), the workload's entries picked as the judge picks them (its comm
/// or pids; the verdict's direction), their buckets summed. `None` when the
/// claim's map holds no histogram, e.g. a scalar count.
pub fn distribution(spec: &ToolSpec, r: &CheckRecord, v: &Verdict) -> Option<Distribution> {
    let claim = spec.claims.iter().find(|c| c.name == v.claim)?;
    // A latency claim's verdict carries the tool's buckets and the
    // witness's count in each.
    if let Some(h) = &v.histogram {
        let buckets = |pick: fn(&crate::verdict::BucketRow) -> u64| {
            h.rows
                .iter()
                .map(|row| Bucket {
                    lo: row.lo,
                    hi: row.hi,
                    count: pick(row),
                })
                .collect::<Vec<_>>()
        };
        return Some(Distribution {
            map: format!("{} ({})", claim.map, h.unit),
            tool: buckets(|row| row.tool),
            truth: Some(buckets(|row| row.truth)),
        });
    }
    // A table claim counts rows; rows are no histogram.
    if claim.table.is_some() {
        return None;
    }
    let out = tracecheck_probes::parse(spec.format, &r.tool_run.stdout).ok()?;
    let map = out.map(&claim.map)?;
    let pids = r
        .ground_truth
        .as_ref()
        .map(|g| g.pids.as_slice())
        .unwrap_or_default();
    let dir = v.metric.fixed_direction();
    // Keyed by (lo, hi) with the open last bucket sorting last.
    let mut sums: BTreeMap<(i64, i64), u64> = BTreeMap::new();
    let mut any = false;
    for e in &map.entries {
        let Value::Histogram(buckets) = &e.value else {
            continue;
        };
        any = true;
        if !workloads_entry(claim, e, &r.comm, pids, dir) {
            continue;
        }
        for b in buckets {
            *sums.entry((b.lo, b.hi.unwrap_or(i64::MAX))).or_insert(0) += b.count;
        }
    }
    any.then(|| Distribution {
        map: claim.map.clone(),
        tool: sums
            .into_iter()
            .map(|((lo, hi), count)| Bucket {
                lo,
                hi: (hi != i64::MAX).then_some(hi),
                count,
            })
            .collect(),
        truth: None,
    })
}

/// Is entry `e` the workload's, for a claim judged in direction `dir`?
/// The keys the judge reads (harness/src/judge/reading.rs), less the
/// device: a histogram is drawn for what the process did on any device.
fn workloads_entry(
    claim: &Claim,
    e: &MapEntry,
    comm: &str,
    pids: &[u32],
    dir: Option<Direction>,
) -> bool {
    let key = |kind: KeyKind| key_at(claim, e, kind).map(str::trim);
    if let (Some(want), Some(k)) = (dir, key(KeyKind::Direction)) {
        if Direction::from_key(k) != Some(want) {
            return false;
        }
    }
    !claim.per_process()
        || key(KeyKind::Comm).is_some_and(|c| c == comm)
        || key(KeyKind::Pid)
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| pids.contains(&p))
}

/// A bucket's lower bound as bpftrace prints it: 4096 is `4K`.
fn bound(v: i64) -> String {
    for (shift, suffix) in [
        (60, "E"),
        (50, "P"),
        (40, "T"),
        (30, "G"),
        (20, "M"),
        (10, "K"),
    ] {
        let unit = 1i64 << shift;
        if v != 0 && v % unit == 0 {
            return format!("{}{suffix}", v / unit);
        }
    }
    v.to_string()
}

/// The x-axis label of a bucket `[lo, hi)`: its lower bound, which is
/// enough to read a log2 histogram and stays short under a narrow bar.
fn bucket_label(b: &Bucket) -> String {
    match (b.lo, b.hi) {
        // bpftrace's `(..., B)`: everything below B.
        (i64::MIN, Some(hi)) => format!("<{}", bound(hi)),
        (lo, None) => format!("{}+", bound(lo)),
        (lo, Some(_)) => bound(lo),
    }
}

/// The label of slot `i` on a categorical x axis of `labels`, where
/// slot i is centred on x = i: plotters asks for labels at round numbers,
/// and only whole ones name a slot.
fn slot_label(x: f64, labels: &[String]) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

/// A bar over `x0..x1` from 0 up to `y`.
fn bar(x0: f64, x1: f64, y: u64, color: RGBColor) -> Rectangle<(f64, u64)> {
    Rectangle::new([(x0, 0), (x1, y)], color.filled())
}

/// The top of a chart's y axis: room above the highest bar for the
/// legend, and an axis (integer, so its labels are too) even when every
/// number is 0.
fn headroom(max: u64) -> u64 {
    (max + max / 4).max(2)
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Plotters draws into a String and cannot fail for want of space on
/// disk; a layout it cannot do becomes a line of text instead of a chart.
fn or_message(r: DrawResult<String>) -> String {
    r.unwrap_or_else(|e| format!("<p>(chart not drawn: {})</p>", escape(&e.to_string())))
}

/// The totals chart of one verdict: the tool's number and the truth's as
/// two bars on one axis in the verdict's unit, the truth's range shaded
/// with an error bar, and the accepted range as a band across both. `None`
/// when there is neither number.
pub fn totals_svg(v: &Verdict) -> Option<String> {
    if v.reported.is_none() && v.truth.is_none() {
        return None;
    }
    Some(or_message(draw_totals(v)))
}

fn draw_totals(v: &Verdict) -> DrawResult<String> {
    let truth = v.truth.as_ref().map(|t| (t.lo, t.hi));
    let top = [v.reported, truth.map(|t| t.1), v.accepted.map(|a| a.1)]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
    let top = headroom(top);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_W, CHART_H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{} (total)", v.metric.name()), ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(110)
            .build_cartesian_2d(-0.5f64..1.5, 0u64..top)?;
        let labels = ["tool reported".to_string(), "truth".to_string()];
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2)
            .x_label_formatter(&|x| slot_label(*x, &labels))
            .y_desc(v.unit.as_str())
            .max_light_lines(2)
            .y_label_formatter(&|y| num(*y))
            .draw()?;
        if let Some((lo, hi)) = v.accepted {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(-0.5, lo), (1.5, hi)],
                ACCEPTED_COLOR.mix(0.18).filled(),
            )))?;
        }
        if let Some(x) = v.reported {
            chart.draw_series(std::iter::once(bar(-0.3, 0.3, x, TOOL_COLOR)))?;
        }
        if let Some((lo, hi)) = truth {
            chart.draw_series(std::iter::once(bar(0.7, 1.3, lo, TRUTH_COLOR)))?;
            if hi > lo {
                // The truth is a range: its upper part lighter, with a
                // whisker from end to end.
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(0.7, lo), (1.3, hi)],
                    TRUTH_COLOR.mix(0.35).filled(),
                )))?;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(1.0, lo), (1.0, hi)],
                    BLACK.stroke_width(2),
                )))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}

/// A histogram chart: the tool's buckets, and the truth's beside them on
/// the same axes when given (bucket by bucket, the tool's bar left, the
/// truth's right). The x axis is categorical, one slot per bucket `[lo,
/// hi)` labelled by its lower bound, so log2 and linear histograms read
/// alike; empty buckets outside the ones either side filled are left out.
/// `unit` names the buckets' quantity (e.g. `bytes`, `us`); empty when the
/// tool does not say.
pub fn histogram_svg(title: &str, unit: &str, tool: &[Bucket], truth: Option<&[Bucket]>) -> String {
    or_message(draw_histogram(title, unit, tool, truth))
}

fn draw_histogram(
    title: &str,
    unit: &str,
    tool: &[Bucket],
    truth: Option<&[Bucket]>,
) -> DrawResult<String> {
    // One slot per distinct bucket of either side, in order.
    let key = |b: &Bucket| (b.lo, b.hi.unwrap_or(i64::MAX));
    let mut slots: BTreeMap<(i64, i64), (Bucket, u64, u64)> = BTreeMap::new();
    for b in tool {
        slots.entry(key(b)).or_insert((b.clone(), 0, 0)).1 += b.count;
    }
    for b in truth.unwrap_or_default() {
        slots.entry(key(b)).or_insert((b.clone(), 0, 0)).2 += b.count;
    }
    let mut slots: Vec<(Bucket, u64, u64)> = slots.into_values().collect();
    // bpftrace prints the empty buckets between its first and last; the
    // ones outside them only widen the chart.
    let filled = |s: &(Bucket, u64, u64)| s.1 + s.2 > 0;
    let first = slots.iter().position(filled).unwrap_or(0);
    let last = slots
        .iter()
        .rposition(filled)
        .map_or(slots.len(), |i| i + 1);
    slots = slots.drain(first..last).collect();
    let n = slots.len().max(1);
    let top = headroom(slots.iter().map(|s| s.1.max(s.2)).max().unwrap_or(0));
    let labels: Vec<String> = slots.iter().map(|s| bucket_label(&s.0)).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_W, CHART_H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0u64..top)?;
        let x_desc = if unit.is_empty() {
            "bucket [lo, hi), by lo".to_string()
        } else {
            format!("bucket [lo, hi), by lo ({unit})")
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| slot_label(*x, &labels))
            .x_desc(x_desc)
            .y_desc("count")
            .max_light_lines(2)
            .y_label_formatter(&|y| num(*y))
            .draw()?;
        // Beside each other within a slot when there is a truth to compare.
        let (tool_span, truth_span) = match truth {
            Some(_) => ((-0.4, 0.0), (0.0, 0.4)),
            None => ((-0.4, 0.4), (0.0, 0.0)),
        };
        let at = |i: usize, (a, b): (f64, f64)| (i as f64 + a, i as f64 + b);
        let tool_side = (TOOL_COLOR, "tool", tool_span, false);
        let truth_side = (TRUTH_COLOR, "truth", truth_span, true);
        let sides: &[_] = if truth.is_some() {
            &[tool_side, truth_side]
        } else {
            &[tool_side]
        };
        for &(color, label, span, of_truth) in sides {
            let count = |s: &(Bucket, u64, u64)| if of_truth { s.2 } else { s.1 };
            chart
                .draw_series(slots.iter().enumerate().filter(|(_, s)| count(s) > 0).map(
                    |(i, s)| {
                        let (x0, x1) = at(i, span);
                        bar(x0, x1, count(s), color)
                    },
                ))?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ToolRecord;
    use crate::verdict::{Diagnosis, Finding, TruthUsed};
    use std::path::Path;
    use tracecheck_model::{GroundTruth, Metric, Source};

    const SPEC: &str = r#"
[tool]
name = "bitesize-like"
command = ["bitesize.bt"]

[[claim]]
name = "disk I/Os per process"
map = "@"
keys = ["comm"]
metric = "disk.rw_ios"
"#;

    /// bpftrace's hist() blocks: the workload's, and another process's.
    const STDOUT: &str = "\
Attaching 3 probes...
@[tcw-aaaaaa]:
[4K, 8K)               3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                      |
[8K, 16K)              5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[16K, 32K)             0 |                                                    |
[32K, 64K)             1 |@@@@@@@@@@                                          |

@[sshd]:
[1K, 2K)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
";

    fn spec() -> ToolSpec {
        ToolSpec::parse(Path::new("specs/bitesize-like/spec.toml"), SPEC).unwrap()
    }

    fn verdict(status: Status, reported: u64, truth: u64, metric: &str) -> Verdict {
        Verdict {
            claim: "disk I/Os per process".into(),
            metric: Metric::parse(metric).unwrap(),
            unit: "I/Os".into(),
            workload: "direct-read".into(),
            status,
            reported: Some(reported),
            truth: Some(TruthUsed {
                lo: truth,
                hi: truth + truth / 16,
                source: Source::Workload,
                why: "the workload's design".into(),
            }),
            accepted: Some((truth - truth / 100, truth + truth / 16 + truth / 100)),
            tolerance: "1%".into(),
            diagnosis: None,
            fix: None,
            others: vec![],
            notes: vec![],
            histogram: None,
        }
    }

    fn record(tool: &str, workload: &str, stdout: &str, verdicts: Vec<Verdict>) -> CheckRecord {
        let mut r = CheckRecord::unmeasured(
            tool,
            &Path::new("specs").join(tool).join("spec.toml"),
            workload,
            "host (kernel 6.1.0)".into(),
            "loop0 (7:0)".into(),
            "tcw-aaaaaa",
        );
        r.ground_truth = Some(GroundTruth {
            workload: workload.into(),
            comm: "tcw-aaaaaa".into(),
            pids: vec![4242],
            params: Default::default(),
            tallies: Default::default(),
            truths: vec![],
            needs_writeback: false,
            elapsed_ns: 1,
        });
        r.tool_run = ToolRecord {
            command: vec!["bitesize.bt".into()],
            stdout: stdout.into(),
            ..Default::default()
        };
        r.verdicts = verdicts;
        r
    }

    /// Two checks: a histogram claim that holds, and a byte count that
    /// fails with a diagnosis.
    fn fixture() -> Vec<CheckRecord> {
        let mut fail = verdict(Status::Fail, 352_321_536, 16_777_216, "disk.read_bytes");
        fail.claim = "disk read bytes per process".into();
        fail.unit = "B".into();
        fail.diagnosis = Some(Diagnosis {
            finding: Finding::CountsCacheHitsAsDisk,
            sentence: "reports 352,321,536 B of disk read bytes for the workload (tcw-aaaaaa), \
                       where the truth is 16,777,216 B (diskstats): the script counts page-cache \
                       hits as disk I/O"
                .into(),
        });
        fail.fix = Some("tracepoint:block:block_bio_queue's nr_sector × 512".into());
        fail.notes = vec!["2 duplicate keys summed".into()];
        vec![
            record(
                "bitesize-like",
                "direct-read",
                STDOUT,
                vec![verdict(Status::Pass, 9, 9, "disk.rw_ios")],
            ),
            record(
                "disktop",
                "cached-reread",
                "@disk_read[tcw-aaaaaa]: 352321536\n",
                vec![fail],
            ),
        ]
    }

    /// The page with each chart's SVG reduced to its text (captions, axis
    /// labels, legend): the words and the structure, which a snapshot can
    /// review, rather than thousands of coordinates.
    fn readable(page: &str) -> String {
        let mut o = String::new();
        let mut rest = page;
        while let Some(start) = rest.find("<svg") {
            o += &rest[..start];
            let end = rest[start..].find("</svg>").expect("an svg ends") + start;
            let svg = &rest[start..end];
            let texts: Vec<&str> = svg
                .split("<text")
                .skip(1)
                .filter_map(|t| t.split_once('>').and_then(|(_, t)| t.split_once('<')))
                .map(|(t, _)| t.trim())
                .collect();
            let rects = svg.matches("<rect").count();
            o += &format!("<svg [{rects} rects; text: {}]>", texts.join(" | "));
            rest = &rest[end..];
        }
        o += rest;
        o.replace(env!("CARGO_PKG_VERSION"), "VERSION")
    }

    #[test]
    fn page_for_a_histogram_claim_and_a_failed_count() {
        let html = page(&fixture(), &[spec()]);
        insta::assert_snapshot!(readable(&html));
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = page(&fixture(), &[spec()]);
        for outside in ["<script", "src=", "href=\"http", "url(", "@import", "<link"] {
            assert!(!html.contains(outside), "the page has {outside}");
        }
        // Both charts of the histogram claim and the failed claim's totals.
        assert_eq!(html.matches("<svg").count(), 3);
    }

    #[test]
    fn the_workloads_histogram_is_found_and_others_left_out() {
        let recs = fixture();
        let d = distribution(&spec(), &recs[0], &recs[0].verdicts[0]).expect("a histogram");
        assert_eq!(d.map, "@");
        let counts: Vec<(i64, u64)> = d.tool.iter().map(|b| (b.lo, b.count)).collect();
        // sshd's [1K, 2K) is not the workload's.
        assert_eq!(counts, [(4096, 3), (8192, 5), (16384, 0), (32768, 1)]);
        assert_eq!(d.truth, None);
        // A scalar map has no histogram.
        assert_eq!(distribution(&spec(), &recs[1], &recs[1].verdicts[0]), None);
    }

    #[test]
    fn tool_output_cannot_inject_markup() {
        let evil = "<script>alert(1)</script>";
        let mut recs = fixture();
        recs[0].tool_run.stdout = format!("{evil}\n{STDOUT}");
        recs[0].tool_run.stderr_tail = vec![format!("<img src=x onerror=alert(2)>{evil}")];
        recs[0].tool_run.command = vec![evil.into()];
        recs[1].comm = evil.into();
        recs[1].tool = format!("disktop {evil}");
        let v = &mut recs[1].verdicts[0];
        v.claim = evil.into();
        v.diagnosis.as_mut().unwrap().sentence = format!("keyed by {evil}");
        v.notes.push(format!("\"quoted\" & '{evil}'"));
        let html = page(&recs, &[spec()]);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;quoted&quot; &amp; &#39;"));
        // The histogram is still found past the injected line.
        assert_eq!(html.matches("<svg").count(), 3);
    }

    #[test]
    fn a_truth_histogram_is_drawn_beside_the_tools() {
        let b = |lo: i64, hi: Option<i64>, count: u64| Bucket { lo, hi, count };
        let tool = [b(4096, Some(8192), 3), b(8192, Some(16384), 5)];
        // The truth has a bucket the tool lacks, and an open last one.
        let truth = [
            b(8192, Some(16384), 4),
            b(16384, Some(32768), 4),
            b(32768, None, 1),
        ];
        let svg = histogram_svg("latency", "us", &tool, Some(&truth));
        let colour = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        assert!(svg.contains(&colour(TOOL_COLOR)), "{svg}");
        assert!(svg.contains(&colour(TRUTH_COLOR)), "{svg}");
        for label in ["4K", "8K", "16K", "32K+", "truth", "tool", "(us)"] {
            assert!(svg.contains(label), "no {label} in {svg}");
        }
        let alone = histogram_svg("latency", "", &tool, None);
        assert!(!alone.contains(&colour(TRUTH_COLOR)));
    }

    #[test]
    fn bucket_labels_read_as_bpftrace_prints_them() {
        let b = |lo: i64, hi: Option<i64>| bucket_label(&Bucket { lo, hi, count: 1 });
        assert_eq!(b(0, Some(1)), "0");
        assert_eq!(b(4096, Some(8192)), "4K");
        assert_eq!(b(3 << 20, Some(4 << 20)), "3M");
        assert_eq!(b(100, None), "100+");
        assert_eq!(b(i64::MIN, Some(0)), "<0");
    }
}
