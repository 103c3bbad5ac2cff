//! The guest's initramfs: busybox-static, the few modules Debian builds as
//! modules but a 9p-rooted guest needs before it has a root (virtio, 9p,
//! overlay, ext4, pvpanic, fw_cfg), and an `/init` that mounts the host root
//! read-only under a tmpfs overlay, runs the fw_cfg command in a chroot and
//! powers off. Written as an uncompressed newc cpio by a small pure writer.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;
use crate::VmError;

/// Modules loaded by `/init`, before their dependencies are added.
pub const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_blk",
    "9p",
    "9pnet_virtio",
    "overlay",
    "ext4",
    "pvpanic_mmio",
    "qemu_fw_cfg",
];

/// Marker `/init` prints on the console just before the command starts.
pub const START_MARKER: &str = "TRACECHECK-START";
/// Marker `/init` prints after the command, followed by its exit code.
pub const EXIT_MARKER: &str = "TRACECHECK-EXIT";
/// Marker `/init` prints when it cannot set the guest up.
pub const INIT_FAIL_MARKER: &str = "TRACECHECK-INIT-FAIL";
/// 9p tag of the host root.
pub const HOST_ROOT_TAG: &str = "hostroot";
/// 9p tag of the guest kernel's `/lib/modules/KVER`.
pub const MODULES_TAG: &str = "kmods";
/// Where the guest sees the per-run output directory (stdout, stderr, rc).
pub const GUEST_OUT_DIR: &str = "/run/tracecheck/out";

/// The `/init` script for kernel release `kver`.
pub fn init_script(kver: &str) -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() {{ echo "{INIT_FAIL_MARKER}: $*"; sync; reboot -f; sleep 10; }}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/modules/$m" || echo "tracecheck-init: insmod $m failed"; done < /modules/order
CFG=/sys/firmware/qemu_fw_cfg/by_name/opt/tracecheck
[ -r $CFG/cmd/raw ] || fail "no fw_cfg item opt/tracecheck/cmd"
P9=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $P9,ro,cache=loose {HOST_ROOT_TAG} /host || fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "cannot mount the overlay root"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
# What udev makes on a real system and devtmpfs does not: without them a
# tool that writes to /dev/stdout (perf stat -o /dev/stdout, in perf-tools'
# bitesize) writes into a file of that name instead.
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t devpts devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
for d in /tmp /var/tmp /run; do mkdir -p $R$d; mount -t tmpfs -o mode=1777 tmpfs $R$d; done
mkdir -p $R/root; mount -t tmpfs -o mode=0700 tmpfs $R/root
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null
mkdir -p $R/lib/modules/{kver}
mount -t 9p -o $P9,ro,cache=loose {MODULES_TAG} $R/lib/modules/{kver} || fail "cannot mount the modules of {kver}"
if [ -r $CFG/mounts/raw ]; then
  while read -r tag mode path; do
    [ -n "$tag" ] || continue
    mkdir -p "$R$path" && mount -t 9p -o $P9,$mode "$tag" "$R$path" || fail "cannot mount share $tag at $path"
  done < $CFG/mounts/raw
fi
mkdir -p $R{GUEST_OUT_DIR}
cat $CFG/cmd/raw > $R/run/tracecheck/cmd
ip link set lo up 2>/dev/null
hostname tracecheck-guest
echo "{START_MARKER}"
chroot $R /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8 \
  /bin/sh -c 'cd /tmp && exec /bin/sh /run/tracecheck/cmd' <$R/dev/null >$R{GUEST_OUT_DIR}/stdout 2>$R{GUEST_OUT_DIR}/stderr
rc=$?
echo $rc > $R{GUEST_OUT_DIR}/rc
sync
echo "{EXIT_MARKER} $rc"
reboot -f
sleep 10
"#
    )
}

