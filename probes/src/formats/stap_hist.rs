//! SystemTap's `@hist_log` histograms, as `print(@hist_log(x))` prints them
//! (systemtap-doc's lwtools: bitesize-nd.stp, biolatency-nd.stp,
//! fslatency-nd.stp...):
//!
//! ```text
//! I/O size (bytes):
//!
//! process name: dd
//! value |-------------------------------------------------- count
//!   256 |                                                   0
//!   512 |                                                   0
//!  1024 |@@@                                                3
//! ```
//!
//! Rules (stap 4.8's runtime, `_stp_stat_print_histogram`):
//! - A histogram starts at its header, `value |-----...----- count`.
//! - The title line of the printing, a line that ends in `:` (`I/O size
//!   (bytes):`, `bio latency (ns):`), names the map without its colon, so a
//!   claim reads `map = "I/O size (bytes)"`. Without a title the map is
//!   named `@hist_log`.
//! - A `label: value` line just before the header (`process name: dd`,
//!   printed by the script) is the entry's one key; without one the entry
//!   has no key.
//! - A bucket line `VALUE |@@@ COUNT` covers VALUE up to the next power of
//!   two (log2 buckets: 0, 1, 2, 4, ...; negative values mirror them). The
//!   runtime prints a few empty buckets around the used ones and elides
//!   long empty runs with a `~` line; empty buckets count nothing.
//! - The histograms under one title form one map; the same title again (an
//!   interval script) starts a new map (claims read the last, as for
//!   bpftrace's maps).
//! - Everything else (banners) is kept in `unparsed`. A bucket line whose
//!   numbers do not read is an error naming the line.

use crate::error::ParseError;
use crate::format::Format;
use tracecheck_model::{Bucket, MapEntry, ParsedMap, ToolOutput, Value};

pub(crate) const FORMAT: Format = Format {
    name: "stap-hist",
    describe:
        "SystemTap's @hist_log histograms, one per `label: value` line, under a title ending in `:`",
    parse: parse_stap_hist,
};

/// The name of a map whose printing has no title line.
const UNTITLED: &str = "@hist_log";

fn is_header(line: &str) -> bool {
    let t = line.trim();
    t.strip_prefix("value |")
        .and_then(|r| r.strip_suffix(" count"))
        .is_some_and(|dashes| !dashes.is_empty() && dashes.chars().all(|c| c == '-'))
}

/// A `label: value` line: the value.
fn section_value(line: &str) -> Option<&str> {
    let (label, value) = line.split_once(": ")?;
    let value = value.trim();
    (!label.trim().is_empty() && !value.is_empty() && !line.contains('|')).then_some(value)
}

/// The upper bound (exclusive) of the log2 bucket that starts at `lo`.
fn log2_end(lo: i64) -> i64 {
    match lo {
        0 => 1,
        l if l > 0 => l.saturating_mul(2),
        // -1 covers -1; -2 covers -3..=-2; -4 covers -7..=-4.
        l => l + 1,
    }
}

/// A bucket line, or `None` when the line is no bucket; `Err` when it
/// looks like one (`N |... N`) but does not read.
fn bucket(line: &str) -> Option<Result<Bucket, String>> {
    let (value, rest) = line.split_once('|')?;
    let rest = rest.trim_end();
    let (bar, count) = rest.rsplit_once(' ').unwrap_or(("", rest));
    if !bar.chars().all(|c| c == '@' || c == ' ') {
        return None;
    }
    let read = || -> Result<Bucket, String> {
        let lo = value
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("a bucket value, found `{}`", value.trim()))?;
        let count = count
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("a count, found `{}`", count.trim()))?;
        Ok(Bucket {
            lo,
            hi: Some(log2_end(lo)),
            count,
        })
    };
    Some(read())
}

fn parse_stap_hist(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    let mut title: Option<String> = None;
    let mut map: Option<ParsedMap> = None;
    let mut hist: Option<MapEntry> = None;
    let mut section: Option<String> = None;
    let end_hist = |map: &mut Option<ParsedMap>, hist: &mut Option<MapEntry>| {
        if let (Some(m), Some(h)) = (map.as_mut(), hist.take()) {
            m.entries.push(h);
        }
    };
    for (i, line) in text.lines().enumerate() {
        if is_header(line) {
            end_hist(&mut map, &mut hist);
            let name = title.clone().unwrap_or_else(|| UNTITLED.to_string());
            if map.as_ref().is_some_and(|m| m.name != name) {
                out.maps.extend(map.take());
            }
            map.get_or_insert_with(|| ParsedMap {
                name,
                entries: Vec::new(),
            });
            hist = Some(MapEntry {
                keys: section.take().into_iter().collect(),
                value: Value::Histogram(Vec::new()),
            });
            continue;
        }
        if let Some(h) = hist.as_mut() {
            if line.trim() == "~" {
                continue;
            }
            if let Some(b) = bucket(line) {
                let b = b.map_err(|e| ParseError::new(FORMAT.name, i + 1, line, e))?;
                if let Value::Histogram(bs) = &mut h.value {
                    bs.push(b);
                }
                continue;
            }
        }
        end_hist(&mut map, &mut hist);
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(name) = t.strip_suffix(':') {
            // A new title: the printing before it is complete.
            out.maps.extend(map.take());
            title = Some(name.trim().to_string());
            section = None;
            continue;
        }
        if let Some(v) = section_value(line) {
            section = Some(v.to_string());
            continue;
        }
        out.unparsed.push(line.to_string());
    }
    end_hist(&mut map, &mut hist);
    out.maps.extend(map);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_buckets_end_at_the_next_power_of_two() {
        assert_eq!(log2_end(0), 1);
        assert_eq!(log2_end(1), 2);
        assert_eq!(log2_end(1024), 2048);
        assert_eq!(log2_end(-4), -3);
    }

    #[test]
    fn an_untitled_histogram_with_an_elision() {
        let o = parse_stap_hist(
            "value |-------------------------------------------------- count\n\
             \x20   0 |@@                                                 2\n\
             \x20   1 |                                                   0\n\
             \x20     ~\n\
             \x20 512 |@@@@@                                              5\n\
             \x201024 |                                                   0\n",
        )
        .unwrap();
        assert_eq!(o.maps.len(), 1);
        assert_eq!(o.maps[0].name, UNTITLED);
        let Value::Histogram(b) = &o.maps[0].entries[0].value else {
            panic!("a histogram")
        };
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 7);
        assert_eq!((b[2].lo, b[2].hi), (512, Some(1024)));
        assert!(o.maps[0].entries[0].keys.is_empty());
    }

    #[test]
    fn a_bucket_that_does_not_read_is_an_error_naming_the_line() {
        let e = parse_stap_hist("x:\nvalue |---- count\n  12a |@@ 2\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }
}
