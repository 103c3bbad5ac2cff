//! Running host tools (apt-get, dpkg-deb, xz, depmod, modprobe) with their
//! failures turned into [`VmError`]s that name the command and what it was for.

use std::process::{Command, Output, Stdio};

use crate::VmError;

/// Runs `cmd` to completion; non-zero exit becomes [`VmError::Command`].
pub(crate) fn run(cmd: &mut Command, doing: &str) -> Result<Output, VmError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let shown = format!(
        "{program} {}",
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| VmError::MissingTool {
            tool: program.clone(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(VmError::Command {
            command: shown,
            doing: doing.to_owned(),
            detail: format!("{} {}", out.status, tail.join(" | ")),
        });
    }
    Ok(out)
}

/// Runs `cmd` and returns its stdout as text.
pub(crate) fn stdout(cmd: &mut Command, doing: &str) -> Result<String, VmError> {
    let out = run(cmd, doing)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
