//! bcc's histograms, as its tools print them with `print_log2_hist` and
//! `print_linear_hist` (bitesize, biolatency, ext4dist, runqlat...):
//!
//! ```text
//! Process Name = dd
//!      Kbytes              : count     distribution
//!          0 -> 1          : 0        |                                        |
//!          2 -> 3          : 0        |                                        |
//!          4 -> 7          : 4096     |****************************************|
//! ```
//!
//! Rules (bcc 0.26's `table.py`):
//! - A histogram starts at its header, `<unit> : count distribution`; the
//!   unit (`Kbytes`, `usecs`) names the map, so a claim reads
//!   `map = "Kbytes"`.
//! - A `<label> = <value>` line just before it (`Process Name = dd`, from
//!   the tool's `section_header`) is the entry's one key; without one the
//!   entry has no key.
//! - Log2 buckets `lo -> hi : count |stars|` cover `lo..=hi`; linear ones
//!   `v : count |stars|` cover `v` alone. bcc never prints log2 slot 0
//!   (values of 0), so those samples are in no bucket: a count is what was
//!   printed.
//! - The histograms of one printing, each after its section line, form
//!   one map; any other line after a histogram (an interval tool's
//!   timestamp) ends the printing, and the next printing is a new map
//!   (claims read the last, as for bpftrace's maps).
//! - Everything else (banners, `Possibly lost N samples`) is kept in
//!   `unparsed`. A bucket line whose numbers do not read is an error.

use crate::error::ParseError;
use crate::format::Format;
use tracecheck_model::{Bucket, MapEntry, ParsedMap, ToolOutput, Value};

pub(crate) const FORMAT: Format = Format {
    name: "bcc-hist",
    describe:
        "bcc's log2 and linear histograms, one per `Label = value` section (bitesize, biolatency)",
    parse: parse_bcc_hist,
};

/// The unit of a histogram header line, `     Kbytes   : count     distribution`.
fn header_unit(line: &str) -> Option<&str> {
    let (unit, rest) = line.split_once(':')?;
    let mut words = rest.split_whitespace();
    let unit = unit.trim();
    (words.next() == Some("count")
        && words.next() == Some("distribution")
        && words.next().is_none())
    .then_some(unit)
    .filter(|u| !u.is_empty())
}

/// A `Label = value` section line: the value.
fn section_value(line: &str) -> Option<&str> {
    let (label, value) = line.split_once(" = ")?;
    (!label.trim().is_empty() && !label.contains(':')).then(|| value.trim())
}

/// A bucket line's range and count, or `None` when the line is no bucket;
/// `Err` when it looks like one (`... : N |...|`) but does not read.
fn bucket(line: &str) -> Option<Result<Bucket, String>> {
    let bar = line.find('|')?;
    if !line.trim_end().ends_with('|') {
        return None;
    }
    let (range, count) = line[..bar].split_once(':')?;
    let count = count.trim();
    let parse = |s: &str| s.trim().parse::<i64>().map_err(|_| s.trim().to_string());
    let read = || -> Result<Bucket, String> {
        let n = count
            .parse::<u64>()
            .map_err(|_| format!("a count, found `{count}`"))?;
        let (lo, hi) = match range.split_once("->") {
            Some((lo, hi)) => (parse(lo), parse(hi)),
            None => (parse(range), parse(range)),
        };
        let (lo, hi) = (
            lo.map_err(|s| format!("a bucket bound, found `{s}`"))?,
            hi.map_err(|s| format!("a bucket bound, found `{s}`"))?,
        );
        Ok(Bucket {
            lo,
            hi: Some(hi + 1),
            count: n,
        })
    };
    Some(read())
}

fn parse_bcc_hist(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    // The printing being read, and the histogram being read in it.
    let mut map: Option<ParsedMap> = None;
    let mut hist: Option<MapEntry> = None;
    let mut section: Option<String> = None;
    let end_hist = |map: &mut Option<ParsedMap>, hist: &mut Option<MapEntry>| {
        if let (Some(m), Some(h)) = (map.as_mut(), hist.take()) {
            m.entries.push(h);
        }
    };
    for (i, line) in text.lines().enumerate() {
        if let Some(unit) = header_unit(line) {
            end_hist(&mut map, &mut hist);
            if map.as_ref().is_some_and(|m| m.name != unit) {
                out.maps.extend(map.take());
            }
            map.get_or_insert_with(|| ParsedMap {
                name: unit.to_string(),
                entries: Vec::new(),
            });
            hist = Some(MapEntry {
                keys: section.take().into_iter().collect(),
                value: Value::Histogram(Vec::new()),
            });
            continue;
        }
        if let Some(h) = hist.as_mut() {
            if let Some(b) = bucket(line) {
                let b = b.map_err(|e| ParseError::new(FORMAT.name, i + 1, line, e))?;
                if let Value::Histogram(bs) = &mut h.value {
                    bs.push(b);
                }
                continue;
            }
        }
        end_hist(&mut map, &mut hist);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(v) = section_value(line) {
            section = Some(v.to_string());
            continue;
        }
        // Anything else ends the printing.
        out.maps.extend(map.take());
        section = None;
        out.unparsed.push(line.to_string());
    }
    end_hist(&mut map, &mut hist);
    out.maps.extend(map);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BITESIZE: &str = "Tracing block I/O... Hit Ctrl-C to end.
^C
Process Name = tcw-1
     Kbytes              : count     distribution
         0 -> 1          : 0        |                                        |
         2 -> 3          : 0        |                                        |
         4 -> 7          : 3        |****************************************|
       128 -> 255        : 1        |*************                           |

Process Name = kworker/u4:1
     Kbytes              : count     distribution
         0 -> 1          : 2        |****************************************|
";

    #[test]
    fn sections_key_the_histograms_of_one_printing() {
        let o = parse_bcc_hist(BITESIZE).unwrap();
        assert_eq!(o.maps.len(), 1);
        let m = &o.maps[0];
        assert_eq!(m.name, "Kbytes");
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[0].keys, ["tcw-1"]);
        assert_eq!(m.entries[0].value.as_count(), 4);
        assert_eq!(m.entries[1].keys, ["kworker/u4:1"]);
        let Value::Histogram(b) = &m.entries[0].value else {
            panic!("not a histogram")
        };
        assert_eq!((b[2].lo, b[2].hi, b[2].count), (4, Some(8), 3));
        assert_eq!(
            o.unparsed,
            ["Tracing block I/O... Hit Ctrl-C to end.", "^C"]
        );
    }

    #[test]
    fn a_linear_histogram_without_sections_and_a_second_printing() {
        let text = "     usecs         : count     distribution
        0          : 2        |****                                    |
        1          : 20       |****************************************|
10:00:01
     usecs         : count     distribution
        0          : 5        |****************************************|
";
        let o = parse_bcc_hist(text).unwrap();
        assert_eq!(o.maps.len(), 2, "{o:?}");
        assert_eq!(o.map("usecs").unwrap().entries[0].value.as_count(), 5);
        assert!(o.maps[0].entries[0].keys.is_empty());
        assert_eq!(o.maps[0].entries[0].value.as_count(), 22);
        assert_eq!(o.unparsed, ["10:00:01"]);
    }

    #[test]
    fn a_bucket_that_does_not_read_is_an_error_naming_the_line() {
        let text = "     Kbytes   : count     distribution\n   4 -> 7 : lots |**|\n";
        let e = parse_bcc_hist(text).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.expected.contains("a count"), "{e}");
    }
}
