//! Reading a claim's map out of the tool's parsed output: the number it
//! reported for the workload, and what it charged to others.

use super::evidence::Subject;
use crate::spec::{Claim, KeyKind, TableRead};
use std::collections::BTreeMap;
use tracecheck_model::{Direction, MapEntry, ParsedMap, ToolOutput, Value};

/// What the tool reported for one direction, split by who it charged.
#[derive(Debug, Default)]
pub struct Reading {
    pub map_printed: bool,
    /// Entries (or rows) the claim's map held at all, whoever they were
    /// for: none means the tool saw nothing, not even others' events.
    pub entries: usize,
    pub reported: u64,
    /// Same direction and device, other processes.
    pub others: BTreeMap<String, u64>,
    /// Same process and device, opposite direction.
    pub opposite: u64,
    /// For a claim keyed by direction: what the map held in the claim's
    /// direction and in the other, for every task on the device, other
    /// workloads of a shared tool run included.
    pub any_task: Option<(u64, u64)>,
    pub duplicates: usize,
    pub bad_direction_keys: Vec<String>,
    /// The workload's own entries by their `cpu` key, for a claim that has
    /// one, converted like `reported`.
    pub per_cpu: BTreeMap<u32, u64>,
    /// For a claim on a rate (`rate_over`): the intervals the claim's rows
    /// gave a rate above 0 in, and their printed length in seconds.
    pub rate_span: Option<(usize, f64)>,
}

impl Reading {
    /// The other processes' entries, largest first (ties in name order):
    /// where a reading that misses the workload's put its number.
    pub fn others_largest_first(&self) -> Vec<(&String, &u64)> {
        let mut top: Vec<(&String, &u64)> = self.others.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        top
    }
}

/// The key of `kind` in entry `e`, as printed, if the claim has one.
pub fn key_at<'e>(claim: &Claim, e: &'e MapEntry, kind: KeyKind) -> Option<&'e str> {
    claim
        .keys
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| e.keys.get(i))
        .map(|s| s.as_str())
}

/// A table claim's rows as a map: one entry per row, keyed by the claim's
/// columns, worth 1 or its `sum` cell. `None` when no table has those
/// columns (the tool printed no such table); `Err` when a `sum` cell is not
/// a number.
fn rows_as_map(
    out: &ToolOutput,
    t: &TableRead,
    name: &str,
    rate_span: &mut Option<(usize, f64)>,
) -> Result<Option<ParsedMap>, String> {
    let mut need = t.columns.clone();
    need.extend(t.sum.iter().cloned());
    need.extend(t.filter.iter().map(|(c, _)| c.clone()));
    need.extend(t.rate_over.iter().cloned());
    let mut entries = Vec::new();
    let mut any = false;
    for table in out.tables_with(&need) {
        any = true;
        let keys: Vec<usize> = t.columns.iter().filter_map(|c| table.column(c)).collect();
        let sum = t.sum.as_ref().and_then(|c| table.column(c));
        let filter: Vec<(usize, &[String])> = t
            .filter
            .iter()
            .filter_map(|(c, v)| Some((table.column(c)?, v.as_slice())))
            .collect();
        let lengths = match t.rate_over.as_ref().and_then(|c| table.column(c)) {
            Some(col) => Some(interval_lengths(table, col)?),
            None => None,
        };
        let not_a_number = |i: usize, cell: &str, col: &str| {
            format!(
                "row {} of the table under line {} has `{cell}` in column {col}, not a number",
                i + 1,
                table.line,
            )
        };
        let mut spanned: Vec<String> = Vec::new();
        for (i, row) in table.rows.iter().enumerate() {
            if !filter.iter().all(|&(c, v)| v.contains(&row[c])) {
                continue;
            }
            let col = t.sum.as_deref().unwrap_or_default();
            let value = match (sum, &lengths) {
                (None, _) => 1,
                (Some(s), None) => {
                    row[s]
                        .parse::<i64>()
                        .map_err(|_| not_a_number(i, &row[s], col))?
                        * t.scale as i64
                }
                // A rate times its interval's printed length; an empty
                // cell is no rate printed (perf prints none for a count
                // that is not a number of events).
                (Some(s), Some(len)) => {
                    let rate = match row[s].as_str() {
                        "" => 0.0,
                        c => c.parse::<f64>().map_err(|_| not_a_number(i, c, col))?,
                    };
                    let span = rate_span.get_or_insert((0, 0.0));
                    let end = &row[t
                        .rate_over
                        .as_ref()
                        .and_then(|c| table.column(c))
                        .unwrap_or(s)];
                    if rate > 0.0 && spanned.last() != Some(end) {
                        spanned.push(end.clone());
                        *span = (span.0 + 1, span.1 + len[i]);
                    }
                    (rate * len[i] * t.scale as f64).round() as i64
                }
            };
            entries.push(MapEntry {
                keys: keys.iter().map(|&k| row[k].clone()).collect(),
                value: Value::Scalar(value),
            });
        }
    }
    Ok(any.then(|| ParsedMap {
        name: name.to_string(),
        entries,
    }))
}

