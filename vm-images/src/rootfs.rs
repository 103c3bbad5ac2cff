//! A guest root file system of a Debian suite's own userland, for targets
//! that judge the suite's tools rather than this machine's
//! ([`KernelTarget::own_userland`]): Debian 13 ships bpftrace 0.23 and
//! bcc 0.31 where this Debian 12 host has 0.17 and 0.26, so the same spec
//! run there says whether a newer version of a tool fixes a bug.
//!
//! Built once per content key with `mmdebstrap` (a directory, from Debian
//! packages only, through the same mirrors as the kernel: the target's
//! sources list) into `CACHE/roots/`, and exported over 9p as the guest's
//! read-only root in place of `/`. Nothing of this machine's root is in it:
//! the harness binary and the spec's directory are shared in at their own
//! paths by the caller. Measured here: 30 to 38 s and 516 MB for the list
//! below (documentation left out).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{cmd, KernelTarget, VmError};

/// Bump when the way roots are built changes.
const FORMAT_VERSION: &str = "tracecheck-vm root v1";

/// What a root holds beyond `--variant=apt` (essential packages and apt):
/// the tracing tools judged there, and what the harness runs beside them in
/// a guest (`mkfs.ext4`, `losetup`, `modprobe`, `dmsetup`, `bpftool`,
/// `dpkg-query`, `ps`, `ip`).
pub const PACKAGES: &[&str] = &[
    "bpftrace",
    "bpfcc-tools",
    "python3-bpfcc",
    "perf-tools-unstable",
    // perf-tools' bitesize and syscount run perf.
    "linux-perf",
    "bpftool",
    "e2fsprogs",
    "kmod",
    "util-linux",
    "dmsetup",
    "procps",
    "iproute2",
];

/// The packages whose versions name the userland in reports.
pub const TOOL_PACKAGES: &[&str] = &["bpftrace", "bpfcc-tools", "perf-tools-unstable"];

/// A built root: where it is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub dir: PathBuf,
    /// `name=version` of [`TOOL_PACKAGES`], as dpkg in the root lists them.
    pub tools: Vec<String>,
}

/// The content key of a root: format, suite, sources and packages.
pub fn root_key(target: KernelTarget, sources: &str) -> String {
    let mut h = Sha256::new();
    for part in [FORMAT_VERSION, target.name(), target.suite(), sources]
        .into_iter()
        .chain(PACKAGES.iter().copied())
    {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses `dpkg-query -W` lines (`name<TAB>version`) into `name=version`.
pub fn parse_versions(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some(format!("{}={}", it.next()?, it.next()?))
        })
        .collect()
}

/// Builds (or finds in `cache/roots`) the root of `target`'s own userland.
/// The caller holds the cache lock.
pub fn build_root(target: KernelTarget, cache: &Path, sources: &str) -> Result<Root, VmError> {
    let key = root_key(target, sources);
    let roots = cache.join("roots");
    let dir = roots.join(format!("{}-{}", target.name(), &key[..16]));
    let versions = dir.join("tracecheck-tools.txt");
    if let Ok(text) = fs::read_to_string(&versions) {
        return Ok(Root {
            tools: parse_versions(&text),
            dir: dir.join("root"),
        });
    }
    eprintln!(
        "tracecheck-vm: {target}: building its own root file system with mmdebstrap ({} packages, ~30 s)",
        PACKAGES.len()
    );
    let tmp = roots.join(format!(".building-{}", &key[..16]));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(VmError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(VmError::io(&tmp))?;
    let t0 = std::time::Instant::now();
    let mut mm = Command::new("mmdebstrap");
    mm.args([
        "--variant=apt",
        "--mode=root",
        "--format=directory",
        "--aptopt=Acquire::Retries \"3\"",
        // Documentation is never read in a guest.
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
    ])
    .arg(format!("--include={}", PACKAGES.join(",")))
    .arg(target.suite())
    .arg(tmp.join("root"));
    // Each sources line is one mirror argument.
    mm.args(sources.lines().filter(|l| !l.trim().is_empty()));
    cmd::run(&mut mm, &format!("building the {target} root file system"))?;
    let listed = cmd::stdout(
        Command::new("chroot")
            .arg(tmp.join("root"))
            .args(["dpkg-query", "-W"])
            .args(TOOL_PACKAGES),
        "listing the root's tool versions",
    )?;
    fs::write(tmp.join("tracecheck-tools.txt"), &listed)
        .map_err(VmError::io(tmp.join("tracecheck-tools.txt")))?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(VmError::io(&dir))?;
    }
    fs::rename(&tmp, &dir).map_err(VmError::io(&dir))?;
    for old in prune_other_roots(&roots, target, &dir) {
        eprintln!(
            "tracecheck-vm: {target}: removed the root of an earlier package list, {}",
            old.display()
        );
    }
    let tools = parse_versions(&listed);
    eprintln!(
        "tracecheck-vm: {target}: root ready in {:.1?}: {}",
        t0.elapsed(),
        tools.join(" ")
    );
    Ok(Root {
        dir: dir.join("root"),
        tools,
    })
}

/// Remove `target`'s roots in `roots` other than `keep`: each is half a
/// gigabyte, and one of another key was made for a package list or
/// sources that have changed since. Best effort (the caller holds the cache
/// lock, so no build is under way); returns what it removed.
fn prune_other_roots(roots: &Path, target: KernelTarget, keep: &Path) -> Vec<std::path::PathBuf> {
    let prefix = format!("{}-", target.name());
    let Ok(entries) = fs::read_dir(roots) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != keep)
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&prefix))
                // Another key of this target: 16 hex digits, nothing more
                // (so `debian-13-...` never takes a `debian-13x-...`).
                .is_some_and(|k| k.len() == 16 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .filter(|p| fs::remove_dir_all(p).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_root_removes_the_targets_other_roots_only() {
        let roots = tempfile::tempdir().unwrap();
        let make = |n: &str| {
            let d = roots.path().join(n);
            fs::create_dir_all(d.join("root")).unwrap();
            d
        };
        let keep = make("debian-13-00112233aabbccdd");
        let old = make("debian-13-ffeeddccbbaa9988");
        let other = make("debian-6.12-ffeeddccbbaa9988");
        let building = make(".building-ffeeddccbbaa9988");
        let removed = prune_other_roots(roots.path(), KernelTarget::Debian13, &keep);
        assert_eq!(removed, std::slice::from_ref(&old));
        assert!(keep.exists() && other.exists() && building.exists() && !old.exists());
    }

    #[test]
    fn versions_parse_from_dpkg_query() {
        let v = parse_versions("bpfcc-tools\t0.31.0+ds-7\nbpftrace\t0.23.2-1\n\n");
        assert_eq!(v, ["bpfcc-tools=0.31.0+ds-7", "bpftrace=0.23.2-1"]);
    }

    #[test]
    fn the_key_follows_the_sources_and_the_target() {
        let a = root_key(KernelTarget::Debian13, "deb http://m/debian trixie main\n");
        let b = root_key(KernelTarget::Debian13, "deb http://n/debian trixie main\n");
        let c = root_key(KernelTarget::Debian612, "deb http://m/debian trixie main\n");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            root_key(KernelTarget::Debian13, "deb http://m/debian trixie main\n")
        );
    }
}
