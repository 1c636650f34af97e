package tracers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ig-tracer/ig/btf/btftest"
)

func TestDiskName(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "254:0"), 0o755); err != nil {
		t.Fatal(err)
	}
	uevent := "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n"
	if err := os.WriteFile(filepath.Join(dir, "254:0", "uevent"), []byte(uevent), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := diskName(dir, 254, 0); got != "vda" {
		t.Errorf("254:0: got %q, want vda", got)
	}
	if got := diskName(dir, 8, 16); got != "8:16" {
		t.Errorf("a device without uevent: got %q, want 8:16", got)
	}
}

// blockIssueSpec is the BTF of a kernel whose block_rq_issue passes these structs.
func blockIssueSpec(t *testing.T, args ...string) *btf.Spec {
	t.Helper()
	var types []btf.Type
	for _, a := range args {
		types = append(types, &btf.Pointer{Target: &btf.Struct{Name: a}})
	}
	spec, err := btftest.RawTracepoint("block_rq_issue", types...)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestBlockRequestArgument(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		second bool
	}{
		{"5.10: queue, request", []string{"request_queue", "request"}, true},
		{"5.11+: request", []string{"request"}, false},
	} {
		got, err := blockRequestIsSecond(blockIssueSpec(t, c.args...))
		if err != nil || got != c.second {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.second)
		}
	}
	if _, err := blockRequestIsSecond(blockIssueSpec(t, "bio")); err == nil {
		t.Error("no struct request among the arguments: want an error")
	}
}
