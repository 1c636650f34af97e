package tracers

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	igbtf "github.com/ig-tracer/ig/btf"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// Host is what the checker knows of the machine.
type Host struct {
	Release      string            // uname -r
	Version      string            // major.minor.patch parsed from Release
	Config       map[string]string // CONFIG_* -> value; nil when no config was found
	ConfigSource string
	KernelBTF    bool       // /sys/kernel/btf/vmlinux exists
	BTF          *BTFSource // where CO-RE relocation would take the kernel's types from; nil: not known, not checked
	Probes       Probes
}

// BTFSource is where ig would take the kernel's types from (--btf, --btf-sources), found
// without downloading anything (btf.Find).
type BTFSource struct {
	Source   string `json:"source"`   // vmlinux, embedded, btfhub or file; "" when no source has them
	Path     string `json:"path"`     // the file, embedded:<release>, or the URL of a download
	Download bool   `json:"download"` // from BTFHub and not cached: ig would download Path first, which may fail
	Missing  string `json:"-"`        // when Source is "": why each source has none
}

// Describe says where the types come from, for people.
func (b *BTFSource) Describe() string {
	switch {
	case b == nil:
		return "not checked"
	case b.Source == "":
		return "none (" + b.Missing + ")"
	case b.Download:
		return b.Source + ", to be downloaded from " + b.Path
	}
	return b.Source + " (" + b.Path + ")"
}

// Probes asks the running kernel what it offers.
type Probes interface {
	ProgramType(ebpf.ProgramType) error
	MapType(ebpf.MapType) error
	Tracepoint(groupName string) bool
	Kprobes() bool
	KernelFunc(name string) bool
	Iterator(name string) bool
	// BTFTracepoint says whether a tp_btf program on raw tracepoint name
	// loads: BTF-enabled tracepoints are Tracing programs, like fentry,
	// but a kernel may refuse fentry and take these (this CI host does).
	BTFTracepoint(name string) error
	// Fentry says whether an fentry program on kernel function name loads.
	Fentry(name string) error
}

// HasConfig says whether CONFIG_x is built in or a module.
func (h *Host) HasConfig(name string) bool {
	v := h.Config[name]
	return v == "y" || v == "m"
}

// KernelConfigPaths are where a kernel's config is looked for, in order.
func KernelConfigPaths(release string) []string {
	return []string{"/proc/config.gz", "/boot/config-" + release, "/lib/modules/" + release + "/config"}
}

// DetectHost gathers the host's facts. configPath overrides the config's
// location (--kernel-config); it must then be readable.
func DetectHost(configPath, tracefs string) (*Host, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, fmt.Errorf("uname: %w", err)
	}
	h := &Host{Release: unix.ByteSliceToString(u.Release[:])}
	h.Version = ParseKernelVersion(h.Release)
	if configPath != "" {
		cfg, err := ReadKernelConfig(configPath)
		if err != nil {
			return nil, err
		}
		h.Config, h.ConfigSource = cfg, configPath
	} else {
		for _, p := range KernelConfigPaths(h.Release) {
			if cfg, err := ReadKernelConfig(p); err == nil {
				h.Config, h.ConfigSource = cfg, p
				break
			}
		}
	}
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	h.KernelBTF = err == nil
	h.Probes = &liveProbes{tracefs: tracefs}
	return h, nil
}

// ParseKernelVersion takes "6.1.0-56-cloud-amd64" to "6.1.0".
func ParseKernelVersion(release string) string {
	end := strings.IndexFunc(release, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end >= 0 {
		release = release[:end]
	}
	return strings.Trim(release, ".")
}

// compareVersions compares dotted versions numerically ("5.10" > "5.8").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// ReadKernelConfig reads a kernel config, plain or gzip-compressed.
func ReadKernelConfig(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	var r io.Reader = bytes.NewReader(data)
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("kernel config %s: %w", path, err)
		}
		r = zr
	}
	cfg := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			cfg[k] = strings.Trim(v, `"`)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel config %s: %w", path, err)
	}
	if len(cfg) == 0 {
		return nil, fmt.Errorf("kernel config %s: no CONFIG_ lines (not a kernel config?)", path)
	}
	return cfg, nil
}

