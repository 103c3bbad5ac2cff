//! Disposable QEMU guests on real Debian distribution kernels. [`build_image`]
//! fetches a target's current kernel and builds a small busybox initramfs
//! (cached by content); [`run_guest`] boots it with the host root shared
//! read-only under a tmpfs overlay, runs one command passed over fw_cfg, and
//! reports its exit code and output, or a kernel panic, a hang or a failed
//! boot, within bounded time. [`choose_accel`] picks KVM only where it boots.

pub mod accel;
pub mod apt;
mod cmd;
pub mod error;
pub mod guest;
pub mod image;
pub mod initramfs;
pub mod kernel;
pub mod qemu;
pub mod rootfs;
pub mod runner;
pub mod stap;
pub mod target;

pub use accel::choose_accel;
pub use error::VmError;
pub use guest::{run_guest, GuestOutcome, GuestSpec, HangReason, Outcome, Share, BOOT_ATTEMPTS};
pub use image::{build_image, default_cache_dir, BuildOptions, Image};
pub use qemu::{Accel, HUNG_TASK_TIMEOUT_SECS};
pub use stap::{BuildFailure, Module, StapError, StapKit};
pub use target::KernelTarget;
