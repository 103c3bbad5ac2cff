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
//! be read is a [`ParseError`] naming the format and the line.
//!
//! # The format interface, and how to add a format
//!
//! A format is one `Format` value (`src/format.rs`): its spec-file `name`,
//! a one-line `describe`, and a `parse` function keeping the contract above.
//! Each format is one file under `src/formats/` with its rules and unit
//! tests; the list `formats::ALL` in `src/formats/mod.rs` is the registry
//! from which [`OutputFormat`]'s names, `FromStr`, `Display`, serde names
//! and [`parse`] dispatch all derive. To add one (bcc tables, SystemTap):
//! write `src/formats/NAME.rs` with a `pub(crate) const FORMAT: Format`,
//! add `mod NAME;` and `NAME::FORMAT` to `src/formats/mod.rs`, and snapshot
//! real captures under `tests/` as `tests/fixtures.rs` does for bpftrace.

mod error;
mod format;
mod formats;
mod keys;
mod loss;
mod number;
mod output_format;

pub use error::ParseError;
pub use formats::bpftrace_json::parse_bpftrace_json;
pub use formats::bpftrace_text::parse_bpftrace_text;
pub use loss::loss_notice;
pub use output_format::{OutputFormat, UnknownFormat};
pub use tracecheck_model::ToolOutput;

/// Parse `text` as printed by a tool in `format`.
pub fn parse(format: OutputFormat, text: &str) -> Result<ToolOutput, ParseError> {
    format.parse(text)
}
