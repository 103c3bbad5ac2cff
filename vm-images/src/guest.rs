//! One disposable guest run: [`run_guest`] boots a fresh VM for a
//! [`GuestSpec`], watches its serial console, and returns a [`GuestOutcome`].
//! Whatever the guest does (exit, panic, hang, never boot) is an [`Outcome`];
//! `Err` only means the VM could not be set up. Every phase has a timeout, and
//! a drop guard kills QEMU (which also gets `PR_SET_PDEATHSIG`) and deletes the
//! per-run directory with its scratch disk, so nothing outlives a run.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::initramfs::{
    EXIT_MARKER, GUEST_OUT_DIR, HOST_ROOT_TAG, INIT_FAIL_MARKER, MODULES_TAG, START_MARKER,
};
use crate::qemu::{kernel_cmdline, qemu_args, Accel, Export, QemuPlan};
use crate::{Image, VmError};

/// The QEMU binary; override with `TRACECHECK_QEMU`.
pub fn qemu_binary() -> PathBuf {
    std::env::var_os("TRACECHECK_QEMU")
        .map_or_else(|| PathBuf::from("qemu-system-x86_64"), PathBuf::from)
}

/// A host directory the guest should see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// Existing host directory.
    pub host: PathBuf,
    /// Absolute guest path (created in the guest's tmpfs overlay if missing).
    pub guest: String,
    /// Read-write if true; QEMU enforces read-only otherwise.
    pub writable: bool,
}

/// What to run, on which image, with which limits.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    pub image: Image,
    pub accel: Accel,
    /// A `/bin/sh` script run as root in the guest, in `/tmp`, stdin `/dev/null`.
    pub command: String,
    pub cpus: u32,
    pub memory_mib: u32,
    /// Size of each fresh sparse scratch disk, if any.
    pub scratch_disk_bytes: Option<u64>,
    /// How many scratch disks of that size (at least one): serials
    /// `scratch`, `scratch2`, `scratch3`, ... ([`crate::qemu::scratch_serial`]).
    pub scratch_disks: u32,
    pub shares: Vec<Share>,
    /// QEMU start → command start; past it the outcome is [`Outcome::NoBoot`].
    pub boot_timeout: Duration,
    /// Command start → command end; past it the outcome is [`Outcome::Hung`].
    pub run_timeout: Duration,
    /// No console or output growth for this long after command start → [`Outcome::Hung`].
    pub silence_timeout: Option<Duration>,
    /// Appended to the kernel command line.
    pub extra_cmdline: String,
    /// Parent of the per-run directory (scratch disk, console log); must support O_DIRECT.
    pub work_dir: PathBuf,
    /// Copy the command's stdout and stderr to this process's stdout and stderr
    /// as they arrive (raw bytes), besides returning them in [`GuestOutcome`].
    pub stream_output: bool,
}

impl GuestSpec {
    /// A spec with defaults: 2 vCPUs, 2 GiB, no scratch disk, 60 s boot and 300 s run limits.
    pub fn new(image: &Image, accel: Accel, command: impl Into<String>) -> Self {
        GuestSpec {
            image: image.clone(),
            accel,
            command: command.into(),
            cpus: 2,
            memory_mib: 2048,
            scratch_disk_bytes: None,
            scratch_disks: 1,
            shares: Vec::new(),
            boot_timeout: Duration::from_secs(60),
            run_timeout: Duration::from_secs(300),
            silence_timeout: None,
            extra_cmdline: String::new(),
            work_dir: PathBuf::from("/var/tmp"),
            stream_output: false,
        }
    }

    fn validate(&self) -> Result<(), VmError> {
        for s in &self.shares {
            let g = &s.guest;
            if !g.starts_with('/')
                || g == "/"
                || g.chars().any(char::is_whitespace)
                || g.starts_with("/run/tracecheck")
            {
                return Err(VmError::InvalidSpec(format!(
                    "guest path `{g}` for {} must be absolute, not `/`, without spaces, outside /run/tracecheck",
                    s.host.display()
                )));
            }
            if !s.host.is_dir() {
                return Err(VmError::InvalidSpec(format!(
                    "share {} is not a directory",
                    s.host.display()
                )));
            }
        }
        if self.cpus == 0 || self.memory_mib < 256 {
            return Err(VmError::InvalidSpec(
                "need at least 1 vCPU and 256 MiB".into(),
            ));
        }
        Ok(())
    }
}

