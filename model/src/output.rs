//! What a tool under test printed, once a parser has read it: named maps
//! (bpftrace `@name`, a bcc/SystemTap table, a column) of keyed values.
//!
//! Parsers keep entries exactly as printed, duplicates included; summing
//! duplicate keys is the comparison's job ([`ParsedMap::sum_by`]), so the
//! report can say that it happened.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One histogram bucket, `[lo, hi)`; `hi` is `None` for the open last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bucket {
    pub lo: i64,
    pub hi: Option<i64>,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Scalar(i64),
    Histogram(Vec<Bucket>),
    /// bpftrace `stats()`/`avg()` style tuples: count, average, total.
    Stats {
        count: u64,
        average: i64,
        total: i64,
    },
}

impl Value {
    /// The number a claim compares: a scalar as is, a histogram's sample
    /// count, a stats() total. Negative scalars clamp to 0 (they mean the
    /// tool is broken, and the comparison will say so through the value).
    pub fn as_count(&self) -> u64 {
        match self {
            Value::Scalar(v) => (*v).max(0) as u64,
            Value::Histogram(b) => b.iter().map(|b| b.count).sum(),
            Value::Stats { total, .. } => (*total).max(0) as u64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MapEntry {
    /// Key fields as printed (`@x[comm, pid]` has two); empty for `@x: 5`.
    pub keys: Vec<String>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ParsedMap {
    /// Map name as printed, e.g. `@bytes` (`@` alone for the anonymous map).
    pub name: String,
    pub entries: Vec<MapEntry>,
}

impl ParsedMap {
    /// Sum entries into groups chosen by `group` (return `None` to drop an
    /// entry). Returns the sums and how many printed lines were duplicates
    /// of an earlier key.
    pub fn sum_by<K: Ord>(
        &self,
        mut group: impl FnMut(&MapEntry) -> Option<K>,
    ) -> (BTreeMap<K, u64>, usize) {
        let mut sums = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut dups = 0;
        for e in &self.entries {
            if !seen.insert(e.keys.clone()) {
                dups += 1;
            }
            if let Some(k) = group(e) {
                *sums.entry(k).or_insert(0u64) += e.value.as_count();
            }
        }
        (sums, dups)
    }
}

/// Everything a parser recovered from one run of a tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolOutput {
    pub maps: Vec<ParsedMap>,
    /// What the tool printed that is not map output (banners, warnings,
    /// printf text, maps with string values), line by line in printed
    /// order. Nothing in the report reads them and the check record does
    /// not store them (it keeps the tool's whole stdout instead); they are
    /// kept so that callers and tests can see what a parser passed over.
    pub unparsed: Vec<String>,
}

impl ToolOutput {
    /// The last printing of the map named `name` (bpftrace prints a map
    /// once per `print()` and again at exit; claims read the last one).
    /// Earlier printings stay in [`ToolOutput::maps`]; nothing is merged.
    pub fn map(&self, name: &str) -> Option<&ParsedMap> {
        self.maps.iter().rev().find(|m| m.name == name)
    }
}
