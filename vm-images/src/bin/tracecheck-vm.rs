//! `tracecheck-vm`: build cached guest images and run one command in a
//! disposable guest from the shell. Results on stdout, progress on stderr;
//! the exit code is the guest command's, or 70 (panic), 71 (hang), 72 (no boot),
//! 73 (VM vanished), 2 for errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracecheck_vm::{
    build_image, choose_accel, run_guest, Accel, BuildOptions, GuestSpec, KernelTarget, Outcome,
    Share,
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
        Cmd::Accel { target } => {
            let img = build_image(target.parse::<KernelTarget>()?, &opts)?;
            println!("{}", choose_accel(&img, &opts.cache_dir)?);
            Ok(ExitCode::SUCCESS)
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
