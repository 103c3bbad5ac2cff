//! A private apt state per kernel target (own sources list, lists, cache and
//! an empty dpkg status), used to resolve a suite's current kernel package
//! and download it. The host's `/etc/apt` sources and `/var/lib/apt` are never
//! read or written, so a bookworm host can fetch trixie kernels.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::cmd;
use crate::{KernelTarget, VmError};

/// A concrete kernel package, e.g. `linux-image-6.1.0-56-amd64` `6.1.192-2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPackage {
    pub name: String,
    pub version: String,
}

impl KernelPackage {
    /// The kernel release (`uname -r`) this package installs: its name minus `linux-image-`.
    pub fn kver(&self) -> &str {
        self.name.strip_prefix("linux-image-").unwrap_or(&self.name)
    }

    /// The headers package of this kernel: `linux-headers-KVER`, same version.
    pub fn headers(&self) -> KernelPackage {
        KernelPackage {
            name: format!("linux-headers-{}", self.kver()),
            version: self.version.clone(),
        }
    }
}

/// apt, pointed at a private state directory for one target.
pub struct PrivateApt {
    target: KernelTarget,
    dir: PathBuf,
}

impl PrivateApt {
    /// Lays out `dir` (sources list, lists, cache, empty status) for `target`.
    pub fn new(target: KernelTarget, dir: &Path) -> Result<Self, VmError> {
        for sub in [
            "lists/partial",
            "cache/archives/partial",
            "etc/preferences.d",
            "etc/sources.list.d",
        ] {
            fs::create_dir_all(dir.join(sub)).map_err(VmError::io(dir.join(sub)))?;
        }
        let sources = dir.join("etc/sources.list");
        write_if_changed(&sources, &target.sources_list_from_env())?;
        write_if_changed(&dir.join("status"), "")?;
        Ok(PrivateApt {
            target,
            dir: dir.to_owned(),
        })
    }

    /// The `-o` options that confine apt to this state directory.
    pub fn options(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("-oDir::Etc::sourcelist={d}/etc/sources.list"),
            format!("-oDir::Etc::sourceparts={d}/etc/sources.list.d"),
            format!("-oDir::Etc::preferencesparts={d}/etc/preferences.d"),
            format!("-oDir::State::Lists={d}/lists"),
            format!("-oDir::State::status={d}/status"),
            format!("-oDir::Cache={d}/cache"),
            "-oAPT::Architecture=amd64".into(),
            "-oAPT::Sandbox::User=root".into(),
            "-oAcquire::Languages=none".into(),
        ]
    }

    fn apt(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.args(self.options()).env("LC_ALL", "C");
        c
    }

    /// Runs `apt-get update` unless the lists are younger than `max_age`.
    pub fn update_if_stale(&self, max_age: Duration) -> Result<(), VmError> {
        let stamp = self.dir.join("updated");
        let fresh = fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < max_age);
        if fresh {
            return Ok(());
        }
        eprintln!(
            "tracecheck-vm: apt-get update ({} suites)",
            self.target.suite()
        );
        cmd::run(
            self.apt("apt-get").args(["-q", "update"]),
            &format!("updating apt lists for {}", self.target),
        )?;
        fs::write(&stamp, "").map_err(VmError::io(&stamp))
    }

    /// Resolves the metapackage to the concrete kernel package apt would install now.
    pub fn resolve_kernel(&self) -> Result<KernelPackage, VmError> {
        let meta = self.target.metapackage();
        let not_found = |detail: String| VmError::PackageNotFound {
            package: meta.into(),
            target: self.target.name().into(),
            detail,
        };
        let deps = cmd::stdout(
            self.apt("apt-cache").args(["depends", "--important", meta]),
            &format!("resolving {meta} for {}", self.target),
        )
        .map_err(|e| not_found(e.to_string()))?;
        let name = parse_kernel_dependency(&deps)
            .ok_or_else(|| not_found(format!("no linux-image-* dependency in: {}", deps.trim())))?;
        let version = self.candidate_version(&name)?;
        Ok(KernelPackage { name, version })
    }

    /// The kernel's headers packages, both at the kernel package's version:
    /// `linux-headers-KVER` (Makefile, generated headers, the `build` and
    /// `source` links) and the `linux-headers-*-common` it depends on (the
    /// source headers), resolved with `apt-cache depends` on this state.
    pub fn resolve_headers(&self, kernel: &KernelPackage) -> Result<Vec<KernelPackage>, VmError> {
        let arch = kernel.headers();
        let deps = cmd::stdout(
            self.apt("apt-cache")
                .args(["depends", "--important", &arch.name]),
            &format!("resolving {} for {}", arch.name, self.target),
        )
        .map_err(|e| VmError::PackageNotFound {
            package: arch.name.clone(),
            target: self.target.name().into(),
            detail: e.to_string(),
        })?;
        let common =
            parse_headers_common_dependency(&deps).ok_or_else(|| VmError::PackageNotFound {
                package: format!("{} (its -common dependency)", arch.name),
                target: self.target.name().into(),
                detail: format!("no linux-headers-*-common dependency in: {}", deps.trim()),
            })?;
        let common = KernelPackage {
            name: common,
            version: kernel.version.clone(),
        };
        Ok(vec![arch, common])
    }

    /// `apt-cache depends --important PACKAGE`, as text.
    pub(crate) fn depends(&self, package: &str) -> Result<String, VmError> {
        cmd::stdout(
            self.apt("apt-cache")
                .args(["depends", "--important", package]),
            &format!(
                "resolving the dependencies of {package} for {}",
                self.target
            ),
        )
        .map_err(|e| VmError::PackageNotFound {
            package: package.into(),
            target: self.target.name().into(),
            detail: e.to_string(),
        })
    }

    /// The candidate version of `package`, or [`VmError::PackageNotFound`].
    pub fn candidate_version(&self, package: &str) -> Result<String, VmError> {
        let policy = cmd::stdout(
            self.apt("apt-cache").args(["policy", package]),
            &format!("looking up {package}"),
        )?;
        parse_candidate(&policy).ok_or_else(|| VmError::PackageNotFound {
            package: package.into(),
            target: self.target.name().into(),
            detail: "apt has no candidate version (is it in the suite? try a fresh apt-get update)"
                .into(),
        })
    }

    /// Downloads `name=version` into `dest_dir` (skipped when already there); returns the .deb path.
    pub fn download(&self, name: &str, version: &str, dest_dir: &Path) -> Result<PathBuf, VmError> {
        fs::create_dir_all(dest_dir).map_err(VmError::io(dest_dir))?;
        if let Some(file) = find_deb(dest_dir, name, version) {
            return Ok(file);
        }
        eprintln!("tracecheck-vm: downloading {name} {version}");
        cmd::run(
            self.apt("apt-get").current_dir(dest_dir).args([
                "-q",
                "download",
                &format!("{name}={version}"),
            ]),
            &format!("downloading {name} {version} for {}", self.target),
        )
        .map_err(|e| VmError::PackageNotFound {
            package: format!("{name}={version}"),
            target: self.target.name().into(),
            detail: e.to_string(),
        })?;
        find_deb(dest_dir, name, version).ok_or_else(|| VmError::CorruptCache {
            path: dest_dir.join(deb_file_name(name, version, "amd64")),
            detail: "apt-get download succeeded but the .deb is not where expected".into(),
        })
    }
}

