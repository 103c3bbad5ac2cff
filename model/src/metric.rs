//! The metric vocabulary: one name per quantity per layer of the I/O stack.
//!
//! Users write these names in claim specs (`metric = "disk.read_bytes"`), the
//! workloads state their truth in them, and the comparison looks for the
//! layer whose truth a reported number matches. A name is `LAYER.QUANTITY`;
//! names without a direction (`disk.bytes`) take it from a `direction` key,
//! and `rw_` names (`disk.rw_ios`) add reads and writes up.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where in the stack a quantity is observed, from the application down.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// System calls made by the process (read(), write(), openat(), execve()).
    Syscall,
    /// The VFS: bytes passed through vfs_read/vfs_write, whether or not the
    /// page cache served them.
    Vfs,
    /// The page cache: pages inserted because a read missed.
    Pagecache,
    /// Block I/O as submitted (bio), charged to the submitting task.
    Block,
    /// The block device: what completed at the disk (what iostat reads from
    /// /proc/diskstats).
    Disk,
    /// Process lifecycle events (exec).
    Process,
    /// The CPU: time a process's threads spent running, as the scheduler
    /// accounts it (what profilers sample).
    Cpu,
    /// TCP connections: opened actively (a SYN sent by connect()) and
    /// accepted, as the kernel's ActiveOpens counts the first.
    Net,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Syscall => "syscall",
            Layer::Vfs => "vfs",
            Layer::Pagecache => "pagecache",
            Layer::Block => "block",
            Layer::Disk => "disk",
            Layer::Process => "process",
            Layer::Cpu => "cpu",
            Layer::Net => "net",
        }
    }

    /// Plain-words description used in diagnoses.
    pub fn describe(self) -> &'static str {
        match self {
            Layer::Syscall => "system calls",
            Layer::Vfs => "the VFS (page cache hits included)",
            Layer::Pagecache => "page-cache misses",
            Layer::Block => "block I/O submission",
            Layer::Disk => "the disk",
            Layer::Process => "process events",
            Layer::Cpu => "CPU time",
            Layer::Net => "TCP connections",
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Read,
    Write,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Read => "read",
            Direction::Write => "write",
        }
    }

    pub fn opposite(self) -> Direction {
        match self {
            Direction::Read => Direction::Write,
            Direction::Write => Direction::Read,
        }
    }

    /// Interpret a key printed by a tool as a direction: `R`, `W`, `read`,
    /// `write`, or a block-layer `rwbs` string such as `RA`, `WS`, `FWFS`
    /// (the first `R` or `W` after any leading flush flag `F` decides).
    pub fn from_key(key: &str) -> Option<Direction> {
        let k = key.trim().trim_matches('"');
        match k.to_ascii_lowercase().as_str() {
            "read" | "reads" | "r" | "rd" => return Some(Direction::Read),
            "write" | "writes" | "w" | "wr" => return Some(Direction::Write),
            _ => {}
        }
        // rwbs: optional leading 'F' (preflush), then R/W/D/N, then flags.
        let rest = k.strip_prefix('F').unwrap_or(k);
        match rest.chars().next() {
            Some('R') => Some(Direction::Read),
            Some('W') => Some(Direction::Write),
            _ => None,
        }
    }
}

/// What is counted.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Bytes moved.
    Bytes,
    /// Operations: system calls, block requests (I/Os), page insertions,
    /// exec events. The unit depends on the layer, see [`Metric::unit`].
    Ops,
    /// Calls of the stat family (stat, lstat, fstat, newfstatat, statx): a
    /// quantity of its own, because a metric is one per layer, direction
    /// and quantity, and the system-call layer's undirected `Ops` is its
    /// opens.
    StatCalls,
    /// Sleep calls: nanosleep() and clock_nanosleep() (what glibc's
    /// sleep(), usleep() and nanosleep() call since 2.31).
    SleepCalls,
    /// Calls of the sync family: sync(), syncfs(), fsync(), fdatasync(),
    /// sync_file_range() and msync(), each asking the kernel to write
    /// dirty data back.
    SyncCalls,
    /// Calls of the setuid family: setuid(), setreuid(), setresuid() and
    /// setfsuid(), each a way to change a process's user ids.
    SetuidCalls,
    /// kill() calls: signals sent by process id (or to a process group),
    /// not by thread id (tkill(), tgkill()), which are calls of their own.
    KillCalls,
    /// TCP connections a process opened actively: connect() calls that
    /// sent a SYN, refused ones included (the kernel's ActiveOpens).
    Connects,
    /// TCP connections a process accepted (accept(), accept4()).
    Accepts,
    /// listen() calls a process made on TCP sockets.
    Listens,
    /// Processes that ended (an exit or a fatal signal), not threads: the
    /// workload's children (it gives its own comm back before it ends).
    Exits,
    /// Threads a process created (pthread_create: a clone with
    /// CLONE_THREAD), at the process layer beside its execs.
    Threads,
    /// Time in nanoseconds (CPU time: the scheduler's `sum_exec_runtime`).
    /// A profiler counts it in samples, each worth 1/hz s (a claim's
    /// `sample_hz`).
    Time,
    /// Per-request (or, at the syscall layer, per-call) latency in
    /// nanoseconds: a distribution, printed as a histogram, held against
    /// the witness's timing of every request or call. Its sample count is
    /// the number of requests or calls.
    Latency,
    /// Per-request size in bytes: a distribution, printed as a histogram
    /// (bitesize), held against the witness's size of every request.
    Size,
}

