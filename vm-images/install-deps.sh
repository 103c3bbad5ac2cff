#!/bin/sh
# Host packages that tracecheck-vm needs to build images and boot guests.
# Idempotent: apt-get skips packages that are already installed.
set -eu
# bpftrace, e2fsprogs and util-linux (fsfreeze) are used by the guest tests via the shared host root.
PKGS="qemu-system-x86 busybox-static kmod xz-utils zstd dpkg apt debian-archive-keyring bpftrace e2fsprogs util-linux"
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
