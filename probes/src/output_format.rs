//! [`OutputFormat`]: the names a tool spec uses to say how its tool prints,
//! so the harness can pick the parser from a spec file. Every name, and the
//! parser behind it, comes from the registry [`formats::ALL`].

use crate::error::ParseError;
use crate::format::Format;
use crate::formats::{self, bpftrace_json, bpftrace_text};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use tracecheck_model::ToolOutput;

/// How a tool prints its results: one of the registered formats, written in
/// spec files (and serde) by its name, e.g. `"bpftrace"`.
#[derive(Clone, Copy)]
pub struct OutputFormat(&'static Format);

/// [`OutputFormat::NAMES`], built at compile time from the registry.
const NAMES: [&str; formats::ALL.len()] = {
    let mut names = [""; formats::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = formats::ALL[i].name;
        i += 1;
    }
    names
};

#[allow(non_upper_case_globals)] // named as the enum variants they replace
impl OutputFormat {
    /// bpftrace's default text output (`@x[key]: 5`, histogram blocks).
    pub const BpftraceText: OutputFormat = OutputFormat(&bpftrace_text::FORMAT);
    /// `bpftrace -f json`: one JSON object per line.
    pub const BpftraceJson: OutputFormat = OutputFormat(&bpftrace_json::FORMAT);

    /// Every format name, as written in spec files, in registry order.
    pub const NAMES: &'static [&'static str] = &NAMES;

    /// The name written in spec files (inverse of [`FromStr`]).
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// What the tool prints in this format, in one line.
    pub fn describe(self) -> &'static str {
        self.0.describe
    }

    /// Parse `text` as printed by a tool in this format.
    pub fn parse(self, text: &str) -> Result<ToolOutput, ParseError> {
        (self.0.parse)(text)
    }
}

// Names are unique in the registry, so a format is its name.
impl PartialEq for OutputFormat {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for OutputFormat {}

impl Hash for OutputFormat {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl PartialOrd for OutputFormat {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OutputFormat {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name().cmp(other.name())
    }
}

impl fmt::Debug for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OutputFormat").field(&self.name()).finish()
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`OutputFormat::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{given}`; expected one of: {}", OutputFormat::NAMES.join(", "))]
pub struct UnknownFormat {
    pub given: String,
}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        formats::ALL
            .iter()
            .find(|f| f.name == s)
            .map(OutputFormat)
            .ok_or_else(|| UnknownFormat {
                given: s.to_string(),
            })
    }
}

impl Serialize for OutputFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for OutputFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse()
            .map_err(|_| serde::de::Error::unknown_variant(&name, OutputFormat::NAMES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for name in OutputFormat::NAMES {
            let f: OutputFormat = name.parse().unwrap();
            assert_eq!(f.name(), *name);
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<OutputFormat>(&json).unwrap(), f);
        }
    }

    #[test]
    fn every_registered_format_round_trips_and_names_are_unique() {
        assert_eq!(OutputFormat::NAMES.len(), formats::ALL.len());
        let mut seen = HashSet::new();
        for (entry, name) in formats::ALL.iter().zip(OutputFormat::NAMES) {
            assert_eq!(entry.name, *name, "NAMES follows the registry");
            assert!(seen.insert(entry.name), "`{}` registered twice", entry.name);
            assert!(
                !entry.describe.is_empty(),
                "`{}` has no description",
                entry.name
            );
            let f: OutputFormat = entry.name.parse().unwrap();
            assert_eq!((f.name(), f.describe()), (entry.name, entry.describe));
            assert_eq!(f.to_string(), entry.name);
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", entry.name));
            assert_eq!(serde_json::from_str::<OutputFormat>(&json).unwrap(), f);
        }
    }

    #[test]
    fn the_named_constants_are_registered_formats() {
        for (f, name) in [
            (OutputFormat::BpftraceText, "bpftrace"),
            (OutputFormat::BpftraceJson, "bpftrace-json"),
        ] {
            assert_eq!(f.name(), name);
            assert_eq!(name.parse::<OutputFormat>().unwrap(), f);
        }
    }

    #[test]
    fn unknown_names_are_rejected_with_the_list() {
        let e = "json".parse::<OutputFormat>().unwrap_err();
        assert_eq!(e.given, "json");
        assert_eq!(
            e.to_string(),
            "unknown output format `json`; expected one of: bpftrace, bpftrace-json, table, bcc-hist, bcc-json, stap-hist, perf-tools-hist, perf-report, perf-stat, folded"
        );
        assert!(serde_json::from_str::<OutputFormat>("\"BpftraceText\"").is_err());
    }
}
