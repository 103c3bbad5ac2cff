//! Why a witness could not do its job. Mismatches with other truths are
//! not errors; these are "could not load, attach or read".

/// Errors name the device or the BPF program/map involved.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error(
        "device {major}:{minor} does not fit the kernel's dev_t (major < 4096, minor < 1048576)"
    )]
    Device { major: u32, minor: u32 },
    #[error("comm prefix `{0}` is longer than the kernel's 15-byte comm or holds a NUL")]
    CommPrefix(String),
    #[error("cannot open the witness BPF object for device {dev}: {source}")]
    Open {
        dev: String,
        source: libbpf_rs::Error,
    },
    #[error("cannot load the witness BPF programs for device {dev} (needs root and BTF at /sys/kernel/btf/vmlinux): {source}{log}")]
    Load {
        dev: String,
        source: libbpf_rs::Error,
        /// libbpf's own last warnings (which program, which relocation).
        log: String,
    },
    #[error("cannot attach witness program `{program}` for device {dev}: {source}")]
    Attach {
        dev: String,
        program: String,
        source: libbpf_rs::Error,
    },
    #[error("cannot open the witness's {hz} Hz cpu-clock sampler on CPU {cpu} for device {dev} (perf_event_open: {source}; kernel.perf_event_paranoid and the perf_event_max_sample_rate limit can refuse it)")]
    Sampler {
        dev: String,
        cpu: u32,
        hz: u32,
        source: std::io::Error,
    },
    #[error("cannot use witness map `{map}` for device {dev}: {source}")]
    Map {
        dev: String,
        map: &'static str,
        source: libbpf_rs::Error,
    },
    #[error("witness map `{map}` for device {dev} returned {got} bytes per entry, expected {want} (witness.h and layout.rs disagree)")]
    Layout {
        dev: String,
        map: &'static str,
        got: usize,
        want: usize,
    },
}
