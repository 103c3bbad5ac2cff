//! An example crate: its tracing scripts live under `specs/`, one directory
//! each with its `spec.toml`, and `tests/specs.rs` turns every spec and
//! workload into a cargo test (`cargo test -p spec-tests-example`). The
//! library itself is empty; a real project would hold its own code here.
