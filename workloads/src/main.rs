//! `tc-workload`: parse, then prepare or run one workload. Only the
//! GroundTruth JSON goes to stdout; errors go to stderr with exit status 2.

fn main() -> std::process::ExitCode {
    let code =
        tracecheck_workloads::cli::main_with_args("tc-workload", std::env::args_os().skip(1));
    std::process::ExitCode::from(code)
}
