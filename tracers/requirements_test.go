package tracers

import (
	"encoding/json"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ig-tracer/ig/internal/integration"
)

// allProbes is a kernel that offers everything its config allows.
type allProbes struct{ kprobes bool }

func (allProbes) ProgramType(ebpf.ProgramType) error { return nil }
func (allProbes) MapType(ebpf.MapType) error         { return nil }
func (allProbes) Tracepoint(string) bool             { return true }
func (p allProbes) Kprobes() bool                    { return p.kprobes }
func (allProbes) KernelFunc(string) bool             { return true }
func (allProbes) Iterator(string) bool               { return true }
func (allProbes) BTFTracepoint(string) error         { return nil }
func (allProbes) Fentry(string) error                { return nil }

// hostFromConfig is the host a saved distribution config describes.
func hostFromConfig(t *testing.T, path string) *Host {
	t.Helper()
	cfg, err := ReadKernelConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	release := ConfigRelease(path)
	if release == "" {
		t.Fatalf("%s: no kernel version in its header", path)
	}
	return &Host{Release: release, Version: ParseKernelVersion(release), Config: cfg, ConfigSource: path,
		KernelBTF: cfg["CONFIG_DEBUG_INFO_BTF"] == "y", Probes: allProbes{kprobes: cfg["CONFIG_KPROBES"] == "y"}}
}

func TestTableHasEverySeedGadget(t *testing.T) {
	seed := []string{"advise network-policy", "advise seccomp-profile", "audit seccomp", "profile block-io",
		"profile cpu", "profile tcprtt", "snapshot process", "snapshot socket", "top block-io", "top file",
		"top tcp", "trace bind", "trace capabilities", "trace dns", "trace exec", "trace fsslower",
		"trace mount", "trace oomkill", "trace open", "trace signal", "trace sni", "trace tcp",
		"trace tcpconnect", "trace tcpdrop", "trace tcpretrans", "script", "traceloop"}
	var got []string
	for _, r := range Table {
		got = append(got, r.Gadget)
		if len(r.Variants) == 0 {
			t.Errorf("%s has no variant", r.Gadget)
		}
		for _, v := range r.Variants {
			if v.MinKernel == "" && !v.NoBPF {
				t.Errorf("%s/%s has no minimum kernel", r.Gadget, v.Name)
			}
		}
	}
	sort.Strings(got)
	sort.Strings(seed)
	if strings.Join(got, ",") != strings.Join(seed, ",") {
		t.Errorf("table rows\n%v\nwant the seed's\n%v", got, seed)
	}
}

func TestDistributionConfigs(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/kernel-configs/config-*")
	if len(paths) < 5 {
		t.Fatalf("expected real kernel configs in testdata, found %v", paths)
	}
	for _, path := range paths {
		h := hostFromConfig(t, path)
		for _, g := range []string{"trace open", "trace exec", "snapshot process"} {
			r, _ := RequirementsOf(g)
			if v := h.Check(r); !v.OK {
				t.Errorf("%s on %s: refused: %s", g, h.Release, v.Reason())
			}
		}
		// Only kernels with kprobes can run the kprobe-only gadgets.
		v := h.Check(kprobeOnly())
		lacksKprobes := strings.Contains(v.Reason(), "CONFIG_KPROBES")
		if hasKprobes := h.HasConfig("CONFIG_KPROBES"); hasKprobes == lacksKprobes {
			t.Errorf("%s: CONFIG_KPROBES=%v but the kprobe-only verdict is %q", h.Release, hasKprobes, v.Reason())
		}
	}
}

// kprobeOnly is a planned gadget with one kprobe variant (gadgets' rows
// change as they are implemented; this one does not).
func kprobeOnly() *Requirements {
	return &Requirements{Gadget: "kprobe-only", Variants: []Variant{{Name: "kprobe", MinKernel: "5.8",
		Configs: kretprobeConfigs, ProgramTypes: kp, MapTypes: ringBuffer, KernelFuncs: []string{"vfs_read"}}}}
}

