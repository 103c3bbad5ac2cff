//! perf-tools' interval histograms (Brendan Gregg's ftrace tools,
//! `iolatency`), printed once an interval:
//!
//! ```text
//!   >=(ms) .. <(ms)   : I/O      |Distribution                          |
//!        0 -> 1       : 731      |######################################|
//!        1 -> 2       : 318      |#################                     |
//!        2 -> 4       : 0        |                                      |
//! ```
//!
//! Rules (perf-tools 2020-01-30's `iolatency`):
//! - A histogram starts at its header, `>=(UNIT) .. <(UNIT) : WHAT
//!   |Distribution|`; the unit names the map, so a claim reads
//!   `map = "ms"`.
//! - A bucket `lo -> hi : count |###|` holds the samples its awk put at
//!   index i, where `for (ms = 1; latency > ms; ms *= 2) i++`: latencies
//!   in (lo, hi], read here as `[lo, hi)`, the difference being a sample
//!   exactly on a bound, which a judge must grant either side anyway.
//! - iolatency empties its histogram after each printing (`delete hist`),
//!   so the printings of one run are summed into one entry: the run's
//!   histogram, with no key.
//! - `bitesize` prints one histogram at its end, in KiB with one decimal,
//!   under `Kbytes : I/O Distribution` (no bars in the header), its first
//!   bucket open below and its last open above:
//!   `-> 0.9 : 3`, `1.0 -> 7.9 : 38`, `128.0 -> : 1`. Its awk counts
//!   `nr_sector >= lo*2 && nr_sector < (hi+0.1)*2` with perf stat filters,
//!   so a bucket `a -> b` is `[a, b + 0.1)` KiB: whole KiB for its default
//!   and any whole-KiB bucket list, read here as such (a bound that is not
//!   a whole KiB is an error, not a rounding). The open ends read as 0 and
//!   as no upper bound.
//! - Everything else (the banner, `Ending tracing...`) is kept in
//!   `unparsed`. A bucket line whose numbers do not read is an error.

use crate::error::ParseError;
use crate::format::Format;
use tracecheck_model::{Bucket, MapEntry, ParsedMap, ToolOutput, Value};

pub(crate) const FORMAT: Format = Format {
    name: "perf-tools-hist",
    describe:
        "perf-tools' interval histograms, `>=(ms) .. <(ms)` (iolatency), summed over intervals",
    parse: parse_perf_tools_hist,
};

/// The unit of a header line, `  >=(ms) .. <(ms)   : I/O  |Distribution  |`,
/// or bitesize's `Kbytes : I/O Distribution`.
fn header_unit(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if let Some((unit, rest)) = t.split_once(':') {
        let words: Vec<&str> = rest.split_whitespace().collect();
        if unit.trim() == "Kbytes" && words == ["I/O", "Distribution"] {
            return Some("Kbytes");
        }
    }
    let rest = t.strip_prefix(">=(")?;
    let (unit, rest) = rest.split_once(')')?;
    rest.trim_start()
        .starts_with(".. <(")
        .then_some(unit)
        .filter(|u| !u.is_empty() && line.contains("|Distribution"))
}

/// A bucket line's range and count, or `None` when the line is no bucket;
/// `Err` when it looks like one (`lo -> hi : N |...|`) but does not read.
fn bucket(line: &str) -> Option<Result<Bucket, String>> {
    let (range, rest) = line.split_once(':')?;
    let (lo, hi) = range.split_once("->")?;
    let (count, bar) = rest.split_once('|')?;
    if !bar.trim_end().ends_with('|') {
        return None;
    }
    let num = |s: &str, what: &str| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("{what}, found `{}`", s.trim()))
    };
    // bitesize's one-decimal KiB bounds: `a` as printed, `b` plus the 0.1
    // its awk took off; an empty side is open.
    let tenths = |s: &str, add: i64| -> Result<Option<i64>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
        let t = whole
            .parse::<i64>()
            .ok()
            .zip(frac.parse::<i64>().ok().filter(|_| frac.len() == 1))
            .map(|(w, f)| w * 10 + f + add)
            .ok_or_else(|| format!("a bucket bound, found `{s}`"))?;
        if t % 10 != 0 {
            return Err(format!("a bound of whole KiB, found `{s}`"));
        }
        Ok(Some(t / 10))
    };
    let decimal =
        lo.contains('.') || hi.contains('.') || lo.trim().is_empty() || hi.trim().is_empty();
    Some((|| {
        let (lo, hi) = if decimal {
            (tenths(lo, 0)?.unwrap_or(0), tenths(hi, 1)?)
        } else {
            (num(lo, "a bucket bound")?, Some(num(hi, "a bucket bound")?))
        };
        Ok(Bucket {
            lo,
            hi,
            count: num(count, "a count")?.max(0) as u64,
        })
    })())
}

