//! Command-line arguments, turned once into a validated plan. Nothing
//! further down reads flags.

use crate::report::{ColorChoice, Format};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

const ABOUT: &str = "Checks whether a tracing tool reports what it claims to measure.";

const LONG_ABOUT: &str = "\
Checks whether a tracing tool reports what it claims to measure.

tracecheck runs the tool beside workloads that do exactly known I/O on a
scratch disk of its own (a loop device with a fresh ext4), then compares
what the tool printed with the workload's own account, /proc/diskstats
(what iostat reads), and says in plain words what is wrong when they
differ: \"counts page-cache hits as disk reads\", \"reports sectors as
bytes\", \"attributes I/O to the completing CPU's task\".

You describe the tool in a small TOML spec: how to start it, and which
printed map means which metric. See `tracecheck metrics` for the metric
names and the README for the spec format.

Needs root (loop devices, mounts, BPF).";

const EXAMPLES: &str = "\
Examples:
  tracecheck run                                  check the built-in examples
  tracecheck check my-script.toml                 check your own spec
  tracecheck check my-script.toml --format json   every number behind each verdict
  tracecheck check my-script.toml --html out.html the verdicts as a page of charts
  tracecheck check my-script.toml --vm debian-6.1 the same, in QEMU guests on Debian's 6.1 kernel
  tracecheck metrics                              the metric vocabulary
  tracecheck workloads                            the workloads and what each one tells apart

Exit status: 0 every claim holds; 1 a claim failed (or the tool did not
run properly); 2 tracecheck could not run the check or establish the truth;
130 interrupted (results recorded so far are kept).";

#[derive(Debug, Parser)]
#[command(name = "tracecheck", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct RunOpts {
    /// Output format for results on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,

    /// When to color the table.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,

    /// Append each check's full record (JSON lines) to this file as soon as
    /// the check ends, so nothing is lost on Ctrl-C.
    /// [default: /var/tmp/tracecheck/runs/TIME-PID.jsonl]
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Size of the scratch disk in MiB.
    #[arg(long, default_value_t = tracecheck_workloads::scratch_disk::DEFAULT_SIZE_MIB, value_name = "MIB")]
    pub scratch_size: u64,

    /// Longest wait for writeback to settle after a workload (e.g. 60s).
    #[arg(long, default_value = "60s", value_parser = parse_dur, value_name = "DURATION")]
    pub settle_timeout: std::time::Duration,

    /// No progress lines on stderr, and no closing note of where the
    /// records are (same as --progress never, plus that note).
    #[arg(long, short)]
    pub quiet: bool,

    /// When to print progress on stderr: each check and its phases, and
    /// for the run done/total, elapsed time and an estimate of the time
    /// left. `auto`: when stderr is a terminal.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub progress: crate::progress::When,

    /// Run every check in a fresh QEMU guest on this Debian distribution
    /// kernel instead of on this machine's kernel: debian-6.1 (bookworm) or
    /// debian-6.12 (trixie), both with this machine's tools, or debian-13:
    /// trixie's kernel with trixie's own bpftrace, bcc and perf-tools (a
    /// root file system mmdebstrap builds once, ~30 s), to see whether a
    /// newer version of a tool fixes a bug. The first use downloads the
    /// kernel packages (~170 MB) into the VM cache. Without KVM (TCG) a guest check takes
    /// ~15-25 s. A tool that crashes or hangs the guest kernel gets an ERROR
    /// verdict saying so, and the run goes on in a new guest.
    #[arg(long, value_name = "TARGET", value_parser = parse_target)]
    pub vm: Option<tracecheck_vm::KernelTarget>,

    /// Where guest kernels and images are cached.
    /// [default: $TRACECHECK_VM_CACHE or /var/cache/tracecheck/vm]
    #[arg(long, value_name = "DIR", requires = "vm")]
    pub vm_cache: Option<PathBuf>,

    /// Also write the verdicts as JUnit XML to FILE (one test case per claim,
    /// metric and workload; the diagnosis is the failure message).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write the results as one HTML page to FILE, self-contained (no
    /// network, no script; open it in any browser, attach it to a CI run).
    /// For each claim on each workload: the tool's number beside the
    /// truth's as bars on one axis, with the truth's range and the accepted
    /// range shaded; the verdict and diagnosis in the table's words; and
    /// when the tool printed a histogram for the claim (bpftrace hist(),
    /// lhist()), the workload's histogram. See docs/report-screenshot.png.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Run only job I of N (e.g. 2/4) of this run's checks: a deterministic
    /// split, balanced by the checks' costs in --shard-costs. Join the jobs'
    /// --record files with `tracecheck merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::shard::Shard>,

    /// Record files of an earlier run whose measured check times balance
    /// --shard (checks they do not hold count as a typical one).
    #[arg(long, value_name = "RECORDS", requires = "shard")]
    pub shard_costs: Vec<PathBuf>,

    /// Run each check N times; a verdict that changes between runs is FLAKY
    /// (exit 1), with every run's status and number in a note. Each run is
    /// also in the record file.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub repeat: u64,

    /// Start the tool afresh for every workload. By default one run of the
    /// tool serves all of a spec's workloads when every claim is keyed by
    /// process (comm or pid): they run one after another under their own
    /// names and each is judged on its own entries. Both ways give the same
    /// verdicts (harness/tests/mutants.rs holds them to it).
    #[arg(long)]
    pub tool_run_per_workload: bool,

    /// Only the check on this workload (see `tracecheck workloads`); a workload
    /// outside the spec's defaults runs every claim on it. Give it more than
    /// once for several.
    #[arg(long, value_name = "NAME")]
    pub workload: Vec<String>,

    /// Use this existing block device as the scratch disk (it is
    /// reformatted), `serial:NAME` for the virtio disk with that serial, or
    /// `nullb:NS` for a new null_blk device whose every request takes NS
    /// nanoseconds (a device of known latency; needs the null_blk module).
    /// Give it more than once for a fresh disk per check, taken in order.
    /// Used by tracecheck inside its guests, which get one per workload.
    #[arg(long, value_name = "PATH", hide = true, conflicts_with = "vm")]
    pub scratch_device: Vec<String>,

    /// How reports name where the checks ran, instead of `host (kernel
    /// X)`. Used by tracecheck inside its guests, which are told which
    /// guest they are.
    #[arg(long, value_name = "LABEL", hide = true, conflicts_with = "vm")]
    pub environment: Option<String>,

    #[command(flatten)]
    pub stap: StapAgent,
}

