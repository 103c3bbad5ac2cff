//! bpftrace's default text output, as printed at exit and by `print()`:
//! `@x: 5`, `@x[k1, k2]: 5`, `stats()` lines, `hist()`/`lhist()` blocks,
//! and multi-line stack keys (`@[` … `]: 5`).
//!
//! Rules this module owns, all taken from real bpftrace 0.17 output (see
//! `tests/fixtures/bpftrace/`):
//! - Keys are printed without quotes and joined with `, `, so a key is split
//!   on `, `: a string key that itself contains `, ` comes out as several
//!   keys. The value is what follows the *last* `]:` on the line, so keys
//!   containing `]:` survive.
//! - Stack keys span lines; each frame is trimmed and frames are joined with
//!   `\n`.
//! - A map entry ends its map's current printing when its name changes, when
//!   a non-map line or two blank lines come between, or when an unkeyed map
//!   (`@x: 5`) is printed again. Hist blocks end with one blank line, which
//!   does not end the map.
//! - Map lines whose value is text (`@x: some string`, tuples) cannot be
//!   compared and go to `unparsed`; a value that starts like a number must
//!   be one.

use crate::error::ParseError;
use crate::format::Format;
use crate::keys::split_keys;
use crate::number::{looks_numeric, parse_int, parse_suffixed, parse_uint};
use tracecheck_model::{Bucket, MapEntry, ParsedMap, ToolOutput, Value};

/// This format in the registry.
pub(crate) const FORMAT: Format = Format {
    name: "bpftrace",
    describe: "bpftrace's default text output (`@x[key]: 5`, histogram blocks)",
    parse: parse_bpftrace_text,
};

/// The most lines one multi-line (stack) key may span before the parser
/// gives up on finding its closing `]:`.
const MAX_KEY_LINES: usize = 4096;

/// Parse bpftrace's default text output. See the module documentation for
/// the rules; errors name the 1-based line.
pub fn parse_bpftrace_text(text: &str) -> Result<ToolOutput, ParseError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut st = State::default();
    let mut blank_run = 0usize;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run >= 2 {
                st.close();
            }
            i += 1;
            continue;
        }
        blank_run = 0;
        match map_name_len(line) {
            Some(name_len) => i = read_entry(&lines, i, name_len, &mut st)?,
            None => {
                st.close();
                st.out.unparsed.push(line.to_string());
                i += 1;
            }
        }
    }
    st.close();
    Ok(st.out)
}

/// The map entry whose first line is `lines[start]` (its map name
/// `name_len` bytes long), with its stack-key lines and, for a histogram,
/// its bucket lines. Pushes it to `st`, or its lines to `unparsed` when its
/// value is text. Returns the index of the first line after it.
fn read_entry(
    lines: &[&str],
    start: usize,
    name_len: usize,
    st: &mut State,
) -> Result<usize, ParseError> {
    let line = lines[start];
    let (logical, used) = gather(lines, start, name_len)?;
    let mut end = start + used;
    let (key, value) = split_key_value(&logical[name_len..]);
    let keys = key.map(|k| split_keys(k, ", ")).unwrap_or_default();
    let value = value.trim();
    let value = if value.is_empty() {
        let (buckets, used) = parse_buckets(lines, end)?;
        end += used;
        Value::Histogram(buckets)
    } else if let Some(v) = parse_int(value) {
        Value::Scalar(v)
    } else if value.starts_with("count ") {
        parse_stats(value).ok_or_else(|| {
            err(
                start,
                line,
                "a stats() value such as `count 3, average 5, total 15`",
            )
        })?
    } else if looks_numeric(value) {
        return Err(err(start, line, "an integer value after `:`"));
    } else {
        // A string or tuple value: nothing to compare, but keep it.
        st.out
            .unparsed
            .extend(lines[start..end].iter().map(|l| l.to_string()));
        return Ok(end);
    };
    st.push(&line[..name_len], MapEntry { keys, value });
    Ok(end)
}

#[derive(Default)]
struct State {
    out: ToolOutput,
    current: Option<ParsedMap>,
}

impl State {
    fn close(&mut self) {
        if let Some(m) = self.current.take() {
            self.out.maps.push(m);
        }
    }

    fn push(&mut self, name: &str, entry: MapEntry) {
        let same_printing = self.current.as_ref().is_some_and(|m| {
            // An unkeyed map has one entry per printing.
            m.name == name
                && !(entry.keys.is_empty() && m.entries.iter().any(|e| e.keys.is_empty()))
        });
        if !same_printing {
            self.close();
        }
        self.current
            .get_or_insert_with(|| ParsedMap {
                name: name.to_string(),
                entries: Vec::new(),
            })
            .entries
            .push(entry);
    }
}