/// Why a guest was declared hung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangReason {
    /// The command ran past [`GuestSpec::run_timeout`].
    WallTimeout,
    /// Nothing was printed for [`GuestSpec::silence_timeout`].
    Silent,
    /// A task stayed blocked inside the kernel past the guest's hung-task
    /// timeout, and the watchdog (`hung_task_panic`) stopped the kernel;
    /// [`GuestOutcome::panic_lines`] has its report.
    HungTask,
}

/// What became of the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The command finished with this exit code.
    Exited { code: i32 },
    /// The kernel panicked (or oopsed: `oops=panic`), not for a hung task;
    /// see [`GuestOutcome::panic_lines`].
    KernelPanic,
    /// The command did not finish in time; the VM was killed.
    Hung { reason: HangReason },
    /// The command never started: QEMU failed, the kernel did not boot, or `/init` failed.
    NoBoot { reason: String },
    /// The VM stopped after the command started, without an exit marker or a panic message.
    Vanished { qemu_status: String },
}

/// Everything observed in one run.
#[derive(Debug, Clone)]
pub struct GuestOutcome {
    pub outcome: Outcome,
    pub accel: Accel,
    /// The command's stdout and stderr (written by the guest to a 9p share).
    pub stdout: String,
    pub stderr: String,
    /// Every serial console line (kernel messages, `/init`, markers).
    pub serial: Vec<String>,
    /// Console lines from the first panic/oops/BUG line on (empty if none).
    pub panic_lines: Vec<String>,
    /// QEMU start → command start.
    pub boot_to_command: Option<Duration>,
    /// Command start → exit marker.
    pub command_time: Option<Duration>,
    /// QEMU start → QEMU gone.
    pub total: Duration,
    pub qemu_stderr: String,
    /// Boots lost before the command started (a kernel crash, no start
    /// within the boot timeout) or after it to the emulator's own fault,
    /// each followed by a fresh boot (see [`BOOT_ATTEMPTS`]).
    pub lost_boots: u32,
}

impl GuestOutcome {
    /// The last `n` console lines.
    pub fn last_serial_lines(&self, n: usize) -> &[String] {
        &self.serial[self.serial.len().saturating_sub(n)..]
    }
}

const PANIC_PATTERNS: &[&str] = &[
    "Kernel panic - not syncing",
    "BUG: ",
    "Oops: ",
    "general protection fault",
    "sysrq: Trigger a crash",
    "blocked for more than",
];

/// Console lines that mean the hung-task watchdog fired.
const HUNG_TASK_PATTERNS: &[&str] = &["blocked for more than", "hung_task"];

/// What a panic on the console means: a hang when the hung-task watchdog
/// caused it, a crash otherwise.
pub fn panic_outcome(panic_lines: &[String]) -> Outcome {
    if panic_lines
        .iter()
        .any(|l| HUNG_TASK_PATTERNS.iter().any(|p| l.contains(p)))
    {
        Outcome::Hung {
            reason: HangReason::HungTask,
        }
    } else {
        Outcome::KernelPanic
    }
}

/// Console lines from the first crash line on.
pub fn panic_lines(serial: &[String]) -> Vec<String> {
    serial
        .iter()
        .position(|l| PANIC_PATTERNS.iter().any(|p| l.contains(p)))
        .map(|i| serial[i..].to_vec())
        .unwrap_or_default()
}

/// The exit code in an exit-marker line.
pub fn parse_exit_marker(line: &str) -> Option<i32> {
    line.trim().strip_prefix(EXIT_MARKER)?.trim().parse().ok()
}

/// Kills and reaps QEMU when dropped.
struct QemuGuard(Child);

