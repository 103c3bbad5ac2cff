//! bcc's `-j` histograms (biolatency, biolatpcts), one printed object per
//! histogram, from `table.py`'s `print_json_hist`:
//!
//! ```text
//! {'ts': '2026-12-03 14:01:07', 'val_type': 'usecs', 'data': [{'interval-start': 0, 'interval-end': 1, 'count': 0}, ...], 'disk': 'vda'}
//! ```
//!
//! Rules (bcc 0.26 to 0.31, the same code):
//! - bcc `print()`s a Python dict, so the line is Python's `repr`, not JSON:
//!   strings in single quotes. It is read as JSON after turning single
//!   quotes into double ones, which is exact for what it prints (dates,
//!   unit names, disk names and flag words: no quote and no backslash in
//!   any of them); a line that is real JSON reads as it is.
//! - `val_type` (`usecs`, `msecs`) names the map, as the unit does in
//!   `bcc-hist`, so a claim reads `map = "usecs"` in either format.
//! - `data` holds the log2 buckets from slot 1 up to the last non-empty
//!   one: `interval-start..=interval-end`, the same ranges the text prints
//!   (`0 -> 1` is slot 1). Slot 0, values of 0, is never printed.
//! - Any other key (`'disk': 'vda'` with `-D`, `'flags': ...` with `-F`) is
//!   the entry's one key; without one the entry has none.
//! - The objects of one printing form one map. A blank line (bcc prints
//!   one before each printing), a timestamp line (`-T`) or another unit
//!   starts the next printing, and claims read the last, as for bpftrace.
//! - Other lines are kept in `unparsed`. A line that starts with `{` and
//!   does not read, or lacks `val_type` or `data`, is an error.

use crate::error::ParseError;
use crate::format::Format;
use serde_json::Value as Json;
use tracecheck_model::{Bucket, MapEntry, ParsedMap, ToolOutput, Value};

pub(crate) const FORMAT: Format = Format {
    name: "bcc-json",
    describe: "bcc's `-j` histograms, a Python dict a line (biolatency -j): map named by val_type, other keys the entry's key",
    parse: parse_bcc_json,
};

/// Keys of the object that are not a section key.
const OWN_KEYS: &[&str] = &["ts", "val_type", "data"];

/// One printed object: its unit, its section key and its buckets.
fn histogram(obj: &Json) -> Result<(String, Vec<String>, Vec<Bucket>), String> {
    let o = obj.as_object().ok_or("an object")?;
    let unit = o
        .get("val_type")
        .and_then(Json::as_str)
        .ok_or("a `val_type` string")?;
    let data = o
        .get("data")
        .and_then(Json::as_array)
        .ok_or("a `data` list")?;
    let mut buckets = Vec::with_capacity(data.len());
    for d in data {
        let n = |k: &str| {
            d.get(k)
                .and_then(Json::as_u64)
                .ok_or_else(|| format!("`{k}` as a whole number in every bucket"))
        };
        let (lo, hi, count) = (n("interval-start")?, n("interval-end")?, n("count")?);
        buckets.push(Bucket {
            lo: i64::try_from(lo).map_err(|_| "a bucket bound under 2^63")?,
            hi: Some(i64::try_from(hi).map_err(|_| "a bucket bound under 2^63")? + 1),
            count,
        });
    }
    let keys = o
        .iter()
        .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
        .map(|(_, v)| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    Ok((unit.to_string(), keys, buckets))
}

fn parse_bcc_json(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    let mut map: Option<ParsedMap> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if !t.starts_with('{') {
            out.maps.extend(map.take());
            if !t.is_empty() {
                out.unparsed.push(line.to_string());
            }
            continue;
        }
        let obj: Json = serde_json::from_str(t)
            .or_else(|_| serde_json::from_str(&t.replace('\'', "\"")))
            .map_err(|e| ParseError::new(FORMAT.name, i + 1, line, format!("a dict: {e}")))?;
        let (unit, keys, buckets) =
            histogram(&obj).map_err(|e| ParseError::new(FORMAT.name, i + 1, line, e))?;
        if map.as_ref().is_some_and(|m| m.name != unit) {
            out.maps.extend(map.take());
        }
        map.get_or_insert_with(|| ParsedMap {
            name: unit,
            entries: Vec::new(),
        })
        .entries
        .push(MapEntry {
            keys,
            value: Value::Histogram(buckets),
        });
    }
    out.maps.extend(map);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_DISKS: &str = "\n{'ts': '2026-12-03 14:01:07', 'val_type': 'usecs', 'data': [{'interval-start': 0, 'interval-end': 1, 'count': 0}, {'interval-start': 2, 'interval-end': 3, 'count': 5}], 'disk': 'vda'}\n{'ts': '2026-12-03 14:01:07', 'val_type': 'usecs', 'data': [{'interval-start': 0, 'interval-end': 1, 'count': 2}], 'disk': 'vdb'}\n";

    #[test]
    fn each_printed_dict_is_an_entry_keyed_by_its_section() {
        let o = parse_bcc_json(TWO_DISKS).unwrap();
        assert_eq!(o.maps.len(), 1);
        let m = &o.maps[0];
        assert_eq!(m.name, "usecs");
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[0].keys, ["vda"]);
        assert_eq!(
            m.entries[0].value,
            Value::Histogram(vec![
                Bucket {
                    lo: 0,
                    hi: Some(2),
                    count: 0
                },
                Bucket {
                    lo: 2,
                    hi: Some(4),
                    count: 5
                }
            ])
        );
        assert_eq!(m.entries[1].keys, ["vdb"]);
        assert!(o.unparsed.is_empty());
    }

    #[test]
    fn real_json_reads_too_and_a_blank_line_starts_the_next_printing() {
        let text = "{\"ts\": \"x\", \"val_type\": \"usecs\", \"data\": [{\"interval-start\": 0, \"interval-end\": 1, \"count\": 1}]}\n\n{'ts': 'y', 'val_type': 'usecs', 'data': []}\n";
        let o = parse_bcc_json(text).unwrap();
        assert_eq!(o.maps.len(), 2);
        assert!(o.maps[0].entries[0].keys.is_empty());
    }

    #[test]
    fn a_broken_object_names_its_line_and_what_was_expected() {
        let e = parse_bcc_json("banner\n{'ts': 'x', 'data': []}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("val_type"), "{e}");
        let e = parse_bcc_json("{'ts': 'x', 'val_type': 'usecs', 'data': [{'count': 1}]}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("interval-start"), "{e}");
        let e = parse_bcc_json("{'ts': \n").unwrap_err().to_string();
        assert!(e.contains("a dict"), "{e}");
    }
}
