//! `tracecheck-vm`: build cached guest images and run one command in a
//! disposable guest from the shell. Results on stdout, progress on stderr;
//! the exit code is the guest command's, or 70 (panic), 71 (hang), 72 (no boot),
//! 73 (VM vanished), 2 for errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracecheck_vm::{
    build_image, choose_accel, run_guest, runner, Accel, BuildOptions, GuestSpec, HangReason,
    KernelTarget, Outcome, Share,
};

#[derive(Parser)]
#[command(about = "Disposable QEMU guests on Debian distribution kernels")]
struct Cli {
    /// Cache directory (default: $TRACECHECK_VM_CACHE or /var/cache/tracecheck/vm).
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build (or find cached) the image for a kernel target and print its manifest.
    Build {
        #[arg(default_value = "debian-6.1")]
        target: String,
    },
    /// Build a SystemTap script into a module for a target's kernel, on this
    /// host, with SystemTap unpacked into the cache (nothing installed), and
    /// print the module's path. `example:io/disktop.stp` names a script
    /// shipped in systemtap-doc. Cached by script, options, stap version and
    /// kernel; load it in a guest with the printed `staprun` command.
    StapBuild {
        #[arg(long, default_value = "debian-6.1")]
        target: String,
        /// Module name (default: the script's file stem).
        #[arg(long)]
        name: Option<String>,
        /// A script file, or `example:DIR/NAME.stp`.
        script: String,
        /// An argument for the script (its `$1`, `$2`...; stap compiles them
        /// in); give it once per argument.
        #[arg(long = "arg", value_name = "ARG")]
        args: Vec<String>,
        /// Options passed to stap before the script (`-g`, `-E 'probe ...'`).
        #[arg(last = true)]
        options: Vec<String>,
    },
    /// Print the accelerator guests would use (probing KVM once if needed).
    Accel {
        #[arg(default_value = "debian-6.1")]
        target: String,
    },
    /// Boot a fresh guest and run a shell command in it.
    Run {
        #[arg(long, default_value = "debian-6.1")]
        target: String,
        /// kvm or tcg (default: detected).
        #[arg(long)]
        accel: Option<Accel>,
        /// Attach a fresh sparse scratch disk of this many MiB (serial `scratch`).
        #[arg(long)]
        scratch_mib: Option<u64>,
        /// HOST:GUEST[:rw] directory share (read-only unless `:rw`).
        #[arg(long = "share")]
        shares: Vec<String>,
        #[arg(long, default_value_t = 60)]
        boot_timeout_secs: u64,
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
        /// Declare a hang after this many seconds without output.
        #[arg(long)]
        silence_secs: Option<u64>,
        /// The shell command.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
    /// Run a program in a fresh guest as cargo's target `runner` does: same
    /// current directory, CARGO_*/RUST_* and --env variables, its stdout,
    /// stderr and exit code passed back. Set
    /// CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="tracecheck-vm cargo-runner"
    /// and run `cargo test`. Exit: the program's code, or 70 kernel panic,
    /// 71 hang, 72 no boot, 73 VM vanished, 2 error.
    CargoRunner {
        #[arg(long, default_value = "debian-6.1")]
        target: String,
        /// kvm or tcg (default: detected).
        #[arg(long)]
        accel: Option<Accel>,
        /// Also pass this variable: NAME (host value) or NAME=VALUE. Repeatable.
        #[arg(long = "env", value_name = "NAME[=VALUE]")]
        envs: Vec<String>,
        /// HOST:GUEST[:rw] extra directory share (read-only unless `:rw`).
        #[arg(long = "share")]
        shares: Vec<String>,
        /// Attach a fresh sparse scratch disk of this many MiB (serial `scratch`).
        #[arg(long)]
        scratch_mib: Option<u64>,
        #[arg(long, default_value_t = 60)]
        boot_timeout_secs: u64,
        /// Limit on the program's run time in the guest.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        /// Declare a hang after this many seconds without output.
        #[arg(long)]
        silence_secs: Option<u64>,
        /// No summary line on stderr after a normal exit.
        #[arg(long)]
        quiet: bool,
        /// Print the guest script and shares instead of booting.
        #[arg(long)]
        dry_run: bool,
        /// The program (cargo passes the test binary's path) and its arguments.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            required = true,
            value_name = "BIN [ARGS]"
        )]
        program: Vec<String>,
    },
}

