//! Bootable images: one function, [`build_image`], resolves a target's current
//! kernel package through a private apt state, downloads and unpacks it, cuts
//! out the uncompressed vmlinux and builds the initramfs. It also fetches the
//! kernel's headers packages (`linux-headers-KVER` and its `-common`, same
//! version) so bcc can compile in the guest: unpacked into the cache, shared
//! read-only at `/usr/src/linux-headers-*`, with `lib/modules/KVER/{build,source}`
//! pointing there. Results are cached under a content key (kernel and headers
//! packages + versions + every initramfs input), so
//! a second call costs a hash and a few stats; progress goes to stderr.

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::apt::{KernelPackage, PrivateApt};
use crate::initramfs::InitramfsInputs;
use crate::{kernel, KernelTarget, VmError};

/// Bump when the image layout or the way it is built changes.
const FORMAT_VERSION: &str = "tracecheck-vm image v2 (headers)";

/// Default cache directory; override with `TRACECHECK_VM_CACHE` or [`BuildOptions`].
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/tracecheck/vm";

/// Where and how images are built.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Cache root: apt state, .debs, unpacked kernels, images.
    pub cache_dir: PathBuf,
    /// Re-run `apt-get update` when the private lists are older than this.
    pub apt_max_age: Duration,
    /// The static busybox put into the initramfs.
    pub busybox: PathBuf,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            cache_dir: default_cache_dir(),
            apt_max_age: Duration::from_secs(12 * 3600),
            busybox: PathBuf::from("/bin/busybox"),
        }
    }
}

/// `TRACECHECK_VM_CACHE`, else [`DEFAULT_CACHE_DIR`].
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("TRACECHECK_VM_CACHE")
        .map_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR), PathBuf::from)
}

/// A built, bootable image. Paths point into the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Target name (`debian-6.1`).
    pub target: String,
    /// Kernel package name (`linux-image-6.1.0-56-amd64`).
    pub package: String,
    /// Kernel package version (`6.1.192-2`).
    pub package_version: String,
    /// Kernel release (`6.1.0-56-amd64`).
    pub kver: String,
    /// Content key (hex SHA-256 of every input).
    pub key: String,
    /// Uncompressed ELF kernel (PVH entry).
    pub vmlinux: PathBuf,
    /// Uncompressed newc initramfs.
    pub initramfs: PathBuf,
    /// The guest kernel's `lib/modules/KVER` (with `modules.dep`), shared into the guest.
    pub modules_dir: PathBuf,
    /// The headers packages (`linux-headers-KVER`, `linux-headers-*-common`) as `name=version`.
    #[serde(default)]
    pub headers_packages: Vec<String>,
    /// The unpacked headers' `usr/src`: each `linux-headers-*` directory in it
    /// is shared read-only at `/usr/src/NAME` in the guest (where the
    /// `build`/`source` links in `modules_dir` point). None: no headers.
    #[serde(default)]
    pub headers_dir: Option<PathBuf>,
    /// The guest's root file system, exported read-only in place of this
    /// machine's `/`; None: this machine's root ([`crate::rootfs`]).
    #[serde(default)]
    pub root_dir: Option<PathBuf>,
    /// With a root of its own, its tracing tools' packages as `name=version`.
    #[serde(default)]
    pub userland: Vec<String>,
}

/// Holds an exclusive `flock` on the cache while building.
pub(crate) struct CacheLock(#[allow(dead_code)] fs::File);

impl CacheLock {
    fn take(cache: &Path) -> Result<Self, VmError> {
        Self::take_named(cache, ".lock")
    }

    /// An exclusive lock of its own (`name` in the cache), for work that
    /// must not wait on image builds (SystemTap's, [`crate::stap`]).
    pub(crate) fn take_named(cache: &Path, name: &str) -> Result<Self, VmError> {
        fs::create_dir_all(cache).map_err(VmError::io(cache))?;
        let path = cache.join(name);
        let f = fs::File::create(&path).map_err(VmError::io(&path))?;
        rustix::fs::flock(f.as_fd(), rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
            VmError::Io {
                path,
                source: e.into(),
            }
        })?;
        Ok(CacheLock(f))
    }
}