fn err(index: usize, text: &str, expected: &str) -> ParseError {
    ParseError::new(FORMAT.name, index + 1, text, expected)
}

/// Length of the map name (`@`, `@bytes`) when `line` starts like map
/// output: `@`, identifier characters, then `[` or `:`.
fn map_name_len(line: &str) -> Option<usize> {
    let rest = line.strip_prefix('@')?;
    let ident = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    match rest.as_bytes().get(ident) {
        Some(b'[') | Some(b':') => Some(1 + ident),
        _ => None,
    }
}

/// The logical map line starting at `lines[i]`, joined with `\n` when a
/// stack key spans lines, and how many physical lines it used.
fn gather(lines: &[&str], i: usize, name_len: usize) -> Result<(String, usize), ParseError> {
    let line = lines[i];
    if line.as_bytes()[name_len] == b':' || line[name_len..].contains("]:") {
        return Ok((line.to_string(), 1));
    }
    if !line.trim_end().ends_with('[') {
        return Err(err(i, line, "`]:` closing the map key"));
    }
    for j in i + 1..lines.len().min(i + 1 + MAX_KEY_LINES) {
        let l = lines[j];
        if (l.starts_with(']') || l.starts_with(',')) && l.contains("]:") {
            return Ok((lines[i..=j].join("\n"), j + 1 - i));
        }
    }
    Err(err(
        i,
        line,
        "a line starting with `]:` closing this multi-line key",
    ))
}

/// Split `[key]: value` or `: value` (the text after the map name).
fn split_key_value(rest: &str) -> (Option<&str>, &str) {
    if let Some(v) = rest.strip_prefix(':') {
        return (None, v);
    }
    // gather() guarantees a `]:` after the `[`.
    match rest.rfind("]:") {
        Some(pos) if pos >= 1 => (Some(&rest[1..pos]), &rest[pos + 2..]),
        _ => (Some(""), ""),
    }
}

/// `count 3, average 5, total 15`
fn parse_stats(v: &str) -> Option<Value> {
    let mut parts = v.split(", ");
    let count = parse_uint(parts.next()?.strip_prefix("count ")?)?;
    let average = parse_int(parts.next()?.strip_prefix("average ")?)?;
    let total = parse_int(parts.next()?.strip_prefix("total ")?)?;
    parts.next().is_none().then_some(Value::Stats {
        count,
        average,
        total,
    })
}

/// Bucket lines from `lines[i]` on, up to the first line that does not
/// start with `[` or `(`.
fn parse_buckets(lines: &[&str], i: usize) -> Result<(Vec<Bucket>, usize), ParseError> {
    let mut buckets = Vec::new();
    let mut j = i;
    while let Some(line) = lines
        .get(j)
        .filter(|l| l.starts_with('[') || l.starts_with('('))
    {
        let b = parse_bucket(line).ok_or_else(|| {
            err(
                j,
                line,
                "a histogram bucket such as `[4K, 8K)    2 |@@   |`",
            )
        })?;
        buckets.push(b);
        j += 1;
    }
    Ok((buckets, j - i))
}

