# ig: build, regenerate eBPF objects, test, benchmark.
GO        ?= go
CLANG     ?= clang-19
STRIP     ?= llvm-strip-19
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD     := $(CURDIR)/build
LDFLAGS   := -s -w -X github.com/ig-tracer/ig/cli.version=$(VERSION) -X github.com/ig-tracer/ig/cli.commit=$(COMMIT)
BPF_CFLAGS := -fdebug-prefix-map=$(CURDIR)=. -O2 -g -Wall -Werror -D__TARGET_ARCH_x86 -I$(CURDIR)/tracers/bpf -I$(BUILD) -I/usr/include/x86_64-linux-gnu

.PHONY: fuzz all ig bpf vmlinux test test-unit integration bench btfgen kernels clean

all: ig

# One static binary; the eBPF objects are committed, so no clang is needed here.
ig:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o ig .

# vmlinux.h comes from this machine's kernel BTF and is never committed.
$(BUILD)/vmlinux.h:
	mkdir -p $(BUILD)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

vmlinux: $(BUILD)/vmlinux.h

# Regenerate every gadget's bpf2go output (Go + .o) from its C. clang runs
# without address randomization: it emits some forward-declared BTF types in
# an order that follows its heap addresses, and make bpf must give the same
# objects every time (scripts/check-bpf.sh).
bpf: $(BUILD)/vmlinux.h
	setarch -R env BPF2GO_CC=$(CLANG) BPF2GO_STRIP=$(STRIP) BPF2GO_CFLAGS="$(BPF_CFLAGS)" $(GO) generate ./tracers/...
	CLANG=$(CLANG) bash scripts/bpf-inputs.sh $(BUILD)/vmlinux.h > tracers/bpf/objects.sum

# Unit tests run as any user; integration tests need root and run the real binary.
test-unit:
	$(GO) test ./...

integration: ig
	IG_INTEGRATION=1 IG_BINARY=$(CURDIR)/ig bash scripts/gotest.sh -count=1 -timeout 25m ./tests/...

# The whole suite, as CI runs it (as root). up.sh brings up the container runtimes the
# integration tests use; when they are up already it only checks them (seconds).
# ig-ref.sh builds Inspektor Gadget v0.26.0's ig from the Go module proxy, outside the
# repository, the first time (minutes), for the side-by-side JSON test; then it returns at once.
# gotest.sh runs go test -v and fails on any skipped test (IG_INTEGRATION is set).
test: ig fuzz
	bash scripts/deps.sh
	bash tests/runtimes/up.sh
	bash scripts/ig-ref.sh v0.26.0 >/dev/null # IG's own ig, for tests/parity_test.go: built once per machine
	IG_INTEGRATION=1 IG_BINARY=$(CURDIR)/ig bash scripts/gotest.sh -count=1 -timeout 25m ./...

# The packet parsers' fuzz targets, each for a bounded time from its committed seed
# corpus (testdata/fuzz/): malformed or truncated packets must not panic.
# An amount of inputs, not a time: a time limit that runs out while Go
# minimizes a new input fails the target (context deadline exceeded) on a
# loaded machine.
FUZZTIME ?= 200000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./tracers/trace/dns
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./tracers/trace/sni

# IG_REF=/path/to/another/ig measures it side by side (Inspektor Gadget's, built outside the repo).
bench: ig
	IG_REF=$(IG_REF) bash bench/run.sh

# Minimized BTF for known kernels, embedded in the binary (btf/embedded/).
btfgen:
	bash scripts/btfgen.sh

# Run the gadgets in real Debian kernels under qemu; regenerate testdata/kernel-matrix.json
# and README.md's kernel matrix (tests/kernels/).
kernels:
	bash tests/kernels/run.sh

clean:
	rm -rf ig $(BUILD)
