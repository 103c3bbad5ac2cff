//! Syscall-level workloads that do exactly known I/O on a scratch ext4 and
//! state their ground truth: what they did at the syscall layer (counted),
//! and what their design implies at the VFS, page-cache, block and disk
//! layers (bounded, with reasons).
//!
//! Two phases: [`Workload::prepare`] creates cold input files before the tool
//! under test starts; [`Workload::run`] does the measured I/O under a
//! distinctive comm and returns a [`GroundTruth`]. The `tc-workload` binary
//! is a thin wrapper the harness spawns as a separate process.

pub mod cache;
pub mod cli;
pub mod delayed_file;
pub mod design;
pub mod diskstats;
pub mod error;
pub mod ops;
pub mod scratch;
pub mod scratch_disk;
pub mod size;
pub mod tcp;
pub mod truths;
pub mod workload;

pub use cli::{parse, CliError, Invocation, Phase};
pub use error::WorkloadError;
pub use scratch::{inspect, ScratchFs};
pub use size::{format_size, parse_size};
pub use workload::{default_comm, validate_comm, Workload, KINDS};

use std::ffi::CString;
use std::path::Path;
use std::time::Instant;
use tracecheck_model::GroundTruth;
use truths::Facts;

impl Workload {
    /// [`Workload::prepare_on`] without a device check.
    pub fn prepare(&self, dir: &Path) -> Result<ScratchFs, WorkloadError> {
        self.prepare_on(dir, None)
    }

    /// Check `dir`, then create this workload's input file there: fully
    /// written, fsync'd, syncfs'd, evicted, and verified with mincore() to
    /// have 0 pages cached. Runs under the caller's own comm.
    pub fn prepare_on(
        &self,
        dir: &Path,
        expect_dev: Option<(u32, u32)>,
    ) -> Result<ScratchFs, WorkloadError> {
        self.validate()?;
        let fs = scratch::inspect(dir, expect_dev)?;
        ops::prepare(self, dir)?;
        Ok(fs)
    }

    /// Make the input that [`Workload::prepare`] wrote in `dir` cold again,
    /// so that another run can use it without writing it anew (the harness
    /// writes each input once per scratch disk).
    pub fn make_cold(&self, dir: &Path) -> Result<(), WorkloadError> {
        self.validate()?;
        ops::make_cold(self, dir)
    }

    /// [`Workload::run_on`] without a device check.
    pub fn run(&self, dir: &Path, comm: &str) -> Result<GroundTruth, WorkloadError> {
        self.run_on(dir, comm, None)
    }

    /// Do the measured I/O and return its truth.
    ///
    /// Checks and /proc reads happen first; then the calling thread takes
    /// `comm` (prctl PR_SET_NAME), does exactly the workload's calls, and
    /// gets its previous name back, so that everything done under `comm` is
    /// what the truth counts.
    pub fn run_on(
        &self,
        dir: &Path,
        comm: &str,
        expect_dev: Option<(u32, u32)>,
    ) -> Result<GroundTruth, WorkloadError> {
        self.run_held(dir, comm, expect_dev, None)
    }

