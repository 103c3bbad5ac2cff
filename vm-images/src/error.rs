//! The one error type of this crate. `Err` means "could not build or start a
//! guest"; anything a guest does once started (exit code, panic, hang) is a
//! [`crate::Outcome`], not an error. Messages are lowercase and name the
//! package, kernel, file or tool involved.

use std::io;
use std::path::PathBuf;

/// Why an image could not be built or a guest could not be started.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The kernel target name is not one this crate knows.
    #[error("unknown kernel target `{0}` (known: {known})", known = crate::KernelTarget::NAMES.join(", "))]
    UnknownTarget(String),
    /// apt knows no such package (or it has no candidate) in the target's suites.
    #[error("package `{package}` not found for {target}: {detail}")]
    PackageNotFound {
        package: String,
        target: String,
        detail: String,
    },
    /// An external command ran but failed.
    #[error("`{command}` failed while {doing}: {detail}")]
    Command {
        command: String,
        doing: String,
        detail: String,
    },
    /// A host tool this crate shells out to is not installed.
    #[error("host tool `{tool}` not found (run vm-images/install-deps.sh): {source}")]
    MissingTool {
        tool: String,
        #[source]
        source: io::Error,
    },
    /// Reading or writing a file or directory failed.
    #[error("i/o error on {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The kernel image has no compressed payload we can unpack.
    #[error("no xz or zstd payload found in kernel image {}", .0.display())]
    NoKernelPayload(PathBuf),
    /// A module the initramfs needs is not in the kernel package.
    #[error("module `{module}` not found for kernel {kver}: {detail}")]
    ModuleMissing {
        module: String,
        kver: String,
        detail: String,
    },
    /// The guest description is inconsistent (e.g. a share path that is not absolute).
    #[error("invalid guest spec: {0}")]
    InvalidSpec(String),
    /// A cached file has unexpected content.
    #[error("corrupt cache entry {}: {detail}", path.display())]
    CorruptCache { path: PathBuf, detail: String },
}

impl VmError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> VmError {
        let path = path.into();
        move |source| VmError::Io { path, source }
    }
}
