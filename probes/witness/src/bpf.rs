//! The skeleton libbpf-cargo generated from `src/bpf/witness.bpf.c`
//! (see build.rs). Generated code: lints are relaxed here only.

#[allow(
    clippy::all,
    clippy::pedantic,
    dead_code,
    unused_imports,
    unsafe_op_in_unsafe_fn,
    non_camel_case_types,
    non_upper_case_globals
)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/witness.skel.rs"));
}

pub use skel::*;
