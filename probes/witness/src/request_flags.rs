//! Where the running kernel keeps the two request flags that decide what
//! /proc/diskstats counts at completion: `RQF_IO_STAT` (the request is
//! accounted at all) and `RQF_FLUSH_SEQ` (it is inside a flush sequence,
//! whose data step is not yet the end of the request).
//!
//! Their bit numbers are not stable across kernels, and BPF CO-RE cannot
//! always follow them (docs/kernel-facts.md, "Request flags"):
//! - 6.1 and earlier: `#define RQF_IO_STAT (1 << 13)`, `RQF_FLUSH_SEQ
//!   (1 << 4)`. Macros leave nothing in BTF.
//! - 6.12: bit positions in an *anonymous* enum (`__RQF_IO_STAT = 8`,
//!   `__RQF_FLUSH_SEQ = 1`). CO-RE enum relocations match enums by name, so
//!   `bpf_core_enum_value_exists(enum rqf_flags, ...)` is false there, and a
//!   fallback to 6.1's bits reads `RQF_ZONE_WRITE_PLUGGING` instead: the
//!   witness then saw 0 bytes completed on 6.12.
//! - 6.18: the same enum, named `enum rqf_flags`.
//!
//! So user space finds the enumerators by name in the running kernel's BTF,
//! in any enum, named or not, and hands the masks to the BPF programs as
//! read-only data. Without them (kernels whose flags are macros) the 6.1
//! bits are used, and the report says so: a wrong guess there shows up as
//! a witness that disagrees with diskstats, which tracecheck reports as
//! "cannot establish the truth", never as a verdict on a tool.

use libbpf_rs::btf::types::Enum;
use libbpf_rs::btf::Btf;
use serde::{Deserialize, Serialize};

/// Bit numbers used when the kernel's BTF has no `__RQF_*` enumerators:
/// include/linux/blk-mq.h of 6.1 (`#define RQF_FLUSH_SEQ ((__force
/// req_flags_t)(1 << 4))`, `#define RQF_IO_STAT ((__force req_flags_t)(1 <<
/// 13))`), the same since 4.x.
const MACRO_ERA_IO_STAT_BIT: u32 = 13;
const MACRO_ERA_FLUSH_SEQ_BIT: u32 = 4;

/// The two flag bits and where they were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestFlags {
    /// Bit number of `RQF_IO_STAT` in `struct request.rq_flags`.
    pub io_stat_bit: u32,
    /// Bit number of `RQF_FLUSH_SEQ`.
    pub flush_seq_bit: u32,
    /// Where the bit numbers came from.
    pub source: FlagSource,
}

/// Where [`RequestFlags`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagSource {
    /// The running kernel's BTF (`__RQF_IO_STAT`, `__RQF_FLUSH_SEQ`).
    KernelBtf,
    /// Not in BTF: the bit numbers of the kernels that define the flags as
    /// macros (6.1 and earlier).
    MacroEraDefault,
}

impl RequestFlags {
    /// The flags of the running kernel (`/sys/kernel/btf/vmlinux`), or the
    /// macro-era bits when its BTF cannot be read or has no enumerators.
    /// Read once per process: the kernel does not change under it, and
    /// every witness start (one per check) would otherwise parse all of
    /// the kernel's BTF again.
    pub fn of_running_kernel() -> RequestFlags {
        static FLAGS: std::sync::OnceLock<RequestFlags> = std::sync::OnceLock::new();
        *FLAGS.get_or_init(|| {
            Btf::from_vmlinux()
                .ok()
                .and_then(|btf| RequestFlags::from_btf(&btf))
                .unwrap_or_else(RequestFlags::macro_era)
        })
    }

    /// The bit numbers named in `btf`, if both enumerators are there.
    pub fn from_btf(btf: &Btf<'_>) -> Option<RequestFlags> {
        let mut io_stat = None;
        let mut flush_seq = None;
        for e in btf.type_by_kind::<Enum<'_>>() {
            for m in e.iter() {
                match m.name.and_then(|n| n.to_str()) {
                    Some("__RQF_IO_STAT") => io_stat = bit(m.value),
                    Some("__RQF_FLUSH_SEQ") => flush_seq = bit(m.value),
                    _ => {}
                }
            }
            if io_stat.is_some() && flush_seq.is_some() {
                break;
            }
        }
        Some(RequestFlags {
            io_stat_bit: io_stat?,
            flush_seq_bit: flush_seq?,
            source: FlagSource::KernelBtf,
        })
    }

    /// The bits of kernels that define the flags as macros.
    pub fn macro_era() -> RequestFlags {
        RequestFlags {
            io_stat_bit: MACRO_ERA_IO_STAT_BIT,
            flush_seq_bit: MACRO_ERA_FLUSH_SEQ_BIT,
            source: FlagSource::MacroEraDefault,
        }
    }

    /// `rq_flags` mask of `RQF_IO_STAT`.
    pub fn io_stat_mask(&self) -> u32 {
        1 << self.io_stat_bit
    }

    /// `rq_flags` mask of `RQF_FLUSH_SEQ`.
    pub fn flush_seq_mask(&self) -> u32 {
        1 << self.flush_seq_bit
    }
}

/// An enumerator's value as a bit number of the 32-bit `req_flags_t`.
fn bit(v: i64) -> Option<u32> {
    u32::try_from(v).ok().filter(|b| *b < 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running kernel's flags agree with its BTF, whatever its version:
    /// 6.5+ kernels name the enumerators (named or anonymous enum), so the
    /// source is the BTF; the bits are distinct and inside req_flags_t.
    #[test]
    fn running_kernel_flags_come_from_its_btf() {
        let btf = Btf::from_vmlinux().expect("this machine has /sys/kernel/btf/vmlinux");
        let f = RequestFlags::from_btf(&btf).expect("a 6.5+ kernel names __RQF_IO_STAT");
        assert_eq!(f.source, FlagSource::KernelBtf);
        assert_ne!(f.io_stat_bit, f.flush_seq_bit);
        assert_eq!(RequestFlags::of_running_kernel(), f);
        assert_eq!(f.io_stat_mask().count_ones(), 1);
    }

    #[test]
    fn macro_era_bits_are_6_1s() {
        let f = RequestFlags::macro_era();
        assert_eq!((f.io_stat_mask(), f.flush_seq_mask()), (1 << 13, 1 << 4));
    }

    #[test]
    fn only_bit_numbers_of_a_u32_are_taken() {
        assert_eq!(bit(8), Some(8));
        assert_eq!(bit(32), None);
        assert_eq!(bit(-1), None);
    }
}