func TestPlainAndGzipConfigsAgree(t *testing.T) {
	plain, err := ReadKernelConfig("../testdata/kernel-configs/config-6.1.0-56-cloud-amd64")
	if err != nil {
		t.Fatal(err)
	}
	gz, err := ReadKernelConfig("../testdata/kernel-configs/config-6.1.0-56-cloud-amd64.gz")
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != len(gz) || plain["CONFIG_BPF_SYSCALL"] != "y" || gz["CONFIG_BPF_SYSCALL"] != "y" {
		t.Errorf("plain has %d options, gzip %d", len(plain), len(gz))
	}
}

// This CI host's config has no kprobes: the refusal names exactly that.
func TestHostConfigWithoutKprobes(t *testing.T) {
	h := hostFromConfig(t, "../testdata/kernel-configs/config-6.18.44-fc-v669.gz")
	v := h.Check(kprobeOnly())
	if v.OK {
		t.Fatal("a kprobe-only gadget accepted on a kernel without kprobes")
	}
	want := "not implemented yet; kernel lacks CONFIG_KPROBES, CONFIG_KPROBE_EVENTS, CONFIG_KRETPROBES, kprobes unavailable"
	if got := v.Reason(); got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	// A gadget with a kprobe fallback picks its tracepoint variant here.
	r, _ := RequirementsOf("trace capabilities")
	if v := h.Check(r); v.Variant != "tracepoint" {
		t.Errorf("trace capabilities: variant %q, want tracepoint", v.Variant)
	}
}

