#!/bin/bash
# check-bpf.sh: fail when the committed eBPF objects are not what `make bpf` makes from the
# committed C. Run by .ci/run (needs clang-19, llvm-19, libbpf-dev, bpftool: deps.sh --bpf).
#
# 1. The inputs (C, headers, go:generate lines, BPF_CFLAGS, bpf2go's version) must be those
#    recorded in tracers/bpf/objects.sum by the last `make bpf`: a C change committed
#    without `make bpf` fails here, whatever machine this is.
# 2. `make bpf` in a scratch copy must give the committed objects (.o and bpf2go's .go) byte
#    for byte (the build is reproducible: -fdebug-prefix-map, no timestamps).
#    The one exception: when this machine's kernel types (build/vmlinux.h, from
#    /sys/kernel/btf/vmlinux) differ from those recorded, the objects may differ too
#    (struct layouts are compiled in before CO-RE relocates them), and that is reported,
#    not failed: step 1 still holds the C to account. A different clang fails: run make bpf.
set -euo pipefail
cd "$(dirname "$0")/.."
sum=tracers/bpf/objects.sum
say() { echo "check-bpf: $*"; }
fail() { echo "check-bpf: FAIL: $*" >&2; exit 1; }

[ -f "$sum" ] || fail "$sum is missing: run make bpf and commit it"
if ! d=$(diff <(grep -E '^[0-9a-f]{64}  ' "$sum") <(bash scripts/bpf-inputs.sh --sources)); then
	echo "$d" | sed -n 's/^[<>] [0-9a-f]*  /  /p' | sort -u >&2
	fail "these inputs of the eBPF objects changed since the last make bpf (above): run make bpf and commit its output"
fi
say "inputs are those of the committed objects"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z | xargs -0 cp --parents -t "$scratch"
else
	cp -a . "$scratch"
fi
make -s -C "$scratch" bpf >/dev/null
# same_but_fwd_order says whether two objects differ only in the order of
# their BTF's forward declarations (FWD), which clang emits in an order
# that follows heap addresses: a different build directory can reorder
# them (and renumber the types after them). Their code, and their types
# but for the numbering, must be the same.
same_but_fwd_order() {
	local a=$1 b=$2 norm='s/\[[0-9]*\]//; s/type_id=[0-9]*/type_id=N/g'
	cmp -s <(bpftool btf dump file "$a" | sed "$norm" | sort) <(bpftool btf dump file "$b" | sed "$norm" | sort) &&
		cmp -s <(llvm-objdump-19 -d --no-show-raw-insn "$a" | tail -n +3) <(llvm-objdump-19 -d --no-show-raw-insn "$b" | tail -n +3)
}
differ=()
reordered=()
for f in $(cd "$scratch" && find tracers \( -name '*_bpfel.o' -o -name '*_bpfel.go' \) | sort); do
	if cmp -s "$f" "$scratch/$f"; then
		continue
	elif [[ $f == *.o ]] && same_but_fwd_order "$f" "$scratch/$f"; then
		reordered+=("$f")
	else
		differ+=("$f")
	fi
done
for f in "${reordered[@]}"; do
	say "$f: the same but for the order of BTF forward declarations (clang's, by heap address)"
done
for f in $(find tracers \( -name '*_bpfel.o' -o -name '*_bpfel.go' \) | sort); do
	[ -e "$scratch/$f" ] || differ+=("$f (make bpf no longer makes it)")
done
if [ ${#differ[@]} = 0 ]; then
	if [ ${#reordered[@]} = 0 ]; then
		say "make bpf gives the committed objects byte for byte"
	else
		say "make bpf gives the committed objects byte for byte, but for the order of forward declarations above"
	fi
	exit 0
fi
want_h=$(sed -n 's/^vmlinux.h //p' "$sum") got_h=$(sed -n 's/^vmlinux.h //p' "$scratch/$sum")
want_cc=$(sed -n 's/^clang //p' "$sum") got_cc=$(sed -n 's/^clang //p' "$scratch/$sum")
printf '  %s\n' "${differ[@]}" >&2
if [ "$want_cc" != "$got_cc" ]; then
	fail "the objects above differ from what make bpf makes here, with $got_cc (they were made with $want_cc): run make bpf and commit"
fi
if [ "$want_h" = "$got_h" ]; then
	fail "the objects above differ from what make bpf makes from the same inputs and the same vmlinux.h: run make bpf and commit"
fi
say "the objects above differ, but this kernel's vmlinux.h ($got_h) is not the one they were built with ($want_h): allowed (the inputs are unchanged)"