/// The content key of an image.
pub fn content_key(
    target: KernelTarget,
    pkg: &KernelPackage,
    headers: &[KernelPackage],
    inputs: &InitramfsInputs,
    root: Option<&Path>,
) -> Result<String, VmError> {
    let mut h = Sha256::new();
    // A root of its own is keyed by its directory, whose name holds its key.
    let root = root.map(|r| r.display().to_string());
    let mut parts = vec![
        FORMAT_VERSION,
        target.name(),
        &pkg.name,
        &pkg.version,
        &inputs.kver,
        &inputs.script,
    ];
    parts.extend(root.as_deref());
    for p in headers {
        parts.push(&p.name);
        parts.push(&p.version);
    }
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(fs::read(&inputs.busybox).map_err(VmError::io(&inputs.busybox))?);
    for m in &inputs.modules {
        let len = fs::metadata(m).map_err(VmError::io(m))?.len();
        h.update(
            format!(
                "{}:{len}\0",
                m.file_name().unwrap_or_default().to_string_lossy()
            )
            .as_bytes(),
        );
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Builds (or finds in the cache) the image for `target`.
pub fn build_image(target: KernelTarget, opts: &BuildOptions) -> Result<Image, VmError> {
    let cache = &opts.cache_dir;
    let _lock = CacheLock::take(cache)?;
    let apt = PrivateApt::new(target, &cache.join("apt").join(target.name()))?;
    if let Err(e) = apt.update_if_stale(opts.apt_max_age) {
        if !cache
            .join("apt")
            .join(target.name())
            .join("updated")
            .exists()
        {
            return Err(e);
        }
        eprintln!("tracecheck-vm: warning: {e}; using the apt lists from the last update");
    }
    let pkg = apt.resolve_kernel()?;
    eprintln!("tracecheck-vm: {target}: {} {}", pkg.name, pkg.version);
    let deb = apt.download(&pkg.name, &pkg.version, &cache.join("debs"))?;
    let unpacked = kernel::unpack(
        &deb,
        pkg.kver(),
        &cache
            .join("kernels")
            .join(format!("{}_{}", pkg.name, pkg.version)),
    )?;
    let t_headers = std::time::Instant::now();
    let headers_pkgs = apt.resolve_headers(&pkg)?;
    let mut headers_debs = Vec::new();
    for h in &headers_pkgs {
        headers_debs.push(apt.download(&h.name, &h.version, &cache.join("debs"))?);
    }
    let headers = kernel::unpack_headers(
        &headers_debs,
        pkg.kver(),
        &cache.join("headers").join(format!(
            "{}_{}",
            headers_pkgs[0].name, headers_pkgs[0].version
        )),
    )?;
    kernel::link_headers(&unpacked.modules_dir(), &headers)?;
    eprintln!(
        "tracecheck-vm: {target}: headers {} ready in {:.1?}",
        headers_pkgs
            .iter()
            .map(|h| format!("{}={}", h.name, h.version))
            .collect::<Vec<_>>()
            .join(" "),
        t_headers.elapsed()
    );
    let root = if target.own_userland() {
        Some(crate::rootfs::build_root(
            target,
            cache,
            &target.sources_list_from_env(),
        )?)
    } else {
        None
    };
    let inputs = InitramfsInputs::gather(&unpacked.root, pkg.kver(), &opts.busybox)?;
    let key = content_key(
        target,
        &pkg,
        &headers_pkgs,
        &inputs,
        root.as_ref().map(|r| r.dir.as_path()),
    )?;
    let dir = cache
        .join("images")
        .join(format!("{}-{}", target.name(), &key[..16]));
    let manifest = dir.join("image.json");
    if let Ok(text) = fs::read_to_string(&manifest) {
        let img: Image = serde_json::from_str(&text).map_err(|e| VmError::CorruptCache {
            path: manifest.clone(),
            detail: e.to_string(),
        })?;
        if img.vmlinux.exists()
            && img.initramfs.exists()
            && img.headers_dir.as_ref().is_some_and(|d| d.is_dir())
            && img.root_dir.as_ref().is_none_or(|d| d.is_dir())
        {
            eprintln!("tracecheck-vm: {target}: cached image {}", dir.display());
            return Ok(img);
        }
    }
    eprintln!("tracecheck-vm: {target}: building image {}", dir.display());
    let tmp = cache
        .join("images")
        .join(format!(".building-{}", &key[..16]));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(VmError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(VmError::io(&tmp))?;
    kernel::extract_vmlinux(&unpacked.vmlinuz(), &tmp.join("vmlinux"))?;
    let cpio = inputs.build()?;
    fs::write(tmp.join("initramfs.cpio"), &cpio)
        .map_err(VmError::io(tmp.join("initramfs.cpio")))?;
    let img = Image {
        target: target.name().into(),
        package: pkg.name.clone(),
        package_version: pkg.version.clone(),
        kver: pkg.kver().into(),
        key: key.clone(),
        vmlinux: dir.join("vmlinux"),
        initramfs: dir.join("initramfs.cpio"),
        modules_dir: unpacked.modules_dir(),
        headers_packages: headers_pkgs
            .iter()
            .map(|h| format!("{}={}", h.name, h.version))
            .collect(),
        headers_dir: Some(headers.src_dir()),
        root_dir: root.as_ref().map(|r| r.dir.clone()),
        userland: root.map(|r| r.tools).unwrap_or_default(),
    };
    let json = serde_json::to_string_pretty(&img).expect("image serialises");
    fs::write(tmp.join("image.json"), json).map_err(VmError::io(tmp.join("image.json")))?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(VmError::io(&dir))?;
    }
    fs::rename(&tmp, &dir).map_err(VmError::io(&dir))?;
    eprintln!(
        "tracecheck-vm: {target}: image ready ({} modules, initramfs {} KiB)",
        inputs.modules.len(),
        cpio.len() / 1024
    );
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_key_follows_every_input() {
        let dir = tempfile::tempdir().unwrap();
        let bb = dir.path().join("busybox");
        let m = dir.path().join("virtio.ko");
        fs::write(&bb, b"bb1").unwrap();
        fs::write(&m, b"mod").unwrap();
        let pkg = KernelPackage {
            name: "linux-image-6.1.0-1-amd64".into(),
            version: "6.1.1-1".into(),
        };
        let inputs = |script: &str| InitramfsInputs {
            kver: "6.1.0-1-amd64".into(),
            busybox: bb.clone(),
            modules: vec![m.clone()],
            script: script.into(),
        };
        let t = KernelTarget::Debian61;
        let hdrs = vec![pkg.headers()];
        let key = |pkg: &KernelPackage, i: &InitramfsInputs| content_key(t, pkg, &hdrs, i, None);
        let k0 = key(&pkg, &inputs("a")).unwrap();
        let newer_headers = vec![KernelPackage {
            version: "6.1.1-3".into(),
            ..pkg.headers()
        }];
        assert_ne!(
            k0,
            content_key(t, &pkg, &newer_headers, &inputs("a"), None).unwrap(),
            "headers version"
        );
        assert_eq!(k0, key(&pkg, &inputs("a")).unwrap(), "stable");
        assert_ne!(k0, key(&pkg, &inputs("b")).unwrap(), "init script");
        let with_root =
            |r: &str| content_key(t, &pkg, &hdrs, &inputs("a"), Some(Path::new(r))).unwrap();
        assert_ne!(
            k0,
            with_root("/c/roots/debian-13-a/root"),
            "a root of its own"
        );
        assert_ne!(
            with_root("/c/roots/debian-13-a/root"),
            with_root("/c/roots/debian-13-b/root"),
            "which root"
        );
        let newer = KernelPackage {
            version: "6.1.1-2".into(),
            ..pkg.clone()
        };
        assert_ne!(k0, key(&newer, &inputs("a")).unwrap(), "package version");
        fs::write(&bb, b"bb2").unwrap();
        assert_ne!(k0, key(&pkg, &inputs("a")).unwrap(), "busybox contents");
        fs::write(&bb, b"bb1").unwrap();
        fs::write(&m, b"module grew").unwrap();
        assert_ne!(k0, key(&pkg, &inputs("a")).unwrap(), "module size");
    }
}
