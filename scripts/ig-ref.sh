#!/bin/bash
# ig-ref.sh: build Inspektor Gadget's own ig, at the version the JSON parity test compares
# against (tests/parity_test.go), outside the repository, once per machine; print its path.
# The source comes from the Go module proxy (go mod download), so only Go and the network are
# needed. The binary is kept under /var/tmp/ig-ref/VERSION/ig, and later calls return at once.
# -checklinkname=0: IG v0.26's dependencies reach into the runtime with go:linkname, which
# newer Go refuses by default.
set -euo pipefail
ver=${1:-v0.26.0}
dir=/var/tmp/ig-ref/$ver
out=$dir/ig
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9 # two test runs at once build it once
if [ -x "$out" ]; then echo "$out"; exit 0; fi
t0=$(date +%s)
src=$(GOFLAGS=-mod=mod go mod download -json "github.com/inspektor-gadget/inspektor-gadget@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] && [ -d "$src" ] || { echo "ig-ref: go mod download of IG $ver failed" >&2; exit 1; }
# Build in the module cache's read-only copy: IG's go.mod and go.sum are complete.
(cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath -ldflags=-checklinkname=0 -o "$out.tmp" ./cmd/ig) >&2
mv "$out.tmp" "$out"
echo "ig-ref: built IG $ver's ig in $(( $(date +%s) - t0 )) s: $out" >&2
echo "$out"