impl Drop for QemuGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn spawn_qemu(args: &[std::ffi::OsString], run_dir: &Path) -> Result<QemuGuard, VmError> {
    let bin = qemu_binary();
    let out = fs::File::create(run_dir.join("qemu.out"))
        .map_err(VmError::io(run_dir.join("qemu.out")))?;
    let err = fs::File::create(run_dir.join("qemu.err"))
        .map_err(VmError::io(run_dir.join("qemu.err")))?;
    let mut cmd = Command::new(&bin);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: the closure only makes one async-signal-safe syscall (prctl).
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
    let child = cmd.spawn().map_err(|source| VmError::MissingTool {
        tool: bin.display().to_string(),
        source,
    })?;
    Ok(QemuGuard(child))
}

/// Reads a growing file incrementally.
struct Tail {
    path: PathBuf,
    file: Option<fs::File>,
    buf: Vec<u8>,
}

impl Tail {
    fn new(path: PathBuf) -> Self {
        Tail {
            path,
            file: None,
            buf: Vec::new(),
        }
    }
    /// Reads what was appended; true if anything was.
    fn poll(&mut self) -> bool {
        if self.file.is_none() {
            self.file = fs::File::open(&self.path).ok();
        }
        let before = self.buf.len();
        if let Some(f) = &mut self.file {
            let _ = f.read_to_end(&mut self.buf);
        }
        self.buf.len() > before
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
    /// Writes what arrived since the last call to `w`.
    fn forward(&mut self, shown: &mut usize, w: &mut dyn Write) {
        if *shown < self.buf.len() {
            let _ = w.write_all(&self.buf[*shown..]);
            let _ = w.flush();
            *shown = self.buf.len();
        }
    }
}

fn console_lines(raw: &str) -> Vec<String> {
    raw.lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect()
}

/// The kernel headers the guest sees: each `linux-headers-*` directory of
/// the image's unpacked headers, at `/usr/src/NAME` (host path, guest path).
fn headers_shares(image: &Image) -> Result<Vec<(PathBuf, String)>, VmError> {
    let Some(dir) = &image.headers_dir else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(VmError::io(dir))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("linux-headers-") && !name.contains(char::is_whitespace) {
            out.push((entry.path(), format!("/usr/src/{name}")));
        }
    }
    out.sort();
    Ok(out)
}

/// How many times a guest is booted when its boot is lost before the
/// command starts: the kernel crashed, or nothing reached the command
/// within the boot timeout.
///
/// Neither can be the command's doing (nothing of it has run), and under
/// TCG both do happen: Debian's 6.12 kernel once oopsed on an `int3` left
/// behind by boot-time code patching (a static key in `sched_clock_cpu`),
/// the TCG cross-modifying-code race described in docs/kernel-facts.md; a
/// 6.1 guest once printed nothing for 60 s. Measured here 0 in 20 boots of
/// each kind; both seen on CI.
pub const BOOT_ATTEMPTS: u32 = 3;

/// The start of a [`Outcome::NoBoot`] reason for a boot that did not reach
/// the command within the boot timeout.
const BOOT_TIMEOUT: &str = "no command start within";

/// The start of a [`Outcome::NoBoot`] reason for a QEMU killed by a signal
/// before the command started: the emulator itself crashed. A CI run lost a
/// 6.1 guest to QEMU 7.2's `msix_table_mmio_write: Assertion ... failed`
/// (SIGABRT) while the kernel probed its virtio devices; the same image
/// booted at once before and after. QEMU that exits with a status of its own
/// (bad arguments, a missing file) refused to start and is not retried.
const QEMU_CRASHED: &str = "qemu crashed";

/// The bytes of a console `Code:` line and the index of the one the kernel
/// marked (`<xx>`: the instruction at the faulting address).
fn code_bytes(panic_lines: &[String]) -> Option<(Vec<u8>, usize)> {
    let line = panic_lines.iter().find_map(|l| l.split_once("Code: "))?.1;
    let mut marked = None;
    let mut bytes = Vec::new();
    for word in line.split_whitespace() {
        let hex = match word.strip_prefix('<').and_then(|w| w.strip_suffix('>')) {
            Some(h) => {
                marked = Some(bytes.len());
                h
            }
            None => word,
        };
        bytes.push(u8::from_str_radix(hex, 16).ok()?);
    }
    Some((bytes, marked?))
}

