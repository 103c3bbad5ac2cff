//! Tables of rows under a header line: bpftrace `printf` tables and the
//! per-event lines of snoop tools (opensnoop, execsnoop, biosnoop):
//!
//! ```text
//! Attaching 6 probes...
//! Tracing open syscalls... Hit Ctrl-C to end.
//! PID    COMM               FD ERR PATH
//! 2440   tcw-3b7b8d          3   0 /tmp/tracecheck-opens-0.dat
//! ```
//!
//! Rules:
//! - A header is a line of two or more column names, each starting with an
//!   upper-case letter and holding only upper-case letters, digits and
//!   `_%/.:#-`, then perhaps a unit in parentheses in any case (`PID`,
//!   `TIME(ms)`, `T`), or in up to two lower-case letters after it
//!   (`LATms`, `R_Kb`); a banner in mixed case is not.
//! - Each line after it is a row, split on whitespace into the header's
//!   columns, the last column taking the rest of the line (paths and
//!   argument lists hold spaces). A comm with a space in it would shift
//!   the columns; tracecheck's workloads never use one.
//! - A line whose last cell is empty but that still ends with the blank
//!   that separates it (`printf("%3d %s\n", err, "")`: bcc 0.26's
//!   statsnoop prints every PATH empty in a 6.1 guest) is a row with an
//!   empty last column.
//! - A line with fewer cells than columns (a blank line, a closing banner)
//!   is not a row, nor is a tool's notice of lost events (bpftrace's
//!   `Lost N events`, bcc's `Possibly lost N samples`); they are kept in
//!   `unparsed`.
//! - The same header printed again (interval tools) starts a new table; a
//!   different header-like line inside a table with enough cells is a row.
//! - A line whose cells are separated by tabs is a header when each cell,
//!   trimmed, is a title of words that starts with an upper-case letter
//!   (SystemTap's iotop.stp: `Process\tKB Read\tKB Written`, printed with
//!   `%16s\t%10s\t%10s`); its rows are split on tabs too, into exactly as
//!   many cells. A header of single words is read the first way.
//! - A blank line closes the table: interval tools print one and then a
//!   banner before their next header (SystemTap's disktop.stp: `Wed Dec  2
//!   14:40:10 2026 , Average: 819Kb/sec, Read: 4096Kb, Write: 0Kb`), and
//!   that banner is no row. Lines up to the next header are `unparsed`.
//!
//! Nothing here is an error: which columns a claim reads, and whether its
//! cells are numbers, is checked when the claim is judged.

use crate::error::ParseError;
use crate::format::Format;
use tracecheck_model::{Table, ToolOutput};

pub(crate) const FORMAT: Format = Format {
    name: "table",
    describe:
        "a header row of column names, then one row per event (bpftrace printf tables, snoop tools)",
    parse: parse_table,
};

fn is_column_name(t: &str) -> bool {
    // A unit in parentheses may be in any case: `TIME(ms)`, `LAT(us)`.
    let t = match t.split_once('(') {
        Some((name, unit))
            if unit.ends_with(')') && !unit[..unit.len() - 1].contains(['(', ')']) =>
        {
            name
        }
        _ => t,
    };
    // A unit may also trail in up to two lower-case letters: `LATms`
    // (perf-tools' iosnoop), `R_Kb` (bcc's filetop).
    let core = t.trim_end_matches(|c: char| c.is_ascii_lowercase());
    if t.len() - core.len() > 2 {
        return false;
    }
    // A share may lead with its sign: `%RND` (bcc's biopattern), `%CPU`.
    let core = core.strip_prefix('%').unwrap_or(core);
    let mut chars = core.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "_%/.:#-".contains(c))
}

fn header_of(line: &str) -> Option<Vec<String>> {
    let mut cols: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    // A last title with a blank in it, its second word in parentheses:
    // bpftrace's setuids.bt ends its header in `ARGS (RET)`. The last
    // column takes the rest of each row anyway.
    if cols.len() >= 3 {
        let last = &cols[cols.len() - 1];
        if let Some(inner) = last.strip_prefix('(').and_then(|l| l.strip_suffix(')')) {
            if is_column_name(inner) {
                let tail = cols.pop().unwrap_or_default();
                if let Some(prev) = cols.last_mut() {
                    prev.push(' ');
                    prev.push_str(&tail);
                }
            }
        }
    }
    (cols.len() >= 2
        && cols.iter().enumerate().all(|(i, c)| {
            let word = if i + 1 == cols.len() {
                c.split(' ').next().unwrap_or(c)
            } else {
                c.as_str()
            };
            is_column_name(word)
        }))
    .then_some(cols)
}

