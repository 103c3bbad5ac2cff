//! Folded stacks, one line per distinct stack with its count, as bcc's
//! `profile -f`, `offcputime -f` and `stackcount -f` print them (and
//! Brendan Gregg's stackcollapse scripts, which flame graphs read):
//!
//! ```text
//! tcw-3b7b8d;main;spin;[unknown] 412
//! swapper/0;secondary_startup_64;cpu_startup_entry;do_idle 97
//! ```
//!
//! Rules:
//! - A line is `FRAMES COUNT`: the count after the last blank, the frames
//!   before it separated by `;`. The first frame is the process name (bcc
//!   puts `comm` first; with `-d` a `-` frame separates user and kernel
//!   stacks, kept as it is).
//! - Every line becomes an entry of one map named `stacks`, keyed by the
//!   process name and the rest of the stack: a claim reads `map =
//!   "stacks"` with `keys = ["comm", "_"]` to sum each process's samples.
//!   The same stack printed twice (a tool that prints per interval) is two
//!   entries, which a claim sums.
//! - A line with no blank, or whose last word is not a count, is kept in
//!   `unparsed` (banners, warnings): folded output has no header to say
//!   where it starts.

use crate::error::ParseError;
use crate::format::Format;
use tracecheck_model::{MapEntry, ParsedMap, ToolOutput, Value};

pub(crate) const FORMAT: Format = Format {
    name: "folded",
    describe: "folded stacks, `comm;frame;frame COUNT` a line (bcc's profile -f): map `stacks`, keys comm and stack",
    parse: parse_folded,
};

/// The name claims read.
pub const MAP: &str = "stacks";

fn parse_folded(text: &str) -> Result<ToolOutput, ParseError> {
    let mut out = ToolOutput::default();
    let mut map = ParsedMap {
        name: MAP.to_string(),
        entries: vec![],
    };
    for line in text.lines() {
        let folded = line
            .trim_end()
            .rsplit_once(' ')
            .and_then(|(stack, n)| Some((stack, n.parse::<i64>().ok()?)))
            .filter(|(stack, _)| !stack.trim().is_empty());
        match folded {
            Some((stack, n)) => {
                let (comm, rest) = stack.split_once(';').unwrap_or((stack, ""));
                map.entries.push(MapEntry {
                    keys: vec![comm.to_string(), rest.to_string()],
                    value: Value::Scalar(n),
                });
            }
            None => out.unparsed.push(line.to_string()),
        }
    }
    if !map.entries.is_empty() {
        out.maps.push(map);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stack_is_an_entry_under_its_process_name() {
        let o = parse_folded(
            "Sampling...\ntcw-aaaaaa;main;spin 412\nswapper/0;do_idle 97\ntcw-aaaaaa;main;[unknown] 3\n\n",
        )
        .unwrap();
        let m = &o.maps[0];
        assert_eq!(m.name, "stacks");
        assert_eq!(m.entries.len(), 3);
        assert_eq!(m.entries[0].keys, ["tcw-aaaaaa", "main;spin"]);
        let (sums, _) = m.sum_by(|e| Some(e.keys[0].clone()));
        assert_eq!(sums["tcw-aaaaaa"], 415);
        assert_eq!(o.unparsed, ["Sampling...", ""]);
    }

    #[test]
    fn a_process_with_no_frames_is_still_its_own_entry() {
        // A kernel thread whose stack could not be walked: `comm COUNT`.
        let o = parse_folded("kworker/0:1 5\n").unwrap();
        assert_eq!(o.maps[0].entries[0].keys, ["kworker/0:1", ""]);
    }
}
