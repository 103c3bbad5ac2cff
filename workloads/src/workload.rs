//! The workload kinds and their parameters: validation (once, up front),
//! the parameter map reported in the truth, the file each one uses, and the
//! argument list that makes `tc-workload` run the same thing.

use crate::error::WorkloadError;
use crate::size::format_size;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Page and block size every bound assumes (checked at run time).
pub const PAGE: u64 = 4096;

/// The most threads `direct-mixed` shares its calls among.
pub const MAX_THREADS: u64 = 64;

/// One workload with its parameters. Construct it directly or with
/// [`crate::cli::parse`]; call [`Workload::validate`] before use
/// ([`Workload::prepare`] and [`Workload::run`] do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// O_DIRECT pread64() of `request` bytes over a cold file of `size` bytes.
    DirectRead { size: u64, request: u64 },
    /// O_DIRECT pwrite64() of `request` bytes overwriting in place a file of
    /// `size` bytes that `prepare` wrote fully.
    DirectWrite { size: u64, request: u64 },
    /// One cold pass then `passes - 1` cached passes of buffered reads, each
    /// pass with the next call of read, readv, pread64, preadv2, asking for
    /// `request` bytes until a call returns 0 at end of file.
    CachedReread {
        size: u64,
        passes: u64,
        request: u64,
    },
    /// `passes` buffered overwrites in place of a prepared file of `size`
    /// bytes (calls rotating write, pwrite64, writev, pwritev2), then
    /// fsync() when `fsync`.
    BufferedWrite {
        size: u64,
        request: u64,
        fsync: bool,
        passes: u64,
    },
    /// O_DIRECT reads of `read` bytes and O_DIRECT writes of `write` bytes
    /// to one prepared file, interleaved, `request` bytes a call, shared
    /// out among `threads` threads of the process (the main thread one of
    /// them; see [`crate::ops::mixed_task`]).
    DirectMixed {
        read: u64,
        write: u64,
        request: u64,
        threads: u64,
    },
    /// mmap() a cold file and read one byte of every 4 KiB page.
    MmapRead { size: u64 },
    /// `count` openat() + close() of one prepared file.
    Opens { count: u64 },
    /// `count` openat() + close() of one prepared file, paced at `rate` a
    /// second (0: as fast as it can), for loss curves
    /// ([`crate::ops::paced_opens`]).
    PacedOpens { count: u64, rate: u64 },
    /// `count` stat-family calls on one prepared file, by
    /// [`crate::ops::stat_call`] in turn.
    Stats { count: u64 },
    /// `count` sync-family calls on one prepared, clean page, by
    /// [`crate::ops::sync_call`] in turn ([`crate::ops::syncs`]).
    Syncs { count: u64 },
    /// `count` setuid-family calls that leave the ids unchanged, by
    /// [`crate::ops::setuid_call`] in turn ([`crate::ops::setuids`]).
    Setuids { count: u64 },
    /// `count` kill() calls with signal 0 (to itself, to its process group,
    /// to no process), beside tkill() and tgkill() calls
    /// ([`crate::ops::kills`]).
    Kills { count: u64 },
    /// `count` short sleeps, nanosleep() and clock_nanosleep() in turn
    /// ([`crate::ops::sleeps`]).
    Sleeps { count: u64 },
    /// `count` TCP connect() calls over loopback, IPv4 and IPv6, some
    /// refused, each connection accepted by the same process
    /// ([`crate::tcp::tcp_connects`]).
    TcpConnects { count: u64 },
    /// `count` threads (pthread_create) and `count / 5` forks that exit
    /// without exec ([`crate::ops::threads`]).
    Threads { count: u64 },
    /// One thread per CPU the process may run on, each pinned to its CPU
    /// and spinning for `ms` milliseconds ([`crate::ops::spin`]).
    Spin { ms: u64 },
    /// `count` fork() + execve() of /bin/true through a symlink named like
    /// the comm.
    Execs { count: u64 },
}

/// Every kind name, as used on the command line and in `GroundTruth.workload`.
pub const KINDS: &[&str] = &[
    "direct-read",
    "direct-write",
    "cached-reread",
    "buffered-write",
    "direct-mixed",
    "mmap-read",
    "opens",
    "paced-opens",
    "stats",
    "syncs",
    "setuids",
    "kills",
    "sleeps",
    "tcp-connects",
    "threads",
    "spin",
    "execs",
];

