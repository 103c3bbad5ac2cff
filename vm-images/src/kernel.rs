//! Turning a Debian kernel .deb into what QEMU boots fastest: the package is
//! unpacked with `dpkg-deb -x`, the uncompressed ELF `vmlinux` is cut out of
//! `vmlinuz` (PVH entry, ~5 s faster under TCG than the bzImage), and
//! `depmod -b` writes the `modules.dep` that Debian does not ship.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cmd;
use crate::VmError;

/// How the kernel payload inside a bzImage is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Xz,
    Zstd,
}

impl Compression {
    fn tool(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Compression::Xz => ("xz", &["-dc", "--single-stream"]),
            Compression::Zstd => ("zstd", &["-dcq"]),
        }
    }
}

/// Finds the compressed payload in a bzImage: the first xz or zstd magic.
pub fn find_payload(image: &[u8]) -> Option<(Compression, usize)> {
    const XZ: &[u8] = b"\xfd7zXZ\x00";
    const ZSTD: &[u8] = b"\x28\xb5\x2f\xfd";
    let find = |m: &[u8]| image.windows(m.len()).position(|w| w == m);
    match (find(XZ), find(ZSTD)) {
        (Some(x), Some(z)) if z < x => Some((Compression::Zstd, z)),
        (Some(x), _) => Some((Compression::Xz, x)),
        (None, Some(z)) => Some((Compression::Zstd, z)),
        (None, None) => None,
    }
}

/// Writes the uncompressed ELF vmlinux found inside `vmlinuz` to `out`.
pub fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<(), VmError> {
    let image = fs::read(vmlinuz).map_err(VmError::io(vmlinuz))?;
    let (comp, offset) =
        find_payload(&image).ok_or_else(|| VmError::NoKernelPayload(vmlinuz.into()))?;
    let (tool, args) = comp.tool();
    let outfile = fs::File::create(out).map_err(VmError::io(out))?;
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(outfile)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| VmError::MissingTool {
            tool: tool.into(),
            source,
        })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    // The decompressor may stop reading at the end of the stream: ignore EPIPE.
    let _ = stdin.write_all(&image[offset..]);
    drop(stdin);
    child.wait().map_err(VmError::io(out))?;
    let head = fs::read(out).map_err(VmError::io(out))?;
    if !head.starts_with(b"\x7fELF") {
        return Err(VmError::NoKernelPayload(vmlinuz.into()));
    }
    Ok(())
}

/// An unpacked kernel package: its root and kernel release.
#[derive(Debug, Clone)]
pub struct UnpackedKernel {
    pub root: PathBuf,
    pub kver: String,
}

impl UnpackedKernel {
    /// `ROOT/lib/modules/KVER`, with symlinks (merged /usr) resolved.
    pub fn modules_dir(&self) -> PathBuf {
        let dir = self.root.join("lib/modules").join(&self.kver);
        fs::canonicalize(&dir).unwrap_or(dir)
    }
    /// `ROOT/boot/vmlinuz-KVER`.
    pub fn vmlinuz(&self) -> PathBuf {
        self.root
            .join("boot")
            .join(format!("vmlinuz-{}", self.kver))
    }
}

/// Unpacks `deb` into `dest` (if not done before) and runs depmod on it.
pub fn unpack(deb: &Path, kver: &str, dest: &Path) -> Result<UnpackedKernel, VmError> {
    let done = dest.join(".unpacked");
    let k = UnpackedKernel {
        root: dest.to_owned(),
        kver: kver.to_owned(),
    };
    if done.exists() {
        return Ok(k);
    }
    if dest.exists() {
        fs::remove_dir_all(dest).map_err(VmError::io(dest))?;
    }
    fs::create_dir_all(dest).map_err(VmError::io(dest))?;
    eprintln!("tracecheck-vm: unpacking {}", deb.display());
    cmd::run(
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(dest),
        &format!("unpacking {}", deb.display()),
    )?;
    if !k.vmlinuz().exists() {
        return Err(VmError::CorruptCache {
            path: k.vmlinuz(),
            detail: format!("{} has no kernel image", deb.display()),
        });
    }
    // Trixie ships modules under usr/lib/modules only (merged /usr); depmod
    // and modprobe -d look under lib/modules, so restore the merged-usr link.
    if !dest.join("lib").exists() && dest.join("usr/lib/modules").exists() {
        std::os::unix::fs::symlink("usr/lib", dest.join("lib"))
            .map_err(VmError::io(dest.join("lib")))?;
    }
    cmd::run(
        Command::new("depmod").arg("-b").arg(dest).arg(kver),
        &format!("running depmod for {kver}"),
    )?;
    fs::write(&done, "").map_err(VmError::io(&done))?;
    Ok(k)
}

/// The kernel's unpacked headers packages (`linux-headers-KVER` and its `-common`).
#[derive(Debug, Clone)]
pub struct UnpackedHeaders {
    pub root: PathBuf,
    pub kver: String,
}