fn parse_perf_tools_hist(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    // The run's histogram by unit, summed over the printings.
    let mut maps: Vec<(String, Vec<Bucket>)> = Vec::new();
    let mut current: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(unit) = header_unit(line) {
            let at = match maps.iter().position(|(u, _)| u == unit) {
                Some(at) => at,
                None => {
                    maps.push((unit.to_string(), Vec::new()));
                    maps.len() - 1
                }
            };
            current = Some(at);
            continue;
        }
        if let Some(at) = current {
            if let Some(b) = bucket(line) {
                let b = b.map_err(|e| ParseError::new(FORMAT.name, i + 1, line, e))?;
                let buckets = &mut maps[at].1;
                match buckets.iter_mut().find(|x| x.lo == b.lo && x.hi == b.hi) {
                    Some(x) => x.count += b.count,
                    None => buckets.push(b),
                }
                continue;
            }
        }
        current = None;
        if !line.trim().is_empty() {
            out.unparsed.push(line.to_string());
        }
    }
    for (unit, mut buckets) in maps {
        buckets.sort_by_key(|b| b.lo);
        out.maps.push(ParsedMap {
            name: unit,
            entries: vec![MapEntry {
                keys: Vec::new(),
                value: Value::Histogram(buckets),
            }],
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IOLATENCY: &str = "Tracing block I/O. Output every 1 seconds. Ctrl-C to end.

  >=(ms) .. <(ms)   : I/O      |Distribution                          |
       0 -> 1       : 2        |#                                     |
       1 -> 2       : 0        |                                      |
       2 -> 4       : 120      |######################################|

  >=(ms) .. <(ms)   : I/O      |Distribution                          |
       0 -> 1       : 1        |#                                     |
       1 -> 2       : 0        |                                      |
       2 -> 4       : 130      |######################################|
       4 -> 8       : 7        |##                                    |
^C
Ending tracing...
";

    /// The (lo, hi, count) of the first entry of map `name`.
    fn buckets(o: &ToolOutput, name: &str) -> Vec<(i64, Option<i64>, u64)> {
        let m = o.map(name).unwrap_or_else(|| panic!("no {name} map"));
        let Value::Histogram(b) = &m.entries[0].value else {
            panic!("not a histogram")
        };
        b.iter().map(|b| (b.lo, b.hi, b.count)).collect()
    }

    #[test]
    fn the_intervals_add_up_to_one_histogram() {
        let o = parse_perf_tools_hist(IOLATENCY).unwrap();
        assert_eq!(o.maps.len(), 1);
        assert_eq!(o.map("ms").expect("the ms map").entries.len(), 1);
        assert!(o.maps[0].entries[0].keys.is_empty());
        assert_eq!(
            buckets(&o, "ms"),
            [
                (0, Some(1), 3),
                (1, Some(2), 0),
                (2, Some(4), 250),
                (4, Some(8), 7)
            ]
        );
        assert_eq!(
            o.unparsed,
            [
                "Tracing block I/O. Output every 1 seconds. Ctrl-C to end.",
                "^C",
                "Ending tracing..."
            ]
        );
    }

    const BITESIZE: &str = "Tracing block I/O size (bytes), until Ctrl-C...

            Kbytes         : I/O      Distribution
                -> 0.9       : 3        |#                                     |
          1.0 -> 7.9       : 38       |######                                |
          8.0 -> 63.9      : 0        |                                      |
         64.0 -> 127.9     : 0        |                                      |
        128.0 ->           : 240      |######################################|
";

    #[test]
    fn bitesizes_kib_buckets_read_as_whole_kib_with_open_ends() {
        let o = parse_perf_tools_hist(BITESIZE).unwrap();
        assert_eq!(
            buckets(&o, "Kbytes"),
            [
                (0, Some(1), 3),
                (1, Some(8), 38),
                (8, Some(64), 0),
                (64, Some(128), 0),
                (128, None, 240)
            ]
        );
        let e = parse_perf_tools_hist("  Kbytes : I/O Distribution\n  1.5 -> 7.9 : 2 |#|\n")
            .unwrap_err();
        assert!(e.expected.contains("whole KiB"), "{e}");
    }

    #[test]
    fn a_bucket_that_does_not_read_is_an_error_naming_the_line() {
        let text = "  >=(ms) .. <(ms)   : I/O      |Distribution    |\n   2 -> 4 : many |##|\n";
        let e = parse_perf_tools_hist(text).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.expected.contains("a count"), "{e}");
    }
}
