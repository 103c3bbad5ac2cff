//! The host itself: what must be in place before any tool can attach.

use crate::error::HarnessError;
use std::path::Path;

/// bpftrace and bcc find tracepoints through tracefs. A fresh machine may
/// not have it mounted (seen here: bpftrace then finds no tracepoints at
/// all), so mount it when it is missing.
pub fn ensure_tracefs() -> Result<(), HarnessError> {
    let dir = Path::new("/sys/kernel/tracing");
    if dir.join("events").is_dir() {
        return Ok(());
    }
    nix::mount::mount(
        Some("tracefs"),
        dir,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| {
        HarnessError::Scratch(format!(
            "tracefs is not mounted and mounting it on {} failed: {e}",
            dir.display()
        ))
    })
}