/// One histogram line: `LABEL  COUNT |@@@   |`. Labels: `[0]`, `[2, 4)`,
/// `[4K, 8K)`, `[100, ...)`, `(..., 0)`. `(..., B)` gets `lo = i64::MIN`.
pub(crate) fn parse_bucket(line: &str) -> Option<Bucket> {
    let close = line.find([')', ']'])?;
    let (label, rest) = line.split_at(close + 1);
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let count = parse_uint(&rest[..digits])?;
    // The bar: at least one space, then `|`, only '@' and spaces, `|`.
    let bar = rest[digits..].strip_prefix(' ')?.trim();
    let inside = bar.strip_prefix('|')?.strip_suffix('|')?;
    if !inside.bytes().all(|b| b == b'@' || b == b' ') {
        return None;
    }
    let (lo, hi) = if let Some(inner) = label
        .strip_prefix("(..., ")
        .and_then(|l| l.strip_suffix(')'))
    {
        (i64::MIN, Some(parse_suffixed(inner)?))
    } else if let Some(inner) = label.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
        let v = parse_suffixed(inner)?;
        (v, Some(v.checked_add(1)?))
    } else {
        let inner = label.strip_prefix('[')?.strip_suffix(')')?;
        let (a, b) = inner.split_once(", ")?;
        let lo = parse_suffixed(a)?;
        if b == "..." {
            (lo, None)
        } else {
            (lo, Some(parse_suffixed(b)?))
        }
    };
    if hi.is_some_and(|h| h <= lo) {
        return None;
    }
    Some(Bucket { lo, hi, count })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(keys: &[&str], v: i64) -> MapEntry {
        MapEntry {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            value: Value::Scalar(v),
        }
    }

    #[test]
    fn every_bucket_form_of_0_17() {
        let b = |s: &str| parse_bucket(s).map(|b| (b.lo, b.hi, b.count));
        assert_eq!(
            b("(..., 0)               1 |@@@@   |"),
            Some((i64::MIN, Some(0), 1))
        );
        assert_eq!(
            b("[0]                    1 |@@@@   |"),
            Some((0, Some(1), 1))
        );
        assert_eq!(
            b("[1]                    3 |@@@@   |"),
            Some((1, Some(2), 3))
        );
        assert_eq!(
            b("[2, 4)                 2 |@@@@@@@|"),
            Some((2, Some(4), 2))
        );
        assert_eq!(
            b("[4K, 8K)              16 |@@@@@@@|"),
            Some((4096, Some(8192), 16))
        );
        assert_eq!(
            b("[1M, 2M)               1 |@      |"),
            Some((1 << 20, Some(2 << 20), 1))
        );
        assert_eq!(
            b("[2G, 4G)               2 |@@@@@@@|"),
            Some((2 << 30, Some(4 << 30), 2))
        );
        assert_eq!(
            b("[2000, 3000)           0 |       |"),
            Some((2000, Some(3000), 0))
        );
        assert_eq!(
            b("[100, ...)             2 |@@@@@@@|"),
            Some((100, None, 2))
        );
    }

    #[test]
    fn malformed_buckets_are_rejected() {
        for s in [
            "[4K, 8K)",
            "[4K, 8K) x |@|",
            "[4K, 8K) 2 @@",
            "[4X, 8K) 2 |@|",
            "[8K, 4K) 2 |@|",
            "[4K 8K) 2 |@|",
            "(..., 0] 1 |@|",
            "[4K, 8K) 2 |@x|",
            "[",
            "(",
        ] {
            assert_eq!(parse_bucket(s), None, "{s:?}");
        }
    }

    #[test]
    fn malformed_map_line_is_an_error_with_line_number_and_text() {
        let e = parse_bpftrace_text("Attaching 1 probe...\n\n@x[abc: notanumber\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.text, "@x[abc: notanumber");
        assert!(e.expected.contains("]:"), "{}", e.expected);
        assert!(
            e.to_string()
                .starts_with("bpftrace output, line 3: expected"),
            "{e}"
        );
    }

    #[test]
    fn values_that_start_like_numbers_must_be_numbers() {
        let e = parse_bpftrace_text("@x: 12abc").unwrap_err();
        assert_eq!((e.line, e.text.as_str()), (1, "@x: 12abc"));
        let e = parse_bpftrace_text("@s: count 3, average x, total 1").unwrap_err();
        assert!(e.expected.contains("stats"));
        let e = parse_bpftrace_text("@h: \n[1, 2)   x |@|\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn unclosed_stack_key_is_an_error_at_its_first_line() {
        let e = parse_bpftrace_text("x\n@[\n    frame+1\n").unwrap_err();
        assert_eq!((e.line, e.text.as_str()), (2, "@["));
    }

    #[test]
    fn non_map_lines_go_to_unparsed_in_order() {
        let out = parse_bpftrace_text(
            "Attaching 2 probes...\nWARNING: x\n@x: 1\nhello @y: 2\n@home dir\n",
        )
        .unwrap();
        assert_eq!(
            out.unparsed,
            [
                "Attaching 2 probes...",
                "WARNING: x",
                "hello @y: 2",
                "@home dir"
            ]
        );
        assert_eq!(out.maps.len(), 1);
    }

    #[test]
    fn reprinting_an_unkeyed_map_starts_a_new_printing_but_duplicate_keys_do_not() {
        let out = parse_bpftrace_text("@calls: 3\n@calls: 4\n@b[WS]: 1\n@b[WS]: 2\n").unwrap();
        assert_eq!(out.maps.len(), 3);
        assert_eq!(out.maps[0].entries, [scalar(&[], 3)]);
        assert_eq!(out.maps[1].entries, [scalar(&[], 4)]);
        assert_eq!(
            out.maps[2].entries,
            [scalar(&["WS"], 1), scalar(&["WS"], 2)]
        );
    }

    #[test]
    fn crlf_and_missing_final_newline_are_fine() {
        let out = parse_bpftrace_text("@x[a, 1]: -5\r\n@x[b, 2]: 6").unwrap();
        assert_eq!(
            out.maps[0].entries,
            [scalar(&["a", "1"], -5), scalar(&["b", "2"], 6)]
        );
    }
}
