#!/usr/bin/env bash
# Installs what tracecheck needs on a fresh Debian 12 machine, as root.
# Idempotent: packages already present are left alone.
#   bpftrace           the tool under test in the examples and tests
#   fio                the benchmark's reference for O_DIRECT throughput
#   clang libelf-dev zlib1g-dev pkg-config bpftool
#                      build the reference probes (libbpf-rs, CO-RE)
#   e2fsprogs util-linux   mkfs.ext4 and losetup for the scratch disk
#   chromium           opens the --html report headless in its test
#                      (harness/tests/html_report.rs)
set -euo pipefail
pkgs=(bpftrace fio clang libelf-dev zlib1g-dev pkg-config bpftool e2fsprogs util-linux chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Guest images (kernels, initramfs) for the VM tests, if that crate ships
# its own installer.
if [ -x "$(dirname "$0")/../vm-images/install-deps.sh" ]; then
  "$(dirname "$0")/../vm-images/install-deps.sh"
fi
echo "install-deps: ok" >&2
