//! Errors that mean "tracecheck could not do its job" (exit status 2).
//!
//! A tool that reports wrong numbers, crashes, hangs or prints garbage is not
//! an error: it is a verdict (see `verdict`). Each error owns its message.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{col}: {msg}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        msg: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("scratch disk: {0}")]
    Scratch(String),
    #[error("workload {kind}: {msg}")]
    Workload { kind: String, msg: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("interrupted (Ctrl-C); results recorded so far are kept")]
    Interrupted,
    #[error("{0}")]
    Other(String),
}

impl From<tracecheck_workloads::scratch_disk::DiskError> for HarnessError {
    fn from(e: tracecheck_workloads::scratch_disk::DiskError) -> Self {
        HarnessError::Scratch(e.0)
    }
}

impl HarnessError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
        let what = what.into();
        move |source| HarnessError::Io { what, source }
    }

    /// Exit status for the CLI: 2 for "could not run the check", 130 for
    /// an interrupt (the shell convention for SIGINT).
    pub fn exit_code(&self) -> i32 {
        match self {
            HarnessError::Interrupted => 130,
            _ => 2,
        }
    }
}
