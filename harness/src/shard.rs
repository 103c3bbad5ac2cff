//! `--shard I/N`: a deterministic split of a run's checks over N CI jobs,
//! balanced by what each check costs. Costs come from earlier record files
//! (`--shard-costs`, each check's measured wall time) or, for checks they
//! do not hold, count alike; the split is the greedy longest-first
//! schedule, so every job gets the same checks on every machine.

use crate::error::HarnessError;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// Job `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}`: expected I/N with 1 <= I <= N, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// One check of a run, as sharding sees it: the spec it belongs to and the
/// workload it runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub tool: String,
    pub spec: String,
    pub workload: String,
}

/// Measured cost (ms) by tool and workload, from record files; the last
/// record of a check wins.
pub type Costs = BTreeMap<(String, String), u64>;

pub fn costs_from_records(files: &[impl AsRef<Path>]) -> Result<Costs, HarnessError> {
    let mut out = Costs::new();
    for f in files {
        for r in crate::record::read_checks(f.as_ref())? {
            out.insert((r.tool, r.workload), r.timings.total_ms.max(1));
        }
    }
    Ok(out)
}

/// The shard (0-based) of each item: items longest first (ties in a fixed
/// order), each to the job with the least cost so far (ties to the lowest).
pub fn assign(items: &[Item], costs: &Costs, count: usize) -> Vec<usize> {
    let known: Vec<u64> = costs.values().copied().collect();
    // A check with no measurement costs what a typical one does.
    let typical = if known.is_empty() {
        1
    } else {
        let mut k = known.clone();
        k.sort_unstable();
        k[k.len() / 2]
    };
    let cost = |it: &Item| {
        costs
            .get(&(it.tool.clone(), it.workload.clone()))
            .copied()
            .unwrap_or(typical)
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        cost(&items[b])
            .cmp(&cost(&items[a]))
            .then(items[a].cmp(&items[b]))
    });
    let mut load = vec![0u64; count.max(1)];
    let mut out = vec![0; items.len()];
    for i in order {
        let (job, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(j, l)| (**l, *j))
            .expect("at least one job");
        load[job] += cost(&items[i]);
        out[i] = job;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(t: &str, w: &str) -> Item {
        Item {
            tool: t.into(),
            spec: format!("{t}.toml"),
            workload: w.into(),
        }
    }

    #[test]
    fn shards_parse_with_clear_errors() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("expected I/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn every_check_lands_in_exactly_one_balanced_shard() {
        let items: Vec<Item> = (0..10).map(|i| item(&format!("t{i}"), "w")).collect();
        let mut costs = Costs::new();
        costs.insert(("t0".into(), "w".into()), 9000);
        for i in 1..10 {
            costs.insert((format!("t{i}"), "w".into()), 1000);
        }
        let a = assign(&items, &costs, 3);
        assert_eq!(a, assign(&items, &costs, 3), "deterministic");
        // The 9 s check gets a job of its own; the others share the rest.
        let alone: Vec<usize> = (0..10).filter(|&i| a[i] == a[0]).collect();
        assert_eq!(alone, vec![0]);
        let mut per = [0; 3];
        a.iter().for_each(|&j| per[j] += 1);
        assert_eq!(per.iter().sum::<usize>(), 10);
        assert!(
            per.iter().filter(|&&n| n != 1).all(|&n| n == 4 || n == 5),
            "{per:?}"
        );
    }
}
