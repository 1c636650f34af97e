package tracers

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// allProbes is a kernel that offers everything its config allows.
type allProbes struct{ kprobes bool }

func (allProbes) ProgramType(ebpf.ProgramType) error { return nil }
func (allProbes) MapType(ebpf.MapType) error         { return nil }
func (allProbes) Tracepoint(string) bool             { return true }
func (p allProbes) Kprobes() bool                    { return p.kprobes }
func (allProbes) KernelFunc(string) bool             { return true }
func (allProbes) Iterator(string) bool               { return true }

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
		r, _ := RequirementsOf("trace fsslower")
		v := h.Check(r)
		lacksKprobes := strings.Contains(v.Reason(), "CONFIG_KPROBES")
		if hasKprobes := h.HasConfig("CONFIG_KPROBES"); hasKprobes == lacksKprobes {
			t.Errorf("%s: CONFIG_KPROBES=%v but trace fsslower verdict is %q", h.Release, hasKprobes, v.Reason())
		}
	}
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
	r, _ := RequirementsOf("trace fsslower")
	v := h.Check(r)
	if v.OK {
		t.Fatal("trace fsslower accepted on a kernel without kprobes")
	}
	want := "not implemented yet; kernel lacks CONFIG_KPROBES, CONFIG_KPROBE_EVENTS, CONFIG_KRETPROBES, kprobes unavailable"
	if got := v.Reason(); got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	// A gadget with a kprobe fallback picks its tracepoint variant here.
	r, _ = RequirementsOf("trace capabilities")
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
