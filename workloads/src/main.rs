//! `tc-workload`: parse, then prepare or run one workload. Only the
//! GroundTruth JSON goes to stdout; errors go to stderr with exit status 2.

use std::io::Write;
use std::process::ExitCode;
use tracecheck_workloads::{cli, default_comm, CliError, Phase};

fn main() -> ExitCode {
    let inv = match cli::parse(std::env::args_os()) {
        Ok(i) => i,
        Err(CliError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("tc-workload: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match inv.phase {
        Phase::Prepare => inv.workload.prepare_on(&inv.dir, inv.expect_dev).map(|fs| {
            eprintln!(
                "tc-workload: prepared {} in {} on {} ({}:{})",
                inv.workload.kind(),
                inv.dir.display(),
                fs.dev_name,
                fs.dev.0,
                fs.dev.1
            );
            None
        }),
        Phase::Run => {
            let comm = inv.comm.clone().unwrap_or_else(default_comm);
            inv.workload
                .run_on(&inv.dir, &comm, inv.expect_dev)
                .map(Some)
        }
    };
    match result {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(truth)) => {
            let json = match serde_json::to_string(&truth) {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("tc-workload: cannot serialize the ground truth: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{json}").and_then(|()| out.flush()).is_err() {
                eprintln!("tc-workload: cannot write the ground truth to stdout");
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tc-workload: {e}");
            ExitCode::from(2)
        }
    }
}
