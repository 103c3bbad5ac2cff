//! `perf report --stdio` tables (Linux perf), as `perf report -n --sort
//! comm,cpu` prints a profile that `perf record` took:
//!
//! ```text
//! # Samples: 5K of event 'cpu-clock'
//! #
//! # Overhead       Samples  Command          CPU
//! # ........  ............  ...............  ...
//! #
//!     35.91%          1909  sh               001
//!     31.08%          1652  qemu-system-x86  000
//! ```
//!
//! Rules (perf 6.1's `hists__fprintf`):
//! - A table starts at a `#` line of titles followed by a `#` line of dot
//!   runs, one run per column, as wide as the column. The runs, not the
//!   blanks, say where a column ends: a command name may hold a blank
//!   (`Web Content`), and numbers are right-aligned to the run's end, names
//!   left-aligned from its start. So each column is cut at the end of its
//!   run, the last one takes the rest of the line, and cells are trimmed.
//! - Its rows are the lines that follow (after a bare `#`), up to a blank
//!   or `#` line; they
//!   become a [`Table`] with the titles as printed (`Overhead`, `Samples`,
//!   `Command`, `CPU`), read by claims with `columns` and `sum`, as the
//!   `table` format's are.
//! - One table per event section (`perf report` prints one per event
//!   recorded). Everything else (the `#` comments, perf's warnings) is kept
//!   in `unparsed`. A row shorter than the columns before its last is an
//!   error naming the line.

use crate::error::ParseError;
use crate::format::Format;
use tracecheck_model::{Table, ToolOutput};

pub(crate) const FORMAT: Format = Format {
    name: "perf-report",
    describe: "`perf report --stdio` tables (`-n --sort comm,cpu`): columns cut where the `# ....` line's dot runs end",
    parse: parse_perf_report,
};

/// The end (byte offset) of each dot run of a `# ....  ....` line.
fn run_ends(line: &str) -> Option<Vec<usize>> {
    let rest = line.strip_prefix('#')?;
    if rest.trim().is_empty() || !rest.chars().all(|c| c == '.' || c == ' ') {
        return None;
    }
    let b = line.as_bytes();
    let ends = (1..b.len())
        .filter(|&i| b[i - 1] == b'.' && (i == b.len() || b[i] != b'.'))
        .chain((b.last() == Some(&b'.')).then_some(b.len()))
        .collect();
    Some(ends)
}

/// `line` cut at `ends` (the last column to the end of the line), or the
/// number of columns it reached when it is too short.
fn cut(line: &str, ends: &[usize]) -> Result<Vec<String>, usize> {
    let mut cells = Vec::with_capacity(ends.len());
    let mut at = 0;
    for (i, &end) in ends.iter().enumerate() {
        let last = i + 1 == ends.len();
        let to = if last { line.len() } else { end };
        if at > line.len() || (!last && to > line.len()) || !line.is_char_boundary(at) {
            return Err(i);
        }
        let to = if line.is_char_boundary(to) {
            to
        } else {
            return Err(i);
        };
        cells.push(line[at..to].trim().to_string());
        at = to;
    }
    Ok(cells)
}

fn parse_perf_report(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut table: Option<(Table, Vec<usize>)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(ends) = lines.get(i + 1).and_then(|next| run_ends(next)) {
            if line.starts_with('#') {
                out.tables.extend(table.take().map(|(t, _)| t));
                // The titles line is cut where the rows are; its `#` is
                // part of the first cell.
                let header = cut(&line.replacen('#', " ", 1), &ends).map_err(|_| {
                    ParseError::new(
                        FORMAT.name,
                        i + 1,
                        line,
                        "a title over every dot run".to_string(),
                    )
                })?;
                table = Some((
                    Table {
                        header,
                        line: i + 1,
                        rows: Vec::new(),
                    },
                    ends,
                ));
                i += 2;
                continue;
            }
        }
        let t = line.trim();
        // perf prints a bare `#` between the dots and the first row.
        if t == "#" && table.as_ref().is_some_and(|(tab, _)| tab.rows.is_empty()) {
            i += 1;
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            out.tables.extend(table.take().map(|(t, _)| t));
            if !t.is_empty() && t != "#" {
                out.unparsed.push(line.to_string());
            }
            i += 1;
            continue;
        }
        match table.as_mut() {
            Some((tab, ends)) => {
                let cells = cut(line, ends).map_err(|reached| {
                    ParseError::new(
                        FORMAT.name,
                        i + 1,
                        line,
                        format!(
                            "a row as wide as its header's {} columns (it ends in column {})",
                            ends.len(),
                            reached + 1
                        ),
                    )
                })?;
                tab.rows.push(cells);
            }
            None => out.unparsed.push(line.to_string()),
        }
        i += 1;
    }
    out.tables.extend(table.map(|(t, _)| t));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "# Total Lost Samples: 0
#
# Samples: 5K of event 'cpu-clock'
# Event count (approx.): 5331995844
#
# Overhead       Samples  Command          CPU
# ........  ............  ...............  ...
#
    35.91%          1909  sh               001
    15.59%           829  Web Content      000
     0.04%             2  kworker/1:3-vir  001


#
# (Tip: use --header)
#
";

    #[test]
    fn columns_are_cut_where_the_dot_runs_end() {
        let o = parse_perf_report(REPORT).unwrap();
        assert_eq!(o.tables.len(), 1);
        let t = &o.tables[0];
        assert_eq!(t.header, ["Overhead", "Samples", "Command", "CPU"]);
        assert_eq!(t.line, 6);
        assert_eq!(t.rows[0], ["35.91%", "1909", "sh", "001"]);
        assert_eq!(t.rows[1], ["15.59%", "829", "Web Content", "000"]);
        assert_eq!(t.rows[2][2], "kworker/1:3-vir");
        assert!(o.unparsed.iter().any(|l| l.contains("event 'cpu-clock'")));
    }

    #[test]
    fn a_short_row_names_its_line() {
        let text = "# Overhead       Samples  Command          CPU\n# ........  ............  ...............  ...\n    35.91%   19\n";
        let e = parse_perf_report(text).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.expected.contains("4 columns"), "{e}");
    }
}