fn is_title(cell: &str) -> bool {
    cell.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && cell
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || "_%/.:#-()".contains(c))
}

/// A tab-separated header of titles with blanks in them (`KB Read`).
fn tab_header_of(line: &str) -> Option<Vec<String>> {
    let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
    (line.contains('\t') && cols.len() >= 2 && cols.iter().all(|c| is_title(c)))
        .then(|| cols.iter().map(|c| c.to_string()).collect())
}

/// A row of a tab-separated table: exactly `n` cells between tabs.
fn tab_cells(line: &str, n: usize) -> Option<Vec<String>> {
    let cells: Vec<String> = line.split('\t').map(|c| c.trim().to_string()).collect();
    (cells.len() == n).then_some(cells)
}

/// `line` split into `n` cells, the last taking the rest; `None` when it
/// has fewer than `n - 1`, or `n - 1` and nothing after the last of them.
/// Every one of the first `n - 1` cells must be followed by a blank, so a
/// line of `n - 1` cells ending in a blank is a row whose last cell is
/// empty (a printf `%s` of an empty string).
fn cells(line: &str, n: usize) -> Option<Vec<String>> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while out.len() + 1 < n {
        let end = rest.find(char::is_whitespace)?;
        out.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    out.push(rest.trim_end().to_string());
    Some(out)
}

