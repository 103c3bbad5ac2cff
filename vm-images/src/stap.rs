//! SystemTap for guests, with nothing of it installed on the host system.
//!
//! A SystemTap script is a kernel module built at start. In a TCG guest
//! that takes minutes (gcc under emulation), so the module is built here,
//! on the host, for the guest's kernel, and the guest only loads it with
//! `staprun` (docs/kernel-facts.md, "SystemTap"). Everything lives in the
//! VM cache:
//!
//! - `stap/systemtap-VERSION/root`: Debian 12's `systemtap`,
//!   `systemtap-common`, `systemtap-runtime` and `systemtap-doc` unpacked
//!   (stap, staprun, stapio, the tapsets, the runtime and the shipped
//!   examples). The guests run the host's userland, so the host's suite
//!   (bookworm) gives the version, whatever the guest's kernel.
//! - the kernel's `linux-kbuild-*` unpacked beside its headers (the
//!   headers' `scripts` and `tools` links point there), and
//!   `usr/src/stap-build-KVER` there: a copy of the arch headers directory
//!   whose Makefile includes the cached `-common` headers by their cache
//!   path, so kbuild runs without a chroot; with `System.map` and, once a
//!   script needs it, the debug `vmlinux`.
//! - `stap/kernel-KVER/runtime`: a private copy of the runtime, patched
//!   where the kernel needs it (stap 4.8 calls `task_work_cancel(task,
//!   func)`, which 6.1.192's stable backport renamed
//!   `task_work_cancel_func()`). The system's files are never touched.
//! - `stap/kernel-KVER/vmlinux-debug`: only the `vmlinux` of
//!   `linux-image-KVER-dbg` (633 MB of its 858 MB .deb), fetched the first
//!   time a script's probes need debug info (`vfs.*`, `ioblock.*`,
//!   `kernel.function()`); the .deb is deleted after.
//! - `stap/modules/KEY/NAME.ko`: built modules, keyed by the script's
//!   content, options, stap version and kernel release.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::apt::PrivateApt;
use crate::image::CacheLock;
use crate::{cmd, Image, KernelTarget, VmError};

/// The Debian packages that make up SystemTap here.
const PACKAGES: &[&str] = &[
    "systemtap",
    "systemtap-common",
    "systemtap-runtime",
    "systemtap-doc",
];
/// How old the host suite's apt lists may be before an update.
const APT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// SystemTap, ready to build modules for one guest kernel.
#[derive(Debug, Clone)]
pub struct StapKit {
    cache: PathBuf,
    /// The guest kernel's release (`6.1.0-57-amd64`).
    pub kver: String,
    /// The stap version (`4.8-2`).
    pub version: String,
    /// The unpacked packages (`usr/bin/stap`, `usr/share/systemtap`...).
    pub root: PathBuf,
    build_tree: PathBuf,
    runtime: PathBuf,
    /// Whether the private runtime carries the task_work_cancel_func fix.
    pub runtime_patched: bool,
    target: KernelTarget,
    kernel_version: String,
}

/// A module built for the guest kernel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Module {
    pub path: PathBuf,
    /// Found in the cache: no build this time.
    #[serde(skip)]
    pub cached: bool,
    /// How long the build took (when it was built, not this time if cached).
    pub build_secs: f64,
    /// Whether the script needed the kernel's debug info (it failed to
    /// build without it).
    pub debuginfo: bool,
}

/// Why stap could not build a script for this kernel: a fact about the
/// tool on that kernel, for a verdict, never a harness error.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    /// The reason in plain words.
    pub reason: String,
    /// The compiler's (or translator's) first error line.
    pub first_error: String,
    /// The end of stap's stderr.
    pub stderr_tail: Vec<String>,
    /// stap said it lacks the kernel's (or a module's) debug info.
    pub needs_debuginfo: bool,
}

/// Either stap failed (a verdict) or the kit could not be set up (an error).
#[derive(Debug)]
pub enum StapError {
    Build(BuildFailure),
    Setup(VmError),
}

impl From<VmError> for StapError {
    fn from(e: VmError) -> Self {
        StapError::Setup(e)
    }
}

