//! Boots the real Debian 6.1 kernel under QEMU (TCG here, KVM where it boots)
//! and checks what a caller relies on: output and exit codes come back, the
//! scratch disk and shares appear, kprobes attach (impossible on this host),
//! panics and hangs become outcomes within a bound, no QEMU process and no
//! scratch file survive a run. Guests run one at a time.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracecheck_vm::{
    build_image, choose_accel, run_guest, Accel, BuildOptions, GuestOutcome, GuestSpec, HangReason,
    Image, KernelTarget, Outcome, Share, HUNG_TASK_TIMEOUT_SECS,
};

fn image() -> &'static (Image, Accel) {
    static IMG: OnceLock<(Image, Accel)> = OnceLock::new();
    IMG.get_or_init(|| {
        let opts = BuildOptions::default();
        let img = build_image(KernelTarget::Debian61, &opts).expect("debian-6.1 image builds");
        // A KVM probe boot is a guest too.
        let accel = {
            let _one = one_at_a_time();
            choose_accel(&img, &opts.cache_dir).expect("accelerator chosen")
        };
        eprintln!("guest tests: {} on {accel}", img.kver);
        (img, accel)
    })
}

/// One guest at a time: the host is shared.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Runs `spec` with a private work dir and checks nothing outlives the run.
fn run(mut spec: GuestSpec) -> GuestOutcome {
    let _one = one_at_a_time();
    let work = tempfile::tempdir_in("/var/tmp").unwrap();
    spec.work_dir = work.path().to_owned();
    let out = run_guest(&spec).expect("guest runs");
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        leftovers.is_empty(),
        "run directory left behind: {leftovers:?}"
    );
    let procs = processes_mentioning(&work.path().display().to_string());
    assert!(procs.is_empty(), "qemu outlived the run: {procs:?}");
    eprintln!(
        "{:?} boot_to_command={:?} total={:?} accel={}",
        out.outcome, out.boot_to_command, out.total, out.accel
    );
    out
}

fn spec(cmd: &str) -> GuestSpec {
    let (img, accel) = image();
    let mut s = GuestSpec::new(img, *accel, cmd);
    s.boot_timeout = Duration::from_secs(60);
    s.run_timeout = Duration::from_secs(60);
    s
}

#[test]
fn stdout_stderr_and_exit_code_come_back_and_host_root_stays_untouched() {
    let marker = format!("/usr/tracecheck-vm-test-{}", std::process::id());
    let rw = tempfile::tempdir().unwrap();
    let ro = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("given"), "from host\n").unwrap();
    let mut s = spec(&format!(
        "echo out; echo err >&2; uname -r; touch {marker} && echo overlay-write-ok; \
         cat /mnt/ro/given; echo guest > /mnt/rw/result; touch /mnt/ro/nope 2>/dev/null || echo ro-refused; exit 7"
    ));
    s.shares = vec![
        Share {
            host: rw.path().into(),
            guest: "/mnt/rw".into(),
            writable: true,
        },
        Share {
            host: ro.path().into(),
            guest: "/mnt/ro".into(),
            writable: false,
        },
    ];
    let out = run(s);
    assert_eq!(
        out.outcome,
        Outcome::Exited { code: 7 },
        "serial: {:?}",
        out.last_serial_lines(20)
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "out");
    assert_eq!(
        lines[1],
        image().0.kver,
        "the guest runs the Debian kernel, not the host's"
    );
    assert!(
        lines.contains(&"overlay-write-ok")
            && lines.contains(&"from host")
            && lines.contains(&"ro-refused"),
        "{lines:?}"
    );
    assert_eq!(out.stderr.trim(), "err");
    assert!(
        !Path::new(&marker).exists(),
        "the guest wrote to the host root"
    );
    assert_eq!(
        std::fs::read_to_string(rw.path().join("result")).unwrap(),
        "guest\n"
    );
    assert!(!ro.path().join("nope").exists());
    assert!(out.boot_to_command.unwrap() < out.total);
}