/// Parse a tool's stdout as tables (see the module documentation).
pub fn parse_table(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    let mut open: Option<Table> = None;
    // Whether the open table's cells are separated by tabs.
    let mut tabbed = false;
    for (i, line) in text.lines().enumerate() {
        let (header, tabs) = match header_of(line) {
            Some(h) => (Some(h), false),
            None => (tab_header_of(line), true),
        };
        let restart = match (&open, &header) {
            (None, Some(_)) => true,
            (Some(t), Some(h)) => &t.header == h,
            _ => false,
        };
        if restart {
            if let Some(t) = open.take() {
                out.tables.push(t);
            }
            open = Some(Table {
                header: header.expect("restart implies a header"),
                line: i + 1,
                rows: Vec::new(),
            });
            tabbed = tabs;
            continue;
        }
        if line.trim().is_empty() {
            if let Some(t) = open.take() {
                out.tables.push(t);
            }
            out.unparsed.push(line.to_string());
            continue;
        }
        let notice = crate::loss::loss_notice(line).is_some();
        let row = open.as_mut().filter(|_| !notice).and_then(|t| {
            let n = t.header.len();
            let c = if tabbed {
                tab_cells(line, n)
            } else {
                cells(line, n)
            };
            c.map(|c| (t, c))
        });
        match row {
            Some((t, c)) => t.rows.push(c),
            None => out.unparsed.push(line.to_string()),
        }
    }
    if let Some(t) = open {
        out.tables.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bcc 0.26's statsnoop in a 6.1 guest: every PATH empty, each line
    /// ending in the blank before it; a line short of that is no row.
    #[test]
    fn an_empty_last_cell_after_its_blank_is_a_row() {
        let text = "PID     COMM               FD ERR PATH\n\
                    155     tcw-e06cc0          0   0 \n\
                    155     tcw-e06cc0          0   0 /tmp/x\n\
                    155     tcw-e06cc0          0   0\n\
                    \n";
        let out = parse_table(text).unwrap();
        let rows = &out.tables[0].rows;
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0], ["155", "tcw-e06cc0", "0", "0", ""]);
        assert_eq!(rows[1][4], "/tmp/x");
        assert_eq!(out.unparsed.len(), 2, "{:?}", out.unparsed);
    }

    #[test]
    fn rows_split_into_the_header_columns_with_the_rest_in_the_last() {
        let o = parse_table(
            "Attaching 6 probes...\nTracing open syscalls... Hit Ctrl-C to end.\n\
             PID    COMM               FD ERR PATH\n\
             2440   tcw-3b7b8d          3   0 /tmp/a file\n\
             2441   cat                -1   2 /nope\n\
             \n",
        )
        .unwrap();
        assert_eq!(o.tables.len(), 1);
        let t = &o.tables[0];
        assert_eq!(t.header, ["PID", "COMM", "FD", "ERR", "PATH"]);
        assert_eq!(t.line, 3);
        assert_eq!(t.rows[0], ["2440", "tcw-3b7b8d", "3", "0", "/tmp/a file"]);
        assert_eq!(t.rows[1][2], "-1");
        assert_eq!(o.unparsed.len(), 3, "{:?}", o.unparsed);
    }

    /// SystemTap's disktop.stp, two intervals: a blank line and a banner
    /// with as many words as the header has columns, between the tables.
    #[test]
    fn a_blank_line_closes_an_interval_table() {
        let o = parse_table(
            "tracecheck: stap probes registered\n\
             \n\
             Wed Dec  2 14:40:10 2026 , Average:  819Kb/sec, Read:    4096Kb, Write:      0Kb\n\
             \n\
             \x20    UID      PID     PPID                       CMD   DEVICE    T        BYTES\n\
             \x20      0      231      180                tcw-3b7b8d      vda    R      4194304\n\
             \n\
             Wed Dec  2 14:40:15 2026 , Average:  100Kb/sec, Read:     512Kb, Write:      0Kb\n\
             \n\
             \x20    UID      PID     PPID                       CMD   DEVICE    T        BYTES\n\
             \x20      0      231      180                tcw-3b7b8d      vda    R       524288\n",
        )
        .unwrap();
        assert_eq!(o.tables.len(), 2);
        assert!(o.tables.iter().all(|t| t.rows.len() == 1), "{:?}", o.tables);
        assert_eq!(o.tables[1].rows[0][6], "524288");
        assert_eq!(o.unparsed.len(), 7, "{:?}", o.unparsed);
    }

    #[test]
    fn a_repeated_header_starts_a_new_table() {
        let o = parse_table("T COUNT\nA 1\nT COUNT\nB 2\nLost 3 events\n").unwrap();
        assert_eq!(o.tables.len(), 2);
        assert_eq!(
            o.tables[1].rows,
            vec![vec!["B".to_string(), "2".to_string()]]
        );
        assert_eq!(o.unparsed, ["Lost 3 events"]);
    }

    /// SystemTap's iotop.stp: `%16s\t%10s\t%10s` under a header of titles.
    #[test]
    fn a_tab_separated_header_may_hold_titles() {
        let o = parse_table(
            "         Process\t   KB Read\tKB Written\n\
             \x20     tcw-3b7b8d\t    180224\t         0\n\
             \x20    kworker/0:1\t         0\t        12\n\
             \n\
             \x20        Process\t   KB Read\tKB Written\n\
             a line with no tab\n",
        )
        .unwrap();
        assert_eq!(o.tables.len(), 2);
        assert_eq!(o.tables[0].header, ["Process", "KB Read", "KB Written"]);
        assert_eq!(o.tables[0].rows[1], ["kworker/0:1", "0", "12"]);
        assert!(o.tables[1].rows.is_empty());
        assert!(
            tab_header_of("hello\tworld").is_none(),
            "lower case is no title"
        );
        assert_eq!(header_of("PID\tCOMM").unwrap(), ["PID", "COMM"]);
    }

    #[test]
    fn units_in_parentheses_may_be_lower_case() {
        let o = parse_table("TIME(ms)   PID   ARGS\n34 24711 /bin/true -x\n").unwrap();
        assert_eq!(o.tables[0].header, ["TIME(ms)", "PID", "ARGS"]);
        assert_eq!(o.tables[0].rows[0][2], "/bin/true -x");
        assert!(parse_table("Time(ms) PID\n").unwrap().tables.is_empty());
        let o = parse_table("COMM PID LATms R_Kb\nx 1 0.5 4\nTracing block I/O\n").unwrap();
        assert_eq!(o.tables[0].header, ["COMM", "PID", "LATms", "R_Kb"]);
        assert!(!is_column_name("Tracing") && !is_column_name("Ctrl-C"));
    }

    #[test]
    fn no_header_no_table() {
        let o = parse_table("hello world\n@x: 3\n").unwrap();
        assert!(o.tables.is_empty());
        assert_eq!(o.unparsed.len(), 2);
    }
}
