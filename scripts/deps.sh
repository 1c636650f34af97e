#!/bin/bash
# deps.sh - install what ig's tests (and, with --bpf, `make bpf`) need on Debian 12,
# and mount what the kernel did not mount at boot. Idempotent and quick when all is there.
set -euo pipefail
pkgs=(bpftool jq file strace binutils xz-utils lz4 zstd tmux chromium bpftrace zsh fish) # tmux: top redraw test; chromium: profile cpu renders its SVG flame graph; bpftrace: ig script; zsh, fish: ig completion
if [ "${1:-}" = "--bpf" ]; then pkgs+=(clang-19 llvm-19 libbpf-dev); fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi
# ig mounts tracefs itself when it needs it; the tests read it directly too.
if [ ! -d /sys/kernel/tracing/events ]; then mount -t tracefs tracefs /sys/kernel/tracing; fi
