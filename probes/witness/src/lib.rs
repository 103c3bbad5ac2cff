//! tracecheck's reference witness: BPF programs on BTF tracepoints that
//! count, for one block device, the bytes and I/Os at bio submission,
//! request issue and request completion (the last exactly as
//! /proc/diskstats counts them), the bytes each task submitted, page-cache
//! insertions for that device's files, and read/write system-call bytes per
//! task. A [`Witness`] is started for a device, read with
//! [`Witness::snapshot`] or [`Witness::stop`], and its [`WitnessReport`]
//! turns into [`tracecheck_model::Truth`]s with [`WitnessReport::truths`].
//!
//! It loads with tracepoints only (no kprobes, no fentry, no tracefs), so
//! it runs on every kernel tracecheck targets that has BTF.

mod bpf;
mod config;
mod error;
mod layout;
pub mod programs;
mod report;
mod request_flags;
mod truth;
mod witness;

pub use config::{kernel_dev, WitnessConfig};
pub use error::WitnessError;
pub use report::{
    CpuSampleRow, CpuSamples, DeviceReport, Flow, FlushCounts, InFlight, IoGroup, MergeCounts,
    PagecacheAdds, Stage, Submitter, SyscallCounts, WitnessReport,
};
pub use request_flags::{FlagSource, RequestFlags};
pub use truth::Attribution;
pub use witness::Witness;