func TestRefusalNamesEverythingMissing(t *testing.T) {
	h := &Host{Release: "5.4.0-42-generic", Version: "5.4.0",
		Config: map[string]string{"CONFIG_BPF": "y", "CONFIG_BPF_SYSCALL": "y", "CONFIG_BPF_EVENTS": "y"},
		Probes: missingProbes{}}
	r, _ := RequirementsOf("trace open")
	v := h.Check(r)
	if v.OK {
		t.Fatal("accepted")
	}
	err := v.Error("trace open").Error()
	for _, want := range []string{"trace open: ", "kernel 5.4.0-42-generic is older than 5.8", "kernel lacks CONFIG_FTRACE_SYSCALLS",
		"map type RingBuf unsupported", "no tracepoint syscalls/sys_enter_openat2"} {
		if !strings.Contains(err, want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if strings.Contains(err, "\n") {
		t.Errorf("refusal is not one line: %q", err)
	}
	// snapshot process falls back to /proc, which needs nothing.
	r, _ = RequirementsOf("snapshot process")
	if v := h.Check(r); !v.OK || v.Variant != "/proc" {
		t.Errorf("snapshot process: %+v, want the /proc variant", v)
	}
}

// missingProbes: a kernel without ring buffers, openat2 or iterators.
type missingProbes struct{ allProbes }

func (missingProbes) MapType(t ebpf.MapType) error {
	if t == ebpf.RingBuf {
		return ebpf.ErrNotSupported
	}
	return nil
}
func (missingProbes) Tracepoint(tp string) bool { return !strings.Contains(tp, "openat2") }
func (missingProbes) Iterator(string) bool      { return false }

func TestUnknownConfigIsNotARefusal(t *testing.T) {
	h := &Host{Release: "6.1.0", Version: "6.1.0", Probes: allProbes{}}
	r, _ := RequirementsOf("trace open")
	if v := h.Check(r); !v.OK {
		t.Errorf("no config should not refuse: %s", v.Reason())
	}
}

func TestReadKernelConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notConfig := filepath.Join(dir, "x")
	os.WriteFile(notConfig, []byte("hello\n"), 0o644)
	badGzip := filepath.Join(dir, "y.gz")
	os.WriteFile(badGzip, []byte{0x1f, 0x8b, 1, 2, 3}, 0o644)
	for _, p := range []string{filepath.Join(dir, "missing"), notConfig, badGzip} {
		if _, err := ReadKernelConfig(p); err == nil || !strings.Contains(err.Error(), "kernel config") {
			t.Errorf("%s: error %v", p, err)
		}
	}
}

func TestVersions(t *testing.T) {
	for in, want := range map[string]string{"6.1.0-56-cloud-amd64": "6.1.0", "6.18.44-fc-v669": "6.18.44",
		"7.3.4+deb13-cloud-amd64": "7.3.4", "5.10.0": "5.10.0"} {
		if got := ParseKernelVersion(in); got != want {
			t.Errorf("ParseKernelVersion(%q) = %q, want %q", in, got, want)
		}
	}
	if compareVersions("5.10", "5.8") <= 0 || compareVersions("5.8.0", "5.8") != 0 || compareVersions("4.19", "5.4") >= 0 {
		t.Error("compareVersions is not numeric")
	}
}

// Kernel BTF is a host fact: without any source, every variant that loads eBPF is
// refused, naming BTF and why; a BTFHub download still to be made is not a refusal.
func TestBTFVerdict(t *testing.T) {
	h := hostFromConfig(t, "../testdata/kernel-configs/config-6.1.0-56-cloud-amd64")
	const why = "--btf: parse BTF /etc/passwd: parsing .BTF header: no valid BTF header"
	h.BTF = &BTFSource{Missing: why}
	for _, g := range []string{"trace open", "trace exec"} {
		r, _ := RequirementsOf(g)
		v := h.Check(r)
		if v.OK {
			t.Fatalf("%s accepted without kernel BTF", g)
		}
		for _, reason := range v.Missing { // one per variant
			if want := "no kernel BTF (" + why + ")"; !strings.HasSuffix(reason, want) {
				t.Errorf("%s: reason %q, want it to end with %q", g, reason, want)
			}
		}
	}
	// snapshot process falls back to /proc, which needs no BTF.
	r, _ := RequirementsOf("snapshot process")
	if v := h.Check(r); !v.OK || v.Variant != "/proc" {
		t.Errorf("snapshot process without BTF: %+v, want the /proc variant", v)
	}
	// A planned gadget names BTF too.
	r, _ = RequirementsOf("trace bind")
	if v := h.Check(r); !strings.Contains(v.Reason(), "no kernel BTF (") {
		t.Errorf("trace bind: %q does not name BTF", v.Reason())
	}

	for _, b := range []*BTFSource{
		nil, // not checked
		{Source: "vmlinux", Path: "/sys/kernel/btf/vmlinux"},
		{Source: "btfhub", Path: "https://example.invalid/debian/12/x86_64/6.1.0.btf.tar.xz", Download: true},
	} {
		h.BTF = b
		for _, g := range []string{"trace open", "trace exec", "snapshot process"} {
			r, _ := RequirementsOf(g)
			if v := h.Check(r); !v.OK || v.Variant != r.Variants[0].Name {
				t.Errorf("%s with BTF %s: %+v", g, b.Describe(), v)
			}
		}
	}
}

// tracingRefused is this CI host: cilium/ebpf's Tracing probe (an fentry program) fails,
// yet task iterators, which are Tracing programs too, work.
type tracingRefused struct{ allProbes }

func (tracingRefused) ProgramType(t ebpf.ProgramType) error {
	if t == ebpf.Tracing {
		return ebpf.ErrNotSupported
	}
	return nil
}

// implemented fails unless each named gadget is registered, as tests of
// implemented rows need: this test binary has every gadget, registered by
// their packages (registry_test.go imports tracers/all).
func implemented(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, ok := registry[name]; !ok {
			t.Fatalf("%s is not registered: does registry_test.go still import tracers/all?", name)
		}
	}
}

