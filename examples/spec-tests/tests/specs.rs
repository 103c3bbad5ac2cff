//! One test per spec under `specs/` and workload, each a real tracecheck
//! check on this machine's kernel (run as root): `cargo test -- --list`
//! names them, `cargo test -- disk-bytes::` runs one spec.

fn main() -> std::process::ExitCode {
    tracecheck::testing::main(concat!(env!("CARGO_MANIFEST_DIR"), "/specs"))
}
