//! Input files written once per scratch disk and lent to every check that
//! needs them. Writing and settling a fresh 16 MiB input for each check was
//! the largest part of the harness's own time (`benches/throughput.rs`).
//!
//! An input is written the first time a check needs it, in a directory of
//! the disk's own, and each check gets a hard link to it in its own
//! directory, made cold again. The file keeps its blocks, so each run does
//! the same I/O as over a freshly written one (docs/kernel-facts.md, "Inputs
//! written once"). Checks on one disk run one after another, so a file is
//! never used by two runs at once; a run that finds it warm (the one before
//! it read it) makes it cold again before it is measured
//! ([`super::rig::WorkloadRun::measure`]).

use crate::error::HarnessError;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracecheck_workloads::Workload;

/// The written inputs of one scratch disk.
pub(super) struct Inputs {
    dir: PathBuf,
    written: Mutex<HashSet<PathBuf>>,
}

impl Inputs {
    /// Inputs kept under `mountpoint` (made when the first is written).
    pub(super) fn under(mountpoint: &Path) -> Inputs {
        Inputs {
            dir: mountpoint.join("tracecheck-inputs"),
            written: Mutex::new(HashSet::new()),
        }
    }

    /// Put `w`'s input file into `dir`, cold: a link to the one written
    /// earlier on this disk, or to one written now. `dev` is the scratch
    /// device the input must be on. Workloads without an input get nothing.
    pub(super) fn lend(
        &self,
        w: &Workload,
        dir: &Path,
        dev: (u32, u32),
    ) -> Result<(), HarnessError> {
        let (Some(kept), Some(link)) = (w.input_path(&self.dir), w.input_path(dir)) else {
            return Ok(());
        };
        let err = |msg: String| HarnessError::Workload {
            kind: w.kind().to_string(),
            msg,
        };
        // Held while writing, so that one input is never written twice.
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if !written.contains(&kept) {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| err(format!("cannot create {}: {e}", self.dir.display())))?;
            w.prepare_on(&self.dir, Some(dev))
                .map_err(|e| err(format!("prepare: {e}")))?;
            written.insert(kept.clone());
        }
        drop(written);
        std::fs::hard_link(&kept, &link).map_err(|e| {
            err(format!(
                "cannot link {} to {}: {e}",
                link.display(),
                kept.display()
            ))
        })?;
        w.make_cold(dir).map_err(|e| err(e.to_string()))
    }
}