#[test]
fn scratch_disk_is_a_virtio_disk_with_serial_scratch() {
    let mut s = spec(
        "for d in /sys/block/vd*; do [ \"$(cat $d/serial)\" = scratch ] && echo \"${d##*/} $(cat $d/size)\"; done; \
         dd if=/dev/zero of=/dev/$(ls /sys/block | grep vd | head -1) bs=1M count=4 oflag=direct 2>/dev/null; \
         awk '$3 ~ /^vd/ {print \"written_sectors\", $10}' /proc/diskstats",
    );
    s.scratch_disk_bytes = Some(64 << 20);
    let out = run(s);
    assert_eq!(
        out.outcome,
        Outcome::Exited { code: 0 },
        "serial: {:?}",
        out.last_serial_lines(20)
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "exactly one scratch disk expected: {lines:?}"
    );
    let (dev, sectors) = lines[0].split_once(' ').unwrap();
    assert!(dev.starts_with("vd"), "{dev}");
    assert_eq!(sectors, "131072", "64 MiB in 512-byte sectors");
    assert_eq!(
        lines[1], "written_sectors 8192",
        "4 MiB of O_DIRECT writes, exactly"
    );
}

#[test]
fn kprobe_attaches_in_the_guest() {
    let mut s = spec(
        "bpftrace -e 'kprobe:vfs_read /comm == \"cat\"/ { @reads = count(); exit(); }' & p=$!; \
         while kill -0 $p 2>/dev/null; do cat /proc/version >/dev/null; sleep 0.2; done; wait $p",
    );
    s.run_timeout = Duration::from_secs(120);
    let out = run(s);
    assert_eq!(
        out.outcome,
        Outcome::Exited { code: 0 },
        "stderr: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("WARNING"),
        "a probe failed to attach: {}",
        out.stderr
    );
    let reads: u64 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("@reads: "))
        .unwrap_or_else(|| panic!("no @reads in {:?}", out.stdout))
        .trim()
        .parse()
        .unwrap();
    assert!(reads >= 1);
}

/// bcc compiles its C with clang against the guest kernel's headers (the
/// image's `linux-headers-*`, behind `/lib/modules/KVER/{build,source}`) and
/// attaches a kprobe that counts. ~10 s of compile under TCG here (60-80 s
/// was measured on a slower host); bounded at 6 min.
#[test]
fn bcc_compiles_against_the_guest_headers_and_attaches_a_kprobe() {
    let mut s = spec(
        r#"K=/lib/modules/$(uname -r)
test -r $K/build/Makefile && test -r $K/source/include/linux/sched.h || { echo "headers missing" >&2; exit 3; }
cat > /tmp/t.py <<'PY'
from bcc import BPF
b = BPF(text="""
BPF_ARRAY(n, u64, 1);
int kprobe__vfs_read(void *ctx) { int k = 0; u64 *v = n.lookup(&k); if (v) __sync_fetch_and_add(v, 1); return 0; }
""")
print("attached", b.num_open_kprobes())
open("/proc/version").read()
print("reads", b["n"][0].value)
PY
python3 /tmp/t.py"#,
    );
    s.run_timeout = Duration::from_secs(360);
    let out = run(s);
    eprintln!("bcc command time: {:?}", out.command_time);
    assert_eq!(
        out.outcome,
        Outcome::Exited { code: 0 },
        "stdout: {} stderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.lines().any(|l| l == "attached 1"),
        "{}",
        out.stdout
    );
    let reads: u64 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("reads "))
        .unwrap_or_else(|| panic!("no reads in {:?}", out.stdout))
        .parse()
        .unwrap();
    assert!(reads >= 1, "{}", out.stdout);
}

#[test]
fn kernel_panic_is_an_outcome_with_the_panic_text() {
    let out = run(spec(
        "echo about-to-crash; echo c > /proc/sysrq-trigger; sleep 100",
    ));
    assert_eq!(
        out.outcome,
        Outcome::KernelPanic,
        "serial: {:?}",
        out.last_serial_lines(20)
    );
    assert!(out
        .panic_lines
        .iter()
        .any(|l| l.contains("Kernel panic - not syncing: sysrq triggered crash")));
    assert_eq!(out.stdout.trim(), "about-to-crash");
    assert_eq!(out.lost_boots, 0, "a crash after the start is the verdict");
    let after_start = out.total - out.boot_to_command.unwrap();
    assert!(
        after_start < Duration::from_secs(10),
        "panic took {after_start:?} to be reported"
    );
}