/// Why a kernel crash after the command started is the emulator's doing,
/// not the command's: the TCG cross-modifying-code race of
/// docs/kernel-facts.md ("Boot crashes under TCG"), in which a vCPU runs a
/// stale translation of code the kernel has just patched.
///
/// Two signatures, both impossible on real hardware:
/// - an `int3` trap where memory holds no `int3` (0xcc) before the marked
///   byte: the vCPU executed the breakpoint that `text_poke_bp` puts in
///   place only while it patches;
/// - a soft lockup stuck on a patched static-key or tracepoint site: a
///   multi-byte NOP (`0f 1f ..` or `66 90`, the site off) or a 5-byte
///   `jmp` that does not jump to itself (`e9` rel32, the site on; a later
///   CI run saw the same `__filemap_add_folio+0x2b3` site as `<e9> 1c 01
///   00 00`). A real CPU cannot be stuck 26 s on one forward jump. A CI run lost a bcc
///   check in a 6.1 guest to "soft lockup - CPU#0 stuck for 26s" at
///   `__filemap_add_folio+0x2b3` (`<0f> 1f 44 00 00`, the
///   `mm_filemap_add_to_page_cache` tracepoint, switched as the witness
///   detached); the same check passes in every other run. A vCPU stuck
///   there is livelocked on a stale `int3`, whose handler finds no `int3`
///   in memory and retries the instruction.
///
/// A tool that really crashes or locks up the kernel does it again in the
/// fresh boot, and there it is the verdict.
fn emulator_fault(panic_lines: &[String]) -> Option<String> {
    let (bytes, at) = code_bytes(panic_lines)?;
    let has = |pat: &str| panic_lines.iter().any(|l| l.contains(pat));
    let first = panic_lines.first().map_or("", |l| l.trim());
    let nop_at = |i: usize| {
        matches!(
            bytes.get(i..),
            Some([0x0f, 0x1f, ..] | [0x66, 0x90, ..] | [0xe9, _, _, _, _, ..])
        ) && bytes.get(i..i + 5) != Some(&[0xe9, 0xfb, 0xff, 0xff, 0xff])
    };
    if has("Oops: int3") && at > 0 && bytes[at - 1] != 0xcc {
        return Some(format!(
            "an int3 trap where memory holds {:02x}, a stale translation of patched code under TCG: {first}",
            bytes[at - 1]
        ));
    }
    if has("soft lockup") && (nop_at(at) || (at > 0 && nop_at(at - 1))) {
        return Some(format!(
            "a soft lockup on a patched static-key site, a stale translation of patched code under TCG: {first}"
        ));
    }
    None
}

/// Why this boot was lost, when that is the emulator's or the kernel's
/// doing and a fresh boot may succeed: before the command started, a
/// crash or no start at all; after, only an [`emulator_fault`]. `None` for
/// a run that is the verdict, or a boot that cannot work (QEMU refused to
/// start, `/init` failed).
fn lost_in_boot(out: &GuestOutcome) -> Option<String> {
    if out.boot_to_command.is_some() {
        return match out.outcome {
            Outcome::KernelPanic => emulator_fault(&out.panic_lines),
            _ => None,
        };
    }
    match &out.outcome {
        Outcome::KernelPanic => out
            .panic_lines
            .first()
            .map(|l| format!("the kernel crashed: {}", l.trim())),
        Outcome::NoBoot { reason }
            if reason.starts_with(BOOT_TIMEOUT) || reason.starts_with(QEMU_CRASHED) =>
        {
            Some(reason.clone())
        }
        _ => None,
    }
}

