//! Event loss of a per-event tool, as a curve: the same claim checked on
//! openat() calls paced at rising rates, each with the tool started
//! afresh, and for each rate the calls made beside the rows printed, and
//! whether the tool said it lost any (bpftrace's "Lost N events", bcc's
//! "Possibly lost N samples").
//!
//! A tool that prints one line per event drops events when user space
//! cannot drain its buffer in time (bcc#3476); below some rate it keeps
//! them all. `tracecheck loss` finds that rate.

use crate::record::CheckRecord;
use crate::units::num;
use std::fmt::Write as _;

/// The workloads of a loss curve, slowest first: the `paced-opens` plans
/// of [`crate::select::PLANS`] (openat() + close() of one cached file at
/// 1,000, 10,000 and 50,000 a second, then as fast as the machine goes),
/// in their order there.
pub fn plans() -> Vec<&'static str> {
    crate::select::PLANS
        .iter()
        .filter(|p| {
            matches!(
                p.workload,
                tracecheck_workloads::Workload::PacedOpens { .. }
            )
        })
        .map(|p| p.name)
        .collect()
}

/// One rate of the curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub workload: String,
    /// The rate asked for, a second (0: as fast as it goes).
    pub asked: u64,
    /// The rate reached: the calls over the workload's own elapsed time.
    pub reached: f64,
    /// The events the claim's truth says happened.
    pub emitted: u64,
    /// What the tool printed for them (`None`: it gave no number).
    pub printed: Option<u64>,
    /// What the tool said it lost, when it said so.
    pub said_lost: Option<u64>,
    /// The check's verdict, for a point without a number.
    pub status: String,
}

impl Point {
    /// The share of events missing, in percent (0 when it printed more).
    pub fn lost_pct(&self) -> Option<f64> {
        let p = self.printed?;
        (self.emitted > 0)
            .then(|| self.emitted.saturating_sub(p) as f64 * 100.0 / self.emitted as f64)
    }
}

/// The curve's points from a loss run's records, in the order of
/// [`plans`]; each from the first verdict that has a truth.
pub fn points(records: &[CheckRecord]) -> Vec<Point> {
    let order = plans();
    let mut out: Vec<Point> = records
        .iter()
        .filter(|r| order.contains(&r.workload.as_str()))
        .filter_map(|r| {
            let gt = r.ground_truth.as_ref()?;
            let param = |k: &str| gt.params.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            let v = r.verdicts.iter().find(|v| v.truth.is_some())?;
            let secs = gt.elapsed_ns.max(1) as f64 / 1e9;
            Some(Point {
                workload: r.workload.clone(),
                asked: param("rate"),
                reached: param("count") as f64 / secs,
                emitted: v.truth.as_ref()?.lo,
                printed: v.reported,
                said_lost: r.tool_run.lost_events.map(|l| l.events),
                status: v.status.word().to_string(),
            })
        })
        .collect();
    out.sort_by_key(|p| order.iter().position(|n| *n == p.workload));
    out
}

/// Events missing beyond this share count as lost (a per-event tool that
/// keeps up prints every event; 1% leaves room for the odd event at the
/// edges of its start and stop).
pub const LOSS_THRESHOLD_PCT: f64 = 1.0;

/// The curve as a table, then the rate where loss starts and whether the
/// tool said so.
pub fn render(tool: &str, claim: &str, points: &[Point]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{tool}: {claim}, at rising rates of openat() calls");
    let _ = writeln!(
        s,
        "  {:<17} {:>10} {:>10} {:>9} {:>9} {:>8}  SAID LOST",
        "WORKLOAD", "ASKED/s", "REACHED/s", "EVENTS", "PRINTED", "LOST"
    );
    for p in points {
        let asked = if p.asked == 0 {
            "max".to_string()
        } else {
            num(p.asked)
        };
        let (printed, lost) = match (p.printed, p.lost_pct()) {
            (Some(n), Some(l)) => (num(n), format!("{l:.1}%")),
            _ => ("-".to_string(), p.status.clone()),
        };
        let said = p.said_lost.map_or("-".to_string(), num);
        let _ = writeln!(
            s,
            "  {:<17} {:>10} {:>10} {:>9} {:>9} {:>8}  {said}",
            p.workload,
            asked,
            num(p.reached.round() as u64),
            num(p.emitted),
            printed,
            lost
        );
    }
    let _ = writeln!(s, "  {}", summary(points));
    s
}

/// Where the loss starts, in words.
pub fn summary(points: &[Point]) -> String {
    let lossy = |p: &Point| p.lost_pct().is_some_and(|l| l > LOSS_THRESHOLD_PCT);
    let Some(first) = points.iter().position(lossy) else {
        return match points.last() {
            Some(p) => format!(
                "no loss: every event printed up to {}/s",
                num(p.reached.round() as u64)
            ),
            None => "no point of the curve was measured".to_string(),
        };
    };
    let p = &points[first];
    let said = match p.said_lost {
        Some(n) => format!("it said it lost {} of them", num(n)),
        None => "it did not say it lost any".to_string(),
    };
    if first == 0 {
        return format!(
            "short by {:.1}% already at {}/s ({said}): that is more than loss under load; `tracecheck check` on the \
             same spec says what it misses",
            p.lost_pct().unwrap_or(0.0),
            num(p.reached.round() as u64)
        );
    }
    format!(
        "lossless up to {}/s; loss starts by {}/s, where {:.1}% of the events are missing and {said}",
        num(points[first - 1].reached.round() as u64),
        num(p.reached.round() as u64),
        p.lost_pct().unwrap_or(0.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(workload: &str, reached: f64, emitted: u64, printed: u64, said: Option<u64>) -> Point {
        Point {
            workload: workload.into(),
            asked: 0,
            reached,
            emitted,
            printed: Some(printed),
            said_lost: said,
            status: "FAIL".into(),
        }
    }

    #[test]
    fn the_curve_runs_the_paced_opens_plans_slowest_first() {
        assert_eq!(
            plans(),
            [
                "paced-opens-1k",
                "paced-opens-10k",
                "paced-opens-50k",
                "paced-opens-max"
            ]
        );
    }

    #[test]
    fn the_summary_names_the_rate_where_loss_starts_and_whether_it_was_said() {
        let keeps = point("paced-opens-1k", 1000.0, 2000, 2000, None);
        let drops = point("paced-opens-max", 240_000.0, 200_000, 150_000, Some(50_000));
        let s = summary(&[keeps.clone(), drops.clone()]);
        assert!(
            s.contains("lossless up to 1,000/s") && s.contains("240,000/s"),
            "{s}"
        );
        assert!(
            s.contains("25.0%") && s.contains("said it lost 50,000"),
            "{s}"
        );
        let silent = Point {
            said_lost: None,
            ..drops
        };
        assert!(summary(&[keeps.clone(), silent]).contains("did not say"));
        assert!(summary(std::slice::from_ref(&keeps)).starts_with("no loss"));
        // Short at the slowest rate too: not loss.
        let misses = point("paced-opens-1k", 1000.0, 2000, 1600, None);
        assert!(summary(&[misses]).contains("more than loss"));
    }
}
