//! Reading a claim's map out of the tool's parsed output: the number it
//! reported for the workload, and what it charged to others.

use super::evidence::Subject;
use crate::spec::{Claim, KeyKind};
use std::collections::BTreeMap;
use tracecheck_model::{Direction, MapEntry, ToolOutput};

/// What the tool reported for one direction, split by who it charged.
#[derive(Debug, Default)]
pub struct Reading {
    pub map_printed: bool,
    pub reported: u64,
    /// Same direction and device, other processes.
    pub others: BTreeMap<String, u64>,
    /// Same process and device, opposite direction.
    pub opposite: u64,
    pub duplicates: usize,
    pub bad_direction_keys: Vec<String>,
}

fn key_at<'e>(claim: &Claim, e: &'e MapEntry, kind: KeyKind) -> Option<&'e str> {
    claim
        .keys
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| e.keys.get(i))
        .map(|s| s.as_str())
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
    let Some(map) = out.map(&claim.map) else {
        return Ok(r);
    };
    r.map_printed = true;
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
    let mut bad = Vec::new();
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
                .is_some_and(|p| subject.pids.contains(&p));
        let label = comm.or(pid).unwrap_or("").to_string();
        Some(match (mine, same_dir) {
            (true, true) => (0u8, String::new()),
            (true, false) => (1, String::new()),
            (false, true) => (2, label),
            (false, false) => (3, label),
        })
    });
    r.duplicates = dups;
    bad.sort();
    bad.dedup();
    r.bad_direction_keys = bad;
    for ((class, label), v) in sums {
        match class {
            0 => r.reported += v,
            1 => r.opposite += v,
            2 => *r.others.entry(label).or_insert(0) += v,
            _ => {}
        }
    }
    Ok(r)
}
