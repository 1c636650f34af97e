// Package btf finds the kernel BTF that ig's eBPF objects are CO-RE relocated against.
//
// Sources are tried in a configurable order:
//
//   - vmlinux: the running kernel's own BTF, /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF).
//   - embedded: minimized BTF built into ig by scripts/btfgen.sh (btf/embedded/<release>.btf),
//     holding only the types ig's objects use, for the Debian kernels it knows.
//   - btfhub: <HubURL>/<ID>/<VERSION_ID>/<arch>/<release>.btf.tar.xz from a BTFHub archive,
//     cached as <CacheDir>/<release>.btf. A cached file is used without any network access;
//     one that does not parse is logged and downloaded again (and replaced).
//
// Options.File (--btf PATH) replaces all of them with one file: raw BTF, an ELF (a vmlinux)
// with a .BTF section, or a BTFHub .btf.tar.xz.
//
// Find says which source Load would use without downloading or decoding anything, for the
// requirements check (`ig requirements`, and every gadget before it loads).
package btf

import (
	"archive/tar"
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// Source names, for Options.Sources and Result.Source.
const (
	SourceVmlinux  = "vmlinux"
	SourceEmbedded = "embedded"
	SourceBTFHub   = "btfhub"
	SourceFile     = "file" // only set by Options.File, never listed in Sources
)

// DefaultSources is the order used when Options.Sources is empty.
var DefaultSources = []string{SourceVmlinux, SourceEmbedded, SourceBTFHub}

// DefaultHubURL is the BTFHub archive's base URL.
const DefaultHubURL = "https://github.com/aquasecurity/btfhub-archive/raw/main"

// DefaultCacheDir holds BTF downloaded from BTFHub.
const DefaultCacheDir = "/var/cache/ig/btf"

const (
	defaultVmlinuxPath   = "/sys/kernel/btf/vmlinux"
	defaultOSReleasePath = "/etc/os-release"
	// maxBTFSize bounds what is read from one archive or file (vmlinux BTF is ~5-10 MiB).
	maxBTFSize = 512 << 20
)

// Options say where to look for BTF. The zero value uses the defaults.
type Options struct {
	Sources       []string                         // order to try; empty = DefaultSources; an unknown name is an error
	File          string                           // --btf PATH: use only this file (raw BTF, ELF with .BTF, or .btf.tar.xz)
	HubURL        string                           // "" = DefaultHubURL; layout <base>/<ID>/<VERSION_ID>/<arch>/<release>.btf.tar.xz
	CacheDir      string                           // "" = DefaultCacheDir; downloads are cached as <release>.btf
	Release       string                           // kernel release; "" = uname -r
	OSReleasePath string                           // "" = /etc/os-release (ID and VERSION_ID are read from it)
	Arch          string                           // BTFHub arch name; "" = from runtime.GOARCH (amd64->x86_64, arm64->arm64)
	VmlinuxPath   string                           // "" = /sys/kernel/btf/vmlinux
	Logf          func(format string, args ...any) // verbose messages; may be nil
	HTTPClient    *http.Client                     // nil = a client with a 30 s timeout
}

// Result is the BTF found and where it came from.
type Result struct {
	Spec   *btf.Spec
	Source string // one of the Source* constants
	Path   string // file or URL it came from ("embedded:<release>" for embedded BTF)
}

//go:embed embedded/*.btf
var embedded embed.FS

// errNotApplicable marks a source that does not apply here (missing file, no entry, 404):
// its message is still reported, and the next source is tried.
var errNotApplicable = errors.New("not applicable")

type skipError struct{ msg string }

func (e *skipError) Error() string   { return e.msg }
func (e *skipError) Is(t error) bool { return t == errNotApplicable }

func skipf(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

// ParseSources parses a comma-separated list such as "vmlinux,embedded" into a validated
// source list. Names are case-insensitive; blanks around them are ignored.
func ParseSources(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(f))
		if name == "" {
			if strings.TrimSpace(s) == "" {
				return nil, fmt.Errorf("empty BTF source list (valid: %s)", strings.Join(DefaultSources, ", "))
			}
			return nil, fmt.Errorf("empty name in BTF source list %q", s)
		}
		if err := checkSource(name); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("BTF source %q listed twice", name)
		}
		seen[name] = true
		out = append(out, name)
	}
	return out, nil
}