fn parse_share(s: &str) -> Result<Share, String> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [h, g] => Ok(Share {
            host: h.into(),
            guest: (*g).into(),
            writable: false,
        }),
        [h, g, "rw"] => Ok(Share {
            host: h.into(),
            guest: (*g).into(),
            writable: true,
        }),
        [h, g, "ro"] => Ok(Share {
            host: h.into(),
            guest: (*g).into(),
            writable: false,
        }),
        _ => Err(format!("bad --share `{s}`: expected HOST:GUEST[:rw|:ro]")),
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tracecheck-vm: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let mut opts = BuildOptions::default();
    if let Some(d) = cli.cache_dir {
        opts.cache_dir = d;
    }
    match cli.cmd {
        Cmd::Build { target } => {
            let img = build_image(target.parse::<KernelTarget>()?, &opts)?;
            println!("{}", serde_json::to_string_pretty(&img)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::StapBuild {
            target,
            name,
            script,
            args,
            options,
        } => {
            let img = build_image(target.parse::<KernelTarget>()?, &opts)?;
            let kit = tracecheck_vm::StapKit::prepare(&img, &opts.cache_dir)?;
            let path = match script.strip_prefix("example:") {
                Some(rel) => kit.example(rel),
                None => PathBuf::from(&script),
            };
            let name = name.unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().replace(['-', '.'], "_"))
                    .unwrap_or_else(|| "script".into())
            });
            match kit.build(&path, &options, &args, &name) {
                Ok(m) => {
                    eprintln!(
                        "tracecheck-vm: {} for {} ({}; built in {:.1} s{})",
                        m.path.display(),
                        kit.kver,
                        if m.cached { "cached" } else { "new" },
                        m.build_secs,
                        if m.debuginfo { ", with debug info" } else { "" }
                    );
                    let env: Vec<String> = kit
                        .run_env()
                        .into_iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    eprintln!(
                        "tracecheck-vm: in the guest: {} {} {}",
                        env.join(" "),
                        kit.staprun().display(),
                        m.path.display()
                    );
                    println!("{}", m.path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(tracecheck_vm::StapError::Build(f)) => {
                    eprintln!("tracecheck-vm: {}", f.reason);
                    eprintln!("tracecheck-vm: first error: {}", f.first_error);
                    for l in &f.stderr_tail {
                        eprintln!("  | {l}");
                    }
                    Ok(ExitCode::from(1))
                }
                Err(tracecheck_vm::StapError::Setup(e)) => Err(e.into()),
            }
        }
        Cmd::Accel { target } => {
            let img = build_image(target.parse::<KernelTarget>()?, &opts)?;
            println!("{}", choose_accel(&img, &opts.cache_dir)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CargoRunner {
            target,
            accel,
            envs,
            shares,
            scratch_mib,
            boot_timeout_secs,
            timeout_secs,
            silence_secs,
            quiet,
            dry_run,
            program,
        } => {
            let (bin, args) = program.split_first().ok_or("no program given")?;
            let cwd = std::env::current_dir()?;
            let cwd_str = cwd
                .to_str()
                .ok_or("the current directory is not UTF-8")?
                .to_owned();
            let (env, notes) = runner::guest_env(std::env::vars_os(), &envs)?;
            let user_shares: Vec<Share> = shares
                .iter()
                .map(|s| parse_share(s))
                .collect::<Result<_, _>>()?;
            // The directories the program needs, as given and with symlinks resolved.
            let mut needed = vec![cwd.clone()];
            if bin.contains('/') {
                let b = cwd.join(bin);
                needed.extend(b.canonicalize().ok());
                needed.push(b);
            }
            needed.extend(cwd.canonicalize().ok());
            let own_root = target.parse::<KernelTarget>()?.own_userland();
            let mut all_shares = runner::shares_for(&needed, &user_shares, own_root)?;
            all_shares.extend(user_shares);
            let script = runner::runner_script(&cwd_str, &env, bin, args);
            if dry_run {
                for s in &all_shares {
                    println!(
                        "# share {} -> {} ({})",
                        s.host.display(),
                        s.guest,
                        if s.writable { "rw" } else { "ro" }
                    );
                }
                print!("{script}");
                return Ok(ExitCode::SUCCESS);
            }
            for n in notes {
                eprintln!("tracecheck-vm: {n}");
            }
            let img = build_image(target.parse::<KernelTarget>()?, &opts)?;
            let accel = match accel {
                Some(a) => a,
                None => choose_accel(&img, &opts.cache_dir)?,
            };
            let mut spec = GuestSpec::new(&img, accel, script);
            spec.shares = all_shares;
            spec.scratch_disk_bytes = scratch_mib.map(|m| m << 20);
            spec.boot_timeout = Duration::from_secs(boot_timeout_secs);
            spec.run_timeout = Duration::from_secs(timeout_secs);
            spec.silence_timeout = silence_secs.map(Duration::from_secs);
            spec.stream_output = true;
            let out = run_guest(&spec)?;
            let secs = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64());
            let short = bin.rsplit('/').next().unwrap_or(bin);
            let code = match &out.outcome {
                Outcome::Exited { code } => {
                    if !quiet {
                        eprintln!(
                            "tracecheck-vm: {short} exited {code} in a {target} guest ({}, {accel}): boot {:.1}s, run {:.1}s",
                            img.kver,
                            secs(out.boot_to_command),
                            secs(out.command_time),
                        );
                    }
                    u8::try_from(*code).unwrap_or(1)
                }
                Outcome::KernelPanic => {
                    eprintln!(
                        "tracecheck-vm: the guest kernel panicked while running {bin} ({target}, {})",
                        img.kver
                    );
                    for l in out.panic_lines.iter().take(60) {
                        eprintln!("  | {l}");
                    }
                    70
                }
                other => {
                    let (what, code) = match other {
                        Outcome::Hung { reason } => (
                            format!(
                                "{bin} hung in the guest ({}); the VM was killed",
                                match reason {
                                    HangReason::HungTask => "a task stayed blocked in the kernel; the hung-task watchdog stopped it".to_string(),
                                    _ => format!("{reason:?}: --timeout-secs {timeout_secs}{}", silence_secs.map_or(String::new(), |s| format!(", --silence-secs {s}"))),
                                }
                            ),
                            71,
                        ),
                        Outcome::NoBoot { reason } => {
                            (format!("the guest did not boot, {bin} never ran: {reason}"), 72)
                        }
                        _ => (format!("the guest vanished while running {bin}: {other:?}"), 73),
                    };
                    eprintln!("tracecheck-vm: {what}");
                    for l in out.last_serial_lines(15) {
                        eprintln!("  | {l}");
                    }
                    code
                }
            };
            Ok(ExitCode::from(code))
        }
        Cmd::Run {
            target,
            accel,
            scratch_mib,
            shares,
            boot_timeout_secs,
            timeout_secs,
            silence_secs,
            command,
        } => {
            let img = build_image(target.parse::<KernelTarget>()?, &opts)?;
            let accel = match accel {
                Some(a) => a,
                None => choose_accel(&img, &opts.cache_dir)?,
            };
            let mut spec = GuestSpec::new(&img, accel, command.join(" "));
            spec.scratch_disk_bytes = scratch_mib.map(|m| m << 20);
            spec.shares = shares
                .iter()
                .map(|s| parse_share(s))
                .collect::<Result<_, _>>()?;
            spec.boot_timeout = Duration::from_secs(boot_timeout_secs);
            spec.run_timeout = Duration::from_secs(timeout_secs);
            spec.silence_timeout = silence_secs.map(Duration::from_secs);
            let out = run_guest(&spec)?;
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            eprintln!(
                "tracecheck-vm: {:?} accel={} boot_to_command={:?} total={:?}",
                out.outcome, out.accel, out.boot_to_command, out.total
            );
            let code = match out.outcome {
                Outcome::Exited { code } => u8::try_from(code).unwrap_or(1),
                Outcome::KernelPanic => {
                    for l in &out.panic_lines {
                        eprintln!("  | {l}");
                    }
                    70
                }
                Outcome::Hung { .. } | Outcome::NoBoot { .. } | Outcome::Vanished { .. } => {
                    for l in out.last_serial_lines(15) {
                        eprintln!("  | {l}");
                    }
                    match out.outcome {
                        Outcome::Hung { .. } => 71,
                        Outcome::NoBoot { .. } => 72,
                        _ => 73,
                    }
                }
            };
            Ok(ExitCode::from(code))
        }
    }
}