impl StapKit {
    /// Fetches and unpacks what building for `image`'s kernel needs (once;
    /// later calls find it in the cache).
    pub fn prepare(image: &Image, cache: &Path) -> Result<StapKit, VmError> {
        let _lock = CacheLock::take_named(cache, ".stap-lock")?;
        let host_apt = PrivateApt::new(
            KernelTarget::Debian61,
            &cache.join("apt").join(KernelTarget::Debian61.name()),
        )?;
        host_apt.update_if_stale(APT_MAX_AGE)?;
        let version = host_apt.candidate_version("systemtap")?;
        let base = cache.join("stap");
        let root = base.join(format!("systemtap-{version}")).join("root");
        if !root.join(".unpacked").exists() {
            if root.exists() {
                fs::remove_dir_all(&root).map_err(VmError::io(&root))?;
            }
            fs::create_dir_all(&root).map_err(VmError::io(&root))?;
            for p in PACKAGES {
                let deb = host_apt.download(p, &version, &cache.join("debs"))?;
                unpack(&deb, &root)?;
            }
            fs::write(root.join(".unpacked"), "").map_err(VmError::io(&root))?;
        }

        let target: KernelTarget = image.target.parse()?;
        let kapt = PrivateApt::new(target, &cache.join("apt").join(target.name()))?;
        let headers_src = image
            .headers_dir
            .clone()
            .ok_or_else(|| VmError::CorruptCache {
                path: cache.join("images"),
                detail: format!("the {} image has no headers", image.target),
            })?;
        let headers_root = headers_src
            .parent()
            .and_then(Path::parent)
            .map(Path::to_owned)
            .ok_or_else(|| VmError::CorruptCache {
                path: headers_src.clone(),
                detail: "headers directory is not ROOT/usr/src".into(),
            })?;
        let kbuild_done = headers_root.join(".kbuild-unpacked");
        if !kbuild_done.exists() {
            let kbuild = kapt.kbuild_package(&image.kver)?;
            let deb = kapt.download(&kbuild, &image.package_version, &cache.join("debs"))?;
            unpack(&deb, &headers_root)?;
            fs::write(&kbuild_done, "").map_err(VmError::io(&kbuild_done))?;
        }
        let kdir = base.join(format!("kernel-{}", image.kver));
        let build_tree = headers_src.join(format!("stap-build-{}", image.kver));
        let system_map = image
            .modules_dir
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .map(|k| k.join("boot").join(format!("System.map-{}", image.kver)));
        make_build_tree(
            &headers_src,
            &image.kver,
            &build_tree,
            system_map.as_deref(),
        )?;
        let runtime = kdir.join("runtime");
        let runtime_patched = make_runtime(
            &root.join("usr/share/systemtap/runtime"),
            &headers_src,
            &runtime,
        )?;
        Ok(StapKit {
            cache: cache.to_owned(),
            kver: image.kver.clone(),
            version,
            root,
            build_tree,
            runtime,
            runtime_patched,
            target,
            kernel_version: image.package_version.clone(),
        })
    }

    /// `staprun`, which loads a module and runs `stapio` to print its output.
    pub fn staprun(&self) -> PathBuf {
        staprun_in(&self.root)
    }

    /// The environment `staprun` needs to find its helpers in the cache.
    pub fn run_env(&self) -> Vec<(String, String)> {
        staprun_env(&self.root)
    }

    /// A script shipped in `systemtap-doc` (`io/disktop.stp`).
    pub fn example(&self, rel: &str) -> PathBuf {
        self.root.join("usr/share/systemtap/examples").join(rel)
    }

    /// stap's `$HOME` for this kernel's builds (its own cache lives there).
    fn stap_home(&self) -> PathBuf {
        self.cache
            .join("stap")
            .join(format!("kernel-{}", self.kver))
            .join("home")
    }

    fn debug_vmlinux(&self) -> PathBuf {
        self.cache
            .join("stap")
            .join(format!("kernel-{}", self.kver))
            .join("vmlinux-debug")
    }