impl Quantity {
    /// Is it a number of events (calls, requests, connections, tasks),
    /// one each, rather than bytes, time or a distribution? A tool's lost
    /// events account for a shortfall in such a count only.
    pub fn counts_events(self) -> bool {
        !matches!(
            self,
            Quantity::Bytes | Quantity::Time | Quantity::Latency | Quantity::Size
        )
    }
}

/// Whether a metric has a direction, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Directed {
    /// Fixed by the name (`disk.read_bytes`).
    Fixed(Direction),
    /// Taken from each entry's `direction` key (`disk.bytes`).
    FromKey,
    /// The quantity has no direction (`syscall.open_calls`, `process.execs`).
    Undirected,
    /// Reads and writes added up (`disk.rw_ios`): what a tool prints that
    /// counts every I/O, whatever its direction (bitesize's histograms).
    Both,
}

/// One entry of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Metric {
    pub layer: Layer,
    pub direction: Directed,
    pub quantity: Quantity,
}

/// Every metric name tracecheck knows, with what it means. The README and
/// docs/metrics.md list the same table; a test keeps them in step.
pub const VOCABULARY: &[(&str, &str)] = &[
    (
        "syscall.read_bytes",
        "bytes returned by read(), pread64(), readv() to the process",
    ),
    (
        "syscall.write_bytes",
        "bytes accepted by write(), pwrite64(), writev() from the process",
    ),
    ("syscall.read_calls", "read-family system calls made"),
    ("syscall.write_calls", "write-family system calls made"),
    (
        "syscall.bytes",
        "syscall read or write bytes; direction from a `direction` key",
    ),
    ("syscall.open_calls", "open()/openat() calls made"),
    (
        "syscall.stat_calls",
        "stat-family calls made: stat(), lstat(), fstat(), newfstatat(), statx()",
    ),
    (
        "syscall.sleep_calls",
        "sleep calls made: nanosleep(), clock_nanosleep() (glibc's sleep(), usleep(), nanosleep())",
    ),
    (
        "syscall.sync_calls",
        "sync-family calls made: sync(), syncfs(), fsync(), fdatasync(), sync_file_range(), msync()",
    ),
    (
        "syscall.setuid_calls",
        "setuid-family calls made: setuid(), setreuid(), setresuid(), setfsuid()",
    ),
    (
        "syscall.kill_calls",
        "kill() calls made, failed ones and those to a process group included (not tkill(), tgkill())",
    ),
    (
        "net.tcp_connects",
        "TCP connections opened actively: connect() calls that sent a SYN, IPv4 and IPv6, refused ones included",
    ),
    (
        "net.tcp_accepts",
        "TCP connections accepted (accept(), accept4()), IPv4 and IPv6",
    ),
    ("net.tcp_listens", "listen() calls on TCP sockets, IPv4 and IPv6"),
    (
        "process.exits",
        "processes that ended (an exit or a fatal signal), not threads",
    ),
    (
        "vfs.read_bytes",
        "bytes through vfs_read (page-cache hits included; mmap faults excluded)",
    ),
    (
        "vfs.write_bytes",
        "bytes through vfs_write (into the page cache unless O_DIRECT)",
    ),
    (
        "vfs.bytes",
        "VFS read or write bytes; direction from a `direction` key",
    ),
    (
        "pagecache.read_misses",
        "pages added to the page cache because a read missed",
    ),
    (
        "block.read_bytes",
        "read bytes submitted to the block layer (bio), charged to the submitting task",
    ),
    (
        "block.write_bytes",
        "write bytes submitted to the block layer (bio), charged to the submitting task",
    ),
    (
        "block.read_ios",
        "read bios submitted, charged to the submitting task",
    ),
    (
        "block.write_ios",
        "write bios submitted, charged to the submitting task",
    ),
    (
        "block.bytes",
        "block-submission bytes; direction from a `direction` key",
    ),
    (
        "disk.read_bytes",
        "bytes read by the device (/proc/diskstats sectors read x 512)",
    ),
    (
        "disk.write_bytes",
        "bytes written by the device (/proc/diskstats sectors written x 512)",
    ),
    (
        "disk.read_ios",
        "read requests completed by the device (/proc/diskstats reads completed)",
    ),
    (
        "disk.write_ios",
        "write requests completed by the device (/proc/diskstats writes completed)",
    ),
    (
        "disk.bytes",
        "device bytes; direction from a `direction` key",
    ),
    (
        "disk.ios",
        "device requests; direction from a `direction` key",
    ),
    (
        "block.rw_bytes",
        "block-submission bytes, reads and writes added up",
    ),
    ("block.rw_ios", "bios submitted, reads and writes added up"),
    ("disk.rw_bytes", "device bytes, reads and writes added up"),
    (
        "disk.rw_ios",
        "device requests, reads and writes added up (I/Os of either direction)",
    ),
    (
        "process.execs",
        "successful execve() calls (sched_process_exec events)",
    ),
    (
        "process.threads",
        "threads created (pthread_create(): a clone with CLONE_THREAD)",
    ),
    (
        "disk.latency",
        "per-request device time, issue to completion (ns; a histogram with the claim's `unit`)",
    ),
    (
        "disk.request_size",
        "per-request size at issue (bytes; a histogram with the claim's `unit`)",
    ),
    (
        "syscall.read_latency",
        "per-call time of the read family (read, pread64, readv, preadv, preadv2), entry to exit (ns; a \
         histogram with the claim's `unit`)",
    ),
    (
        "block.latency",
        "per-request time from the request's creation (queueing included) to completion (ns; a histogram)",
    ),
    (
        "cpu.time",
        "time the process's threads ran on a CPU (schedstat); profilers count it in samples at `sample_hz`",
    ),
];