func TestIteratorsAreProbedByTheirTarget(t *testing.T) {
	implemented(t, "snapshot process")
	h := &Host{Release: "6.18.44", Version: "6.18.44", KernelBTF: true, Probes: tracingRefused{}}
	r, _ := RequirementsOf("snapshot process")
	if v := h.Check(r); !v.OK || v.Variant != "iter/task" {
		t.Errorf("snapshot process: %+v, want iter/task", v)
	}
	h.Probes = missingProbes{} // no iterators
	if v := h.Check(r); !v.OK || v.Variant != "/proc" || len(v.PassedOver) != 1 || !strings.HasPrefix(v.PassedOver[0], "iter/task: ") {
		t.Errorf("snapshot process without iterators: %+v, want /proc, iter/task passed over and why", v)
	}
	// --variant: forced, it runs or says why not; an unknown name lists the variants.
	if v, err := h.CheckVariant(r, "/proc"); err != nil || !v.OK || v.Variant != "/proc" {
		t.Errorf("--variant /proc: %+v %v", v, err)
	}
	if _, err := h.CheckVariant(r, "iter/task"); err == nil || !strings.Contains(err.Error(), "variant iter/task cannot run here: ") {
		t.Errorf("--variant iter/task without iterators: %v", err)
	}
	if _, err := h.CheckVariant(r, "kprobe"); err == nil || err.Error() != `snapshot process has no variant "kprobe"; its variants: iter/task, /proc` {
		t.Errorf("--variant kprobe: %v", err)
	}
}

// Every row shows a minimum kernel and program types: nothing is left empty.
func TestTableShowsEveryVariant(t *testing.T) {
	implemented(t, "snapshot process", "trace open")
	for _, r := range Table {
		if r.MinKernel() == "" {
			t.Errorf("%s: empty minimum kernel", r.Gadget)
		}
		for _, v := range r.Variants {
			if v.MinKernelOrAny() == "" {
				t.Errorf("%s/%s: empty minimum kernel", r.Gadget, v.Name)
			}
			if len(v.ProgramTypes) == 0 && !v.NoBPF {
				t.Errorf("%s/%s loads eBPF but lists no program type", r.Gadget, v.Name)
			}
			if len(v.ProgramTypes) != 0 && v.NoBPF {
				t.Errorf("%s/%s loads nothing but lists program types", r.Gadget, v.Name)
			}
		}
	}
	r, _ := RequirementsOf("snapshot process")
	if r.MinKernel() != AnyKernel {
		t.Errorf("snapshot process: minimum kernel %q, want %q (its /proc variant runs anywhere)", r.MinKernel(), AnyKernel)
	}
	r, _ = RequirementsOf("top tcp")
	if r.MinKernel() != "5.8" {
		t.Errorf("top tcp: minimum kernel %q, want 5.8 (its kprobe variant)", r.MinKernel())
	}
	md := MarkdownTable()
	for _, want := range []string{
		"| Gadget | Variant | Minimum kernel | Additional `CONFIG_*` | Program types | Attaches to | Status |\n",
		"| `snapshot process` | iter/task | 5.8 |  | Tracing | iter/task | ✔ implemented |\n",
		"| `snapshot process` | /proc | any |  | none | reads /proc | ✔ implemented |\n",
		"| `trace open` | tracepoint | 5.8 | `BPF_EVENTS`, `FTRACE_SYSCALLS` | TracePoint | ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown table lacks %q", want)
		}
	}
}

