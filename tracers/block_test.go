package tracers

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
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
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	params := []btf.FuncParam{{Name: "__data", Type: &btf.Pointer{Target: &btf.Void{}}}}
	for _, a := range args {
		params = append(params, btf.FuncParam{Type: &btf.Pointer{Target: &btf.Struct{Name: a}}})
	}
	td := &btf.Typedef{Name: "btf_trace_block_rq_issue", Type: &btf.Pointer{Target: &btf.FuncProto{Return: &btf.Void{}, Params: params}}}
	if _, err := b.Add(td); err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
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