// ConfigRelease reads the kernel version from a config's header comment
// ("# Linux/x86 6.1.192 Kernel Configuration"), for checking saved configs.
func ConfigRelease(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return ""
		}
		data, _ = io.ReadAll(io.LimitReader(zr, 4096))
	}
	for _, line := range strings.SplitN(string(data), "\n", 8) {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "#" && strings.HasPrefix(f[1], "Linux/") && f[3] == "Kernel" {
			return f[2]
		}
	}
	return ""
}

// Tracefs locations, newest first.
var tracefsPaths = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// EnsureTracefs returns where tracefs is mounted, mounting it on
// /sys/kernel/tracing when it is not (many hosts boot without it).
func EnsureTracefs(logf func(string, ...any)) (string, error) {
	for _, p := range tracefsPaths {
		if _, err := os.Stat(filepath.Join(p, "events")); err == nil {
			return p, nil
		}
	}
	if err := unix.Mount("tracefs", tracefsPaths[0], "tracefs", 0, ""); err != nil {
		return "", fmt.Errorf("tracefs is not mounted and mounting it on %s failed: %w", tracefsPaths[0], err)
	}
	logf("mounted tracefs on %s", tracefsPaths[0])
	return tracefsPaths[0], nil
}

// liveProbes asks this kernel, caching each answer.
type liveProbes struct {
	tracefs  string
	symsOnce sync.Once
	syms     map[string]bool
	btfOnce  sync.Once
	kernBTF  *btf.Spec
}

func (p *liveProbes) ProgramType(t ebpf.ProgramType) error { return features.HaveProgramType(t) }
func (p *liveProbes) MapType(t ebpf.MapType) error         { return features.HaveMapType(t) }

func (p *liveProbes) Tracepoint(groupName string) bool {
	if p.tracefs == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(p.tracefs, "events", groupName, "id"))
	return err == nil
}

// Kprobes: cilium/ebpf attaches through the kprobe PMU, else kprobe_events.
func (p *liveProbes) Kprobes() bool {
	if _, err := os.Stat("/sys/bus/event_source/devices/kprobe/type"); err == nil {
		return true
	}
	if p.tracefs == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(p.tracefs, "kprobe_events"))
	return err == nil
}

func (p *liveProbes) KernelFunc(name string) bool {
	p.symsOnce.Do(func() {
		p.syms = map[string]bool{}
		f, err := os.Open("/proc/kallsyms")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) >= 3 && (fields[1] == "T" || fields[1] == "t") {
				p.syms[fields[2]] = true
			}
		}
	})
	return p.syms[name]
}

// Iterator looks for the iterator's target function in the kernel's BTF,
// which is where the kernel registers it (bpf_iter_<name>).
// BTFTracepoint loads (and drops) a program that does nothing, of type
// Tracing attached to the BTF tracepoint name: the kernel checks the type,
// the attach type and the target, as it will for the gadget's own program.
func (p *liveProbes) BTFTracepoint(name string) error {
	return loadTracingProbe(ebpf.AttachTraceRawTp, name)
}

// Fentry loads (and drops) a Tracing program that does nothing, attached
// to kernel function name at entry.
func (p *liveProbes) Fentry(name string) error {
	return loadTracingProbe(ebpf.AttachTraceFEntry, name)
}

// loadTracingProbe loads (and drops) a Tracing program that does nothing,
// attached to target as attach says, with the run's shared kernel types:
// finding the target reads them, and ig needs them next anyway.
func loadTracingProbe(attach ebpf.AttachType, target string) error {
	coll, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"ig_probe": {Type: ebpf.Tracing, AttachType: attach, AttachTo: target, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}},
	}}, ebpf.CollectionOptions{Cache: igbtf.KernelCache()})
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno // "operation not permitted", not the probe's own name and steps
	}
	if err != nil {
		return err
	}
	coll.Close()
	return nil
}

func (p *liveProbes) Iterator(name string) bool {
	p.btfOnce.Do(func() { p.kernBTF, _ = igbtf.KernelCache().Kernel() })
	if p.kernBTF == nil {
		return false
	}
	var fn *btf.Func
	return p.kernBTF.TypeByName("bpf_iter_"+name, &fn) == nil
}