impl Metric {
    pub const fn new(layer: Layer, direction: Directed, quantity: Quantity) -> Metric {
        Metric {
            layer,
            direction,
            quantity,
        }
    }

    /// A metric whose name fixes direction `d`.
    pub const fn fixed(layer: Layer, d: Direction, quantity: Quantity) -> Metric {
        Metric::new(layer, Directed::Fixed(d), quantity)
    }

    /// Parse a vocabulary name. Unknown names return `None`; callers report
    /// them with [`Metric::closest`] as a hint.
    pub fn parse(name: &str) -> Option<Metric> {
        use Layer::*;
        use Quantity::*;
        const R: Directed = Directed::Fixed(Direction::Read);
        const W: Directed = Directed::Fixed(Direction::Write);
        const K: Directed = Directed::FromKey;
        const U: Directed = Directed::Undirected;
        const B: Directed = Directed::Both;
        let m = match name {
            "syscall.read_bytes" => Metric::new(Syscall, R, Bytes),
            "syscall.write_bytes" => Metric::new(Syscall, W, Bytes),
            "syscall.read_calls" => Metric::new(Syscall, R, Ops),
            "syscall.write_calls" => Metric::new(Syscall, W, Ops),
            "syscall.bytes" => Metric::new(Syscall, K, Bytes),
            "syscall.open_calls" => Metric::new(Syscall, U, Ops),
            "syscall.stat_calls" => Metric::new(Syscall, U, StatCalls),
            "syscall.kill_calls" => Metric::new(Syscall, U, KillCalls),
            "syscall.sleep_calls" => Metric::new(Syscall, U, SleepCalls),
            "syscall.sync_calls" => Metric::new(Syscall, U, SyncCalls),
            "syscall.setuid_calls" => Metric::new(Syscall, U, SetuidCalls),
            "vfs.read_bytes" => Metric::new(Vfs, R, Bytes),
            "vfs.write_bytes" => Metric::new(Vfs, W, Bytes),
            "vfs.bytes" => Metric::new(Vfs, K, Bytes),
            "pagecache.read_misses" => Metric::new(Pagecache, R, Ops),
            "block.read_bytes" => Metric::new(Block, R, Bytes),
            "block.write_bytes" => Metric::new(Block, W, Bytes),
            "block.read_ios" => Metric::new(Block, R, Ops),
            "block.write_ios" => Metric::new(Block, W, Ops),
            "block.bytes" => Metric::new(Block, K, Bytes),
            "disk.read_bytes" => Metric::new(Disk, R, Bytes),
            "disk.write_bytes" => Metric::new(Disk, W, Bytes),
            "disk.read_ios" => Metric::new(Disk, R, Ops),
            "disk.write_ios" => Metric::new(Disk, W, Ops),
            "disk.bytes" => Metric::new(Disk, K, Bytes),
            "disk.ios" => Metric::new(Disk, K, Ops),
            "block.rw_bytes" => Metric::new(Block, B, Bytes),
            "block.rw_ios" => Metric::new(Block, B, Ops),
            "disk.rw_bytes" => Metric::new(Disk, B, Bytes),
            "disk.rw_ios" => Metric::new(Disk, B, Ops),
            "process.execs" => Metric::new(Process, U, Ops),
            "process.threads" => Metric::new(Process, U, Threads),
            "process.exits" => Metric::new(Process, U, Exits),
            "disk.latency" => Metric::new(Disk, U, Latency),
            "block.latency" => Metric::new(Block, U, Latency),
            "syscall.read_latency" => Metric::new(Syscall, R, Latency),
            "disk.request_size" => Metric::new(Disk, U, Size),
            "cpu.time" => Metric::new(Cpu, U, Time),
            "net.tcp_connects" => Metric::new(Net, U, Connects),
            "net.tcp_accepts" => Metric::new(Net, U, Accepts),
            "net.tcp_listens" => Metric::new(Net, U, Listens),
            _ => return None,
        };
        Some(m)
    }