impl UnpackedHeaders {
    /// `ROOT/usr/src`: one `linux-headers-*` directory per package, shared
    /// into the guest at `/usr/src/NAME` each (the packages' Makefile and the
    /// `build`/`source` links use those absolute paths).
    pub fn src_dir(&self) -> PathBuf {
        self.root.join("usr/src")
    }

    /// The `build` and `source` links the headers package ships in
    /// `lib/modules/KVER` (or `usr/lib/modules/KVER`): name and target, made
    /// absolute (trixie ships `../../../src/...`, which would only resolve
    /// where the guest's `/lib` is the merged-usr link).
    pub fn module_links(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for base in ["lib/modules", "usr/lib/modules"] {
            for name in ["build", "source"] {
                let link = self.root.join(base).join(&self.kver).join(name);
                if let Ok(target) = fs::read_link(&link) {
                    if !out.iter().any(|(n, _): &(String, PathBuf)| n == name) {
                        let dir = Path::new("/").join(base).join(&self.kver);
                        out.push((name.to_owned(), absolute_target(&dir, &target)));
                    }
                }
            }
        }
        out
    }
}

/// `target` of a symlink in `dir`, as an absolute path (lexically normalised).
pub fn absolute_target(dir: &Path, target: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dir.join(target).components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// Unpacks the headers `debs` into `dest` (if not done before).
pub fn unpack_headers(
    debs: &[PathBuf],
    kver: &str,
    dest: &Path,
) -> Result<UnpackedHeaders, VmError> {
    let done = dest.join(".unpacked");
    let h = UnpackedHeaders {
        root: dest.to_owned(),
        kver: kver.to_owned(),
    };
    if done.exists() {
        return Ok(h);
    }
    if dest.exists() {
        fs::remove_dir_all(dest).map_err(VmError::io(dest))?;
    }
    fs::create_dir_all(dest).map_err(VmError::io(dest))?;
    for deb in debs {
        eprintln!("tracecheck-vm: unpacking {}", deb.display());
        cmd::run(
            Command::new("dpkg-deb").arg("-x").arg(deb).arg(dest),
            &format!("unpacking {}", deb.display()),
        )?;
    }
    let links = h.module_links();
    if links.len() != 2 || !h.src_dir().is_dir() {
        return Err(VmError::CorruptCache {
            path: dest.to_owned(),
            detail: format!(
                "the headers packages of {kver} should ship usr/src and lib/modules/{kver}/{{build,source}}; found links {links:?}"
            ),
        });
    }
    fs::write(&done, "").map_err(VmError::io(&done))?;
    Ok(h)
}

/// Makes `modules_dir/{build,source}` the links the headers package ships,
/// replacing whatever is there; idempotent.
pub fn link_headers(modules_dir: &Path, headers: &UnpackedHeaders) -> Result<(), VmError> {
    for (name, target) in headers.module_links() {
        let link = modules_dir.join(&name);
        if fs::read_link(&link).ok().as_deref() == Some(target.as_path()) {
            continue;
        }
        if fs::symlink_metadata(&link).is_ok() {
            fs::remove_file(&link).map_err(VmError::io(&link))?;
        }
        std::os::unix::fs::symlink(&target, &link).map_err(VmError::io(&link))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_payload() {
        let mut img = vec![0u8; 64];
        img.extend_from_slice(b"\xfd7zXZ\x00rest");
        assert_eq!(find_payload(&img), Some((Compression::Xz, 64)));
        let mut z = vec![1u8; 10];
        z.extend_from_slice(b"\x28\xb5\x2f\xfd..\xfd7zXZ\x00");
        assert_eq!(find_payload(&z), Some((Compression::Zstd, 10)));
        assert_eq!(find_payload(b"no payload here"), None);
    }

    #[test]
    fn headers_links_are_copied_into_the_modules_dir() {
        let d = tempfile::tempdir().unwrap();
        let h = UnpackedHeaders {
            root: d.path().join("h"),
            kver: "6.1.0-1-amd64".into(),
        };
        let m = h.root.join("lib/modules/6.1.0-1-amd64");
        fs::create_dir_all(&m).unwrap();
        let build = PathBuf::from("/usr/src/linux-headers-6.1.0-1-amd64");
        let source = PathBuf::from("/usr/src/linux-headers-6.1.0-1-common");
        std::os::unix::fs::symlink(&build, m.join("build")).unwrap();
        std::os::unix::fs::symlink(&source, m.join("source")).unwrap();
        let mods = d.path().join("mods");
        fs::create_dir_all(&mods).unwrap();
        std::os::unix::fs::symlink("/nowhere", mods.join("build")).unwrap();
        link_headers(&mods, &h).unwrap();
        link_headers(&mods, &h).unwrap();
        assert_eq!(fs::read_link(mods.join("build")).unwrap(), build);
        assert_eq!(fs::read_link(mods.join("source")).unwrap(), source);
        assert_eq!(
            absolute_target(
                Path::new("/usr/lib/modules/6.12.1+deb13-amd64"),
                Path::new("../../../src/linux-headers-6.12.1+deb13-amd64")
            ),
            PathBuf::from("/usr/src/linux-headers-6.12.1+deb13-amd64")
        );
    }
}
