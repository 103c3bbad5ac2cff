//! The one error type of this crate: what went wrong, naming the parameter,
//! path or device involved, so the harness can print it as is.

use std::path::PathBuf;

/// Everything that stops a workload from doing its job. A workload never
/// panics on bad input; it returns one of these.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A parameter is zero, inconsistent with another, or unparsable.
    #[error("invalid --{param}: {reason}")]
    Param { param: &'static str, reason: String },

    /// The directory cannot carry a disk truth (missing, not a directory,
    /// tmpfs, wrong device, mount options the bounds do not assume).
    #[error("--dir {}: {reason}", path.display())]
    Dir { path: PathBuf, reason: String },

    /// A system call on a file failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `prepare` could not leave the input file cold, or `run` found it warm:
    /// the page-cache and disk truths would be wrong.
    #[error("{}: {cached} of {pages} pages are in the page cache{hint}", path.display())]
    NotCold {
        path: PathBuf,
        cached: u64,
        pages: u64,
        hint: &'static str,
    },

    /// The input file is missing or has the wrong size: `prepare` was not
    /// run with the same parameters.
    #[error("{}: {reason}; run `tc-workload prepare` with the same kind, --size and --dir first", path.display())]
    NotPrepared { path: PathBuf, reason: String },

    /// The machine breaks an assumption every bound rests on.
    #[error("unsupported system: {0}")]
    Unsupported(String),

    /// A forked child of the `execs` workload did not exec and exit cleanly.
    #[error("exec child {pid} of {}: {reason}", path.display())]
    Child {
        pid: u32,
        path: PathBuf,
        reason: String,
    },
}

impl WorkloadError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        e: impl Into<std::io::Error>,
    ) -> Self {
        WorkloadError::Io {
            op,
            path: path.into(),
            source: e.into(),
        }
    }

    pub(crate) fn param(param: &'static str, reason: impl Into<String>) -> Self {
        WorkloadError::Param {
            param,
            reason: reason.into(),
        }
    }

    pub(crate) fn dir(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        WorkloadError::Dir {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