/// Parses `modprobe --show-depends` output into module file paths, in load order.
pub fn parse_show_depends(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("insmod "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(PathBuf::from)
        .collect()
}

/// Every module file `modules` need, dependencies first, without duplicates.
pub fn module_files(root: &Path, kver: &str, modules: &[&str]) -> Result<Vec<PathBuf>, VmError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for m in modules {
        let text = cmd::stdout(
            Command::new("modprobe")
                .arg("-d")
                .arg(root)
                .args(["-S", kver, "--show-depends", m]),
            &format!("ordering module {m}"),
        )
        .map_err(|e| VmError::ModuleMissing {
            module: (*m).into(),
            kver: kver.into(),
            detail: e.to_string(),
        })?;
        let files = parse_show_depends(&text);
        if files.is_empty() && !text.contains("builtin") {
            return Err(VmError::ModuleMissing {
                module: (*m).into(),
                kver: kver.into(),
                detail: text,
            });
        }
        for f in files {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// Reads a module file, decompressing `.ko.xz` / `.ko.zst` with the host tools.
fn read_module(path: &Path) -> Result<Vec<u8>, VmError> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else {
        None
    };
    match tool {
        None => fs::read(path).map_err(VmError::io(path)),
        Some(t) => Ok(cmd::run(
            Command::new(t).arg("-dc").arg(path),
            &format!("decompressing {name}"),
        )?
        .stdout),
    }
}

/// One newc cpio entry (header, name, data, with 4-byte padding).
pub fn newc_entry(name: &str, mode: u32, ino: u32, rdev: (u32, u32), data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(110 + name.len() + data.len() + 8);
    let fields = [
        ino,
        mode,
        0,
        0,
        1,
        0,
        u32::try_from(data.len()).expect("cpio member under 4 GiB"),
        0,
        0,
        rdev.0,
        rdev.1,
        u32::try_from(name.len() + 1).expect("short name"),
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

/// One archive member: name, mode (type and permissions), device numbers, contents.
pub type Member = (String, u32, (u32, u32), Vec<u8>);

/// A whole newc archive from members plus the trailer.
pub fn newc_archive(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, mode, rdev, data)) in members.iter().enumerate() {
        out.extend(newc_entry(name, *mode, i as u32 + 1, *rdev, data));
    }
    out.extend(newc_entry("TRAILER!!!", 0, 0, (0, 0), &[]));
    out
}

const DIR: u32 = 0o040755;
const EXE: u32 = 0o100755;
const FILE: u32 = 0o100644;
const CHR: u32 = 0o020600;

/// The inputs of an initramfs, gathered so they can be hashed before building.
pub struct InitramfsInputs {
    pub kver: String,
    pub busybox: PathBuf,
    pub modules: Vec<PathBuf>,
    pub script: String,
}

impl InitramfsInputs {
    /// Collects the inputs for the unpacked kernel at `root`.
    pub fn gather(root: &Path, kver: &str, busybox: &Path) -> Result<Self, VmError> {
        if !busybox.exists() {
            return Err(VmError::MissingTool {
                tool: busybox.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Ok(InitramfsInputs {
            kver: kver.into(),
            busybox: busybox.into(),
            modules: module_files(root, kver, MODULES)?,
            script: init_script(kver),
        })
    }

    /// Builds the archive bytes.
    pub fn build(&self) -> Result<Vec<u8>, VmError> {
        let mut m: Vec<Member> = Vec::new();
        for d in [
            "bin", "dev", "proc", "sys", "host", "rw", "newroot", "modules", "etc",
        ] {
            m.push((d.into(), DIR, (0, 0), Vec::new()));
        }
        m.push(("dev/console".into(), CHR, (5, 1), Vec::new()));
        m.push(("init".into(), EXE, (0, 0), self.script.clone().into_bytes()));
        m.push((
            "bin/busybox".into(),
            EXE,
            (0, 0),
            fs::read(&self.busybox).map_err(VmError::io(&self.busybox))?,
        ));
        let mut order = String::new();
        for path in &self.modules {
            let base = path.file_name().unwrap_or_default().to_string_lossy();
            let base = base
                .trim_end_matches(".xz")
                .trim_end_matches(".zst")
                .to_owned();
            order.push_str(&base);
            order.push('\n');
            m.push((format!("modules/{base}"), FILE, (0, 0), read_module(path)?));
        }
        m.push(("modules/order".into(), FILE, (0, 0), order.into_bytes()));
        Ok(newc_archive(&m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_depends_keeps_order_and_skips_builtins() {
        let text = "builtin crc32c\ninsmod /r/lib/modules/k/kernel/a.ko \ninsmod /r/lib/modules/k/kernel/b.ko.xz opt=1\n";
        assert_eq!(
            parse_show_depends(text),
            vec![
                PathBuf::from("/r/lib/modules/k/kernel/a.ko"),
                PathBuf::from("/r/lib/modules/k/kernel/b.ko.xz")
            ]
        );
    }

    #[test]
    fn newc_entry_layout() {
        let e = newc_entry("init", EXE, 7, (0, 0), b"abc");
        assert_eq!(&e[..6], b"070701");
        assert_eq!(&e[6..14], b"00000007");
        assert_eq!(&e[14..22], b"000081ed");
        assert_eq!(&e[54..62], b"00000003", "filesize");
        assert_eq!(&e[94..102], b"00000005", "namesize incl. NUL");
        assert_eq!(&e[110..115], b"init\0");
        assert_eq!(e.len() % 4, 0);
        assert_eq!(&e[116..119], b"abc");
        let a = newc_archive(&[]);
        assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn init_binds_the_guest_modules_and_prints_markers() {
        let s = init_script("6.1.0-56-amd64");
        assert!(s.contains("$R/lib/modules/6.1.0-56-amd64"));
        assert!(s.contains("echo \"TRACECHECK-START\""));
        assert!(s.contains("echo \"TRACECHECK-EXIT $rc\""));
        assert!(
            s.contains(",ro,cache=loose hostroot /host"),
            "host root must be read-only"
        );
    }
}