    /// [`Workload::run_on`], calling `hold` (if any) once everything but
    /// the measured calls is done, before the thread takes `comm`: a tool
    /// given the process's pid starts then, so that it sees the measured
    /// calls and nothing of the setup, and the hold's own calls (printing
    /// that it is held, waiting) are under the old name, outside the
    /// truth.
    pub fn run_held(
        &self,
        dir: &Path,
        comm: &str,
        expect_dev: Option<(u32, u32)>,
        hold: Option<&dyn Fn() -> std::io::Result<()>>,
    ) -> Result<GroundTruth, WorkloadError> {
        self.validate()?;
        validate_comm(comm)?;
        let fs = scratch::inspect(dir, expect_dev)?;
        let need_cold = matches!(
            self,
            Workload::DirectRead { .. }
                | Workload::CachedReread { .. }
                | Workload::MmapRead { .. }
                | Workload::DirectMixed { .. }
        );
        ops::check_input(self, dir, need_cold)?;
        let dirty = DirtyLimits::read();
        let link = match self {
            Workload::Execs { .. } => Some(ops::ExecLink::create(comm)?),
            _ => None,
        };
        let path = self.input_path(dir).unwrap_or_default();
        // O_DIRECT calls split into a bio per extent they cross.
        let extents = match self {
            Workload::DirectRead { .. }
            | Workload::DirectWrite { .. }
            | Workload::DirectMixed { .. } => scratch::extents(&path)?.max(1),
            _ => 1,
        };

        let cname =
            CString::new(comm).map_err(|_| WorkloadError::param("comm", "contains a NUL byte"))?;
        if let Some(hold) = hold {
            hold().map_err(|e| WorkloadError::io("waiting to be released", "stdin", e))?;
        }
        let previous = rustix::thread::name().ok();
        rustix::thread::set_name(&cname)
            .map_err(|e| WorkloadError::io("prctl(PR_SET_NAME)", comm, e))?;
        let start = Instant::now();
        let counts = match *self {
            Workload::DirectRead { size, request } => ops::direct(&path, size, request, false),
            Workload::DirectWrite { size, request } => ops::direct(&path, size, request, true),
            Workload::CachedReread {
                size,
                passes,
                request,
            } => ops::cached_reread(&path, size, passes, request),
            Workload::BufferedWrite {
                size,
                request,
                fsync,
                passes,
            } => ops::buffered_write(&path, size, request, fsync, passes),
            Workload::DirectMixed {
                read,
                write,
                request,
                threads,
            } => ops::direct_mixed(&path, read, write, request, threads),
            Workload::MmapRead { size } => ops::mmap_read(&path, size),
            Workload::Opens { count } => ops::opens(&path, count),
            Workload::PacedOpens { count, rate } => ops::paced_opens(&path, count, rate),
            Workload::Stats { count } => ops::stats(&path, count),
            Workload::Syncs { count } => ops::syncs(&path, count),
            Workload::Threads { count } => ops::threads(count),
            Workload::Kills { count } => ops::kills(count),
            Workload::Sleeps { count } => ops::sleeps(count),
            Workload::Setuids { count } => ops::setuids(count),
            Workload::TcpConnects { count } => tcp::tcp_connects(count),
            Workload::Spin { ms } => ops::spin(ms),
            Workload::Execs { count } => match &link {
                Some(l) => ops::execs(&l.link, count),
                None => Err(WorkloadError::Unsupported(
                    "execs without its symlink".into(),
                )),
            },
        };
        let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if let Some(p) = previous {
            let _ = rustix::thread::set_name(&p);
        }
        drop(link);
        let counts = counts?;

        let (fsync_owns_data, fsync_reason) =
            dirty.fsync_owns(self.size().unwrap_or(0), elapsed_ns);
        let facts = Facts {
            max_request_bytes: fs.max_request_bytes,
            max_segments: fs.max_segments,
            extents,
            commit_interval_ns: fs.commit_interval_s.saturating_mul(1_000_000_000),
            elapsed_ns,
            fsync_owns_data,
            fsync_reason,
        };
        let mut pids = vec![rustix::process::getpid().as_raw_pid().unsigned_abs()];
        pids.extend(&counts.child_pids);
        let mut params = self.params();
        params.insert("dir".into(), dir.display().to_string().into());
        params.insert(
            "device".into(),
            format!("{}:{} ({})", fs.dev.0, fs.dev.1, fs.dev_name).into(),
        );
        Ok(GroundTruth {
            workload: self.kind().to_string(),
            comm: comm.to_string(),
            pids,
            params,
            truths: truths::truths(self, &counts, comm, &facts),
            tallies: truths::tallies(self, &counts),
            // Writes leave the mtime commit (and without fsync the data)
            // to jbd2 and the flushers after the process exits.
            needs_writeback: matches!(
                self,
                Workload::DirectWrite { .. }
                    | Workload::BufferedWrite { .. }
                    | Workload::DirectMixed { .. }
            ),
            elapsed_ns,
        })
    }
}

/// The kernel's writeback thresholds, read before the run, to decide
/// whether fsync() can be the one submitting all of the data.
struct DirtyLimits {
    expire_ns: Option<u64>,
    background_bytes: Option<u64>,
    dirty_now: Option<u64>,
}

impl DirtyLimits {
    fn read() -> DirtyLimits {
        let vm = |n: &str| scratch::read_u64(Path::new(&format!("/proc/sys/vm/{n}")));
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kb = |key: &str| {
            meminfo.lines().find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .map(|v| v * 1024)
            })
        };
        // The flushers start background writeback when dirty pages exceed
        // dirty_background_bytes, or dirty_background_ratio % of dirtyable
        // memory (free + file pages).
        let background_bytes = match vm("dirty_background_bytes") {
            Some(b) if b > 0 => Some(b),
            _ => {
                let dirtyable = [kb("MemFree:"), kb("Active(file):"), kb("Inactive(file):")]
                    .into_iter()
                    .try_fold(0u64, |a, v| v.map(|v| a + v));
                dirtyable
                    .zip(vm("dirty_background_ratio"))
                    .map(|(d, r)| d / 100 * r)
            }
        };
        DirtyLimits {
            expire_ns: vm("dirty_expire_centisecs").map(|c| c * 10_000_000),
            background_bytes,
            dirty_now: kb("Dirty:").zip(kb("Writeback:")).map(|(d, w)| d + w),
        }
    }

    /// fsync() submits all the data itself when no flusher can have begun:
    /// the run is shorter than dirty_expire (periodic writeback only takes
    /// inodes dirtied longer ago) and dirty memory stayed under the
    /// background threshold (half of it, leaving room for other writers).
    fn fsync_owns(&self, size: u64, elapsed_ns: u64) -> (bool, String) {
        let (Some(expire), Some(bg), Some(dirty)) =
            (self.expire_ns, self.background_bytes, self.dirty_now)
        else {
            return (false, "writeback thresholds unreadable in /proc".into());
        };
        let ok = elapsed_ns < expire && dirty.saturating_add(size) <= bg / 2;
        let why = format!(
            "run {} ms vs dirty_expire {} ms; {} B dirty before + {size} B written vs half the background threshold {} B",
            elapsed_ns / 1_000_000,
            expire / 1_000_000,
            dirty,
            bg / 2
        );
        (ok, why)
    }
}
