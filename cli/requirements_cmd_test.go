package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// everything is a kernel that offers all a gadget may ask for.
type everything struct{}

func (everything) ProgramType(ebpf.ProgramType) error { return nil }
func (everything) MapType(ebpf.MapType) error         { return nil }
func (everything) Tracepoint(string) bool             { return true }
func (everything) Kprobes() bool                      { return true }
func (everything) KernelFunc(string) bool             { return true }
func (everything) Iterator(string) bool               { return true }
func (everything) BTFTracepoint(string) error         { return nil }
func (everything) Fentry(string) error                { return nil }

// noIterators is a kernel without BPF iterators.
type noIterators struct{ everything }

func (noIterators) Iterator(string) bool { return false }

func testHost(b *tracers.BTFSource) *tracers.Host {
	return &tracers.Host{Release: "6.1.0-56-cloud-amd64", Version: "6.1.0", KernelBTF: true, BTF: b, Probes: everything{}}
}

// entry is what a test reads back from `ig requirements -o json`.
type entry struct {
	Gadget   string `json:"gadget"`
	Variants []struct {
		Name         string   `json:"name"`
		MinKernel    *string  `json:"minKernel"`
		ProgramTypes []string `json:"programTypes"`
	} `json:"variants"`
	MinKernel  *string            `json:"minKernel"`
	OK         bool               `json:"ok"`
	Variant    string             `json:"variant"`
	PassedOver []string           `json:"passedOver"`
	Missing    []string           `json:"missing"`
	BTF        *tracers.BTFSource `json:"btf"`
}