/// Boots a fresh VM, runs `spec.command`, and reports what happened.
///
/// A boot lost before the command started (see [`BOOT_ATTEMPTS`]) is
/// retried in a fresh VM, up to that many boots;
/// [`GuestOutcome::lost_boots`] says how many were lost. A crash or hang
/// once the command runs is the verdict and not retried, unless its console
/// shows the emulator's own fault ([`emulator_fault`]).
pub fn run_guest(spec: &GuestSpec) -> Result<GuestOutcome, VmError> {
    let mut lost = 0;
    loop {
        let mut out = boot_once(spec)?;
        let Some(why) = lost_in_boot(&out) else {
            out.lost_boots = lost;
            return Ok(out);
        };
        lost += 1;
        if lost >= BOOT_ATTEMPTS {
            out.lost_boots = lost;
            // A crash that every boot's command met is left as it is: the
            // verdict may then be the command's after all.
            if out.boot_to_command.is_none() {
                out.outcome = Outcome::NoBoot {
                    reason: format!(
                        "all {lost} boots were lost before the command started; the last: {why}"
                    ),
                };
            }
            return Ok(out);
        }
        eprintln!(
            "tracecheck-vm: boot lost ({why}); booting a fresh guest (boot {} of {BOOT_ATTEMPTS})",
            lost + 1
        );
    }
}

