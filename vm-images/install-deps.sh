#!/bin/sh
# Host packages that tracecheck-vm needs to build images and boot guests.
# Idempotent: apt-get skips packages that are already installed.
set -eu
PKGS="qemu-system-x86 busybox-static kmod xz-utils zstd cpio dpkg apt ca-certificates bpftrace"
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
