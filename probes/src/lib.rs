//! Parsers that turn what a tool under test printed into a
//! [`ToolOutput`]: bpftrace's default text output ([`parse_bpftrace_text`])
//! and its `-f json` output ([`parse_bpftrace_json`]), chosen at run time
//! through [`OutputFormat`] and [`parse`].
//!
//! Every parser is a pure function, text in and maps out, with no I/O.
//! Entries are kept exactly as printed, duplicate keys included; summing is
//! [`tracecheck_model::ParsedMap::sum_by`]'s job. Lines that are not map
//! output (banners, warnings, printf) are kept in order in
//! [`ToolOutput::unparsed`]. A line that starts like map output but cannot
//! be read is a [`ParseError`] naming the line.

mod bpftrace_json;
mod bpftrace_text;
mod error;
mod format;
mod keys;
mod number;

pub use bpftrace_json::parse_bpftrace_json;
pub use bpftrace_text::parse_bpftrace_text;
pub use error::{ParseError, UnknownFormat};
pub use format::OutputFormat;
pub use tracecheck_model::ToolOutput;

/// Parse `text` as printed by a tool in `format`.
pub fn parse(format: OutputFormat, text: &str) -> Result<ToolOutput, ParseError> {
    match format {
        OutputFormat::BpftraceText => parse_bpftrace_text(text),
        OutputFormat::BpftraceJson => parse_bpftrace_json(text),
    }
}