/// One boot of a fresh VM: runs `spec.command` and reports what happened.
/// [`run_guest`] boots again when this one was lost; the KVM probe does
/// not (a KVM that cannot boot this kernel fails the same way each time).
pub(crate) fn boot_once(spec: &GuestSpec) -> Result<GuestOutcome, VmError> {
    spec.validate()?;
    fs::create_dir_all(&spec.work_dir).map_err(VmError::io(&spec.work_dir))?;
    // Declared before the QEMU guard so that it is dropped (deleted) after QEMU is dead.
    let run_dir = tempfile::Builder::new()
        .prefix("tracecheck-vm-")
        .tempdir_in(&spec.work_dir)
        .map_err(VmError::io(&spec.work_dir))?;
    let rd = run_dir.path();
    let out_dir = rd.join("out");
    fs::create_dir(&out_dir).map_err(VmError::io(&out_dir))?;
    let cmd_file = rd.join("cmd.sh");
    fs::write(&cmd_file, &spec.command).map_err(VmError::io(&cmd_file))?;

    let mut exports = vec![
        Export {
            tag: HOST_ROOT_TAG.into(),
            host: spec.image.root_dir.clone().unwrap_or_else(|| "/".into()),
            writable: false,
        },
        Export {
            tag: MODULES_TAG.into(),
            host: spec.image.modules_dir.clone(),
            writable: false,
        },
        Export {
            tag: "out".into(),
            host: out_dir.clone(),
            writable: true,
        },
    ];
    let mut mounts = format!("out rw {GUEST_OUT_DIR}\n");
    for (i, (host, guest)) in headers_shares(&spec.image)?.into_iter().enumerate() {
        let tag = format!("khdr{i}");
        mounts.push_str(&format!("{tag} ro {guest}\n"));
        exports.push(Export {
            tag,
            host,
            writable: false,
        });
    }
    for (i, s) in spec.shares.iter().enumerate() {
        let tag = format!("share{i}");
        mounts.push_str(&format!(
            "{tag} {} {}\n",
            if s.writable { "rw" } else { "ro" },
            s.guest
        ));
        exports.push(Export {
            tag,
            host: s.host.clone(),
            writable: s.writable,
        });
    }
    let mounts_file = rd.join("mounts");
    fs::write(&mounts_file, mounts).map_err(VmError::io(&mounts_file))?;

    let mut scratch = Vec::new();
    if let Some(bytes) = spec.scratch_disk_bytes {
        for i in 0..spec.scratch_disks.max(1) {
            let p = rd.join(format!("{}.img", crate::qemu::scratch_serial(i)));
            let f = fs::File::create(&p).map_err(VmError::io(&p))?;
            f.set_len(bytes).map_err(VmError::io(&p))?;
            scratch.push(p);
        }
    }
    let console = rd.join("console.log");
    let plan = QemuPlan {
        accel: spec.accel,
        cpus: spec.cpus,
        memory_mib: spec.memory_mib,
        kernel: spec.image.vmlinux.clone(),
        initrd: spec.image.initramfs.clone(),
        append: kernel_cmdline(&spec.extra_cmdline),
        console_log: console.clone(),
        fw_cfg: vec![
            ("opt/tracecheck/cmd".into(), cmd_file),
            ("opt/tracecheck/mounts".into(), mounts_file),
        ],
        scratch,
        exports,
    };

    let t0 = Instant::now();
    let mut qemu = spawn_qemu(&qemu_args(&plan), rd)?;
    let mut con = Tail::new(console);
    let mut outs = [
        Tail::new(out_dir.join("stdout")),
        Tail::new(out_dir.join("stderr")),
    ];
    let mut started: Option<Instant> = None;
    let mut exit_code: Option<i32> = None;
    let mut ended: Option<Instant> = None;
    let mut panic_seen: Option<Instant> = None;
    let mut last_activity = t0;
    let mut scanned_lines = 0usize;
    let mut verdict: Option<Outcome> = None;
    let mut qemu_status: Option<ExitStatus> = None;
    let mut shown = [0usize; 2];
    let forward = |outs: &mut [Tail; 2], shown: &mut [usize; 2]| {
        if spec.stream_output {
            outs[0].forward(&mut shown[0], &mut std::io::stdout());
            outs[1].forward(&mut shown[1], &mut std::io::stderr());
        }
    };

    loop {
        let status = qemu.0.try_wait().map_err(VmError::io(&plan.kernel))?;
        let mut grew = con.poll();
        for o in &mut outs {
            grew |= o.poll();
        }
        forward(&mut outs, &mut shown);
        let now = Instant::now();
        if grew {
            last_activity = now;
        }
        let text = con.text();
        // Only complete lines are scanned for markers.
        let complete: Vec<&str> = text
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .collect();
        for line in &complete[scanned_lines.min(complete.len())..] {
            let l = line.trim();
            if l == START_MARKER && started.is_none() {
                started = Some(now);
                last_activity = now;
            } else if let Some(code) = parse_exit_marker(l) {
                exit_code.get_or_insert(code);
                ended.get_or_insert(now);
            } else if panic_seen.is_none() && PANIC_PATTERNS.iter().any(|p| l.contains(p)) {
                panic_seen = Some(now);
            }
        }
        scanned_lines = complete.len();

        if let Some(st) = status {
            qemu_status = Some(st);
            break;
        }
        if let Some(e) = ended {
            if now - e > Duration::from_secs(5) {
                break; // exit marker seen; QEMU is slow to go: the guard kills it
            }
        }
        if let Some(p) = panic_seen {
            if exit_code.is_none() && now - p > Duration::from_secs(5) {
                verdict = Some(Outcome::KernelPanic); // refined below

                break;
            }
        }
        if exit_code.is_none() && panic_seen.is_none() {
            match started {
                None if now - t0 > spec.boot_timeout => {
                    verdict = Some(Outcome::NoBoot {
                        reason: format!("{BOOT_TIMEOUT} {:?} of qemu start", spec.boot_timeout),
                    });
                    break;
                }
                Some(s) if now - s > spec.run_timeout => {
                    verdict = Some(Outcome::Hung {
                        reason: HangReason::WallTimeout,
                    });
                    break;
                }
                Some(_)
                    if spec
                        .silence_timeout
                        .is_some_and(|t| now - last_activity > t) =>
                {
                    verdict = Some(Outcome::Hung {
                        reason: HangReason::Silent,
                    });
                    break;
                }
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(qemu); // kills it if still running, then reaps it
    let total = t0.elapsed();
    con.poll();
    for o in &mut outs {
        o.poll();
    }
    forward(&mut outs, &mut shown);
    let serial = console_lines(&con.text());
    // Panic lines may only have arrived in the final read.
    let panics = panic_lines(&serial);
    let qemu_stderr = fs::read_to_string(rd.join("qemu.err")).unwrap_or_default();
    let exit_code = exit_code.or_else(|| serial.iter().find_map(|l| parse_exit_marker(l)));
    let outcome = match (verdict, exit_code) {
        (_, Some(code)) => Outcome::Exited { code },
        (Some(Outcome::KernelPanic), None) => panic_outcome(&panics),
        (Some(v), None) => v,
        (None, None) if !panics.is_empty() => panic_outcome(&panics),
        (None, None) => {
            let status = qemu_status.map_or_else(|| "killed".to_owned(), |s| s.to_string());
            if let Some(l) = serial.iter().find(|l| l.contains(INIT_FAIL_MARKER)) {
                Outcome::NoBoot { reason: l.clone() }
            } else if started.is_none() {
                let tail: Vec<&str> = qemu_stderr.lines().rev().take(3).collect();
                let crashed = qemu_status.is_some_and(|s| s.signal().is_some());
                Outcome::NoBoot {
                    reason: format!(
                        "{} before the command started: {}",
                        if crashed {
                            format!("{QEMU_CRASHED} (qemu {status})")
                        } else {
                            format!("qemu {status}")
                        },
                        tail.join(" | ")
                    ),
                }
            } else {
                Outcome::Vanished {
                    qemu_status: status,
                }
            }
        }
    };
    Ok(GuestOutcome {
        outcome,
        accel: spec.accel,
        stdout: outs[0].text(),
        stderr: outs[1].text(),
        serial,
        panic_lines: panics,
        boot_to_command: started.map(|s| s - t0),
        command_time: started
            .zip(ended)
            .map(|(s, e)| e.saturating_duration_since(s)),
        total,
        qemu_stderr,
        lost_boots: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_marker_parses_only_the_marker() {
        assert_eq!(parse_exit_marker("TRACECHECK-EXIT 3"), Some(3));
        assert_eq!(parse_exit_marker("  TRACECHECK-EXIT 0\r"), Some(0));
        assert_eq!(parse_exit_marker("TRACECHECK-EXIT"), None);
        assert_eq!(parse_exit_marker("echo TRACECHECK-EXIT 1"), None);
    }

    #[test]
    fn panic_lines_start_at_the_first_crash_line() {
        let s: Vec<String> = [
            "boot",
            "sysrq: Trigger a crash",
            "Kernel panic - not syncing: sysrq",
            "trace",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(panic_lines(&s).len(), 3);
        assert!(panic_lines(&s[..1]).is_empty());
    }

    /// A boot that never reached the command, ended as `outcome`.
    fn unstarted(outcome: Outcome) -> GuestOutcome {
        GuestOutcome {
            outcome,
            accel: Accel::Tcg,
            stdout: String::new(),
            stderr: String::new(),
            serial: Vec::new(),
            panic_lines: Vec::new(),
            boot_to_command: None,
            command_time: None,
            total: Duration::ZERO,
            qemu_stderr: String::new(),
            lost_boots: 0,
        }
    }

    #[test]
    fn an_emulator_crash_before_the_command_is_a_lost_boot_a_refusal_is_not() {
        let no_boot = |reason: &str| {
            unstarted(Outcome::NoBoot {
                reason: reason.into(),
            })
        };
        // The reasons as boot_once words them.
        let crashed = no_boot(
            "qemu crashed (qemu signal: 6 (SIGABRT)) before the command started: \
             qemu-system-x86_64: ../../hw/pci/msix.c:218: msix_table_mmio_write: Assertion failed.",
        );
        assert!(lost_in_boot(&crashed).is_some_and(|w| w.contains("msix")));
        let refused =
            no_boot("qemu exit status: 1 before the command started: could not open kernel");
        assert_eq!(lost_in_boot(&refused), None);
        let timeout = no_boot(&format!("{BOOT_TIMEOUT} 60 s"));
        assert!(lost_in_boot(&timeout).is_some());
        // Once the command has started, a crash is the verdict.
        let mut started = crashed;
        started.boot_to_command = Some(Duration::from_secs(6));
        assert_eq!(lost_in_boot(&started), None);
    }

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn stale_patched_code_under_tcg_is_the_emulators_fault() {
        // As a CI run's 6.1 guest printed them, a bcc check running.
        let lockup = lines(&[
            "[   44.418560] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [statsnoop-bpfcc:152]",
            "[   44.421916] Kernel panic - not syncing: softlockup: hung tasks",
            "[   44.423894] RIP: 0010:__filemap_add_folio+0x2b3/0x4b0",
            "[   44.424009] Code: e8 62 11 77 00 84 c0 0f 85 4a fe ff ff 48 8b 44 24 40 48 89 c2 83 e2 03 \
             48 83 fa 02 75 0c 48 3d 05 c0 ff ff 0f 87 79 01 00 00 <0f> 1f 44 00 00 31 c0 48 8b 54 24 60",
        ]);
        assert!(emulator_fault(&lockup).is_some_and(|w| w.contains("soft lockup")));
        // As a 6.12 guest printed it during boot: the int3 is gone from memory.
        let int3 = lines(&[
            "Oops: int3: 0000 [#2] PREEMPT SMP NOPTI",
            "RIP: 0010:sched_clock_cpu+0x9/0x1d0",
            "Code: 90 90 90 f3 0f 1e fa 41 54 55 53 66 <90> e8 00 00 00 00",
        ]);
        assert!(emulator_fault(&int3).is_some_and(|w| w.contains("memory holds 66")));
        // The same site switched on, as a later CI run printed it.
        let mut jumping = lockup.clone();
        jumping[3] =
            "Code: 48 3d 05 c0 ff ff 0f 87 79 01 00 00 <e9> 1c 01 00 00 31 c0 48 8b".into();
        assert!(emulator_fault(&jumping).is_some_and(|w| w.contains("static-key site")));

        // A lockup in a loop, an int3 that is in memory, a crash with no
        // code line, a BUG of another kind: the verdict stands.
        let mut looping = lockup.clone();
        looping[3] = "Code: 48 83 c0 01 48 39 c8 <75> f7 c3".into();
        assert_eq!(emulator_fault(&looping), None);
        let mut jump_to_itself = lockup.clone();
        jump_to_itself[3] = "Code: 48 83 c0 01 48 39 c8 <e9> fb ff ff ff 90".into();
        assert_eq!(emulator_fault(&jump_to_itself), None);
        let mut real_int3 = int3.clone();
        real_int3[2] = "Code: 90 90 90 f3 0f 1e fa 41 54 55 53 cc <90> e8".into();
        assert_eq!(emulator_fault(&real_int3), None);
        assert_eq!(emulator_fault(&lockup[..2]), None);
        let mut null_deref = lockup.clone();
        null_deref[0] = "BUG: kernel NULL pointer dereference, address: 0000000000000000".into();
        assert_eq!(emulator_fault(&null_deref), None);

        // Only a crash after the command started is judged this way; one
        // before it is a lost boot whatever it was.
        let mut started = unstarted(Outcome::KernelPanic);
        started.boot_to_command = Some(Duration::from_secs(6));
        started.panic_lines = lockup;
        assert!(lost_in_boot(&started).is_some());
        started.panic_lines = looping;
        assert_eq!(lost_in_boot(&started), None);
    }

    #[test]
    fn bad_share_paths_are_rejected() {
        let img = Image {
            target: "t".into(),
            package: "p".into(),
            package_version: "v".into(),
            kver: "k".into(),
            key: "0".into(),
            vmlinux: "/nonexistent".into(),
            initramfs: "/nonexistent".into(),
            modules_dir: "/nonexistent".into(),
            headers_packages: Vec::new(),
            headers_dir: None,
            root_dir: None,
            userland: Vec::new(),
        };
        let mut s = GuestSpec::new(&img, Accel::Tcg, "true");
        s.shares.push(Share {
            host: "/tmp".into(),
            guest: "relative".into(),
            writable: false,
        });
        assert!(matches!(run_guest(&s), Err(VmError::InvalidSpec(_))));
        s.shares[0].guest = "/run/tracecheck/x".into();
        assert!(matches!(run_guest(&s), Err(VmError::InvalidSpec(_))));
    }
}
