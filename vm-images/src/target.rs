//! Named kernel targets: which Debian suites to ask apt, which metapackage
//! names "the current kernel" of that suite, and the apt source lines used
//! in this crate's private apt state (the host's apt state is never touched).

use std::fmt;
use std::str::FromStr;

use crate::VmError;

/// Default Debian mirror; override with `TRACECHECK_DEBIAN_MIRROR`.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Default Debian security mirror; override with `TRACECHECK_DEBIAN_SECURITY_MIRROR`.
pub const DEFAULT_SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A distribution kernel the guests can boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelTarget {
    /// Debian 12 "bookworm": `linux-image-amd64` → 6.1.x.
    Debian61,
    /// Debian 13 "trixie": `linux-image-amd64` → 6.12.x.
    Debian612,
    /// Debian 13 "trixie" whole: its 6.12.x kernel and its own userland
    /// (bpftrace, bcc, perf-tools of trixie, not the host's), a root file
    /// system built from Debian packages ([`crate::rootfs`]).
    Debian13,
}

impl KernelTarget {
    /// Every target name, as accepted by [`FromStr`].
    pub const NAMES: &'static [&'static str] = &["debian-6.1", "debian-6.12", "debian-13"];
    /// Every target.
    pub const ALL: &'static [KernelTarget] = &[
        KernelTarget::Debian61,
        KernelTarget::Debian612,
        KernelTarget::Debian13,
    ];

    /// The target's stable name (`debian-6.1`).
    pub fn name(self) -> &'static str {
        match self {
            KernelTarget::Debian61 => "debian-6.1",
            KernelTarget::Debian612 => "debian-6.12",
            KernelTarget::Debian13 => "debian-13",
        }
    }

    /// The Debian suite (codename) the kernel comes from.
    pub fn suite(self) -> &'static str {
        match self {
            KernelTarget::Debian61 => "bookworm",
            KernelTarget::Debian612 | KernelTarget::Debian13 => "trixie",
        }
    }

    /// Whether the guest runs its suite's own userland (a root file system
    /// of its own) rather than this machine's root, shared read-only.
    pub fn own_userland(self) -> bool {
        self == KernelTarget::Debian13
    }

    /// The metapackage that depends on the suite's current kernel.
    pub fn metapackage(self) -> &'static str {
        "linux-image-amd64"
    }

    /// [`Self::sources_list`] with the mirrors of `TRACECHECK_DEBIAN_MIRROR`
    /// and `TRACECHECK_DEBIAN_SECURITY_MIRROR`, else the defaults.
    pub fn sources_list_from_env(self) -> String {
        let mirror =
            std::env::var("TRACECHECK_DEBIAN_MIRROR").unwrap_or_else(|_| DEFAULT_MIRROR.into());
        let sec = std::env::var("TRACECHECK_DEBIAN_SECURITY_MIRROR")
            .unwrap_or_else(|_| DEFAULT_SECURITY_MIRROR.into());
        self.sources_list(&mirror, &sec)
    }

    /// The `sources.list` text for this target's private apt state.
    pub fn sources_list(self, mirror: &str, security_mirror: &str) -> String {
        let s = self.suite();
        format!(
            "deb [signed-by={KEYRING}] {mirror} {s} main\n\
             deb [signed-by={KEYRING}] {mirror} {s}-updates main\n\
             deb [signed-by={KEYRING}] {security_mirror} {s}-security main\n"
        )
    }
}

impl fmt::Display for KernelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KernelTarget {
    type Err = VmError;
    fn from_str(s: &str) -> Result<Self, VmError> {
        KernelTarget::ALL
            .iter()
            .copied()
            .find(|t| t.name() == s)
            .ok_or_else(|| VmError::UnknownTarget(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in KernelTarget::ALL {
            assert_eq!(t.name().parse::<KernelTarget>().unwrap(), *t);
        }
        let err = "debian-5.10"
            .parse::<KernelTarget>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("debian-5.10") && err.contains("debian-6.1"),
            "{err}"
        );
    }

    #[test]
    fn sources_name_the_suite_and_security() {
        let s = KernelTarget::Debian612.sources_list("http://m/debian", "http://m/sec");
        assert!(s.contains("http://m/debian trixie main"));
        assert!(s.contains("http://m/sec trixie-security main"));
        assert!(!s.contains("bookworm"));
    }

    #[test]
    fn only_debian_13_brings_its_own_userland() {
        assert!(KernelTarget::Debian13.own_userland());
        assert_eq!(KernelTarget::Debian13.suite(), "trixie");
        assert!(!KernelTarget::Debian612.own_userland());
        assert!(!KernelTarget::Debian61.own_userland());
    }
}
