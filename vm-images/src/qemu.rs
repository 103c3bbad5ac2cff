//! QEMU command lines as pure data: a [`QemuPlan`] says what the guest gets
//! (kernel, initramfs, console file, fw_cfg items, scratch disk, 9p shares,
//! pvpanic), and [`qemu_args`] turns it into argv. No I/O here, so every
//! argument is unit-tested.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The accelerator a guest ran under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// QEMU's software emulator (slow, always works).
    Tcg,
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

impl std::str::FromStr for Accel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            _ => Err(format!("unknown accelerator `{s}` (kvm or tcg)")),
        }
    }
}

/// A host directory exported to the guest over virtio-9p.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// 9p mount tag (at most 31 bytes).
    pub tag: String,
    /// Host directory.
    pub host: PathBuf,
    /// Whether the guest may write to it (QEMU enforces read-only otherwise).
    pub writable: bool,
}

/// Everything the QEMU command line depends on.
#[derive(Debug, Clone)]
pub struct QemuPlan {
    pub accel: Accel,
    pub cpus: u32,
    pub memory_mib: u32,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub append: String,
    /// File that receives the serial console (ttyS0).
    pub console_log: PathBuf,
    /// `(name, file)` pairs for `-fw_cfg`.
    pub fw_cfg: Vec<(String, PathBuf)>,
    /// Raw scratch images, attached as virtio-blk disks with the serials
    /// [`scratch_serial`] gives.
    pub scratch: Vec<PathBuf>,
    pub exports: Vec<Export>,
}

/// The serial of the guest's `i`th scratch disk (from 0): `scratch`, then
/// `scratch2`, `scratch3`, ... The guest finds a disk by its serial, since
/// the PCI order of its disks is not their naming order.
pub fn scratch_serial(i: u32) -> String {
    match i {
        0 => "scratch".into(),
        i => format!("scratch{}", i + 1),
    }
}

/// How long a task may stay blocked inside a guest's kernel before the
/// hung-task watchdog panics it (reported within one to two of these).
///
/// Not shorter: under TCG on a busy 2-core host a guest's vCPU can be left
/// without a host CPU for seconds, and a task blocked on I/O across such a
/// stall looks blocked for all of it. At 5 s a CI run once lost a bcc
/// check to this ("the tool hung the kernel" for a tool that passes in
/// every other run, and in a run with this watchdog at 1 s and both host
/// cores busy, no task was ever blocked for 1 s). A tool that really hangs
/// a task hangs it for good, so a longer watchdog only costs time.
pub const HUNG_TASK_TIMEOUT_SECS: u32 = 20;

/// Kernel command line for a guest: console, crash-to-exit and hang-to-panic settings, then `extra`.
///
/// `hung_task_timeout_secs` has no boot parameter of its own (a bare
/// `hung_task_timeout_secs=5` is silently handed to init and the kernel keeps
/// 120 s): it is set through the generic `sysctl.` prefix.
pub fn kernel_cmdline(extra: &str) -> String {
    let mut s = format!(
        "console=ttyS0 rdinit=/init loglevel=4 panic=-1 oops=panic hung_task_panic=1 \
         sysctl.kernel.hung_task_timeout_secs={HUNG_TASK_TIMEOUT_SECS} softlockup_panic=1 8250.nr_uarts=1 tsc=reliable no_timer_check",
    );
    if !extra.trim().is_empty() {
        s.push(' ');
        s.push_str(extra.trim());
    }
    s
}

/// Escapes a value for a QEMU `key=value,...` option (commas are doubled).
pub fn opt_value(p: &Path) -> String {
    p.display().to_string().replace(',', ",,")
}