    /// The canonical name (inverse of [`Metric::parse`]).
    pub fn name(&self) -> &'static str {
        VOCABULARY
            .iter()
            .map(|(n, _)| *n)
            .find(|n| Metric::parse(n).as_ref() == Some(self))
            .unwrap_or("unnamed")
    }

    /// The metric's direction when its name fixes one.
    pub fn fixed_direction(&self) -> Option<Direction> {
        match self.direction {
            Directed::Fixed(d) => Some(d),
            Directed::FromKey | Directed::Undirected | Directed::Both => None,
        }
    }

    /// Does this metric add reads and writes up?
    pub fn is_both(&self) -> bool {
        self.direction == Directed::Both
    }

    /// The same quantity with reads and writes added up, if the vocabulary
    /// has it (`disk.ios` becomes `disk.rw_ios`).
    pub fn both(self) -> Option<Metric> {
        Metric {
            direction: Directed::Both,
            ..self
        }
        .in_vocabulary()
    }

    /// The same metric in direction `d` (a direction-keyed name resolved,
    /// or a fixed one turned around); undirected metrics stay as they are.
    pub fn with_direction(self, d: Direction) -> Metric {
        match self.direction {
            Directed::Undirected => self,
            Directed::Fixed(_) | Directed::FromKey | Directed::Both => Metric {
                direction: Directed::Fixed(d),
                ..self
            },
        }
    }

    /// The same quantity at another layer, if the vocabulary has it.
    pub fn at_layer(self, layer: Layer) -> Option<Metric> {
        Metric { layer, ..self }.in_vocabulary()
    }

    /// Another quantity at the same layer, if the vocabulary has it.
    pub fn with_quantity(self, quantity: Quantity) -> Option<Metric> {
        Metric { quantity, ..self }.in_vocabulary()
    }

    /// This metric if the vocabulary names it.
    fn in_vocabulary(self) -> Option<Metric> {
        VOCABULARY
            .iter()
            .any(|(n, _)| Metric::parse(n) == Some(self))
            .then_some(self)
    }

    /// Unit word for reports.
    pub fn unit(&self) -> &'static str {
        match (self.quantity, self.layer) {
            (Quantity::Bytes | Quantity::Size, _) => "B",
            (
                Quantity::StatCalls
                | Quantity::KillCalls
                | Quantity::SleepCalls
                | Quantity::SyncCalls
                | Quantity::SetuidCalls,
                _,
            ) => "calls",
            (Quantity::Threads, _) => "threads",
            (Quantity::Connects | Quantity::Accepts, _) => "connections",
            (Quantity::Listens, _) => "listens",
            (Quantity::Exits, _) => "exits",
            (Quantity::Time | Quantity::Latency, _) => "ns",
            (Quantity::Ops, Layer::Syscall) => "calls",
            (Quantity::Ops, Layer::Pagecache) => "pages",
            (Quantity::Ops, Layer::Process) => "execs",
            (Quantity::Ops, _) => "I/Os",
        }
    }

    /// Is this a distribution over the device's requests or the
    /// workload's calls (a latency or a size), claimed on a histogram?
    pub fn is_distribution(&self) -> bool {
        matches!(self.quantity, Quantity::Latency | Quantity::Size)
    }

    /// The vocabulary name closest to `name` (edit distance), for hints.
    pub fn closest(name: &str) -> &'static str {
        VOCABULARY
            .iter()
            .map(|(n, _)| (*n, edit_distance(name, n)))
            .min_by_key(|(_, d)| *d)
            .map(|(n, _)| n)
            .unwrap_or("disk.read_bytes")
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Every metric the vocabulary names with its direction resolved: the
/// rows of the separation table (`disk.bytes` becomes its read and write).
pub fn resolved_metrics() -> Vec<Metric> {
    let mut out: Vec<Metric> = Vec::new();
    for (name, _) in VOCABULARY {
        let m = Metric::parse(name).expect("vocabulary name parses");
        let ms = match m.direction {
            Directed::FromKey => vec![
                m.with_direction(Direction::Read),
                m.with_direction(Direction::Write),
            ],
            _ => vec![m],
        };
        for m in ms {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// In a report a metric is its name: one of the vocabulary's, or a
/// direction-keyed one resolved to its direction (`disk.bytes` read as
/// `disk.read_bytes`).
impl schemars::JsonSchema for Metric {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Metric".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut names: Vec<&str> = VOCABULARY.iter().map(|(n, _)| *n).collect();
        names.extend(resolved_metrics().iter().map(|m| m.name()));
        names.sort();
        names.dedup();
        schemars::json_schema!({
            "type": "string",
            "description": "A metric of the vocabulary (docs/metrics.md).",
            "enum": names,
        })
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Metric::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown metric `{s}`; did you mean `{}`?",
                Metric::closest(&s)
            ))
        })
    }
}