/// The file name `apt-get download` gives a package (epoch colons become `%3a`).
pub fn deb_file_name(name: &str, version: &str, arch: &str) -> String {
    format!("{name}_{}_{arch}.deb", version.replace(':', "%3a"))
}

/// The downloaded `.deb` of `name=version` in `dir`, amd64 or `all`.
fn find_deb(dir: &Path, name: &str, version: &str) -> Option<PathBuf> {
    ["amd64", "all"]
        .iter()
        .map(|a| dir.join(deb_file_name(name, version, a)))
        .find(|f| f.exists())
}

/// Finds `linux-headers-*-common` in `apt-cache depends` output.
pub fn parse_headers_common_dependency(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(|d| d.trim().trim_start_matches('|').trim())
        .find(|d| d.starts_with("linux-headers-") && d.ends_with("-common"))
        .map(str::to_owned)
}

/// Finds `linux-image-*` in `apt-cache depends` output.
pub fn parse_kernel_dependency(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(|d| d.trim().trim_start_matches('|').trim())
        .find(|d| d.starts_with("linux-image-") && !d.starts_with('<'))
        .map(str::to_owned)
}

/// Reads `Candidate:` from `apt-cache policy` output.
pub fn parse_candidate(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .find(|v| !v.is_empty() && *v != "(none)")
        .map(str::to_owned)
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), VmError> {
    if fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    fs::write(path, text).map_err(VmError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_apt_output() {
        let deps = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n";
        assert_eq!(
            parse_kernel_dependency(deps).as_deref(),
            Some("linux-image-6.1.0-56-amd64")
        );
        assert_eq!(parse_kernel_dependency("linux-image-amd64\n"), None);
        let policy =
            "linux-image-amd64:\n  Installed: (none)\n  Candidate: 6.1.192-2\n  Version table:\n";
        assert_eq!(parse_candidate(policy).as_deref(), Some("6.1.192-2"));
        assert_eq!(
            parse_candidate("x:\n  Installed: (none)\n  Candidate: (none)\n"),
            None
        );
    }

    #[test]
    fn kver_and_file_name() {
        let p = KernelPackage {
            name: "linux-image-6.12.57+deb13-amd64".into(),
            version: "6.12.57-1".into(),
        };
        assert_eq!(p.kver(), "6.12.57+deb13-amd64");
        assert_eq!(
            deb_file_name("a", "1:2.0-1", "amd64"),
            "a_1%3a2.0-1_amd64.deb"
        );
        assert_eq!(p.headers().name, "linux-headers-6.12.57+deb13-amd64");
        assert_eq!(p.headers().version, "6.12.57-1");
    }

    #[test]
    fn finds_the_common_headers_dependency() {
        let bookworm = "linux-headers-6.1.0-56-amd64\n  Depends: linux-headers-6.1.0-56-common\n  Depends: linux-kbuild-6.1\n  Depends: linux-compiler-gcc-12-x86\n";
        assert_eq!(
            parse_headers_common_dependency(bookworm).as_deref(),
            Some("linux-headers-6.1.0-56-common")
        );
        let trixie = "linux-headers-6.12.118+deb13-amd64\n  Depends: linux-base\n  Depends: linux-headers-6.12.118+deb13-common\n |Depends: linux-image-6.12.118+deb13-amd64\n";
        assert_eq!(
            parse_headers_common_dependency(trixie).as_deref(),
            Some("linux-headers-6.12.118+deb13-common")
        );
        assert_eq!(
            parse_headers_common_dependency("x\n  Depends: gcc-14\n"),
            None
        );
    }
}