// printed is what `ig requirements -o AS` prints for host.
func printed(t *testing.T, host *tracers.Host, as string) []byte {
	t.Helper()
	format, err := output.ParseFormat(as)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printRequirements(&out, format, host); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func requirementsJSON(t *testing.T, host *tracers.Host) map[string]entry {
	t.Helper()
	out := bytes.NewBuffer(printed(t, host, "json"))
	var all []entry
	if err := json.Unmarshal(out.Bytes(), &all); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if len(all) != len(tracers.Table) {
		t.Fatalf("%d entries, want %d", len(all), len(tracers.Table))
	}
	byName := map[string]entry{}
	for _, e := range all {
		byName[e.Gadget] = e
	}
	return byName
}

func TestRequirementsJSON(t *testing.T) {
	vmlinux := &tracers.BTFSource{Source: "vmlinux", Path: "/sys/kernel/btf/vmlinux"}
	all := requirementsJSON(t, testHost(vmlinux))
	for _, e := range all {
		if e.MinKernel == nil || *e.MinKernel == "" {
			t.Errorf("%s: minKernel missing or empty", e.Gadget)
		}
		for _, v := range e.Variants {
			if v.MinKernel == nil || *v.MinKernel == "" {
				t.Errorf("%s/%s: minKernel missing or empty", e.Gadget, v.Name)
			}
			if v.ProgramTypes == nil {
				t.Errorf("%s/%s: no programTypes", e.Gadget, v.Name)
			}
		}
	}
	sp := all["snapshot process"]
	if *sp.MinKernel != "any" || *sp.Variants[0].MinKernel != "5.8" || *sp.Variants[1].MinKernel != "any" {
		t.Errorf("snapshot process: minKernel %s, variants %s and %s; want any, 5.8 and any",
			*sp.MinKernel, *sp.Variants[0].MinKernel, *sp.Variants[1].MinKernel)
	}
	for _, g := range []string{"trace open", "trace exec", "snapshot process"} {
		if e := all[g]; !e.OK || e.BTF == nil || *e.BTF != *vmlinux {
			t.Errorf("%s: ok %v, btf %+v; want ok from %+v", g, e.OK, e.BTF, vmlinux)
		}
	}

	// No BTF: the CO-RE gadgets are refused naming it; snapshot process reads /proc.
	all = requirementsJSON(t, testHost(&tracers.BTFSource{Missing: "--btf: open /nope: no such file or directory"}))
	const noBTF = "no kernel BTF (--btf: open /nope: no such file or directory)"
	for g, want := range map[string]string{
		"trace exec": noBTF,
		"trace open": noBTF, // the same for both its variants: said once
	} {
		e := all[g]
		if e.OK || e.BTF != nil || strings.Join(e.Missing, "; ") != want {
			t.Errorf("%s without BTF: ok %v, btf %+v, missing %q", g, e.OK, e.BTF, e.Missing)
		}
	}
	if e := all["snapshot process"]; !e.OK || e.Variant != "/proc" || e.BTF != nil {
		t.Errorf("snapshot process without BTF: ok %v, variant %q, btf %+v; want ok with /proc and no btf", e.OK, e.Variant, e.BTF)
	}

	// A download still to be made: ok, and the entry says so.
	hub := &tracers.BTFSource{Source: "btfhub", Path: "http://127.0.0.1:1/debian/12/x86_64/6.1.0-56-cloud-amd64.btf.tar.xz", Download: true}
	all = requirementsJSON(t, testHost(hub))
	if e := all["trace open"]; !e.OK || e.BTF == nil || *e.BTF != *hub {
		t.Errorf("trace open with a BTFHub download: ok %v, btf %+v", e.OK, e.BTF)
	}
}

func TestRequirementsColumns(t *testing.T) {
	hub := &tracers.BTFSource{Source: "btfhub", Path: "http://127.0.0.1:1/x.btf.tar.xz", Download: true}
	lines := strings.Split(strings.TrimRight(string(printed(t, testHost(hub), "columns")), "\n"), "\n")
	if !strings.Contains(lines[0], "kernel BTF: btfhub, to be downloaded from http://127.0.0.1:1/x.btf.tar.xz") {
		t.Errorf("first line does not say where BTF comes from: %q", lines[0])
	}
	header := lines[1]
	minAt, configAt, typesAt, hostAt := strings.Index(header, "MINKERNEL"), strings.Index(header, "CONFIG"),
		strings.Index(header, "PROGRAMTYPES"), strings.Index(header, "HOST")
	if minAt < 0 || configAt < minAt || typesAt < configAt || hostAt < typesAt {
		t.Fatalf("header %q", header)
	}
	rows := map[string]string{}
	for _, l := range lines[2:] {
		gadget := strings.TrimSpace(l[:minAt])
		rows[gadget] = l
		if strings.TrimSpace(l[minAt:configAt]) == "" {
			t.Errorf("%s: empty MINKERNEL in %q", gadget, l)
		}
		if strings.TrimSpace(l[typesAt:hostAt]) == "" {
			t.Errorf("%s: empty PROGRAMTYPES in %q", gadget, l)
		}
	}
	if len(rows) != len(tracers.Table) {
		t.Errorf("%d rows, want %d", len(rows), len(tracers.Table))
	}
	for gadget, want := range map[string][]string{
		"snapshot process": {"5.8 | any", "Tracing | none", "✔ iter/task (kernel BTF to be downloaded from BTFHub)"},
		"top tcp":          {"6.3 | 5.8", "TracePoint | Kprobe"},
		"trace open":       {"Tracing | TracePoint", "✔ tp_btf (kernel BTF to be downloaded from BTFHub)"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[gadget], w) {
				t.Errorf("%s: row %q lacks %q", gadget, rows[gadget], w)
			}
		}
	}
}

// A host that does not get a gadget's first variant is told why, in both forms.
func TestRequirementsSayWhyNotTheFirstVariant(t *testing.T) {
	host := testHost(&tracers.BTFSource{Source: "vmlinux", Path: "/sys/kernel/btf/vmlinux"})
	host.Probes = noIterators{}
	if out := string(printed(t, host, "columns")); !strings.Contains(out, "✔ /proc (not iter/task: no task iterator)") {
		t.Errorf("snapshot process's row does not say why not iter/task:\n%s", out)
	}
	e := requirementsJSON(t, host)["snapshot process"]
	if e.Variant != "/proc" || len(e.PassedOver) != 1 || e.PassedOver[0] != "iter/task: no task iterator" {
		t.Errorf("-o json: %+v", e)
	}
}