    /// Builds `script` into `NAME.ko` for this kernel, or finds it built.
    /// `options` go to stap before the script (`-g`, `-E 'probe ...'`),
    /// `args` after it: the script's `$1`, `$2`..., which stap compiles in.
    pub fn build(
        &self,
        script: &Path,
        options: &[String],
        args: &[String],
        name: &str,
    ) -> Result<Module, StapError> {
        // stap runs in a work directory: give it an absolute path.
        let script = &script.canonicalize().map_err(VmError::io(script))?;
        let text = fs::read(script).map_err(VmError::io(script))?;
        let mut h = Sha256::new();
        for part in [
            text.as_slice(),
            self.version.as_bytes(),
            self.kver.as_bytes(),
            name.as_bytes(),
            if self.runtime_patched { b"p" } else { b"u" },
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        for o in options.iter().chain([&"--".to_string()]).chain(args) {
            h.update((o.len() as u64).to_le_bytes());
            h.update(o.as_bytes());
        }
        let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let dir = self.cache.join("stap/modules").join(&key[..24]);
        let meta = dir.join("module.json");
        if let Ok(t) = fs::read_to_string(&meta) {
            if let Ok(mut m) = serde_json::from_str::<Module>(&t) {
                if m.path.exists() {
                    m.cached = true;
                    return Ok(m);
                }
            }
        }
        let _lock = CacheLock::take_named(&self.cache, ".stap-lock")?;
        let t0 = Instant::now();
        let work = tempfile::tempdir_in(self.cache.join("stap")).map_err(VmError::io(&dir))?;
        // First without the debug vmlinux in the tree, so that a module
        // records whether it needs it.
        let linked = self.build_tree.join("vmlinux");
        let _ = fs::remove_file(&linked);
        let mut debuginfo = false;
        let mut result = self.run_stap(script, options, args, name, work.path());
        if let Err(f) = &result {
            if f.needs_debuginfo {
                if !self.debug_vmlinux().exists() {
                    eprintln!(
                        "tracecheck-vm: {}: {} needs {}'s debug info: fetching it (858 MB once, then cached)",
                        self.target,
                        script.display(),
                        self.kver
                    );
                }
                let modules = probed_modules(&String::from_utf8_lossy(&text));
                self.fetch_debuginfo(&modules)?;
                debuginfo = true;
                result = self.run_stap(script, options, args, name, work.path());
            }
        }
        result.map_err(StapError::Build)?;
        fs::create_dir_all(&dir).map_err(VmError::io(&dir))?;
        let ko = dir.join(format!("{name}.ko"));
        fs::copy(work.path().join(format!("{name}.ko")), &ko).map_err(VmError::io(&ko))?;
        let m = Module {
            path: ko,
            cached: false,
            build_secs: t0.elapsed().as_secs_f64(),
            debuginfo,
        };
        let json = serde_json::to_string_pretty(&m).expect("module serialises");
        fs::write(&meta, json).map_err(VmError::io(&meta))?;
        Ok(m)
    }

    fn run_stap(
        &self,
        script: &Path,
        options: &[String],
        args: &[String],
        name: &str,
        work: &Path,
    ) -> Result<(), BuildFailure> {
        let mut c = Command::new(self.root.join("usr/bin/stap"));
        c.arg("-r")
            .arg(&self.build_tree)
            .arg("-R")
            .arg(&self.runtime)
            .args(["-p4", "-m", name])
            .args(options)
            .arg(script)
            .args(args)
            .current_dir(work)
            // stap keeps a cache in $HOME/.systemtap (among it the
            // tracepoint query modules, ~45 s to build for a kernel): one
            // per kernel, in the VM cache, shared by every script.
            .env("HOME", self.stap_home())
            .env(
                "SYSTEMTAP_TAPSET",
                self.root.join("usr/share/systemtap/tapset"),
            )
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        let out = c.output().map_err(|e| BuildFailure {
            reason: format!("stap {} could not be run: {e}", self.version),
            first_error: e.to_string(),
            stderr_tail: Vec::new(),
            needs_debuginfo: false,
        })?;
        if out.status.success() && work.join(format!("{name}.ko")).exists() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<String> = stderr.lines().map(str::to_owned).collect();
        Err(self.failure(&lines))
    }

    /// Plain words for a failed build, from stap's stderr.
    fn failure(&self, lines: &[String]) -> BuildFailure {
        let first_error = first_error(lines).unwrap_or_else(|| "no error line".into());
        let all = lines.join("\n");
        let k = &self.kver;
        let v = &self.version;
        let missing = missing_compiler(&all).or_else(|| {
            let cc = kernel_compiler(&self.build_tree.join(".config"))?;
            (!on_path(&cc)).then_some(cc)
        });
        let reason = if all.contains("task_work_cancel") {
            format!("stap {v}'s runtime does not compile against {k}: task_work_cancel was renamed task_work_cancel_func")
        } else if let Some(gcc) = missing {
            format!("{k} is built with {gcc}, which this host does not have, and kernel modules must be built with the kernel's own compiler")
        } else if needs_debuginfo(lines) {
            format!("stap {v} found no debug info for {k}")
        } else {
            format!("stap {v} could not build the script for {k}")
        };
        let n = lines.len();
        BuildFailure {
            reason,
            first_error,
            stderr_tail: lines[n.saturating_sub(15)..].to_vec(),
            needs_debuginfo: needs_debuginfo(lines),
        }
    }

    /// Downloads `linux-image-KVER-dbg` and keeps only its `vmlinux`, and
    /// the debug `.ko` of each of `modules` (a script's `module("sd_mod")`
    /// probes), linked into the build tree where stap looks for them. The
    /// .deb is deleted after; a module asked for later downloads it again.
    fn fetch_debuginfo(&self, modules: &[String]) -> Result<(), VmError> {
        let out = self.debug_vmlinux();
        let mdir = out.with_file_name("module-debug");
        let ko = |m: &str| mdir.join(format!("{m}.ko"));
        let missing: Vec<&String> = modules.iter().filter(|m| !ko(m).exists()).collect();
        if !out.exists() || !missing.is_empty() {
            let kapt = PrivateApt::new(
                self.target,
                &self.cache.join("apt").join(self.target.name()),
            )?;
            let dl = out.with_file_name("dbg-download");
            let pkg = format!("linux-image-{}-dbg", self.kver);
            let deb = kapt.download(&pkg, &self.kernel_version, &dl)?;
            let t0 = Instant::now();
            if !out.exists() {
                let member = format!("./usr/lib/debug/boot/vmlinux-{}", self.kver);
                let tmp = out.with_extension("part");
                extract_member(&deb, &member, &tmp)?;
                fs::rename(&tmp, &out).map_err(VmError::io(&out))?;
            }
            if !missing.is_empty() {
                fs::create_dir_all(&mdir).map_err(VmError::io(&mdir))?;
                let tmp = tempfile::tempdir_in(&dl).map_err(VmError::io(&dl))?;
                let patterns: Vec<String> = missing
                    .iter()
                    .map(|m| format!("./usr/lib/debug/lib/modules/{}/*/{m}.ko", self.kver))
                    .collect();
                extract_matching(&deb, &patterns, tmp.path())?;
                for m in &missing {
                    if let Some(f) = find_file(tmp.path(), &format!("{m}.ko")) {
                        fs::rename(&f, ko(m)).map_err(VmError::io(ko(m)))?;
                    }
                }
            }
            let _ = fs::remove_dir_all(&dl);
            eprintln!(
                "tracecheck-vm: debug info of {} extracted in {:.1?}",
                self.kver,
                t0.elapsed()
            );
        }
        for m in modules.iter().filter(|m| ko(m).exists()) {
            relink(&ko(m), &self.build_tree.join(format!("{m}.ko")))?;
        }
        relink(&out, &self.build_tree.join("vmlinux"))
    }
}

/// The kernel modules a script probes by name (`module("sd_mod")`).
fn probed_modules(script: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in script.split("module(\"").skip(1) {
        if let Some(name) = part.split('"').next() {
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if plain && !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// The first file called `name` under `dir`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

/// `staprun` in the unpacked SystemTap at `root`.
pub fn staprun_in(root: &Path) -> PathBuf {
    root.join("usr/bin/staprun")
}

/// The environment `staprun` from the unpacked SystemTap at `root` needs
/// to find its helpers there (without it, it looks in /usr/lib/systemtap
/// and /usr/bin): `stapio`, and itself to remove the module at exit.
pub fn staprun_env(root: &Path) -> Vec<(String, String)> {
    vec![
        (
            "SYSTEMTAP_STAPIO".into(),
            root.join("usr/lib/systemtap/stapio").display().to_string(),
        ),
        (
            "SYSTEMTAP_STAPRUN".into(),
            staprun_in(root).display().to_string(),
        ),
    ]
}

impl PrivateApt {
    /// The `linux-kbuild-*` package the kernel's headers depend on.
    pub fn kbuild_package(&self, kver: &str) -> Result<String, VmError> {
        let pkg = format!("linux-headers-{kver}");
        let deps = self.depends(&pkg)?;
        deps.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends:"))
            .map(|d| d.trim().trim_start_matches('|').trim())
            .find(|d| d.starts_with("linux-kbuild-"))
            .map(str::to_owned)
            .ok_or_else(|| VmError::PackageNotFound {
                package: format!("{pkg} (its linux-kbuild-* dependency)"),
                target: kver.into(),
                detail: deps.trim().to_owned(),
            })
    }
}

fn unpack(deb: &Path, dest: &Path) -> Result<(), VmError> {
    cmd::run(
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(dest),
        &format!("unpacking {}", deb.display()),
    )
    .map(drop)
}

/// Pipes a .deb's data (`dpkg-deb --fsys-tarfile`) into `tar`, so only
/// what `tar` is told to extract is ever written; returns tar's status.
fn untar_deb(deb: &Path, tar: &mut Command) -> Result<std::process::ExitStatus, VmError> {
    let missing = |tool: &str| {
        let tool = tool.to_string();
        move |source| VmError::MissingTool { tool, source }
    };
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(missing("dpkg-deb"))?;
    let status = tar
        .stdin(dpkg.stdout.take().expect("piped"))
        .status()
        .map_err(missing("tar"));
    let _ = dpkg.wait();
    status
}

/// Writes one member of a .deb's data to `out` (the other 5 GB of the
/// package are never written).
fn extract_member(deb: &Path, member: &str, out: &Path) -> Result<(), VmError> {
    let file = fs::File::create(out).map_err(VmError::io(out))?;
    let tar = untar_deb(
        deb,
        Command::new("tar")
            .args(["-x", "-O", "-f", "-", member])
            .stdout(file),
    )?;
    let len = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    if !tar.success() || len == 0 {
        let _ = fs::remove_file(out);
        return Err(VmError::Command {
            command: format!(
                "dpkg-deb --fsys-tarfile {} | tar -x {member}",
                deb.display()
            ),
            doing: "extracting the debug vmlinux".into(),
            detail: format!("{tar}, {len} bytes written"),
        });
    }
    Ok(())
}

/// Extracts the members of a .deb's data that match `patterns` (tar
/// wildcards) under `dest`.
fn extract_matching(deb: &Path, patterns: &[String], dest: &Path) -> Result<(), VmError> {
    // A pattern that matches nothing makes tar fail at the end: which
    // modules were found is checked by the caller.
    untar_deb(
        deb,
        Command::new("tar")
            .args(["-x", "-f", "-", "--wildcards", "-C"])
            .arg(dest)
            .args(patterns)
            .stderr(Stdio::null()),
    )
    .map(drop)
}

/// Makes `link` a symlink to `target`, replacing what is there.
fn relink(target: &Path, link: &Path) -> Result<(), VmError> {
    if fs::read_link(link).ok().as_deref() == Some(target) {
        return Ok(());
    }
    if fs::symlink_metadata(link).is_ok() {
        fs::remove_file(link).map_err(VmError::io(link))?;
    }
    std::os::unix::fs::symlink(target, link).map_err(VmError::io(link))
}

/// The `linux-headers-*-common` directory (the kernel's source headers)
/// among the unpacked headers.
fn common_headers(headers_src: &Path) -> Result<Option<PathBuf>, VmError> {
    Ok(fs::read_dir(headers_src)
        .map_err(VmError::io(headers_src))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("-common"))
        }))
}

/// The arch headers directory, copied beside it with its Makefile pointed
/// at the `-common` headers by their cache path (the packaged one names
/// `/usr/src/...`, where the guest sees them but the host does not). Its
/// relative `scripts` and `tools` links keep working, since the copy sits
/// in the same directory. A `vmlinux` there (6.12's headers ship one with
/// BTF only) is removed: stap would take it for debug info.
fn make_build_tree(
    headers_src: &Path,
    kver: &str,
    tree: &Path,
    system_map: Option<&Path>,
) -> Result<(), VmError> {
    // Raised when the tree's layout changes, so old caches are redone.
    let done = tree.join(".tracecheck-build-tree-2");
    if done.exists() {
        return Ok(());
    }
    let arch = headers_src.join(format!("linux-headers-{kver}"));
    if tree.exists() {
        fs::remove_dir_all(tree).map_err(VmError::io(tree))?;
    }
    cmd::run(
        Command::new("cp").arg("-a").arg(&arch).arg(tree),
        "copying the kernel headers for stap",
    )?;
    let mk = tree.join("Makefile");
    let text = fs::read_to_string(&mk).map_err(VmError::io(&mk))?;
    let cached = format!("{}/", headers_src.display());
    fs::write(&mk, text.replace("/usr/src/", &cached)).map_err(VmError::io(&mk))?;
    let _ = fs::remove_file(tree.join("vmlinux"));
    // stap finds tracepoint headers (trace/events/*.h) under the build
    // tree's `source`, as in /lib/modules/KVER/source: the -common headers.
    if let Some(common) = common_headers(headers_src)? {
        relink(&common, &tree.join("source"))?;
    }
    if let Some(map) = system_map.filter(|m| m.exists()) {
        relink(map, &tree.join("System.map"))?;
    }
    fs::write(&done, "").map_err(VmError::io(&done))
}

/// The two lines stap 4.8's runtime needs on kernels that have
/// `task_work_cancel_func()` (6.11, and 6.1.192's stable backport).
const TASK_WORK_FIX: &[(&str, &str)] = &[
    (
        "typedef typeof(&task_work_cancel) task_work_cancel_fn;",
        "typedef typeof(&task_work_cancel_func) task_work_cancel_fn;",
    ),
    (
        "kallsyms_lookup_name(\"task_work_cancel\")",
        "kallsyms_lookup_name(\"task_work_cancel_func\")",
    ),
];

/// A private copy of the runtime, with [`TASK_WORK_FIX`] applied when the
/// kernel declares `task_work_cancel_func`. Returns whether it was.
fn make_runtime(system: &Path, headers_src: &Path, dest: &Path) -> Result<bool, VmError> {
    let needs_fix = common_headers(headers_src)?
        .map(|c| c.join("include/linux/task_work.h"))
        .and_then(|h| fs::read_to_string(h).ok())
        .is_some_and(|t| t.contains("task_work_cancel_func("));
    let file = dest.join("stp_task_work.c");
    let done = dest.join(".tracecheck-runtime");
    if !done.exists() {
        if dest.exists() {
            fs::remove_dir_all(dest).map_err(VmError::io(dest))?;
        }
        fs::create_dir_all(dest.parent().unwrap_or(dest)).map_err(VmError::io(dest))?;
        cmd::run(
            Command::new("cp").arg("-a").arg(system).arg(dest),
            "copying the stap runtime",
        )?;
        if needs_fix {
            let text = fs::read_to_string(&file).map_err(VmError::io(&file))?;
            let (fixed, applied) = apply_fix(&text);
            if applied {
                fs::write(&file, fixed).map_err(VmError::io(&file))?;
            }
        }
        let mut f = fs::File::create(&done).map_err(VmError::io(&done))?;
        let _ = writeln!(f, "needs task_work fix: {needs_fix}");
    }
    let text = fs::read_to_string(&file).map_err(VmError::io(&file))?;
    Ok(text.contains("task_work_cancel_func"))
}

/// `text` with [`TASK_WORK_FIX`], and whether every line of it applied.
fn apply_fix(text: &str) -> (String, bool) {
    let mut out = text.to_owned();
    let mut all = true;
    for (from, to) in TASK_WORK_FIX {
        all &= out.contains(from);
        out = out.replace(from, to);
    }
    (out, all)
}

/// Whether stap's failure may be for want of the kernel's debug info: it
/// says so ("missing ... debuginfo"), or it could not resolve a type or a
/// probe point in pass 2, which DWARF would answer (a `@cast` to
/// `struct request` fails with "type definition 'request' not found in
/// 'kernel'" without a word about debug info).
fn needs_debuginfo(lines: &[String]) -> bool {
    lines.iter().any(|l| {
        l.contains("debuginfo")
            || l.contains("debug information")
            || (l.contains("semantic error:") && l.contains("not found in 'kernel'"))
    })
}

/// The compiler a "not found" line names (`gcc-14`,
/// `x86_64-linux-gnu-gcc-14`): kbuild calls the kernel's own.
fn missing_compiler(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| l.contains("not found") || l.contains("No such file or directory"))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ':' || c == '\''))
        .find(|w| {
            w.rsplit_once("gcc-")
                .is_some_and(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_owned)
}

/// The compiler the kernel was built with, from its `.config`
/// (`CONFIG_CC_VERSION_TEXT="x86_64-linux-gnu-gcc-14 (Debian ...) 14.2.0"`):
/// kbuild calls that one. stap hides kbuild's output unless verbose, so a
/// missing compiler shows only as probes that do not resolve.
fn kernel_compiler(config: &Path) -> Option<String> {
    let text = fs::read_to_string(config).ok()?;
    let v = text
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_CC_VERSION_TEXT=\""))?;
    v.split_whitespace().next().map(str::to_owned)
}

