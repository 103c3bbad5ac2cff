//! `perf stat -I MS` (interval mode, perf's default human-readable
//! output): one row per event per interval, each interval's rows under the
//! elapsed time at its end, then perf's own derived metric after a `#`:
//!
//! ```text
//! #           time             counts unit events
//!      1.502298700               1482      syscalls:sys_enter_openat        #   12.895 K/sec
//!      1.502298700             110.91 msec task-clock                       #    0.222 CPUs utilized
//!      2.503877011      <not counted>      syscalls:sys_enter_openat
//! ```
//!
//! It becomes one [`Table`] with the columns `TIME` (elapsed seconds at
//! the interval's end, as printed), `COUNTS` (thousands separators
//! dropped), `UNIT` (`msec`, or empty), `EVENTS`, and `RATE`: a metric
//! printed as per second (`/sec`, `K/sec`, `M/sec`, `G/sec`) in events
//! per second, empty for any other metric (`CPUs utilized`, `%`). A claim
//! on a rate column turns each row back into a count with its interval's
//! printed length (`rate_over = "TIME"`), never the nominal `-I`.
//!
//! Rules:
//! - `<not counted>` is a counter that never ran in that interval (a
//!   process that was not on a CPU in it): its COUNTS cell is `0`, the
//!   number a reader takes it for.
//! - `<not supported>` stays as printed, so that a claim summing it is
//!   told its cell is not a number.
//! - A multiplexed counter's share, `(50.01%)` at the end, is dropped.
//! - Other lines (perf's notices, a summary block) are kept in
//!   `unparsed`; a line that starts with an elapsed time but cannot be
//!   read is an error naming it.

use crate::error::ParseError;
use crate::format::Format;
use tracecheck_model::{Table, ToolOutput};

pub(crate) const FORMAT: Format = Format {
    name: "perf-stat",
    describe: "perf stat -I interval rows: elapsed time, count, unit, event, and its # metric (TIME COUNTS UNIT EVENTS RATE)",
    parse: parse_perf_stat,
};

const HEADER: [&str; 5] = ["TIME", "COUNTS", "UNIT", "EVENTS", "RATE"];

/// Events per second for a metric printed as `value unit`, if the unit is
/// a per-second one.
fn per_second(value: &str, unit: &str) -> Option<String> {
    let scale = match unit {
        "/sec" => 1.0,
        "K/sec" => 1e3,
        "M/sec" => 1e6,
        "G/sec" => 1e9,
        _ => return None,
    };
    let v: f64 = value.replace(',', "").parse().ok()?;
    Some(format!("{}", v * scale))
}

/// One row's cells, or what was expected where it could not be read.
fn row_of(line: &str) -> Result<Vec<String>, &'static str> {
    let (body, metric) = match line.split_once('#') {
        Some((b, m)) => (b, Some(m)),
        None => (line, None),
    };
    let body = body.trim();
    let (time, rest) = body
        .split_once(char::is_whitespace)
        .ok_or("an elapsed time, a count and an event")?;
    let rest = rest.trim_start();
    let (counts, rest) = if let Some(r) = rest.strip_prefix('<') {
        let (what, r) = r.split_once('>').ok_or("a `<...>` count closed by `>`")?;
        let c = match what {
            "not counted" => "0".to_string(),
            _ => format!("<{what}>"),
        };
        (c, r)
    } else {
        let (c, r) = rest
            .split_once(char::is_whitespace)
            .ok_or("a count and an event")?;
        let c = c.replace(',', "");
        if c.parse::<f64>().is_err() {
            return Err("a count (a number, `<not counted>` or `<not supported>`)");
        }
        (c, r)
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (unit, event) = match words.as_slice() {
        [event] => ("", *event),
        [unit, event] => (*unit, *event),
        _ => return Err("an event name, perhaps after a unit (`msec task-clock`)"),
    };
    let rate = metric
        .map(|m| {
            let m = m.trim();
            // A multiplexed counter's share of the time, at the end.
            let m = match m.rfind('(') {
                Some(i) if m.ends_with("%)") => m[..i].trim(),
                _ => m,
            };
            match m.split_once(char::is_whitespace) {
                Some((v, u)) => per_second(v, u.trim()).unwrap_or_default(),
                None => String::new(),
            }
        })
        .unwrap_or_default();
    Ok(vec![
        time.to_string(),
        counts,
        unit.to_string(),
        event.to_string(),
        rate,
    ])
}

fn starts_with_time(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(|t| t.contains('.') && t.parse::<f64>().is_ok())
}

fn parse_perf_stat(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    let mut table: Option<Table> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') && t.contains("time") && t.contains("counts") {
            // perf prints its header again every 25 intervals in some
            // modes; rows go on in the first table.
            if table.is_none() {
                table = Some(Table {
                    header: HEADER.iter().map(|h| h.to_string()).collect(),
                    line: i + 1,
                    rows: Vec::new(),
                });
            }
            continue;
        }
        match table.as_mut() {
            Some(tab) if starts_with_time(t) => {
                let row = row_of(t)
                    .map_err(|want| ParseError::new(FORMAT.name, i + 1, line, want.to_string()))?;
                tab.rows.push(row);
            }
            _ if !t.is_empty() => out.unparsed.push(line.to_string()),
            _ => {}
        }
    }
    out.tables.extend(table);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_the_printed_time_and_a_per_second_rate() {
        let o = parse_perf_stat(
            "#           time             counts unit events\n\
             \x20    1.502298700              1,482      syscalls:sys_enter_openat        #   12.895 K/sec\n\
             \x20    1.502298700             110.91 msec task-clock                       #    0.222 CPUs utilized\n\
             \x20    2.503877011      <not counted>      syscalls:sys_enter_openat\n\
             \x20    3.004646353                100      cs        #   44.929 /sec  (50.01%)\n",
        )
        .unwrap();
        let t = &o.tables[0];
        assert_eq!(t.header, HEADER);
        assert_eq!(
            t.rows[0],
            [
                "1.502298700",
                "1482",
                "",
                "syscalls:sys_enter_openat",
                "12895"
            ]
        );
        assert_eq!(
            t.rows[1],
            ["1.502298700", "110.91", "msec", "task-clock", ""]
        );
        assert_eq!(t.rows[2][1], "0");
        assert_eq!(t.rows[3][4], "44.929");
    }

    #[test]
    fn an_unreadable_row_names_its_line() {
        let e = parse_perf_stat("#  time  counts unit events\n     1.5  lots  of words here\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
    }
}
