//! Boot benchmark (not in CI): a full `run_guest` of `true` against a bare
//! `qemu-system-x86_64 -kernel VMLINUX` boot of the same kernel, same
//! accelerator, same machine, whose busybox `rdinit` reboots at once. Prints
//! medians and ratios. `BENCH_RUNS` sets the repetitions (default 5).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tracecheck_vm::initramfs::{newc_archive, Member};
use tracecheck_vm::qemu::Accel;
use tracecheck_vm::{
    build_image, choose_accel, run_guest, BuildOptions, GuestSpec, KernelTarget, Outcome,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bare_boot(vmlinux: &std::path::Path, cpio: &std::path::Path, accel: Accel) -> Duration {
    let accel_args: &[&str] = match accel {
        Accel::Kvm => &["-accel", "kvm", "-cpu", "host"],
        Accel::Tcg => &["-accel", "tcg,thread=multi", "-cpu", "max"],
    };
    let t0 = Instant::now();
    let mut child = Command::new(tracecheck_vm::guest::qemu_binary())
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
            "-machine",
            "q35",
        ])
        .args(accel_args)
        .args(["-smp", "2", "-m", "2048M", "-serial", "null", "-kernel"])
        .arg(vmlinux)
        .arg("-initrd")
        .arg(cpio)
        .args([
            "-append",
            "console=ttyS0 rdinit=/init loglevel=4 panic=-1 tsc=reliable no_timer_check",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("qemu starts");
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "bare boot failed: {st}");
            return t0.elapsed();
        }
        if t0.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bare boot did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let opts = BuildOptions::default();
    let img = build_image(KernelTarget::Debian61, &opts).expect("image");
    let accel = choose_accel(&img, &opts.cache_dir).expect("accel");
    let dir = tempfile::tempdir().unwrap();
    let cpio = dir.path().join("bare.cpio");
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static installed");
    let members: Vec<Member> = vec![
        ("bin".into(), 0o040755, (0, 0), vec![]),
        ("dev".into(), 0o040755, (0, 0), vec![]),
        ("dev/console".into(), 0o020600, (5, 1), vec![]),
        ("bin/busybox".into(), 0o100755, (0, 0), busybox),
        (
            "init".into(),
            0o100755,
            (0, 0),
            b"#!/bin/busybox sh\n/bin/busybox reboot -f\n".to_vec(),
        ),
    ];
    std::fs::write(&cpio, newc_archive(&members)).unwrap();

    let (mut bare, mut boot, mut total, mut cmd) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        let b = bare_boot(&img.vmlinux, &cpio, accel);
        let out = run_guest(&GuestSpec::new(&img, accel, "true")).expect("guest");
        assert_eq!(out.outcome, Outcome::Exited { code: 0 });
        eprintln!(
            "run {i}: bare {b:.2?}  guest boot→command {:.2?}  command {:.2?}  total {:.2?}",
            out.boot_to_command.unwrap(),
            out.command_time.unwrap_or_default(),
            out.total
        );
        bare.push(b);
        boot.push(out.boot_to_command.unwrap());
        cmd.push(out.command_time.unwrap_or_default());
        total.push(out.total);
    }
    let (bare, boot, cmd, total) = (median(bare), median(boot), median(cmd), median(total));
    println!("kernel {} accel {accel}, median of {runs}", img.kver);
    println!("bare qemu -kernel vmlinux boot+poweroff: {bare:.2?}");
    println!(
        "run_guest boot→first command:           {boot:.2?}  ({:.2}x bare)",
        boot.as_secs_f64() / bare.as_secs_f64()
    );
    println!("run_guest `true` start→exit marker:      {cmd:.2?}");
    println!(
        "run_guest total (spawn→qemu gone):       {total:.2?}  ({:.2}x bare)",
        total.as_secs_f64() / bare.as_secs_f64()
    );
    println!(
        "per-run overhead over bare boot:         {:.2?}",
        total.saturating_sub(bare)
    );
}
