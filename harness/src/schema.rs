//! The JSON report (`--format json`) and the JSON-lines records
//! (`--record`) as JSON Schema, generated from the very types that write
//! them (their doc comments are the fields' descriptions), so the schema
//! cannot drift from the output. `tracecheck schema report|record` prints
//! them; docs/schema/ holds the committed copies CI scripts can rely on,
//! and a test keeps those current and validates real output against them.

use crate::record::CheckRecord;
use crate::report::JsonReport;

pub use crate::record::SCHEMA_VERSION as VERSION;

/// Which document to describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The JSON report of `--format json`.
    Report,
    /// One line of a `--record` file.
    Record,
}

impl Kind {
    /// The committed copy's path, relative to the repository root.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Report => "docs/schema/report.schema.json",
            Kind::Record => "docs/schema/record.schema.json",
        }
    }
}

/// The schema, pretty-printed.
pub fn json(kind: Kind) -> String {
    // What tracecheck writes (a field it skips when empty is optional),
    // not what it would accept.
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut s = match kind {
        Kind::Report => generator.into_root_schema_for::<JsonReport<'static>>(),
        Kind::Record => generator.into_root_schema_for::<CheckRecord>(),
    };
    s.insert(
        "$id".into(),
        format!(
            "https://tracecheck.invalid/schema/v{VERSION}/{}",
            kind.path().rsplit('/').next().unwrap_or_default()
        )
        .into(),
    );
    serde_json::to_string_pretty(&s).expect("a schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/schema/ is what the types say today.
    #[test]
    fn committed_schemas_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for kind in [Kind::Report, Kind::Record] {
            let on_disk = std::fs::read_to_string(root.join(kind.path())).unwrap_or_default();
            assert!(
                on_disk.trim_end() == json(kind).trim_end(),
                "{} is stale: regenerate it with `tracecheck schema {}`",
                kind.path(),
                format!("{kind:?}").to_lowercase()
            );
        }
    }
}
