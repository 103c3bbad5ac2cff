//! `bpftrace -f json` output: one JSON object per line, `{"type": T,
//! "data": D}`. Types `map`, `hist` and `stats` become maps; `printf` text
//! and every other type (`attached_probes`, `time`, `lost_events`, …), and
//! lines that are not JSON at all (stderr merged in), go to `unparsed`.
//!
//! Rules this module owns, from real bpftrace 0.17 output (see
//! `tests/fixtures/bpftrace/*.jsonl`):
//! - Objects are read in printed order and duplicate keys are kept: maps
//!   keyed on the `rwbs` char array print `{"FF": 0, "FF": 0, …}`.
//! - Multi-keys are one string joined with `,` (`"dd,123"`); they are split
//!   on `,` and one leading space is dropped from each part, so `"a, b"`
//!   reads as the text parser reads `[a, b]`. Stack keys are trimmed per
//!   frame and joined with `\n`, as in the text parser.
//! - hist buckets `{"min": a, "max": b}` are `[a, b+1)`; no `min` is the
//!   open first bucket (`lo = i64::MIN`), no `max` the open last one.
//!   0.17 prints the `[2G, 4G)` log2 bucket as `{"min": -2147483648,
//!   "max": 0}` (32-bit overflow); it is read back as `[2^31, 2^32)`.
//! - `stats` data is an integer for `avg()` (a scalar) or
//!   `{"count", "average", "total"}` for `stats()`.
//! - Maps whose values are strings or tuples go to `unparsed` whole.

use crate::error::ParseError;
use crate::format::Format;
use crate::keys::split_keys;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use tracecheck_model::{Bucket, MapEntry, ParsedMap, ToolOutput, Value};

/// This format in the registry.
pub(crate) const FORMAT: Format = Format {
    name: "bpftrace-json",
    describe: "`bpftrace -f json`: one JSON object per line",
    parse: parse_bpftrace_json,
};

/// Parse `bpftrace -f json` output; errors name the 1-based line.
pub fn parse_bpftrace_json(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if !t.starts_with('{') {
            out.unparsed.push(line.to_string());
            continue;
        }
        read_object(line, t, &mut out)
            .map_err(|expected| ParseError::new(FORMAT.name, i + 1, line, expected))?;
    }
    Ok(out)
}

/// One line holding a JSON object (`line` as printed, `t` trimmed): its
/// maps go to `out.maps`, printf text and other types to `out.unparsed`.
/// Errors say what was expected.
fn read_object(line: &str, t: &str, out: &mut ToolOutput) -> Result<(), &'static str> {
    let obj: Json = serde_json::from_str(t).map_err(|_| "one JSON object per line")?;
    let (ty, data) = match (obj.get("type"), obj.get("data")) {
        (Some(Json::Str(ty)), Some(data)) => (ty.as_str(), data),
        _ => return Err("an object with a string `type` and a `data` field"),
    };
    let kind = match ty {
        "map" => Kind::Map,
        "hist" => Kind::Hist,
        "stats" => Kind::Stats,
        "printf" => {
            let Json::Str(s) = data else {
                return Err("printf `data` to be a string");
            };
            let s = s.strip_suffix('\n').unwrap_or(s);
            out.unparsed.extend(s.split('\n').map(str::to_string));
            return Ok(());
        }
        _ => {
            out.unparsed.push(line.to_string());
            return Ok(());
        }
    };
    let Json::Obj(maps) = data else {
        return Err("`data` to be an object naming the map");
    };
    for (name, value) in maps {
        if !name.starts_with('@') {
            return Err("map names starting with `@` in `data`");
        }
        match read_map(kind, name, value)? {
            Some(m) => out.maps.push(m),
            None => out.unparsed.push(line.to_string()),
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Map,
    Hist,
    Stats,
}

/// One map's JSON value; `Ok(None)` for string or tuple values.
fn read_map(kind: Kind, name: &str, value: &Json) -> Result<Option<ParsedMap>, &'static str> {
    let mut entries = Vec::new();
    // Unkeyed maps hold the value directly; keyed ones an object of them.
    // An unkeyed stats() object is told apart by its three field names.
    let keyed = match (kind, value) {
        (Kind::Stats, v) if stats_fields(v).is_some() => None,
        (_, Json::Obj(pairs)) => Some(pairs),
        _ => None,
    };
    match keyed {
        Some(pairs) => {
            for (k, v) in pairs {
                match read_value(kind, v)? {
                    Some(value) => entries.push(MapEntry {
                        keys: split_keys(k, ","),
                        value,
                    }),
                    None => return Ok(None),
                }
            }
        }
        None => match read_value(kind, value)? {
            Some(value) => entries.push(MapEntry {
                keys: Vec::new(),
                value,
            }),
            None => return Ok(None),
        },
    }
    Ok(Some(ParsedMap {
        name: name.to_string(),
        entries,
    }))
}

