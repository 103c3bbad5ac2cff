#!/bin/sh
# Host packages that tracecheck-vm needs to build images and boot guests.
# Idempotent: apt-get skips packages that are already installed.
set -eu
# bpftrace, bcc (bpfcc-tools, python3-bpfcc), perf-tools (perf-tools-unstable, and linux-perf for the ones that run perf), e2fsprogs and util-linux (fsfreeze) are
# used in the guests through the shared host root; bcc compiles against the guest
# kernel's headers, which the image build fetches (see README.md).
# SystemTap itself is never installed: tracecheck unpacks Debian's packages
# into the VM cache (src/stap.rs). stap needs these shared libraries, and
# gcc-12 and make build modules for bookworm's kernel on the host.
# mmdebstrap builds debian-13's own root file system (src/rootfs.rs).
PKGS="mmdebstrap linux-perf qemu-system-x86 busybox-static kmod xz-utils zstd dpkg apt debian-archive-keyring bpftrace bpfcc-tools python3-bpfcc perf-tools-unstable e2fsprogs util-linux libdw1 libelf1 libnss3 libnspr4 libavahi-client3 libavahi-common3 libsqlite3-0 gcc-12 make"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi
