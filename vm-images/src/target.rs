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
}

impl KernelTarget {
    /// Every target name, as accepted by [`FromStr`].
    pub const NAMES: &'static [&'static str] = &["debian-6.1", "debian-6.12"];
    /// Every target.
    pub const ALL: &'static [KernelTarget] = &[KernelTarget::Debian61, KernelTarget::Debian612];

    /// The target's stable name (`debian-6.1`).
    pub fn name(self) -> &'static str {
        match self {
            KernelTarget::Debian61 => "debian-6.1",
            KernelTarget::Debian612 => "debian-6.12",
        }
    }

    /// The Debian suite (codename) the kernel comes from.
    pub fn suite(self) -> &'static str {
        match self {
            KernelTarget::Debian61 => "bookworm",
            KernelTarget::Debian612 => "trixie",
        }
    }

    /// The metapackage that depends on the suite's current kernel.
    pub fn metapackage(self) -> &'static str {
        "linux-image-amd64"
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
}