/// Each row's interval length in seconds, from column `col`'s elapsed
/// seconds at the intervals' ends as printed: rows under the same time
/// share an interval, and the first starts at 0.
fn interval_lengths(table: &tracecheck_model::Table, col: usize) -> Result<Vec<f64>, String> {
    let mut lengths = Vec::with_capacity(table.rows.len());
    let (mut start, mut end) = (0.0, 0.0);
    for (i, row) in table.rows.iter().enumerate() {
        let t: f64 = row[col].parse().map_err(|_| {
            format!(
                "row {} of the table under line {} has `{}` in its time column, not elapsed seconds",
                i + 1,
                table.line,
                row[col]
            )
        })?;
        if t != end {
            if t < end {
                return Err(format!(
                    "row {} of the table under line {} goes back in time ({t} s after {end} s)",
                    i + 1,
                    table.line
                ));
            }
            (start, end) = (end, t);
        }
        lengths.push(end - start);
    }
    Ok(lengths)
}

/// Read the claim's map for direction `dir`. `Err` when the map's shape
/// does not fit the claim's keys (a spec mistake, reported as ERROR).
pub fn read_map(
    claim: &Claim,
    out: &ToolOutput,
    dir: Option<Direction>,
    subject: &Subject,
) -> Result<Reading, String> {
    let mut r = Reading::default();
    let from_table;
    let map = match &claim.table {
        None => out.map(&claim.map),
        Some(t) => {
            from_table = rows_as_map(out, t, &claim.map, &mut r.rate_span)?;
            from_table.as_ref()
        }
    };
    let Some(map) = map else {
        return Ok(r);
    };
    r.map_printed = true;
    r.entries = map.entries.len();
    if let Some(e) = map
        .entries
        .iter()
        .find(|e| e.keys.len() != claim.keys.len())
    {
        return Err(format!(
            "the spec says {} has {} key(s) [{}] but the tool printed {} key(s): [{}]",
            claim.map,
            claim.keys.len(),
            claim
                .keys
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            e.keys.len(),
            e.keys.join(", ")
        ));
    }
    let per_process = claim.per_process();
    // The workload's main pid (first) is exec'd by the harness to start it,
    // under the harness's name, before the measured phase; every exec the
    // truth counts is a child's. So for execs keyed by pid only the
    // children's pids are the workload's.
    let execs = claim.metric.layer == tracecheck_model::Layer::Process
        && claim.metric.quantity == tracecheck_model::Quantity::Ops;
    let pids: &[u32] = if execs {
        subject.pids.get(1..).unwrap_or_default()
    } else {
        &subject.pids
    };
    let mut bad = Vec::new();
    let mut per_cpu: BTreeMap<u32, u64> = BTreeMap::new();
    // Every task's entries on every device, by direction: whether the
    // tool printed the claim's direction at all.
    let mut any_task: Option<(u64, u64)> = None;
    if let Some(want) = dir {
        for e in &map.entries {
            let Some(got) = key_at(claim, e, KeyKind::Direction).and_then(Direction::from_key)
            else {
                continue;
            };
            let (this_way, other_way) = any_task.get_or_insert((0, 0));
            *if want == got { this_way } else { other_way } += e.value.as_count();
        }
    }
    let (sums, dups) = map.sum_by(|e| {
        if let Some(d) = key_at(claim, e, KeyKind::Device) {
            if !subject.is_device(d) {
                return None;
            }
        }
        let edir = match key_at(claim, e, KeyKind::Direction) {
            Some(k) => match Direction::from_key(k) {
                Some(d) => Some(d),
                None => {
                    // Flushes (`FN`) and discards carry no data; only
                    // unreadable keys with bytes behind them are worth a note.
                    if e.value.as_count() > 0 {
                        bad.push(k.to_string());
                    }
                    return None;
                }
            },
            None => None,
        };
        let same_dir = match (dir, edir) {
            (Some(want), Some(got)) => want == got,
            _ => true,
        };
        let comm = key_at(claim, e, KeyKind::Comm);
        let pid = key_at(claim, e, KeyKind::Pid);
        let mine = !per_process
            || comm.is_some_and(|c| c == subject.comm)
            || pid
                .and_then(|p| p.trim().parse::<u32>().ok())
                .is_some_and(|p| pids.contains(&p));
        if !mine && per_process && subject.siblings.own(comm, pid) {
            return None; // another workload of the same tool run
        }
        let label = comm.or(pid).unwrap_or("").to_string();
        if mine && same_dir {
            if let Some(cpu) = key_at(claim, e, KeyKind::Cpu).and_then(|k| k.trim().parse().ok()) {
                *per_cpu.entry(cpu).or_insert(0) += e.value.as_count();
            }
        }
        Some(match (mine, same_dir) {
            (true, true) => (0u8, String::new()),
            (true, false) => (1, String::new()),
            (false, true) => (2, label),
            (false, false) => (3, label),
        })
    });
    // Rows of a table repeat their keys by nature: one row per event.
    r.duplicates = if claim.table.is_some() { 0 } else { dups };
    bad.sort();
    bad.dedup();
    r.bad_direction_keys = bad;
    // A profiler's samples, as the CPU time they stand for.
    let as_truth = |v: u64| match claim.sample_hz {
        Some(hz) => crate::spec::ns_of(v, hz),
        None => v,
    };
    r.any_task = any_task;
    r.per_cpu = per_cpu.into_iter().map(|(k, v)| (k, as_truth(v))).collect();
    for ((class, label), v) in sums {
        let v = as_truth(v);
        match class {
            0 => r.reported += v,
            1 => r.opposite += v,
            2 => *r.others.entry(label).or_insert(0) += v,
            _ => {}
        }
    }
    Ok(r)
}
