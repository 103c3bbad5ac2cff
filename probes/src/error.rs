//! The errors of this crate: output that starts like map output but cannot
//! be read ([`ParseError`]), and an unknown format name ([`UnknownFormat`]).

use crate::format::OutputFormat;

/// A line of tool output that looks like map output but is malformed.
/// Mismatched numbers are not errors; this means tracecheck could not read
/// what the tool printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format} output, line {line}: expected {expected}, found `{text}`")]
pub struct ParseError {
    /// Which parser was reading.
    pub format: OutputFormat,
    /// 1-based line number in the text given to the parser.
    pub line: usize,
    /// The offending line as printed (the first line of a multi-line key).
    pub text: String,
    /// What the parser expected there, in plain words.
    pub expected: String,
}

impl ParseError {
    pub(crate) fn new(
        format: OutputFormat,
        line: usize,
        text: &str,
        expected: impl Into<String>,
    ) -> Self {
        ParseError {
            format,
            line,
            text: text.to_string(),
            expected: expected.into(),
        }
    }
}

/// A format name that is not one of [`OutputFormat::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{given}`; expected one of: bpftrace, bpftrace-json")]
pub struct UnknownFormat {
    pub given: String,
}