impl Workload {
    /// The kind name (the CLI subcommand).
    pub fn kind(&self) -> &'static str {
        match self {
            Workload::DirectRead { .. } => "direct-read",
            Workload::DirectWrite { .. } => "direct-write",
            Workload::CachedReread { .. } => "cached-reread",
            Workload::BufferedWrite { .. } => "buffered-write",
            Workload::DirectMixed { .. } => "direct-mixed",
            Workload::MmapRead { .. } => "mmap-read",
            Workload::Opens { .. } => "opens",
            Workload::PacedOpens { .. } => "paced-opens",
            Workload::Stats { .. } => "stats",
            Workload::Syncs { .. } => "syncs",
            Workload::Setuids { .. } => "setuids",
            Workload::Kills { .. } => "kills",
            Workload::Sleeps { .. } => "sleeps",
            Workload::TcpConnects { .. } => "tcp-connects",
            Workload::Threads { .. } => "threads",
            Workload::Spin { .. } => "spin",
            Workload::Execs { .. } => "execs",
        }
    }

    /// Size of the input file, if the kind has one.
    pub fn size(&self) -> Option<u64> {
        match *self {
            Workload::DirectRead { size, .. }
            | Workload::DirectWrite { size, .. }
            | Workload::CachedReread { size, .. }
            | Workload::BufferedWrite { size, .. }
            | Workload::MmapRead { size } => Some(size),
            Workload::DirectMixed { read, write, .. } => Some(read + write),
            Workload::Opens { .. } | Workload::PacedOpens { .. } | Workload::Stats { .. } => {
                Some(0)
            }
            // msync() needs a page to map.
            Workload::Syncs { .. } => Some(PAGE),
            Workload::Execs { .. }
            | Workload::Threads { .. }
            | Workload::Kills { .. }
            | Workload::Setuids { .. }
            | Workload::Sleeps { .. }
            | Workload::TcpConnects { .. }
            | Workload::Spin { .. } => None,
        }
    }

    /// Refuse zero or inconsistent parameters, naming the parameter.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let pos = |param: &'static str, v: u64| {
            if v == 0 {
                Err(WorkloadError::param(param, "must be greater than 0"))
            } else {
                Ok(())
            }
        };
        let divides = |size: u64, request: u64| {
            if size % request != 0 {
                Err(WorkloadError::param(
                    "size",
                    format!(
                        "{size} is not a multiple of --request {request}: every call must move a full request"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let paged = |param: &'static str, v: u64, why: &str| {
            if v % PAGE != 0 {
                Err(WorkloadError::param(
                    param,
                    format!("{v} is not a multiple of 4096: {why}"),
                ))
            } else {
                Ok(())
            }
        };
        match *self {
            Workload::DirectRead { size, request } | Workload::DirectWrite { size, request } => {
                pos("size", size)?;
                pos("request", request)?;
                paged("request", request, "O_DIRECT needs block-aligned lengths")?;
                divides(size, request)
            }
            Workload::DirectMixed {
                read,
                write,
                request,
                threads,
            } => {
                pos("read", read)?;
                pos("write", write)?;
                pos("request", request)?;
                pos("threads", threads)?;
                paged("request", request, "O_DIRECT needs block-aligned lengths")?;
                divides(read, request)?;
                divides(write, request)?;
                if threads > MAX_THREADS {
                    return Err(WorkloadError::param(
                        "threads",
                        format!("{threads} is more than {MAX_THREADS}"),
                    ));
                }
                Ok(())
            }
            Workload::CachedReread {
                size,
                passes,
                request,
            } => {
                pos("size", size)?;
                pos("passes", passes)?;
                pos("request", request)?;
                // A partial last page would make page-cache and disk truths
                // depend on EOF handling; whole pages keep them exact. The
                // request need not divide the size: reads go on to EOF.
                paged("size", size, "the file must end on a page boundary")
            }
            Workload::BufferedWrite {
                size,
                request,
                passes,
                ..
            } => {
                pos("size", size)?;
                pos("request", request)?;
                pos("passes", passes)?;
                // A partial-page write into a cold page must read it first;
                // whole-page writes never read.
                paged(
                    "request",
                    request,
                    "a partial-page write would read the page from disk first",
                )?;
                divides(size, request)
            }
            Workload::MmapRead { size } => {
                pos("size", size)?;
                paged("size", size, "the file must end on a page boundary")
            }
            Workload::Opens { count }
            | Workload::Stats { count }
            | Workload::Syncs { count }
            | Workload::Setuids { count }
            | Workload::Kills { count }
            | Workload::Sleeps { count }
            | Workload::TcpConnects { count }
            | Workload::Threads { count }
            | Workload::Execs { count } => pos("count", count),
            Workload::Spin { ms } => pos("ms", ms),
            Workload::PacedOpens { count, .. } => pos("count", count),
        }
    }

    /// The parameters as reported in `GroundTruth.params`.
    pub fn params(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        match *self {
            Workload::DirectRead { size, request } | Workload::DirectWrite { size, request } => {
                m.insert("size".into(), size.into());
                m.insert("request".into(), request.into());
            }
            Workload::CachedReread {
                size,
                passes,
                request,
            } => {
                m.insert("size".into(), size.into());
                m.insert("passes".into(), passes.into());
                m.insert("request".into(), request.into());
            }
            Workload::BufferedWrite {
                size,
                request,
                fsync,
                passes,
            } => {
                m.insert("size".into(), size.into());
                m.insert("request".into(), request.into());
                m.insert("fsync".into(), fsync.into());
                m.insert("passes".into(), passes.into());
            }
            Workload::DirectMixed {
                read,
                write,
                request,
                threads,
            } => {
                m.insert("read".into(), read.into());
                m.insert("write".into(), write.into());
                m.insert("request".into(), request.into());
                m.insert("threads".into(), threads.into());
            }
            Workload::MmapRead { size } => {
                m.insert("size".into(), size.into());
            }
            Workload::Opens { count }
            | Workload::Stats { count }
            | Workload::Syncs { count }
            | Workload::Setuids { count }
            | Workload::Kills { count }
            | Workload::Sleeps { count }
            | Workload::TcpConnects { count }
            | Workload::Threads { count }
            | Workload::Execs { count } => {
                m.insert("count".into(), count.into());
            }
            Workload::Spin { ms } => {
                m.insert("ms".into(), ms.into());
            }
            Workload::PacedOpens { count, rate } => {
                m.insert("count".into(), count.into());
                m.insert("rate".into(), rate.into());
            }
        }
        m
    }

    /// The kind and its parameters as `tc-workload` arguments, e.g.
    /// `["cached-reread", "--size", "16M", "--passes", "21", "--request", "128k"]`.
    /// Append `--dir`, `--comm`, `--expect-dev` and put `prepare`/`run` first.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![self.kind().to_string()];
        let mut push = |k: &str, v: String| {
            a.push(format!("--{k}"));
            a.push(v);
        };
        match *self {
            Workload::DirectRead { size, request } | Workload::DirectWrite { size, request } => {
                push("size", format_size(size));
                push("request", format_size(request));
            }
            Workload::CachedReread {
                size,
                passes,
                request,
            } => {
                push("size", format_size(size));
                push("passes", passes.to_string());
                push("request", format_size(request));
            }
            Workload::BufferedWrite {
                size,
                request,
                passes,
                ..
            } => {
                push("size", format_size(size));
                push("request", format_size(request));
                if passes != 1 {
                    push("passes", passes.to_string());
                }
            }
            Workload::DirectMixed {
                read,
                write,
                request,
                threads,
            } => {
                push("read", format_size(read));
                push("write", format_size(write));
                push("request", format_size(request));
                if threads != 1 {
                    push("threads", threads.to_string());
                }
            }
            Workload::MmapRead { size } => push("size", format_size(size)),
            Workload::Opens { count }
            | Workload::Stats { count }
            | Workload::Syncs { count }
            | Workload::Setuids { count }
            | Workload::Kills { count }
            | Workload::Sleeps { count }
            | Workload::TcpConnects { count }
            | Workload::Threads { count }
            | Workload::Execs { count } => push("count", count.to_string()),
            Workload::Spin { ms } => push("ms", ms.to_string()),
            Workload::PacedOpens { count, rate } => {
                push("count", count.to_string());
                push("rate", rate.to_string());
            }
        }
        if let Workload::BufferedWrite { fsync: true, .. } = self {
            a.push("--fsync".into());
        }
        a
    }

    /// The input file in `dir`. Named by kind and size so that workloads
    /// sharing a scratch directory never use each other's files.
    pub fn input_path(&self, dir: &Path) -> Option<PathBuf> {
        let kind = match self {
            Workload::Execs { .. }
            | Workload::Threads { .. }
            | Workload::Kills { .. }
            | Workload::Setuids { .. }
            | Workload::Sleeps { .. }
            | Workload::TcpConnects { .. }
            | Workload::Spin { .. } => return None,
            // Both write kinds overwrite a prepared file the same way.
            w => w.kind(),
        };
        Some(dir.join(format!(
            "tracecheck-{kind}-{}.dat",
            self.size().unwrap_or(0)
        )))
    }
}

/// A distinctive default comm: `tcw-` and 6 hex digits (10 bytes, under the
/// kernel's 15-byte limit).
pub fn default_comm() -> String {
    let mut b = [0u8; 3];
    // getrandom cannot fail for 3 bytes once the pool is up; a pid-derived
    // fallback still keeps concurrent workloads apart.
    if rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()).is_err() {
        let p = rustix::process::getpid().as_raw_pid().unsigned_abs();
        b = [(p >> 16) as u8, (p >> 8) as u8, p as u8];
    }
    format!("tcw-{:02x}{:02x}{:02x}", b[0], b[1], b[2])
}

