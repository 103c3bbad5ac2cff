//! `tc-workload` arguments → a validated [`Invocation`]. Raw flags are read
//! here once; nothing further down looks at them.

use crate::error::WorkloadError;
use crate::scratch::parse_dev;
use crate::size::parse_size;
use crate::workload::Workload;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tc-workload",
    about = "Do exactly known I/O on a scratch ext4 and print the ground truth as JSON",
    after_help = "Run `prepare KIND ...` before the tool under test starts, then `run KIND ...` with the same \
                  parameters. `run` prints one GroundTruth JSON object on stdout; errors go to stderr, exit 2."
)]
struct Cli {
    #[command(subcommand)]
    phase: PhaseCmd,
}

#[derive(Debug, Subcommand)]
enum PhaseCmd {
    /// Create the input files: written, fsync'd, evicted from the page cache, verified cold.
    Prepare {
        #[command(subcommand)]
        kind: KindCmd,
    },
    /// Do the measured I/O and print the GroundTruth JSON on stdout.
    Run {
        #[command(subcommand)]
        kind: KindCmd,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Directory on the scratch filesystem (block-backed ext4, 4 KiB blocks, noatime).
    #[arg(long)]
    dir: PathBuf,
    /// Process name to run under (max 15 bytes); default tcw-<6 hex>.
    #[arg(long)]
    comm: Option<String>,
    /// Refuse unless --dir is on this device (MAJ:MIN).
    #[arg(long, value_parser = parse_dev)]
    expect_dev: Option<(u32, u32)>,
    /// Run: once ready, print `held` on stdout and wait until stdin is
    /// closed, then take --comm and make the measured calls (the harness
    /// starts a tool given this process's pid in between).
    #[arg(long)]
    hold: bool,
}

#[derive(Debug, Subcommand)]
enum KindCmd {
    /// O_DIRECT preads of --request bytes over a cold file of --size bytes.
    DirectRead {
        #[arg(long, value_parser = parse_size)]
        size: u64,
        #[arg(long, value_parser = parse_size)]
        request: u64,
        #[command(flatten)]
        common: Common,
    },
    /// O_DIRECT pwrites overwriting a fully written file in place.
    DirectWrite {
        #[arg(long, value_parser = parse_size)]
        size: u64,
        #[arg(long, value_parser = parse_size)]
        request: u64,
        #[command(flatten)]
        common: Common,
    },
    /// One cold read then --passes - 1 cached re-reads with buffered read().
    CachedReread {
        #[arg(long, value_parser = parse_size)]
        size: u64,
        #[arg(long)]
        passes: u64,
        #[arg(long, value_parser = parse_size)]
        request: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Buffered writes (write, pwrite64, writev, pwritev2 in turn) overwriting a
    /// prepared file in place --passes times; --fsync at the end.
    BufferedWrite {
        #[arg(long, value_parser = parse_size)]
        size: u64,
        #[arg(long, value_parser = parse_size)]
        request: u64,
        #[arg(long)]
        fsync: bool,
        #[arg(long, default_value_t = 1)]
        passes: u64,
        #[command(flatten)]
        common: Common,
    },
    /// O_DIRECT reads of --read bytes and writes of --write bytes to one file, interleaved.
    DirectMixed {
        #[arg(long, value_parser = parse_size)]
        read: u64,
        #[arg(long, value_parser = parse_size)]
        write: u64,
        #[arg(long, value_parser = parse_size)]
        request: u64,
        /// Threads of the process sharing the calls, the main thread included
        /// (a script keyed by thread id then charges the process only the
        /// main thread's share).
        #[arg(long, default_value_t = 1)]
        threads: u64,
        #[command(flatten)]
        common: Common,
    },
    /// mmap a cold file and read one byte per 4 KiB page.
    MmapRead {
        #[arg(long, value_parser = parse_size)]
        size: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count opens (openat, open, openat2) + close() of a prepared file.
    Opens {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count openat() + close() of a prepared file, paced at --rate a second (0: as
    /// fast as it can).
    PacedOpens {
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 0)]
        rate: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count stat-family calls (stat, lstat, fstat, newfstatat, statx in turn) on a
    /// prepared file.
    Stats {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count sync-family calls (fsync, fdatasync, sync_file_range, msync, syncfs,
    /// sync) on a prepared, clean one-page file.
    Syncs {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count setuid-family calls (setuid, setreuid, setresuid, setfsuid) that leave
    /// the ids as they are.
    Setuids {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count kill() calls with signal 0 (to itself, its process group and no
    /// process), with tgkill() and tkill() calls between them.
    Kills {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count sleeps of 100 µs, nanosleep() and clock_nanosleep() in turn.
    Sleeps {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count TCP connect() calls over loopback (IPv4, IPv6 and refused in turn), each
    /// connection accepted by the same process.
    TcpConnects {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count threads (pthread_create, each joined) and --count/5 forks that exit
    /// without exec.
    Threads {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
    /// One thread per CPU this process may run on, each pinned to its CPU, spinning
    /// for --ms milliseconds.
    Spin {
        #[arg(long)]
        ms: u64,
        #[command(flatten)]
        common: Common,
    },
    /// --count execs of /bin/true through a symlink named like the comm (every fifth
    /// by execveat, each followed by a failed exec and a fork without exec).
    Execs {
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        common: Common,
    },
}

/// What a `--hold` run prints on stdout, on a line of its own, once it is
/// waiting to be released; its ground truth follows on the next line.
pub const HELD_LINE: &str = "held";

/// Which of the two steps to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prepare,
    Run,
}

/// A parsed, validated command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub phase: Phase,
    pub workload: Workload,
    pub dir: PathBuf,
    pub comm: Option<String>,
    pub expect_dev: Option<(u32, u32)>,
    pub hold: bool,
}

/// Why the command line was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// clap's own error (usage, --help, --version): print with `.exit()`.
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error(transparent)]
    Invalid(#[from] WorkloadError),
}

/// Parse `tc-workload` arguments (the first item is the program name).
pub fn parse<I, T>(args: I) -> Result<Invocation, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let (phase, kind) = match cli.phase {
        PhaseCmd::Prepare { kind } => (Phase::Prepare, kind),
        PhaseCmd::Run { kind } => (Phase::Run, kind),
    };
    let (workload, common) = match kind {
        KindCmd::DirectRead {
            size,
            request,
            common,
        } => (Workload::DirectRead { size, request }, common),
        KindCmd::DirectWrite {
            size,
            request,
            common,
        } => (Workload::DirectWrite { size, request }, common),
        KindCmd::CachedReread {
            size,
            passes,
            request,
            common,
        } => (
            Workload::CachedReread {
                size,
                passes,
                request,
            },
            common,
        ),
        KindCmd::BufferedWrite {
            size,
            request,
            fsync,
            passes,
            common,
        } => (
            Workload::BufferedWrite {
                size,
                request,
                fsync,
                passes,
            },
            common,
        ),
        KindCmd::DirectMixed {
            read,
            write,
            request,
            threads,
            common,
        } => (
            Workload::DirectMixed {
                read,
                write,
                request,
                threads,
            },
            common,
        ),
        KindCmd::MmapRead { size, common } => (Workload::MmapRead { size }, common),
        KindCmd::Opens { count, common } => (Workload::Opens { count }, common),
        KindCmd::PacedOpens {
            count,
            rate,
            common,
        } => (Workload::PacedOpens { count, rate }, common),
        KindCmd::Stats { count, common } => (Workload::Stats { count }, common),
        KindCmd::Kills { count, common } => (Workload::Kills { count }, common),
        KindCmd::Syncs { count, common } => (Workload::Syncs { count }, common),
        KindCmd::Setuids { count, common } => (Workload::Setuids { count }, common),
        KindCmd::Sleeps { count, common } => (Workload::Sleeps { count }, common),
        KindCmd::TcpConnects { count, common } => (Workload::TcpConnects { count }, common),
        KindCmd::Threads { count, common } => (Workload::Threads { count }, common),
        KindCmd::Spin { ms, common } => (Workload::Spin { ms }, common),
        KindCmd::Execs { count, common } => (Workload::Execs { count }, common),
    };
    workload.validate()?;
    if let Some(c) = &common.comm {
        crate::workload::validate_comm(c)?;
    }
    Ok(Invocation {
        phase,
        workload,
        dir: common.dir,
        comm: common.comm,
        expect_dev: common.expect_dev,
        hold: common.hold,
    })
}

impl Workload {
    /// Parse a workload from its kind and parameters only, as
    /// [`Workload::to_args`] prints them (no phase, no --dir).
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Workload, CliError> {
        let mut full = vec!["tc-workload".to_string(), "run".to_string()];
        full.extend(args.iter().map(|s| s.as_ref().to_string()));
        full.extend(["--dir".to_string(), "/".to_string()]);
        Ok(parse(full)?.workload)
    }
}

/// The whole generator command: parse `args` (without the program name),
/// prepare or run, print the ground truth JSON on stdout. Returns the exit
/// status (0, or 2 with the reason on stderr). `tc-workload` and the
/// `tracecheck workload` subcommand are both this function, so the harness
/// can run workloads from its own binary on the host and in guests.
pub fn main_with_args<I, T>(prog: &str, args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use crate::{default_comm, Phase};
    use std::io::Write;
    let argv =
        std::iter::once(std::ffi::OsString::from(prog)).chain(args.into_iter().map(Into::into));
    let inv = match parse(argv) {
        Ok(i) => i,
        Err(CliError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("{prog}: {e}");
            return 2;
        }
    };
    let result = match inv.phase {
        Phase::Prepare => inv.workload.prepare_on(&inv.dir, inv.expect_dev).map(|fs| {
            eprintln!(
                "{prog}: prepared {} in {} on {} ({}:{})",
                inv.workload.kind(),
                inv.dir.display(),
                fs.dev_name,
                fs.dev.0,
                fs.dev.1
            );
            None
        }),
        Phase::Run => {
            let comm = inv.comm.clone().unwrap_or_else(default_comm);
            let hold = || -> std::io::Result<()> {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{HELD_LINE}")?;
                out.flush()?;
                // Released when the harness closes our stdin. poll(), not a
                // read: a read-family call would be one more for tools and
                // the witness to count.
                let stdin = std::io::stdin();
                let mut fds = [rustix::event::PollFd::new(
                    &stdin,
                    rustix::event::PollFlags::IN,
                )];
                while rustix::event::poll(&mut fds, None)? == 0 {}
                Ok(())
            };
            let held: Option<&dyn Fn() -> std::io::Result<()>> = inv.hold.then_some(&hold);
            inv.workload
                .run_held(&inv.dir, &comm, inv.expect_dev, held)
                .map(Some)
        }
    };
    match result {
        Ok(None) => 0,
        Ok(Some(truth)) => {
            let json = match serde_json::to_string(&truth) {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("{prog}: cannot serialize the ground truth: {e}");
                    return 2;
                }
            };
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{json}").and_then(|()| out.flush()).is_err() {
                eprintln!("{prog}: cannot write the ground truth to stdout");
                return 2;
            }
            0
        }
        Err(e) => {
            eprintln!("{prog}: {e}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_run_line() {
        let i = parse([
            "tc-workload",
            "run",
            "cached-reread",
            "--size",
            "16M",
            "--passes",
            "21",
            "--request",
            "128k",
            "--dir",
            "/mnt/s",
            "--comm",
            "tcw-disktop",
            "--expect-dev",
            "7:3",
        ])
        .unwrap();
        assert_eq!(i.phase, Phase::Run);
        assert_eq!(
            i.workload,
            Workload::CachedReread {
                size: 16 << 20,
                passes: 21,
                request: 128 << 10
            }
        );
        assert_eq!(i.dir, PathBuf::from("/mnt/s"));
        assert_eq!(i.comm.as_deref(), Some("tcw-disktop"));
        assert_eq!(i.expect_dev, Some((7, 3)));
    }

    #[test]
    fn to_args_and_from_args_round_trip() {
        for w in [
            Workload::DirectRead {
                size: 16 << 20,
                request: 1 << 20,
            },
            Workload::DirectWrite {
                size: 1 << 30,
                request: 4096,
            },
            Workload::CachedReread {
                size: 12288,
                passes: 2,
                request: 4096,
            },
            Workload::BufferedWrite {
                size: 8192,
                request: 4096,
                fsync: true,
                passes: 3,
            },
            Workload::DirectMixed {
                read: 8 << 20,
                write: 24 << 20,
                request: 1 << 20,
                threads: 3,
            },
            Workload::BufferedWrite {
                size: 8192,
                request: 4096,
                fsync: false,
                passes: 1,
            },
            Workload::MmapRead { size: 1 << 20 },
            Workload::Opens { count: 100 },
            Workload::PacedOpens {
                count: 100,
                rate: 5000,
            },
            Workload::Execs { count: 7 },
        ] {
            assert_eq!(Workload::from_args(&w.to_args()).unwrap(), w);
        }
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let e = parse([
            "t",
            "run",
            "direct-read",
            "--size",
            "0",
            "--request",
            "4k",
            "--dir",
            "/",
        ])
        .unwrap_err();
        assert_eq!(e.to_string(), "invalid --size: must be greater than 0");
        let e = parse(["t", "run", "mmap-read", "--size", "12Q", "--dir", "/"]).unwrap_err();
        assert!(
            e.to_string().contains("--size") && e.to_string().contains("12Q"),
            "{e}"
        );
        let e = parse([
            "t",
            "run",
            "opens",
            "--count",
            "3",
            "--dir",
            "/",
            "--comm",
            "much-too-long-name",
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("invalid --comm"), "{e}");
        let e = parse([
            "t",
            "run",
            "opens",
            "--count",
            "3",
            "--dir",
            "/",
            "--expect-dev",
            "7",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("--expect-dev"), "{e}");
    }
}