func checkSource(name string) error {
	switch name {
	case SourceVmlinux, SourceEmbedded, SourceBTFHub:
		return nil
	case SourceFile:
		return fmt.Errorf("BTF source %q is not a search source: give the file with --btf PATH", name)
	}
	return fmt.Errorf("unknown BTF source %q (valid: %s)", name, strings.Join(DefaultSources, ", "))
}

// EmbeddedReleases lists, sorted, the kernel releases ig carries minimized BTF for.
func EmbeddedReleases() []string {
	ents, err := embedded.ReadDir("embedded")
	if err != nil {
		return nil
	}
	var rels []string
	for _, e := range ents {
		if rel, ok := strings.CutSuffix(e.Name(), ".btf"); ok && !e.IsDir() && rel != "" {
			rels = append(rels, rel)
		}
	}
	sort.Strings(rels)
	return rels
}

// Load finds BTF for the kernel: Options.File alone if set, otherwise each source of
// Options.Sources in order until one works. When all fail, the error names every source
// and why it failed.
func Load(o Options) (*Result, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.File != "" {
		spec, err := loadFile(o.File)
		if err != nil {
			return nil, fmt.Errorf("--btf: %w", err)
		}
		logf("btf: using %s (--btf)", o.File)
		return &Result{Spec: spec, Source: SourceFile, Path: o.File}, nil
	}

	sources, release, err := sourcesAndRelease(o)
	if err != nil {
		return nil, err
	}

	var reasons []string
	for _, s := range sources {
		var (
			res *Result
			err error
		)
		switch s {
		case SourceVmlinux:
			res, err = loadVmlinux(o)
		case SourceEmbedded:
			res, err = loadEmbedded(release)
		case SourceBTFHub:
			res, err = loadHub(o, release, logf)
		}
		if err == nil {
			logf("btf: using %s BTF from %s", s, res.Path)
			return res, nil
		}
		if errors.Is(err, errNotApplicable) {
			logf("btf: %s: %v; trying the next source", s, err)
		} else {
			logf("btf: %s failed: %v; trying the next source", s, err)
		}
		reasons = append(reasons, s+": "+err.Error())
	}
	return nil, fmt.Errorf("no BTF for kernel %s: %s", release, strings.Join(reasons, "; "))
}

// sourcesAndRelease are the sources to try, validated, and the kernel release to find BTF for.
func sourcesAndRelease(o Options) ([]string, string, error) {
	sources := o.Sources
	if len(sources) == 0 {
		sources = DefaultSources
	}
	seen := map[string]bool{}
	for _, s := range sources {
		if err := checkSource(s); err != nil {
			return nil, "", err
		}
		if seen[s] {
			return nil, "", fmt.Errorf("BTF source %q listed twice", s)
		}
		seen[s] = true
	}
	release := o.Release
	if release == "" {
		var err error
		if release, err = kernelRelease(); err != nil {
			return nil, "", err
		}
	}
	return sources, release, nil
}

func kernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