fn read_value(kind: Kind, v: &Json) -> Result<Option<Value>, &'static str> {
    match kind {
        Kind::Hist => {
            let Json::Arr(items) = v else {
                return Err("a list of buckets for a hist");
            };
            items
                .iter()
                .map(read_bucket)
                .collect::<Option<Vec<_>>>()
                .map(|b| Some(Value::Histogram(b)))
                .ok_or("buckets like {\"min\": 4096, \"max\": 8191, \"count\": 2}")
        }
        Kind::Stats => {
            if let Some((count, average, total)) = stats_fields(v) {
                return Ok(Some(Value::Stats {
                    count,
                    average,
                    total,
                }));
            }
            match v {
                Json::Int(n) => Ok(Some(Value::Scalar(*n))),
                _ => Err("an integer (avg) or {\"count\", \"average\", \"total\"} (stats)"),
            }
        }
        Kind::Map => match v {
            Json::Int(n) => Ok(Some(Value::Scalar(*n))),
            Json::Str(_) | Json::Arr(_) => Ok(None),
            _ => Err("integer map values"),
        },
    }
}

fn stats_fields(v: &Json) -> Option<(u64, i64, i64)> {
    let Json::Obj(pairs) = v else { return None };
    if pairs.len() != 3 {
        return None;
    }
    let count = u64::try_from(v.get("count")?.as_int()?).ok()?;
    Some((
        count,
        v.get("average")?.as_int()?,
        v.get("total")?.as_int()?,
    ))
}

fn read_bucket(b: &Json) -> Option<Bucket> {
    let Json::Obj(pairs) = b else { return None };
    if pairs
        .iter()
        .any(|(k, _)| !matches!(k.as_str(), "min" | "max" | "count"))
    {
        return None;
    }
    let count = u64::try_from(b.get("count")?.as_int()?).ok()?;
    // Absent is fine; present must be an integer.
    let bound = |k: &str| match b.get(k) {
        None => Some(None),
        Some(j) => j.as_int().map(Some),
    };
    let (min, max) = (bound("min")?, bound("max")?);
    let (lo, hi) = match (min, max) {
        // 0.17's 32-bit label of the [2G, 4G) log2 bucket.
        (Some(-2147483648), Some(0)) => (1i64 << 31, Some(1i64 << 32)),
        (Some(lo), Some(max)) => (lo, Some(max.checked_add(1)?)),
        (None, Some(max)) => (i64::MIN, Some(max.checked_add(1)?)),
        (Some(lo), None) => (lo, None),
        (None, None) => return None,
    };
    if hi.is_some_and(|h| h <= lo) {
        return None;
    }
    Some(Bucket { lo, hi, count })
}

/// A JSON value that keeps object members in printed order, duplicates
/// included (serde_json's map would sort and merge them).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    /// Non-integers and integers beyond i64; never a valid count here.
    OtherNumber,
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Json::Int(n) => Some(*n),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(i64::try_from(v).map(Json::Int).unwrap_or(Json::OtherNumber))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::OtherNumber)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Json::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            pairs.push((k, v));
        }
        Ok(Json::Obj(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_object_keys_are_kept_in_order() {
        let out =
            parse_bpftrace_json(r#"{"type": "map", "data": {"@b": {"WS": 1, "FF": 0, "WS": 2}}}"#)
                .unwrap();
        let keys: Vec<_> = out.maps[0]
            .entries
            .iter()
            .map(|e| e.keys[0].as_str())
            .collect();
        assert_eq!(keys, ["WS", "FF", "WS"]);
    }

    #[test]
    fn the_overflowed_2g_bucket_is_read_back() {
        let b = read_bucket(
            &serde_json::from_str(r#"{"min": -2147483648, "max": 0, "count": 2}"#).unwrap(),
        );
        assert_eq!(
            b,
            Some(Bucket {
                lo: 1 << 31,
                hi: Some(1 << 32),
                count: 2
            })
        );
        let b = read_bucket(&serde_json::from_str(r#"{"max": -1, "count": 1}"#).unwrap());
        assert_eq!(
            b,
            Some(Bucket {
                lo: i64::MIN,
                hi: Some(0),
                count: 1
            })
        );
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        let cases = [
            (
                "{\"type\": \"map\", \"data\": {\"@x\": 1}}\n{\"type\": \"map\"",
                2,
            ),
            ("{\"type\": \"map\", \"data\": {\"@x\": 1.5}}", 1),
            (
                "\n{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 1, \"count\": -1}]}}",
                2,
            ),
            ("{\"type\": \"map\", \"data\": 5}", 1),
            ("{\"type\": \"map\", \"data\": {\"x\": 5}}", 1),
            ("{\"type\": 3, \"data\": {}}", 1),
            ("{\"type\": \"printf\", \"data\": 3}", 1),
        ];
        for (text, line) in cases {
            let e = parse_bpftrace_json(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.to_string().starts_with("bpftrace-json output"), "{e}");
        }
    }

    #[test]
    fn non_json_lines_and_other_types_are_unparsed() {
        let text = "ERROR: x\n{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}\n{\"type\": \"printf\", \"data\": \"a\\nb\\n\"}";
        let out = parse_bpftrace_json(text).unwrap();
        assert_eq!(
            out.unparsed,
            [
                "ERROR: x",
                "{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}",
                "a",
                "b"
            ]
        );
        assert!(out.maps.is_empty());
    }
}
