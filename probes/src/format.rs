//! [`OutputFormat`]: the names a tool spec uses to say how its tool prints,
//! so the harness can pick the parser from a spec file.

use crate::error::UnknownFormat;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a tool prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OutputFormat {
    /// bpftrace's default text output (`@x[key]: 5`, histogram blocks).
    #[serde(rename = "bpftrace")]
    BpftraceText,
    /// `bpftrace -f json`: one JSON object per line.
    #[serde(rename = "bpftrace-json")]
    BpftraceJson,
}

impl OutputFormat {
    /// Every format name, as written in spec files.
    pub const NAMES: &'static [&'static str] = &["bpftrace", "bpftrace-json"];

    /// The name written in spec files (inverse of [`FromStr`]).
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::BpftraceText => "bpftrace",
            OutputFormat::BpftraceJson => "bpftrace-json",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bpftrace" => Ok(OutputFormat::BpftraceText),
            "bpftrace-json" => Ok(OutputFormat::BpftraceJson),
            _ => Err(UnknownFormat {
                given: s.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unknown_names_are_rejected_with_the_list() {
        let e = "json".parse::<OutputFormat>().unwrap_err();
        assert_eq!(e.given, "json");
        assert!(e.to_string().contains("bpftrace-json"));
        assert!(serde_json::from_str::<OutputFormat>("\"BpftraceText\"").is_err());
    }
}