/// Levenshtein distance; the vocabulary is tiny so the quadratic version is
/// fine and avoids a dependency for one hint.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vocabulary_name_parses_and_round_trips() {
        for (name, _) in VOCABULARY {
            let m = Metric::parse(name).unwrap_or_else(|| panic!("{name} does not parse"));
            assert_eq!(m.name(), *name);
        }
    }

    #[test]
    fn unknown_names_get_a_close_hint() {
        assert!(Metric::parse("disk.read_byte").is_none());
        assert_eq!(Metric::closest("disk.read_byte"), "disk.read_bytes");
        assert_eq!(Metric::closest("syscal.write_bytes"), "syscall.write_bytes");
    }

    #[test]
    fn directions_from_tool_keys() {
        assert_eq!(Direction::from_key("R"), Some(Direction::Read));
        assert_eq!(Direction::from_key("WS"), Some(Direction::Write));
        assert_eq!(Direction::from_key("FWFS"), Some(Direction::Write));
        assert_eq!(Direction::from_key("RA"), Some(Direction::Read));
        assert_eq!(Direction::from_key("write"), Some(Direction::Write));
        assert_eq!(Direction::from_key("N"), None);
        assert_eq!(Direction::from_key("FF"), None);
    }

    #[test]
    fn layers_and_directions_move() {
        let m = Metric::parse("disk.bytes").unwrap();
        assert_eq!(
            m.with_direction(Direction::Write).name(),
            "disk.write_bytes"
        );
        let opens = Metric::parse("syscall.open_calls").unwrap();
        assert_eq!(opens.direction, Directed::Undirected);
        assert_eq!(opens.with_direction(Direction::Read), opens);
        assert_eq!(m.direction, Directed::FromKey);
        let s = Metric::parse("syscall.read_bytes").unwrap();
        assert_eq!(s.at_layer(Layer::Disk).unwrap().name(), "disk.read_bytes");
        assert_eq!(s.at_layer(Layer::Process), None);
        let both = m.with_quantity(Quantity::Ops).unwrap().both().unwrap();
        assert_eq!(both.name(), "disk.rw_ios");
        assert!(both.is_both() && both.fixed_direction().is_none());
        assert_eq!(both.with_direction(Direction::Read).name(), "disk.read_ios");
        assert_eq!(both.at_layer(Layer::Block).unwrap().name(), "block.rw_ios");
        assert_eq!(opens.both(), None);
    }
}

#[cfg(test)]
mod docs_in_step {
    use super::VOCABULARY;

    /// The docs list every metric users may write; a renamed or added
    /// metric must show up there too.
    #[test]
    fn docs_metrics_md_lists_every_metric() {
        let doc = include_str!("../../docs/metrics.md");
        for (name, _) in VOCABULARY {
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/metrics.md does not list {name}"
            );
        }
    }
}
