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
    /// entry). Returns the sums and how many of the summed lines were
    /// duplicates of an earlier key (dropped lines are nobody's concern).
    pub fn sum_by<K: Ord>(
        &self,
        mut group: impl FnMut(&MapEntry) -> Option<K>,
    ) -> (BTreeMap<K, u64>, usize) {
        let mut sums = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut dups = 0;
        for e in &self.entries {
            if let Some(k) = group(e) {
                if !seen.insert(e.keys.clone()) {
                    dups += 1;
                }
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
    /// Tables of rows under a header line (per-event tools: opensnoop,
    /// execsnoop), in printed order; a header printed again starts a new
    /// table (interval tools).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
}

/// Rows printed under one header line, split into the header's columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Table {
    /// The column names as printed (`PID`, `COMM`, `TIME(ms)`).
    pub header: Vec<String>,
    /// The 1-based line of the header in the tool's stdout.
    pub line: usize,
    /// Each row's cells, one per column; the last column holds the rest of
    /// the line (a path or argument list with spaces).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

impl ToolOutput {
    /// The last printing of the map named `name` (bpftrace prints a map
    /// once per `print()` and again at exit; claims read the last one).
    /// Earlier printings stay in [`ToolOutput::maps`]; nothing is merged.
    pub fn map(&self, name: &str) -> Option<&ParsedMap> {
        self.maps.iter().rev().find(|m| m.name == name)
    }

    /// Every table that has all of `columns`.
    pub fn tables_with<'a>(
        &'a self,
        columns: &'a [String],
    ) -> impl Iterator<Item = &'a Table> + 'a {
        self.tables
            .iter()
            .filter(move |t| columns.iter().all(|c| t.column(c).is_some()))
    }
}