/// The argv (without the program name) for `plan`.
pub fn qemu_args(plan: &QemuPlan) -> Vec<OsString> {
    let mut a: Vec<String> = vec![
        "-nodefaults".into(),
        "-no-user-config".into(),
        "-display".into(),
        "none".into(),
        "-no-reboot".into(),
        "-machine".into(),
        "q35".into(),
    ];
    match plan.accel {
        Accel::Kvm => a.extend(["-accel".into(), "kvm".into(), "-cpu".into(), "host".into()]),
        Accel::Tcg => a.extend([
            "-accel".into(),
            "tcg,thread=multi".into(),
            "-cpu".into(),
            "max".into(),
        ]),
    }
    a.extend([
        "-smp".into(),
        plan.cpus.to_string(),
        "-m".into(),
        format!("{}M", plan.memory_mib),
        "-kernel".into(),
        plan.kernel.display().to_string(),
        "-initrd".into(),
        plan.initrd.display().to_string(),
        "-append".into(),
        plan.append.clone(),
        "-chardev".into(),
        format!("file,id=con,path={}", opt_value(&plan.console_log)),
        "-serial".into(),
        "chardev:con".into(),
        "-device".into(),
        "pvpanic".into(),
        "-action".into(),
        "panic=exit-failure".into(),
    ]);
    for (name, file) in &plan.fw_cfg {
        a.extend([
            "-fw_cfg".into(),
            format!("name={name},file={}", opt_value(file)),
        ]);
    }
    for (i, img) in plan.scratch.iter().enumerate() {
        let name = scratch_serial(i as u32);
        a.extend([
            "-blockdev".into(),
            format!(
                "driver=file,filename={},node-name={name},cache.direct=on,aio=native",
                opt_value(img)
            ),
            "-device".into(),
            format!("virtio-blk-pci,drive={name},serial={name}"),
        ]);
    }
    for (i, e) in plan.exports.iter().enumerate() {
        let ro = if e.writable { "" } else { ",readonly=on" };
        a.extend([
            "-fsdev".into(),
            format!(
                "local,id=fs{i},path={},security_model=none,multidevs=remap{ro}",
                opt_value(&e.host)
            ),
            "-device".into(),
            format!("virtio-9p-pci,fsdev=fs{i},mount_tag={}", e.tag),
        ]);
    }
    a.into_iter().map(OsString::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> QemuPlan {
        QemuPlan {
            accel: Accel::Tcg,
            cpus: 2,
            memory_mib: 2048,
            kernel: "/c/vmlinux".into(),
            initrd: "/c/initramfs.cpio".into(),
            append: kernel_cmdline(""),
            console_log: "/r/console.log".into(),
            fw_cfg: vec![("opt/tracecheck/cmd".into(), "/r/cmd.sh".into())],
            scratch: vec!["/r/scratch,1.img".into(), "/r/scratch2.img".into()],
            exports: vec![
                Export {
                    tag: "hostroot".into(),
                    host: "/".into(),
                    writable: false,
                },
                Export {
                    tag: "out".into(),
                    host: "/r/out".into(),
                    writable: true,
                },
            ],
        }
    }

    fn joined(p: &QemuPlan) -> String {
        qemu_args(p)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn tcg_plan_has_every_part() {
        let s = joined(&plan());
        assert!(s.contains("-accel tcg,thread=multi -cpu max"));
        assert!(s.contains("-no-reboot"));
        assert!(s.contains("-device pvpanic -action panic=exit-failure"));
        assert!(s.contains("-fw_cfg name=opt/tracecheck/cmd,file=/r/cmd.sh"));
        assert!(s.contains("-kernel /c/vmlinux -initrd /c/initramfs.cpio"));
        assert!(s.contains("-chardev file,id=con,path=/r/console.log -serial chardev:con"));
        assert!(
            s.contains("filename=/r/scratch,,1.img,node-name=scratch,cache.direct=on,aio=native"),
            "commas in paths are escaped: {s}"
        );
        assert!(s.contains("virtio-blk-pci,drive=scratch,serial=scratch"));
        assert!(s.contains("filename=/r/scratch2.img,node-name=scratch2,"));
        assert!(s.contains("virtio-blk-pci,drive=scratch2,serial=scratch2"));
        assert!(s.contains("path=/,security_model=none,multidevs=remap,readonly=on"));
        assert!(s.contains("path=/r/out,security_model=none,multidevs=remap -device virtio-9p-pci,fsdev=fs1,mount_tag=out"));
    }

    #[test]
    fn kvm_uses_host_cpu_and_no_scratch_means_no_disk() {
        let mut p = plan();
        p.accel = Accel::Kvm;
        p.scratch = Vec::new();
        let s = joined(&p);
        assert!(s.contains("-accel kvm -cpu host"));
        assert!(!s.contains("virtio-blk"));
    }

    #[test]
    fn cmdline_turns_crashes_and_hangs_into_panics() {
        let c = kernel_cmdline(" foo=1 ");
        for k in [
            "panic=-1",
            "oops=panic",
            "hung_task_panic=1",
            "console=ttyS0",
        ] {
            assert!(c.split(' ').any(|w| w == k), "{k} missing from {c}");
        }
        let hung = format!("sysctl.kernel.hung_task_timeout_secs={HUNG_TASK_TIMEOUT_SECS}");
        assert!(c.split(' ').any(|w| w == hung), "{hung} missing from {c}");
        assert!(c.ends_with(" foo=1"));
    }
}
