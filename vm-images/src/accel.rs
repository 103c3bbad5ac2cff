//! Choosing the accelerator. KVM is used only where it is known to boot a
//! stock kernel: a CPU with vmx/svm behind /dev/kvm, or a cached probe boot
//! that reached the command. Elsewhere (e.g. PVM's /dev/kvm, where stock
//! kernels hang) one short probe boot decides, its result is cached per host
//! kernel and image, and TCG is the fallback. `TRACECHECK_ACCEL=kvm|tcg` overrides.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::guest::{boot_once, GuestSpec, Outcome};
use crate::qemu::Accel;
use crate::{Image, VmError};

/// How long a KVM probe boot may take to reach its command.
pub const PROBE_BOOT_TIMEOUT: Duration = Duration::from_secs(20);

/// What the cheap checks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Use(Accel),
    /// /dev/kvm exists but nothing proves it boots: try it.
    Probe,
}

/// Pure decision from the facts gathered by [`choose_accel`].
pub fn decide(
    forced: Option<Accel>,
    kvm_usable: bool,
    hw_virt: bool,
    cached: Option<Accel>,
) -> Decision {
    match (forced, kvm_usable, hw_virt, cached) {
        (Some(a), ..) => Decision::Use(a),
        (None, false, ..) => Decision::Use(Accel::Tcg),
        (None, true, true, _) => Decision::Use(Accel::Kvm),
        (None, true, false, Some(a)) => Decision::Use(a),
        (None, true, false, None) => Decision::Probe,
    }
}

fn kvm_usable() -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// vmx/svm in the CPU flags and the matching KVM module present.
fn hw_virt() -> bool {
    let flags = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let has_flag = flags
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|w| w == "vmx" || w == "svm"));
    has_flag
        && (Path::new("/sys/module/kvm_intel").exists()
            || Path::new("/sys/module/kvm_amd").exists())
}

fn probe_cache_file(cache_dir: &Path, image: &Image) -> std::path::PathBuf {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    cache_dir.join("accel-probe").join(format!(
        "{release}-{}",
        &image.key[..16.min(image.key.len())]
    ))
}

/// Picks the accelerator for `image`, probing KVM once (cached under `cache_dir`) when in doubt.
pub fn choose_accel(image: &Image, cache_dir: &Path) -> Result<Accel, VmError> {
    let forced = match std::env::var("TRACECHECK_ACCEL") {
        Ok(v) => Some(v.parse::<Accel>().map_err(VmError::InvalidSpec)?),
        Err(_) => None,
    };
    let cache_file = probe_cache_file(cache_dir, image);
    let cached = fs::read_to_string(&cache_file)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    match decide(forced, kvm_usable(), hw_virt(), cached) {
        Decision::Use(a) => Ok(a),
        Decision::Probe => {
            eprintln!(
                "tracecheck-vm: probing whether KVM boots {} (up to {PROBE_BOOT_TIMEOUT:?})",
                image.kver
            );
            let mut spec = GuestSpec::new(image, Accel::Kvm, "true");
            spec.boot_timeout = PROBE_BOOT_TIMEOUT;
            spec.run_timeout = Duration::from_secs(10);
            let out = boot_once(&spec)?;
            let accel = if out.outcome == (Outcome::Exited { code: 0 }) {
                Accel::Kvm
            } else {
                Accel::Tcg
            };
            eprintln!(
                "tracecheck-vm: KVM probe: {:?} → using {accel}",
                out.outcome
            );
            if let Some(parent) = cache_file.parent() {
                fs::create_dir_all(parent).map_err(VmError::io(parent))?;
            }
            fs::write(&cache_file, accel.to_string()).map_err(VmError::io(&cache_file))?;
            Ok(accel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_only_when_proven() {
        assert_eq!(decide(None, false, true, None), Decision::Use(Accel::Tcg));
        assert_eq!(decide(None, true, true, None), Decision::Use(Accel::Kvm));
        assert_eq!(
            decide(None, true, false, None),
            Decision::Probe,
            "PVM-like /dev/kvm must be probed"
        );
        assert_eq!(
            decide(None, true, false, Some(Accel::Tcg)),
            Decision::Use(Accel::Tcg)
        );
        assert_eq!(
            decide(Some(Accel::Tcg), true, true, None),
            Decision::Use(Accel::Tcg)
        );
    }
}