fn on_path(exe: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
}

/// The first line of stap's stderr that reports an error (the translator's
/// `semantic error:`, gcc's `error:`, make's `***`), not a `Pass N` summary.
/// A `while processing probe ...` line only says where the next error
/// comes from (it names the alias chain, not what is wrong): skipped.
fn first_error(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| {
            !l.starts_with("Pass ")
                && !l.contains("error: while processing probe")
                && (l.contains("error:") || l.contains("***") || l.contains("not found"))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_owned).collect()
    }

    #[test]
    fn the_task_work_fix_applies_to_stap_4_8s_runtime_lines() {
        let text = "typedef typeof(&task_work_cancel) task_work_cancel_fn;\n\
                    x = (void *)kallsyms_lookup_name(\"task_work_cancel\");\n";
        let (fixed, all) = apply_fix(text);
        assert!(all);
        assert!(fixed.contains("typeof(&task_work_cancel_func)"));
        assert!(fixed.contains("(\"task_work_cancel_func\")"));
        assert!(
            !apply_fix("nothing of it").1,
            "a runtime without those lines"
        );
    }

    #[test]
    fn probed_modules_are_read_from_the_script() {
        let s = r#"probe module("sd_mod").function("sd_init_command") !, kernel.function("x") {}
                   probe module("sd_mod").function("y") {} probe module("*").function("z") {}
                   probe module("ext4").statement("w") {}"#;
        assert_eq!(probed_modules(s), ["sd_mod", "ext4"]);
        assert!(probed_modules("probe vfs.read {}").is_empty());
    }

    #[test]
    fn the_kernel_s_compiler_comes_from_its_config() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join(".config");
        fs::write(&c, "CONFIG_X=y\nCONFIG_CC_VERSION_TEXT=\"x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0\"\n").unwrap();
        assert_eq!(
            kernel_compiler(&c).as_deref(),
            Some("x86_64-linux-gnu-gcc-14")
        );
        assert!(!on_path("x86_64-linux-gnu-gcc-99"));
        assert!(on_path("sh"));
    }

    #[test]
    fn build_failures_are_named_from_stap_stderr() {
        let missing = lines(
            "semantic error: while resolving probe point: identifier 'kernel' at /x/vfs.stp:1:1\n\
             semantic error: missing x86_64 kernel/module debuginfo [man warning::debuginfo] under '/b'\n\
             Pass 2: analysis failed.  [man error::pass2]\n",
        );
        assert!(needs_debuginfo(&missing));
        assert_eq!(
            first_error(&missing).unwrap(),
            "semantic error: while resolving probe point: identifier 'kernel' at /x/vfs.stp:1:1"
        );
        let alias = lines(
            "semantic error: while processing probe tp_syscall.open.return from: nd_syscall.open.return\n\
             semantic error: internal error: @entry is only valid in .return probes: operator '@entry' at x.stp:30:26\n",
        );
        assert!(first_error(&alias)
            .unwrap()
            .contains("@entry is only valid"));
        let gcc = "make[1]: gcc-14: No such file or directory\nmake[1]: *** [x] Error 127\n";
        assert_eq!(missing_compiler(gcc).as_deref(), Some("gcc-14"));
        assert_eq!(missing_compiler("gcc-12 -O2 ok"), None);
        assert_eq!(
            missing_compiler("/bin/sh: 1: x86_64-linux-gnu-gcc-14: not found").as_deref(),
            Some("x86_64-linux-gnu-gcc-14")
        );
        assert!(!needs_debuginfo(&lines(gcc)));
    }
}
