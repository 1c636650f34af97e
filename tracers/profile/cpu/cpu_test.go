package cpu

import (
	"bytes"
	"encoding/xml"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

//go:noinline
func symbolizeMe() uintptr {
	pc, _, _, _ := runtime.Caller(0)
	return pc
}

// The test binary's own function resolves from its ELF symbols, through
// its mappings, as ig does for a sampled process: the innermost frame as
// is, the callers' return addresses one byte back.
func TestUserFrames(t *testing.T) {
	ps := newProcesses()
	defer ps.close()
	pid := uint32(os.Getpid())
	ps.note(pid)
	pc := uint64(symbolizeMe())
	names := ps.resolve([][]frameRef{ps.userRefs(pid, []uint64{pc, pc + 1, 8})})
	want := []string{"github.com/ig-tracer/ig/tracers/profile/cpu.symbolizeMe", "github.com/ig-tracer/ig/tracers/profile/cpu.symbolizeMe", unknownFrame}
	if !reflect.DeepEqual(names[0], want) {
		t.Errorf("frames %v, want %v", names[0], want)
	}
}

func TestKallsyms(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kallsyms shows addresses to root only") // the suite runs as root
	}
	k, err := readKallsyms()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(k.addrs); i++ {
		if k.addrs[i] < k.addrs[i-1] {
			t.Fatal("kallsyms not sorted")
		}
	}
	i := len(k.addrs) / 2
	intern := map[string]string{}
	name := k.name(k.addrs[i], intern)
	if name == "" || name == unknownFrame || strings.ContainsAny(name, " \x00") {
		t.Errorf("symbol %d: %q", i, name)
	}
	if k.name(k.addrs[0]-1, intern) != unknownFrame {
		t.Error("an address below every symbol has a name")
	}
}

var testRows = []Report{
	{Pid: 1, Comm: "a b", UserStack: []string{"leaf", "mid", "main"}, KernelStack: []string{"kfn"}, Count: 5},
	{Pid: 2, Comm: "a b", UserStack: []string{"leaf", "mid", "main"}, KernelStack: []string{"kfn"}, Count: 2},
	{Pid: 3, Comm: "c", UserStack: []string{"x;y"}, KernelStack: []string{}, Count: 1},
}

func TestFolded(t *testing.T) {
	var b bytes.Buffer
	if err := writeFolded(&b, testRows); err != nil {
		t.Fatal(err)
	}
	want := "a_b;main;mid;leaf;kfn_[k] 7\nc;x:y 1\n"
	if b.String() != want {
		t.Errorf("folded:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFlameGraph(t *testing.T) {
	var b bytes.Buffer
	if err := writeFlameGraph(&b, testRows); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v", err)
			}
			break
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "rect" {
			rects++
		}
	}
	// The background, all, 2 comms, main, mid, leaf, kfn, x:y.
	if rects != 9 {
		t.Errorf("%d boxes, want 9", rects)
	}
}