/// The SystemTap module the host built for a guest's kernel, as tracecheck
/// tells its agent inside the guest (`check` and `card`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StapAgent {
    /// The module, loaded with `staprun` from the unpacked SystemTap at
    /// --stap-root. Used by tracecheck inside its guests.
    #[arg(
        long,
        value_name = "KO",
        hide = true,
        conflicts_with = "vm",
        requires = "stap_root"
    )]
    pub stap_module: Option<PathBuf>,

    /// The unpacked SystemTap (usr/bin/staprun...) for --stap-module.
    #[arg(
        long,
        value_name = "DIR",
        hide = true,
        conflicts_with = "vm",
        requires = "stap_module"
    )]
    pub stap_root: Option<PathBuf>,
}

impl StapAgent {
    /// The unpacked SystemTap and the module, when both were given.
    pub fn given(&self) -> Option<(PathBuf, PathBuf)> {
        self.stap_root.clone().zip(self.stap_module.clone())
    }
}

fn parse_target(s: &str) -> Result<tracecheck_vm::KernelTarget, String> {
    s.parse().map_err(|e: tracecheck_vm::VmError| e.to_string())
}

fn parse_dur(s: &str) -> Result<std::time::Duration, String> {
    crate::spec::parse_duration(s)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check tools described by spec files against known workloads.
    Check {
        /// Spec files (TOML), or directories holding a spec.toml.
        #[arg(required = true, value_name = "SPEC")]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Check the built-in example specs (expectations/examples).
    Run {
        /// Directory of specs: every directory under it that holds a
        /// spec.toml (e.g. expectations/catalog for the real tools).
        #[arg(long, value_name = "DIR", default_value_os_t = default_examples())]
        examples: PathBuf,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Join the JSON-lines records of several runs (CI shards, or a run and
    /// its rerun) into one report and one exit status.
    Merge {
        /// Record files written by `--record` (JSON lines).
        #[arg(required = true, value_name = "RECORDS")]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::report::Format,
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
        /// Also write the merged verdicts as JUnit XML to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also write the merged results as one self-contained HTML page to
        /// FILE (as `check --html`). Histograms are drawn when the records'
        /// spec files can still be read, since the spec says which map a
        /// claim reads.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Write the catalog's results document (Markdown, on stdout) from the
    /// records of runs on several kernels: where it ran, the tool × claim ×
    /// kernel matrix, the drift between kernels (the first kernel where a
    /// verdict changed and the probe or output behind it), every verdict
    /// with its diagnosis, and the report cards given. docs/catalog-results.md
    /// is made so by ci/catalog-results.sh.
    Results {
        /// Record files written by `--record` (JSON lines), one or more per
        /// kernel.
        #[arg(required = true, value_name = "RECORDS")]
        files: Vec<PathBuf>,
        /// Report cards written by `tracecheck card --format json`.
        #[arg(long = "card", value_name = "FILE")]
        cards: Vec<PathBuf>,
        /// The command to name in the document as the one that made it.
        #[arg(
            long,
            value_name = "TEXT",
            default_value = "bash ci/catalog-results.sh"
        )]
        command: String,
    },
    /// Measure a tool's report card: time to ready and whether it says so,
    /// its first output, its cost to a loop of reads, whether a second
    /// instance can run beside it, how it stops on SIGINT, what it leaves in
    /// the kernel (modules, BPF objects, probe events, enabled trace
    /// events), and what a wrong option gets. With --vm, in a fresh guest
    /// (a SystemTap script's card also says how its module was built and
    /// whether it needs guru mode).
    Card {
        /// A spec file, or a directory holding a spec.toml.
        #[arg(value_name = "SPEC")]
        spec: PathBuf,
        /// Measure in a fresh QEMU guest on this Debian kernel.
        #[arg(long, value_name = "TARGET", value_parser = parse_target)]
        vm: Option<tracecheck_vm::KernelTarget>,
        /// Where guest kernels and images are cached.
        #[arg(long, value_name = "DIR", requires = "vm")]
        vm_cache: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::report::Format,
        /// How the card names where it ran (tracecheck inside its guests).
        #[arg(long, value_name = "LABEL", hide = true, conflicts_with = "vm")]
        environment: Option<String>,
        /// For a tool whose command names the disk (`{dev}`, `{maj}`...):
        /// the block device it watches (reformatted), `serial:NAME` for a
        /// guest's virtio disk. Without it the card makes a loop disk.
        /// Used by tracecheck inside its guests.
        #[arg(long, value_name = "PATH", hide = true, conflicts_with = "vm")]
        scratch_device: Option<String>,
        #[command(flatten)]
        stap: StapAgent,
    },
    /// Measure a per-event tool's event loss: its claim checked on openat()
    /// calls at 1,000, 10,000 and 50,000 a second and as fast as the machine
    /// goes, the tool started afresh for each, and for each rate the calls
    /// made, the rows printed and whether the tool said it lost any. Prints
    /// the curve and the rate where loss starts.
    Loss {
        /// A spec whose claim counts open calls per process
        /// (syscall.open_calls), e.g. expectations/catalog/bpftrace/opensnoop.
        #[arg(value_name = "SPEC")]
        spec: PathBuf,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// List the metric vocabulary used in specs.
    Metrics,
    /// List the workloads and what each one tells apart.
    Workloads,
    /// Print the separation table (docs/separation.md): for every metric and
    /// every quantity a wrong script could report instead, the default
    /// workload that tells the two apart and by how much.
    Separation,
    /// Print the JSON Schema of the JSON report (`--format json`) or of one
    /// line of the `--record` files (docs/schema/).
    Schema {
        #[arg(value_enum)]
        of: crate::schema::Kind,
    },
    /// Validate spec files without running anything.
    Validate {
        #[arg(required = true, value_name = "SPEC")]
        specs: Vec<PathBuf>,
    },
    /// The workload generator (used by tracecheck itself; also handy alone).
    #[command(hide = true, disable_help_flag = true)]
    Workload {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

pub fn default_examples() -> PathBuf {
    if let Some(p) = std::env::var_os("TRACECHECK_EXAMPLES") {
        return p.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../expectations/examples")
}
