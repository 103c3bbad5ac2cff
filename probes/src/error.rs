//! [`ParseError`]: output that starts like map output but cannot be read.
//!
//! It names its format by the format's name rather than by
//! [`OutputFormat`](crate::OutputFormat), so that this module, which every
//! parser imports, imports nothing from the crate.

/// A line of tool output that looks like map output but is malformed.
/// Mismatched numbers are not errors; this means tracecheck could not read
/// what the tool printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format} output, line {line}: expected {expected}, found `{text}`")]
pub struct ParseError {
    /// Name of the format whose parser was reading, as in
    /// [`OutputFormat::NAMES`](crate::OutputFormat::NAMES).
    pub format: &'static str,
    /// 1-based line number in the text given to the parser.
    pub line: usize,
    /// The offending line as printed (the first line of a multi-line key).
    pub text: String,
    /// What the parser expected there, in plain words.
    pub expected: String,
}

impl ParseError {
    pub(crate) fn new(
        format: &'static str,
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
