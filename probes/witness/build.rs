//! Compiles src/bpf/witness.bpf.c with clang and generates its libbpf-rs
//! skeleton into OUT_DIR.

use libbpf_cargo::SkeletonBuilder;
use std::env;
use std::path::PathBuf;

const SRC: &str = "src/bpf/witness.bpf.c";

fn main() {
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("witness.skel.rs");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    if arch != "x86_64" {
        // vmlinux.h and the syscall numbers in witness.bpf.c are x86_64's.
        panic!("tracecheck-witness builds for x86_64 only (target is {arch})");
    }
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args(["-Isrc/bpf", "-D__TARGET_ARCH_x86"])
        .build_and_generate(&out)
        .unwrap_or_else(|e| panic!("building {SRC}: {e:#}"));
    println!("cargo:rerun-if-changed=src/bpf");
}