func loadVmlinux(o Options) (*Result, error) {
	p := o.VmlinuxPath
	if p == "" {
		p = defaultVmlinuxPath
	}
	if p == defaultVmlinuxPath {
		return loadRunningKernel()
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, skipf("%s not found", p)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	spec, err := parse(p, data, false)
	if err != nil {
		return nil, err
	}
	return &Result{Spec: spec, Source: SourceVmlinux, Path: p}, nil
}

// kernelCache holds the running kernel's types, read once per run: the
// checker's probes, ig's own relocation and cilium/ebpf's search for attach
// targets (tp_btf, fentry) all use them. cilium/ebpf maps the file and
// decodes only the types asked for.
var (
	kernelCacheMu sync.Mutex
	kernelCache   = btf.NewCache()
)

// KernelCache is the running kernel's types, shared by every load of this run.
func KernelCache() *btf.Cache {
	kernelCacheMu.Lock()
	defer kernelCacheMu.Unlock()
	return kernelCache
}

// DropKernelCache lets the kernel's types go once nothing more will be
// loaded: the next KernelCache reads them again.
func DropKernelCache() {
	kernelCacheMu.Lock()
	defer kernelCacheMu.Unlock()
	kernelCache = btf.NewCache()
}

// loadRunningKernel reads /sys/kernel/btf/vmlinux through KernelCache.
func loadRunningKernel() (*Result, error) {
	spec, err := KernelCache().Kernel()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, skipf("%s not found", defaultVmlinuxPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", defaultVmlinuxPath, err)
	}
	if _, err := spec.TypeByID(1); err != nil {
		return nil, fmt.Errorf("parse BTF %s: %w", defaultVmlinuxPath, err)
	}
	return &Result{Spec: spec, Source: SourceVmlinux, Path: defaultVmlinuxPath}, nil
}

func loadEmbedded(release string) (*Result, error) {
	name := release + ".btf"
	if strings.ContainsAny(release, `/\`) || release == "." || release == ".." {
		return nil, skipf("no entry for %s", release)
	}
	data, err := embedded.ReadFile("embedded/" + name)
	if err != nil {
		return nil, skipf("no entry for %s", release)
	}
	where := "embedded:" + release
	spec, err := parse(where, data, true)
	if err != nil {
		return nil, err
	}
	return &Result{Spec: spec, Source: SourceEmbedded, Path: where}, nil
}

// loadFile reads raw BTF, an ELF with .BTF, or a .btf.tar.xz (detected by content).
func loadFile(p string) (*btf.Spec, error) {
	data, err := readFile(p)
	if err != nil {
		return nil, err
	}
	return parse(p, data, true)
}

// readFile returns the BTF bytes of a file: raw BTF or an ELF as they are, a .btf.tar.xz
// extracted.
func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(6); bytes.Equal(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
		data, err := extractTarXz(br, "")
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		return data, nil
	}
	data, err := io.ReadAll(io.LimitReader(br, maxBTFSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(data) > maxBTFSize {
		return nil, fmt.Errorf("read %s: larger than %d MiB", p, maxBTFSize>>20)
	}
	return data, nil
}

// parse decodes BTF (raw or ELF). With deep set, every type is decoded once on a throwaway
// copy, so that a damaged file fails here, with its name, rather than later during CO-RE
// relocation; the spec returned is a fresh one that decodes types lazily (a fully decoded
// kernel spec holds tens of MB). The running kernel's own BTF is trusted (deep unset).
func parse(where string, data []byte, deep bool) (spec *btf.Spec, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec, err = nil, fmt.Errorf("parse BTF %s: malformed data (%v)", where, r)
		}
	}()
	if len(data) == 0 {
		return nil, fmt.Errorf("parse BTF %s: empty file", where)
	}
	spec, err = btf.LoadSpecFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse BTF %s: %w", where, err)
	}
	if !deep {
		if _, err := spec.TypeByID(1); err != nil {
			return nil, fmt.Errorf("parse BTF %s: %w", where, err)
		}
		return spec, nil
	}
	n := 0
	for _, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("parse BTF %s: %w", where, err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("parse BTF %s: no types", where)
	}
	if spec, err = btf.LoadSpecFromReader(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse BTF %s: %w", where, err)
	}
	return spec, nil
}

// extractTarXz returns the BTF file of a BTFHub archive: the entry named want
// (<release>.btf), or when want is "" the only regular file ending in .btf.
func extractTarXz(r io.Reader, want string) ([]byte, error) {
	xr, err := xz.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	tr := tar.NewReader(xr)
	var found []byte
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		base := path.Base(h.Name)
		names = append(names, h.Name)
		if want != "" && base != want || want == "" && !strings.HasSuffix(base, ".btf") {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("archive holds more than one %s file", want)
		}
		if h.Size > maxBTFSize {
			return nil, fmt.Errorf("%s: %d bytes is too large", h.Name, h.Size)
		}
		found, err = io.ReadAll(io.LimitReader(tr, maxBTFSize))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		if want != "" {
			break
		}
	}
	if found == nil {
		if want == "" {
			want = "*.btf"
		}
		return nil, fmt.Errorf("archive has no %s (entries: %s)", want, strings.Join(names, ", "))
	}
	return found, nil
}

// hubArch maps a Go architecture to BTFHub's directory name.
func hubArch(goarch string) (string, error) {
	switch goarch {
	case "amd64":
		return "x86_64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("BTFHub has no BTF for architecture %s", goarch)
}

// OSRelease reads ID and VERSION_ID from an os-release file (BTFHub files its
// archive by them).
func OSRelease(p string) (id, version string, err error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			version = v
		}
	}
	if id == "" || version == "" {
		return "", "", fmt.Errorf("%s has no ID or VERSION_ID", p)
	}
	return id, version, nil
}

// hubCache is the file a BTFHub download for release is cached as.
func hubCache(o Options, release string) (dir, file string, err error) {
	if strings.ContainsAny(release, `/\`) || strings.HasPrefix(release, ".") {
		return "", "", fmt.Errorf("kernel release %q cannot name a file", release)
	}
	dir = o.CacheDir
	if dir == "" {
		dir = DefaultCacheDir
	}
	return dir, filepath.Join(dir, release+".btf"), nil
}

// hubURL is where a BTFHub archive keeps release's BTF for this distribution and
// architecture; a missing os-release or an architecture BTFHub lacks makes it not applicable.
func hubURL(o Options, release string) (id, version, url string, err error) {
	osrel := o.OSReleasePath
	if osrel == "" {
		osrel = defaultOSReleasePath
	}
	id, version, err = OSRelease(osrel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", "", skipf("%s not found (needed for the BTFHub path)", osrel)
		}
		return "", "", "", err
	}
	arch := o.Arch
	if arch == "" {
		if arch, err = hubArch(runtime.GOARCH); err != nil {
			return "", "", "", skipf("%v", err)
		}
	}
	base := o.HubURL
	if base == "" {
		base = DefaultHubURL
	}
	url = strings.TrimRight(base, "/") + "/" + strings.Join([]string{id, version, arch, release + ".btf.tar.xz"}, "/")
	return id, version, url, nil
}

func loadHub(o Options, release string, logf func(string, ...any)) (*Result, error) {
	cacheDir, cached, err := hubCache(o, release)
	if err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(cached); err == nil {
		spec, perr := parse(cached, data, true)
		if perr == nil {
			return &Result{Spec: spec, Source: SourceBTFHub, Path: cached}, nil
		}
		logf("btf: btfhub: cached %v; downloading it again", perr)
	} else if !errors.Is(err, fs.ErrNotExist) {
		logf("btf: btfhub: cannot read cache: %v", err)
	}

	id, version, url, err := hubURL(o, release)
	if err != nil {
		return nil, err
	}

	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	logf("btf: btfhub: GET %s", url)
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "ig")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, skipf("GET %s: 404 (BTFHub has no BTF for %s %s %s)", url, id, version, release)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	data, err := extractTarXz(resp.Body, release+".btf")
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	spec, err := parse(url, data, true)
	if err != nil {
		return nil, err
	}
	if err := writeCache(cacheDir, cached, data); err != nil {
		logf("btf: btfhub: not cached: %v", err)
	} else {
		logf("btf: btfhub: cached as %s", cached)
	}
	return &Result{Spec: spec, Source: SourceBTFHub, Path: url}, nil
}

// writeCache stores data as file through a temporary file in dir and a rename, so a reader
// never sees a partial file.
func writeCache(dir, file string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
