#!/bin/bash
# bpf-inputs.sh: what `make bpf` builds the eBPF objects from, one line each, so that a
# change made without `make bpf` can be told from one that comes from the build machine.
#
# usage: scripts/bpf-inputs.sh VMLINUX_H    (make bpf writes its output to tracers/bpf/objects.sum)
#        scripts/bpf-inputs.sh --sources    (only the lines of the repository's own inputs)
#
# Lines: "vmlinux.h SHA256" (the build machine's kernel types), "clang VERSION", then
# "SHA256  NAME" for the flags (Makefile's BPF_CFLAGS line), the bpf2go version (go.mod's
# cilium/ebpf line), and every C source, header and go:generate file under tracers/.
# scripts/check-bpf.sh (run by .ci/run) compares them.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
CLANG=${CLANG:-clang-19}

sources() {
	sha() { sha256sum | cut -d' ' -f1; }
	echo "$(grep '^BPF_CFLAGS' Makefile | sha)  Makefile:BPF_CFLAGS"
	echo "$(grep -E '^[[:space:]]*github.com/cilium/ebpf ' go.mod | sha)  go.mod:github.com/cilium/ebpf"
	find tracers \( -name '*.c' -o -name '*.h' -o -name gen.go \) -type f | sort | while read -r f; do
		echo "$(sha <"$f")  $f"
	done
}

case ${1:-} in
--sources) sources ;;
'' | -*) echo "usage: $0 VMLINUX_H | --sources" >&2; exit 2 ;;
*)
	echo "# Written by make bpf (scripts/bpf-inputs.sh): what the committed eBPF objects were built"
	echo "# from. scripts/check-bpf.sh (.ci/run) rebuilds them and compares."
	echo "vmlinux.h $(sha256sum <"$1" | cut -d' ' -f1)"
	echo "clang $("$CLANG" --version | head -1)"
	sources
	;;
esac