/// A comm must fit the kernel's 16-byte buffer with its NUL, and for
/// `execs` it is also a file name.
pub fn validate_comm(comm: &str) -> Result<(), WorkloadError> {
    if comm.is_empty() || comm.len() > 15 {
        return Err(WorkloadError::param(
            "comm",
            format!("`{comm}` must be 1 to 15 bytes (the kernel keeps 15)"),
        ));
    }
    if !comm.bytes().all(|b| b.is_ascii_graphic() && b != b'/') || comm == "." || comm == ".." {
        return Err(WorkloadError::param(
            "comm",
            format!("`{comm}` must be printable ASCII without spaces or `/` (it names a symlink for execs)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(w: Workload) -> String {
        w.validate().unwrap_err().to_string()
    }

    #[test]
    fn zero_size_is_refused_by_name() {
        assert_eq!(
            err(Workload::DirectRead {
                size: 0,
                request: 4096
            }),
            "invalid --size: must be greater than 0"
        );
        assert_eq!(
            err(Workload::MmapRead { size: 0 }),
            "invalid --size: must be greater than 0"
        );
        assert!(err(Workload::CachedReread {
            size: 4096,
            passes: 0,
            request: 4096
        })
        .starts_with("invalid --passes"));
        assert!(err(Workload::Opens { count: 0 }).starts_with("invalid --count"));
        assert!(err(Workload::BufferedWrite {
            size: 8192,
            request: 0,
            fsync: true,
            passes: 1,
        })
        .starts_with("invalid --request"));
    }

    #[test]
    fn inconsistent_sizes_are_refused() {
        let e = err(Workload::DirectRead {
            size: 1 << 20,
            request: 3 << 12,
        });
        assert!(
            e.starts_with("invalid --size") && e.contains("multiple of --request"),
            "{e}"
        );
        let e = err(Workload::DirectWrite {
            size: 1 << 20,
            request: 1000,
        });
        assert!(
            e.starts_with("invalid --request") && e.contains("O_DIRECT"),
            "{e}"
        );
        let e = err(Workload::BufferedWrite {
            size: 1 << 20,
            request: 512,
            fsync: false,
            passes: 1,
        });
        assert!(e.contains("partial-page"), "{e}");
        assert!(err(Workload::MmapRead { size: 5000 }).contains("page boundary"));
        // Buffered reads may use any request that divides the size.
        assert!(Workload::CachedReread {
            size: 1 << 20,
            passes: 3,
            request: 1024
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn comm_rules() {
        assert!(validate_comm("tcw-abc123").is_ok());
        assert!(validate_comm("").is_err());
        assert!(validate_comm("sixteen-bytes-xx").is_err());
        assert!(validate_comm("a/b").is_err());
        assert!(validate_comm("a b").is_err());
        assert!(validate_comm("..").is_err());
        let c = default_comm();
        assert!(
            c.len() == 10 && c.starts_with("tcw-") && validate_comm(&c).is_ok(),
            "{c}"
        );
    }

    #[test]
    fn args_name_the_kind_and_params() {
        let w = Workload::BufferedWrite {
            size: 16 << 20,
            request: 1 << 20,
            fsync: true,
            passes: 1,
        };
        assert_eq!(
            w.to_args(),
            [
                "buffered-write",
                "--size",
                "16M",
                "--request",
                "1M",
                "--fsync"
            ]
        );
        assert_eq!(
            Workload::Execs { count: 5 }.to_args(),
            ["execs", "--count", "5"]
        );
        for k in KINDS {
            assert!(KINDS.contains(k));
        }
    }
}