// The JSON form has every field of a variant, program and map types by name.
func TestVariantJSON(t *testing.T) {
	r, _ := RequirementsOf("snapshot process")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Variants []map[string]any `json:"variants"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	fields := reflect.VisibleFields(reflect.TypeOf(Variant{}))
	for _, v := range got.Variants {
		for _, f := range fields {
			key := lowerCamel(f.Name)
			if _, ok := v[key]; !ok {
				t.Errorf("variant %v: no %q in %s", v["name"], key, b)
			}
		}
	}
	if len(got.Variants) != 2 {
		t.Fatalf("variants: %s", b)
	}
	iter, proc := got.Variants[0], got.Variants[1]
	if iter["minKernel"] != "5.8" || proc["minKernel"] != "any" {
		t.Errorf("minKernel: %v and %v, want 5.8 and any", iter["minKernel"], proc["minKernel"])
	}
	if fmt.Sprint(iter["programTypes"]) != "[Tracing]" || fmt.Sprint(proc["programTypes"]) != "[]" {
		t.Errorf("programTypes: %v and %v, want [Tracing] and []", iter["programTypes"], proc["programTypes"])
	}
	r, _ = RequirementsOf("trace open")
	b, _ = json.Marshal(r)
	if !strings.Contains(string(b), `"programTypes":["TracePoint"],"mapTypes":["RingBuf"]`) {
		t.Errorf("trace open: %s", b)
	}
}

// lackingTracepoints is a kernel without some tracepoints (as arm64 has no
// sys_enter_open).
type lackingTracepoints struct {
	allProbes
	lacks []string
}

func (p lackingTracepoints) Tracepoint(tp string) bool { return !slices.Contains(p.lacks, tp) }

// An optional tracepoint the kernel lacks is skipped, not a refusal; a
// required one still refuses, by name.
func TestOptionalTracepoints(t *testing.T) {
	implemented(t, "trace open")
	full, _ := RequirementsOf("trace open")
	r := onlyVariant(t, full, "tracepoint")
	h := hostFromConfig(t, "../testdata/kernel-configs/config-6.12.117+deb12-cloud-amd64.gz")
	h.KernelBTF, h.BTF = true, &BTFSource{Source: "vmlinux"}
	h.Probes = lackingTracepoints{lacks: []string{"syscalls/sys_enter_open", "syscalls/sys_exit_open"}}
	v := h.Check(r)
	if !v.OK || !slices.Equal(v.Skipped, []string{"syscalls/sys_enter_open", "syscalls/sys_exit_open"}) {
		t.Errorf("without sys_{enter,exit}_open: %+v, want OK, those skipped", v)
	}
	h.Probes = allProbes{}
	if v := h.Check(r); !v.OK || len(v.Skipped) != 0 {
		t.Errorf("with every tracepoint: %+v, want OK, nothing skipped", v)
	}
	h.Probes = lackingTracepoints{lacks: []string{"syscalls/sys_enter_openat"}}
	if v := h.Check(r); v.OK || !strings.Contains(v.Reason(), "no tracepoint syscalls/sys_enter_openat") {
		t.Errorf("without sys_enter_openat: %+v, want a refusal naming it", v)
	}
}

// lowerCamel is a Go field name as its JSON name: KernelBTF -> kernelBTF,
// BTFTracepoints -> btfTracepoints (a leading acronym is lowered whole).
func lowerCamel(name string) string {
	n := 1
	for n < len(name) && name[n] >= 'A' && name[n] <= 'Z' {
		n++
	}
	if n > 1 && n < len(name) {
		n-- // the last capital starts the next word
	}
	return strings.ToLower(name[:n]) + name[n:]
}

// refusesBTFTracepoint is a kernel that takes no tp_btf program.
type refusesBTFTracepoint struct{ tracingRefused }

func (refusesBTFTracepoint) BTFTracepoint(string) error { return ebpf.ErrNotSupported }

// A BTF tracepoint (tp_btf) variant is probed by what it attaches, not by
// the fentry probe of its program type, which a kernel may refuse while it
// takes tp_btf programs (this CI host does).
func TestBTFTracepointsAreProbedByThemselves(t *testing.T) {
	r := &Requirements{Gadget: "trace fake", Implemented: true, Variants: []Variant{
		{Name: "tp_btf", ProgramTypes: []ebpf.ProgramType{ebpf.Tracing}, BTFTracepoints: []string{"sched_switch"}, KernelBTF: true}}}
	h := &Host{Release: "6.18.44", Version: "6.18.44", KernelBTF: true, Probes: tracingRefused{}}
	if v := h.Check(r); !v.OK {
		t.Errorf("fentry refused, tp_btf taken: %s", v.Reason())
	}
	h.Probes = refusesBTFTracepoint{}
	if v := h.Check(r); v.OK || !strings.Contains(v.Reason(), "tp_btf sched_switch refused") {
		t.Errorf("tp_btf refused: %+v", v)
	}
}

// This kernel's answer, for real: a tp_btf program on sched_switch loads,
// one on a tracepoint that does not exist does not.
func TestLiveBTFTracepointProbe(t *testing.T) {
	integration.Require(t, "to load eBPF programs")
	p := &liveProbes{}
	if err := p.BTFTracepoint("sched_switch"); err != nil {
		t.Errorf("tp_btf sched_switch: %v", err)
	}
	if err := p.BTFTracepoint("ig_no_such_tracepoint"); err == nil {
		t.Error("tp_btf on a tracepoint that does not exist loaded")
	}
	t.Logf("for comparison, cilium/ebpf's Tracing probe (fentry) here: %v", p.ProgramType(ebpf.Tracing))
}

// refusesFentry is a kernel that refuses fentry (as this CI host does) and
// takes the rest.
type refusesFentry struct{ allProbes }

func (refusesFentry) Fentry(string) error { return unix.EPERM }

// An fentry variant is probed by loading fentry programs on its functions:
// refused, the checker passes it over for the next variant and says why.
func TestFentryVariantsAreProbed(t *testing.T) {
	r := &Requirements{Gadget: "trace fake", Implemented: true, Variants: []Variant{
		{Name: "fentry", ProgramTypes: []ebpf.ProgramType{ebpf.Tracing}, Fentry: []string{"vfs_read", "vfs_write"}},
		{Name: "tracepoint", ProgramTypes: []ebpf.ProgramType{ebpf.TracePoint}, Tracepoints: []string{"syscalls/sys_enter_read"}}}}
	h := &Host{Release: "6.18.44", Version: "6.18.44", KernelBTF: true, Probes: allProbes{}}
	if v := h.Check(r); !v.OK || v.Variant != "fentry" {
		t.Errorf("fentry taken: %+v", v)
	}
	h.Probes = refusesFentry{}
	v := h.Check(r)
	if !v.OK || v.Variant != "tracepoint" || len(v.PassedOver) != 1 || v.PassedOver[0] != "fentry: fentry vfs_read refused (operation not permitted)" {
		t.Errorf("fentry refused: %+v", v)
	}
	if !r.Variants[0].Attaches("fexit/vfs_write") || r.Variants[0].Attaches("kprobe/vfs_write") || r.Variants[1].Attaches("fentry/vfs_read") {
		t.Error("Attaches: fentry/fexit sections belong to the Fentry functions only")
	}
}

// This kernel's answer, for real: fentry on a function that does not exist
// never loads. (Whether vfs_read takes one depends on the kernel: this CI
// host refuses fentry altogether, the guests take it.)
func TestLiveFentryProbe(t *testing.T) {
	integration.Require(t, "to load eBPF programs")
	p := &liveProbes{}
	if err := p.Fentry("ig_no_such_function"); err == nil {
		t.Error("fentry on a function that does not exist loaded")
	}
	t.Logf("fentry on vfs_read here: %v", p.Fentry("vfs_read"))
}

// onlyVariant is r with its variant name alone.
func onlyVariant(t *testing.T, r *Requirements, name string) *Requirements {
	t.Helper()
	one := *r
	i := slices.IndexFunc(r.Variants, func(v Variant) bool { return v.Name == name })
	if i < 0 {
		t.Fatalf("%s has no variant %s", r.Gadget, name)
	}
	one.Variants = r.Variants[i : i+1]
	return &one
}
