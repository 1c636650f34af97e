package tests

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// smallConfig is a kernel config with eBPF but without syscall tracepoints.
// smallConfig lacks what every variant of trace open needs (BPF_EVENTS), and
// what its tracepoint variant needs (FTRACE_SYSCALLS).
const smallConfig = "CONFIG_BPF=y\nCONFIG_BPF_SYSCALL=y\n"

// TestErrors: every way to misuse ig fails with a non-zero exit code and one
// line on stderr, "ig: ...", that names the culprit, and no panic.
func TestErrors(t *testing.T) {
	igBinary(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.btf")
	junk := make([]byte, 4096)
	if _, err := rand.Read(junk); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "small.config")
	for name, data := range map[string][]byte{corrupt: junk, config: []byte(smallConfig)} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string // the message must contain each
	}{
		{"unknown gadget", []string{"trace", "nope"}, []string{"nope"}},
		{"unknown category", []string{"nope"}, []string{"nope"}},
		{"unknown flag", []string{"trace", "open", "--nope"}, []string{"nope"}},
		{"bad -o after the gadget", []string{"trace", "open", "-o", "xml", "-t", "1"}, []string{"xml"}},
		{"bad -o before the command", []string{"-o", "xml", "trace", "open", "-t", "1"}, []string{"xml"}},
		{"unreadable --btf", []string{"--btf", "/nonexistent", "trace", "open", "-t", "1"}, []string{"/nonexistent"}},
		{"corrupt --btf", []string{"--btf", corrupt, "trace", "open", "-t", "1"}, []string{corrupt}},
		{"unreadable --kernel-config", []string{"--kernel-config", "/nonexistent", "trace", "open", "-t", "1"}, []string{"/nonexistent"}},
		{"--kernel-config lacking a requirement, before the command", []string{"--kernel-config", config, "trace", "open", "-t", "1"}, []string{"tp_btf: kernel lacks CONFIG_BPF_EVENTS", "tracepoint: kernel lacks CONFIG_BPF_EVENTS, CONFIG_FTRACE_SYSCALLS"}},
		{"--kernel-config lacking a requirement, after the gadget", []string{"trace", "open", "--kernel-config", config, "-t", "1"}, []string{"tp_btf: kernel lacks CONFIG_BPF_EVENTS", "tracepoint: kernel lacks CONFIG_BPF_EVENTS, CONFIG_FTRACE_SYSCALLS"}},
		// pids that do not fit the kernel's: 4294967296 would be 0 (no filter), 4294967297 pid 1
		{"--pid 4294967296", []string{"trace", "open", "--pid", "4294967296", "-t", "1"}, []string{"--pid", "4294967296"}},
		{"--pid 4294967297 before the command", []string{"--pid", "4294967297", "trace", "exec", "-t", "1"}, []string{"--pid", "4294967297"}},
		{"--pid above PID_MAX_LIMIT", []string{"snapshot", "process", "--pid", "4194305"}, []string{"--pid", "4194305"}},
		{"--pid negative", []string{"trace", "open", "--pid", "-5", "-t", "1"}, []string{"--pid", "-5"}},
		{"--pid 0", []string{"trace", "open", "--pid", "0", "-t", "1"}, []string{"--pid", "0"}},
		{"--pid beyond int64", []string{"trace", "open", "--pid", "99999999999999999999", "-t", "1"}, []string{"pid", "99999999999999999999"}},
		{"--timeout NaN", []string{"trace", "open", "-t", "NaN"}, []string{"--timeout", "NaN"}},
		{"--timeout Inf", []string{"trace", "open", "-t", "Inf"}, []string{"--timeout", "Inf"}},
		{"--timeout -Inf before the command", []string{"-t", "-Inf", "trace", "open"}, []string{"--timeout", "-Inf"}},
		{"--timeout negative", []string{"trace", "open", "-t", "-1"}, []string{"--timeout", "-1"}},
		{"--timeout negative, list-containers", []string{"list-containers", "-t", "-0.5"}, []string{"--timeout", "-0.5"}},
		{"--paths where packets have no process", []string{"trace", "dns", "--variant", "socket-filter-no-btf", "--paths", "-t", "1"}, []string{"socket-filter-no-btf", "--paths"}},
		{"help on an unknown command", []string{"help", "nope"}, []string{"nope"}},
		{"help on an unknown gadget", []string{"help", "trace", "nope"}, []string{"trace nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runIG(t, tc.args...)
			msg := checkFailure(t, r)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not name %q", msg, w)
				}
			}
		})
	}

	t.Run("not root", func(t *testing.T) {
		nobody := []string{requireTool(t, "setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"}
		if r := startCmd(t, append(nobody, "/bin/sh", "-c", `test -x "$0"`, igBinary(t))...).wait(); r.Code != 0 {
			t.Fatalf("uid 65534 cannot run IG_BINARY=%s (put it where every user can): %s", igBinary(t), r)
		}
		p := startCmd(t, append(nobody, igBinary(t), "trace", "open", "-t", "1")...)
		msg := checkFailure(t, p.wait())
		if !strings.Contains(msg, "root") {
			t.Errorf("message %q does not say ig needs root", msg)
		}
	})

	// A host that lacks what the gadget needs is refused before any of the
	// gadget's programs is loaded. strace sees every BPF_PROG_LOAD; the
	// control run proves it sees ours.
	t.Run("kernel-config refusal loads nothing", func(t *testing.T) {
		loaded, r := bpfProgLoads(t, "trace", "open", "-t", "0.5", "--pid", "1")
		checkSuccess(t, r)
		for _, p := range openProgs {
			if !slices.Contains(loaded, p) {
				t.Fatalf("control run: strace did not see %s loaded (saw %q)", p, loaded)
			}
		}
		for _, args := range [][]string{
			{"--kernel-config", config, "trace", "open", "-t", "1"},
			{"trace", "open", "--kernel-config", config, "-t", "1"},
		} {
			loaded, r := bpfProgLoads(t, args...)
			if msg := checkFailure(t, r); !strings.Contains(msg, "kernel lacks CONFIG_") {
				t.Errorf("ig %s: refusal %q names no missing CONFIG_", strings.Join(args, " "), msg)
			}
			for _, p := range append(slices.Clone(openProgs), openTracepointProgs...) { // either variant's
				if slices.Contains(loaded, p) {
					t.Errorf("ig %s: loaded %s before refusing (loaded %q)", strings.Join(args, " "), p, loaded)
				}
			}
		}
	})
}