#[test]
fn task_stuck_in_the_kernel_is_a_hang_found_by_the_watchdog() {
    // A writer to a frozen filesystem sleeps uninterruptibly: khungtaskd
    // panics once it has been blocked for HUNG_TASK_TIMEOUT_SECS.
    let mut s = spec(
        "mkfs.ext4 -q /dev/vda && mkdir /tmp/m && mount /dev/vda /tmp/m && fsfreeze -f /tmp/m && \
         echo frozen && echo x > /tmp/m/f; echo unreachable",
    );
    s.scratch_disk_bytes = Some(64 << 20);
    s.run_timeout = Duration::from_secs(60);
    let out = run(s);
    assert_eq!(
        out.outcome,
        Outcome::Hung {
            reason: HangReason::HungTask
        },
        "serial: {:?}",
        out.last_serial_lines(20)
    );
    assert_eq!(out.stdout, "frozen\n");
    let blocked = format!("blocked for more than {HUNG_TASK_TIMEOUT_SECS} seconds");
    assert!(
        out.panic_lines[0].contains(&blocked),
        "{:?}",
        out.panic_lines
    );
    assert!(out
        .panic_lines
        .iter()
        .any(|l| l.contains("Kernel panic - not syncing: hung_task: blocked tasks")));
    // khungtaskd looks every HUNG_TASK_TIMEOUT_SECS: a task is reported
    // within two of them, plus the panic's own printing.
    let after_start = out.total - out.boot_to_command.unwrap();
    let bound = Duration::from_secs(2 * u64::from(HUNG_TASK_TIMEOUT_SECS) + 10);
    assert!(
        after_start < bound,
        "hung task took {after_start:?} to be reported"
    );
}

#[test]
fn user_space_hang_is_stopped_by_the_wall_timeout() {
    let mut s = spec("echo sleeping; sleep 1000");
    s.run_timeout = Duration::from_secs(4);
    let out = run(s);
    assert_eq!(
        out.outcome,
        Outcome::Hung {
            reason: HangReason::WallTimeout
        }
    );
    assert_eq!(out.last_serial_lines(1), ["TRACECHECK-START"]);
    let after_start = out.total - out.boot_to_command.unwrap();
    assert!(
        after_start >= Duration::from_secs(4) && after_start < Duration::from_secs(8),
        "{after_start:?}"
    );
}

#[test]
fn silent_guest_is_stopped_by_the_watchdog() {
    let mut s = spec("echo one; sleep 1000");
    s.run_timeout = Duration::from_secs(120);
    s.silence_timeout = Some(Duration::from_secs(3));
    let out = run(s);
    assert_eq!(
        out.outcome,
        Outcome::Hung {
            reason: HangReason::Silent
        }
    );
    assert_eq!(out.stdout, "one\n");
    assert!(out.total - out.boot_to_command.unwrap() < Duration::from_secs(8));
}

#[test]
fn a_kernel_that_crashes_during_boot_is_booted_again_then_is_no_boot() {
    // No init and no root: the kernel panics before the command can start.
    let mut s = spec("echo never");
    s.extra_cmdline = "rdinit=/no-such-init root=/dev/no-such-disk".into();
    let out = run(s);
    assert_eq!(out.lost_boots, tracecheck_vm::BOOT_ATTEMPTS);
    match &out.outcome {
        Outcome::NoBoot { reason } => assert!(
            reason.contains("lost before the command started") && reason.contains("Kernel panic"),
            "{reason}"
        ),
        other => panic!("expected NoBoot, got {other:?}"),
    }
    assert!(out.boot_to_command.is_none());
    assert_eq!(out.stdout, "");
}

