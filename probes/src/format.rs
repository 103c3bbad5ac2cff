//! [`Format`]: the interface every output format implements. Each format
//! lives in its own file under `formats/` and is one entry of the registry
//! there, [`formats::ALL`](crate::formats::ALL).

use crate::error::ParseError;
use tracecheck_model::ToolOutput;

/// One way a tool prints its results: the name a spec file uses for it, a
/// one-line description, and the parser that reads it.
///
/// A plain struct of constants rather than a trait, so that the registry's
/// names can be read at compile time ([`OutputFormat::NAMES`] is a `const`).
///
/// [`OutputFormat::NAMES`]: crate::OutputFormat::NAMES
#[derive(Debug)]
pub(crate) struct Format {
    /// The name written in spec files (`format = "bpftrace-json"`); unique
    /// among the registered formats.
    pub name: &'static str,
    /// What the tool prints in this format, in one line.
    pub describe: &'static str,
    /// Read everything the tool printed. A pure function, text in and maps
    /// out: entries kept as printed, duplicates included; lines that are
    /// not map output kept in order in [`ToolOutput::unparsed`]; a line
    /// that starts like map output but cannot be read is a [`ParseError`]
    /// naming this format and the line.
    pub parse: fn(&str) -> Result<ToolOutput, ParseError>,
}
