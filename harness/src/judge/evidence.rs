//! What a judgement is made from: who the check was about ([`Subject`]),
//! the established truths and the ones tracecheck could not establish
//! ([`Evidence`]), and how the best truth for a metric is picked.

use crate::establish::Unestablished;
use tracecheck_model::{GroundTruth, Layer, Who};

/// Who and what the check is about: the workload's processes and the
/// scratch device.
#[derive(Debug, Clone)]
pub struct Subject {
    pub comm: String,
    pub pids: Vec<u32>,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub dev_name: String,
    /// The other workloads that ran beside the same run of the tool (one
    /// tool start for a spec's checks): their entries in the tool's output
    /// are theirs, so this check's reading passes over them instead of
    /// counting them as "other tasks".
    pub siblings: Siblings,
}

/// Processes of the other workloads of a shared tool run.
#[derive(Debug, Clone, Default)]
pub struct Siblings {
    pub comms: Vec<String>,
    /// Their process and thread ids.
    pub ids: Vec<u32>,
}

impl Siblings {
    /// Is this printed comm or pid key one of theirs?
    pub fn own(&self, comm: Option<&str>, pid: Option<&str>) -> bool {
        comm.is_some_and(|c| self.comms.iter().any(|s| s == c))
            || pid
                .and_then(|p| p.trim().parse::<u32>().ok())
                .is_some_and(|p| self.ids.contains(&p))
    }
}

impl Subject {
    /// Does a printed device key name the scratch device? Tools print it as
    /// `7:3`, `loop3`, the kernel's dev_t (`major << 20 | minor`, what block
    /// tracepoints carry), or the userspace encoding (`major << 8 | minor`
    /// for small numbers).
    pub fn is_device(&self, key: &str) -> bool {
        let k = key.trim().trim_matches('"');
        if k == self.dev_name
            || k == format!("{}:{}", self.dev_major, self.dev_minor)
            || k == format!("{},{}", self.dev_major, self.dev_minor)
        {
            return true;
        }
        match k.parse::<u64>() {
            Ok(n) => {
                let (ma, mi) = (self.dev_major as u64, self.dev_minor as u64);
                n == (ma << 20 | mi) || n == ((mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12))
            }
            Err(_) => false,
        }
    }
}

/// Everything known about one workload run.
pub struct Evidence<'a> {
    /// The workload plan's name, as reports show it.
    pub workload: &'a str,
    pub truth: &'a GroundTruth,
    pub unestablished: &'a [Unestablished],
    pub subject: &'a Subject,
    /// What the environment the check ran in advises when the tool failed
    /// there (true in that environment only), e.g. where kprobes exist.
    pub advice: Option<&'a str>,
    /// The tool's stderr lines from its passing checks: not evidence.
    pub known_stderr: &'a [String],
}

/// Who a claim's number is charged to at `layer`: the workload's processes
/// when the claim is keyed per process, otherwise the whole device for the
/// disk and block layers.
pub fn who_for(layer: Layer, per_process: bool) -> Who {
    match layer {
        Layer::Disk | Layer::Block if !per_process => Who::Device,
        _ => Who::Workload,
    }
}