#[test]
fn a_kernel_that_cannot_boot_is_no_boot_within_the_boot_timeout() {
    let mut s = spec("true");
    s.boot_timeout = Duration::from_secs(1);
    let out = run(s);
    assert!(
        matches!(out.outcome, Outcome::NoBoot { .. }),
        "{:?}",
        out.outcome
    );
    // Each of the boots waited the boot timeout, then the next began.
    assert_eq!(out.lost_boots, tracecheck_vm::BOOT_ATTEMPTS);
    assert!(out.total < Duration::from_secs(3), "{:?}", out.total);

    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"not a kernel").unwrap();
    let mut s = spec("true");
    s.image.vmlinux = junk.path().into();
    let out = run(s);
    // QEMU refusing the kernel is no lost boot: it cannot work next time.
    assert_eq!(out.lost_boots, 0);
    match &out.outcome {
        Outcome::NoBoot { reason } => assert!(reason.contains("qemu"), "{reason}"),
        other => panic!("expected NoBoot, got {other:?}"),
    }
}

/// `command`'s stdout in a guest of `img`, which must exit 0 within 60 s.
fn stdout_of(img: &Image, accel: Accel, command: &str) -> String {
    let mut s = GuestSpec::new(img, accel, command);
    s.run_timeout = Duration::from_secs(60);
    let out = run(s);
    assert_eq!(
        out.outcome,
        Outcome::Exited { code: 0 },
        "stderr: {}",
        out.stderr
    );
    out.stdout
}

#[test]
fn debian_6_12_boots_and_loads_its_xz_compressed_modules() {
    let opts = BuildOptions::default();
    let img = build_image(KernelTarget::Debian612, &opts).expect("debian-6.12 image builds");
    let accel = {
        let _one = one_at_a_time();
        choose_accel(&img, &opts.cache_dir).expect("accelerator chosen")
    };
    let out = stdout_of(&img, accel, "uname -r; modprobe null_blk && ls /sys/block");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], img.kver);
    assert!(img.kver.starts_with("6.12."), "{}", img.kver);
    assert!(lines.contains(&"nullb0"), "{lines:?}");
}

#[test]
fn debian_13_runs_trixies_own_tools_not_this_machines() {
    let opts = BuildOptions::default();
    let img = build_image(KernelTarget::Debian13, &opts).expect("debian-13 image builds");
    let root = img
        .root_dir
        .clone()
        .expect("debian-13 has a root of its own");
    assert!(root.join("usr/sbin/biolatency-bpfcc").exists(), "{root:?}");
    let bpftrace = img
        .userland
        .iter()
        .find_map(|p| p.strip_prefix("bpftrace="))
        .expect("bpftrace's version is recorded")
        .to_string();
    assert!(
        img.userland.iter().any(|p| p.starts_with("bpfcc-tools=")),
        "{:?}",
        img.userland
    );
    let accel = {
        let _one = one_at_a_time();
        choose_accel(&img, &opts.cache_dir).expect("accelerator chosen")
    };
    let out = stdout_of(
        &img,
        accel,
        "cat /etc/debian_version; bpftrace --version; \
         python3 -c 'import bcc; print(bcc.__version__)'; uname -r; \
         readlink /dev/stdout",
    );
    let lines: Vec<&str> = out.lines().collect();
    // This machine is Debian 12 with bpftrace 0.17; the guest is not.
    assert!(lines[0].starts_with("13"), "{lines:?}");
    let upstream = bpftrace.split('-').next().unwrap();
    assert_eq!(lines[1], format!("bpftrace v{upstream}"), "{lines:?}");
    assert_ne!(lines[1], "bpftrace v0.17.0");
    assert!(
        lines[2].starts_with("0.") && lines[2] != "0.26.0",
        "{lines:?}"
    );
    assert_eq!(lines[3], img.kver);
    // /dev/stdout is the command's stdout, as udev makes it on a real
    // system (devtmpfs alone has no such link).
    assert_eq!(lines.get(4), Some(&"/proc/self/fd/1"), "{lines:?}");
}
