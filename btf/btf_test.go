package btf

import (
	"bytes"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ig-tracer/ig/btf/btftest"

	"github.com/cilium/ebpf/btf"
)

const sysVmlinux = "/sys/kernel/btf/vmlinux"

func hasTaskStruct(t *testing.T, spec *btf.Spec) {
	t.Helper()
	var s *btf.Struct
	if err := spec.TypeByName("task_struct", &s); err != nil {
		t.Fatalf("task_struct: %v", err)
	}
	if s.Size == 0 {
		t.Fatalf("task_struct has size 0")
	}
}

// someBTF returns real BTF bytes: this kernel's when it has any, else an embedded file.
func someBTF(t *testing.T) []byte {
	t.Helper()
	if data, err := os.ReadFile(sysVmlinux); err == nil {
		return data
	}
	_, data := embeddedBTF(t)
	return data
}

func embeddedBTF(t *testing.T) (string, []byte) {
	t.Helper()
	rels := EmbeddedReleases()
	if len(rels) == 0 {
		t.Fatal("no embedded BTF")
	}
	data, err := embedded.ReadFile("embedded/" + rels[0] + ".btf")
	if err != nil {
		t.Fatal(err)
	}
	return rels[0], data
}

var (
	tarXzMu    sync.Mutex
	tarXzCache = map[string][]byte{}
)

// tarXz builds a BTFHub-style archive holding data as name (memoized: xz is slow).
func tarXz(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	tarXzMu.Lock()
	defer tarXzMu.Unlock()
	key := fmt.Sprintf("%s/%d/%x", name, len(data), data[:min(len(data), 64)])
	if b, ok := tarXzCache[key]; ok {
		return b
	}
	archive, err := btftest.Archive(name, data)
	if err != nil {
		t.Fatal(err)
	}
	tarXzCache[key] = archive
	return archive
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func TestVmlinux(t *testing.T) {
	if _, err := os.Stat(sysVmlinux); err != nil {
		t.Skipf("%s: %v", sysVmlinux, err)
	}
	for _, o := range []Options{
		{Sources: []string{SourceVmlinux}},
		{Sources: []string{SourceVmlinux}, VmlinuxPath: sysVmlinux},
		{}, // defaults: vmlinux comes first
	} {
		res, err := Load(o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Source != SourceVmlinux || res.Path != sysVmlinux {
			t.Fatalf("got %s %s", res.Source, res.Path)
		}
		hasTaskStruct(t, res.Spec)
	}
}

// hub serves archives in the BTFHub layout and counts requests.
type hub struct {
	srv   *httptest.Server
	files map[string][]byte // URL path -> body
	hits  atomic.Int32
}

func newHub(t *testing.T, files map[string][]byte) *hub {
	h := &hub{files: files}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		body, ok := h.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func fakeOSRelease(t *testing.T) string {
	return writeFile(t, t.TempDir(), "os-release", []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"))
}

func TestBTFHub(t *testing.T) {
	const rel = "5.99.0-1-test-amd64"
	raw := someBTF(t)
	archive := tarXz(t, rel+".btf", raw)
	h := newHub(t, map[string][]byte{"/archive/debian/12/x86_64/" + rel + ".btf.tar.xz": archive})
	cache := filepath.Join(t.TempDir(), "a", "btf") // does not exist yet
	var log logBuf
	o := Options{
		Sources:       []string{SourceBTFHub},
		HubURL:        h.srv.URL + "/archive/",
		CacheDir:      cache,
		Release:       rel,
		OSReleasePath: fakeOSRelease(t),
		Arch:          "x86_64",
		Logf:          log.logf,
	}
	res, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	wantURL := h.srv.URL + "/archive/debian/12/x86_64/" + rel + ".btf.tar.xz"
	if res.Source != SourceBTFHub || res.Path != wantURL {
		t.Fatalf("got %s %s, want btfhub %s", res.Source, res.Path, wantURL)
	}
	hasTaskStruct(t, res.Spec)
	cached := filepath.Join(cache, rel+".btf")
	got, err := os.ReadFile(cached)
	if err != nil {
		t.Fatalf("cache file: %v", err)
	}
	if !bytes.Equal(got, raw) {
		t.Fatalf("cache file differs from the archived BTF")
	}
	if st, _ := os.Stat(cache); st.Mode().Perm() != 0o755 {
		t.Fatalf("cache dir mode %v", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 1 {
		t.Fatalf("cache dir holds %d entries, want 1 (no temp files left)", len(ents))
	}
	if n := h.hits.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}

	// second load: from the cache, no request
	res, err = Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != SourceBTFHub || res.Path != cached {
		t.Fatalf("second load: got %s %s, want the cache %s", res.Source, res.Path, cached)
	}
	hasTaskStruct(t, res.Spec)
	if n := h.hits.Load(); n != 1 {
		t.Fatalf("%d requests after a cache hit, want 1", n)
	}

	// a corrupt cache file is downloaded again and replaced
	writeFile(t, cache, rel+".btf", []byte("garbage"))
	res, err = Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.hits.Load(); n != 2 {
		t.Fatalf("%d requests after a corrupt cache, want 2", n)
	}
	if got, _ := os.ReadFile(cached); !bytes.Equal(got, raw) {
		t.Fatalf("corrupt cache file not replaced")
	}
	if !strings.Contains(log.String(), cached) {
		t.Fatalf("log does not name the corrupt cache file:\n%s", log.String())
	}

	// Arch defaults to this machine's
	if _, err := hubArch("riscv64"); err == nil {
		t.Fatal("riscv64 should have no BTFHub arch")
	}
}

func TestBTFHub404(t *testing.T) {
	h := newHub(t, nil)
	const rel = "5.99.0-404-amd64"
	o := Options{
		Sources:       []string{SourceBTFHub},
		HubURL:        h.srv.URL,
		CacheDir:      t.TempDir(),
		Release:       rel,
		OSReleasePath: fakeOSRelease(t),
		Arch:          "x86_64",
	}
	_, err := Load(o)
	if err == nil {
		t.Fatal("expected an error")
	}
	url := h.srv.URL + "/debian/12/x86_64/" + rel + ".btf.tar.xz"
	for _, want := range []string{"no BTF for kernel " + rel, "btfhub: GET " + url + ": 404"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}

	// falls through to the next source
	embRel, _ := embeddedBTF(t)
	o.Release = embRel
	o.Sources = []string{SourceBTFHub, SourceEmbedded}
	var log logBuf
	o.Logf = log.logf
	res, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != SourceEmbedded {
		t.Fatalf("got source %s", res.Source)
	}
	if !strings.Contains(log.String(), "404") {
		t.Fatalf("log does not mention the 404:\n%s", log.String())
	}

	// other HTTP errors and broken archives are errors too
	h.files = map[string][]byte{"/debian/12/x86_64/" + embRel + ".btf.tar.xz": []byte("not xz")}
	o.Sources = []string{SourceBTFHub}
	if _, err := Load(o); err == nil || !strings.Contains(err.Error(), "xz") {
		t.Fatalf("broken archive: %v", err)
	}
	_, raw := embeddedBTF(t)
	h.files = map[string][]byte{"/debian/12/x86_64/" + embRel + ".btf.tar.xz": tarXz(t, "other.btf", raw)}
	if _, err := Load(o); err == nil || !strings.Contains(err.Error(), embRel+".btf") {
		t.Fatalf("archive without the release's file: %v", err)
	}

	// no os-release
	o.OSReleasePath = filepath.Join(t.TempDir(), "missing")
	if _, err := Load(o); err == nil || !strings.Contains(err.Error(), o.OSReleasePath) {
		t.Fatalf("missing os-release: %v", err)
	}
}

func TestEmbedded(t *testing.T) {
	rels := EmbeddedReleases()
	if len(rels) == 0 {
		t.Fatal("no embedded releases")
	}
	for i := 1; i < len(rels); i++ {
		if rels[i-1] >= rels[i] {
			t.Fatalf("not sorted: %v", rels)
		}
	}
	for _, rel := range rels {
		res, err := Load(Options{Sources: []string{SourceEmbedded}, Release: rel})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if res.Source != SourceEmbedded || res.Path != "embedded:"+rel {
			t.Fatalf("%s: got %s %s", rel, res.Source, res.Path)
		}
		hasTaskStruct(t, res.Spec)
	}
	for _, rel := range []string{"4.19.0-unknown-amd64", "../btf", ""} {
		_, err := Load(Options{Sources: []string{SourceEmbedded}, Release: rel + "x"})
		if err == nil || !strings.Contains(err.Error(), "embedded: no entry for "+rel+"x") {
			t.Fatalf("release %q: %v", rel+"x", err)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	raw := someBTF(t)
	p := writeFile(t, dir, "vmlinux.btf", raw)
	res, err := Load(Options{File: p, VmlinuxPath: "/nonexistent", Sources: []string{SourceEmbedded}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != SourceFile || res.Path != p {
		t.Fatalf("got %s %s", res.Source, res.Path)
	}
	hasTaskStruct(t, res.Spec)

	// a BTFHub archive given as a file
	px := writeFile(t, dir, "k.btf.tar.xz", tarXz(t, "5.99.btf", raw))
	res, err = Load(Options{File: px})
	if err != nil {
		t.Fatal(err)
	}
	hasTaskStruct(t, res.Spec)

	// an ELF with .BTF, if there is one among the tracers' objects
	if objs, _ := filepath.Glob("../tracers/*/*/*_bpfel.o"); len(objs) > 0 {
		if _, err := Load(Options{File: objs[0]}); err != nil {
			t.Fatalf("ELF %s: %v", objs[0], err)
		}
	}

	// File is the only source: a missing file is an error, nothing else is tried
	missing := filepath.Join(dir, "missing.btf")
	if _, err := Load(Options{File: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Load(Options{File: dir}); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("directory: %v", err)
	}
}

// corruptBTFFiles are files that are not usable BTF, each in its own way.
func corruptBTFFiles(t *testing.T) map[string][]byte {
	_, small := embeddedBTF(t)
	raw := someBTF(t)
	random := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(random)
	archive := tarXz(t, "5.99.btf", raw)
	return map[string][]byte{
		"empty.btf":            nil,
		"truncated.btf":        raw[:len(raw)/2],
		"truncated-small.btf":  small[:len(small)-7],
		"header-only.btf":      raw[:24],
		"random.btf":           random,
		"magic-random.btf":     append([]byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0}, random...),
		"truncated.btf.tar.xz": archive[:len(archive)/2],
		"ELF-random.o":         append([]byte("\x7fELF\x02\x01\x01"), random...),
	}
}

func TestCorrupt(t *testing.T) {
	dir := t.TempDir()
	cases := corruptBTFFiles(t)
	for name, data := range cases {
		p := writeFile(t, dir, name, data)
		_, err := Load(Options{File: p})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}

	// the same through the vmlinux source
	p := filepath.Join(dir, "truncated.btf")
	_, err := Load(Options{Sources: []string{SourceVmlinux}, VmlinuxPath: p, Release: "x"})
	if err == nil || !strings.Contains(err.Error(), "parse BTF "+p) {
		t.Fatalf("vmlinux truncated: %v", err)
	}

	// damaged bytes anywhere: an error or a usable spec, never a panic
	_, small := embeddedBTF(t)
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		data := bytes.Clone(small)
		for j := 0; j < 1+rnd.Intn(4); j++ {
			data[rnd.Intn(len(data))] = byte(rnd.Intn(256))
		}
		spec, err := parse("mutated", data, true)
		if err != nil {
			if !strings.Contains(err.Error(), "parse BTF mutated") {
				t.Fatalf("error lacks the name: %v", err)
			}
			continue
		}
		for typ, err := range spec.All() {
			if err != nil {
				t.Fatalf("validated spec fails later: %v", err)
			}
			_ = typ.TypeName()
		}
	}
}

func TestParseSources(t *testing.T) {
	got, err := ParseSources("vmlinux,embedded")
	if err != nil || strings.Join(got, ",") != "vmlinux,embedded" {
		t.Fatalf("got %v %v", got, err)
	}
	got, err = ParseSources(" btfhub , Vmlinux ")
	if err != nil || strings.Join(got, ",") != "btfhub,vmlinux" {
		t.Fatalf("got %v %v", got, err)
	}
	for in, want := range map[string]string{
		"vmlinux,foo":     `unknown BTF source "foo"`,
		"file":            "--btf",
		"vmlinux,vmlinux": "twice",
		"":                "empty",
		"vmlinux,,btfhub": "empty name",
		"embedded;btfhub": "unknown",
	} {
		if _, err := ParseSources(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", in, err, want)
		}
	}
	if _, err := Load(Options{Sources: []string{"vmlinux", "nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Load with an unknown source: %v", err)
	}
}

func TestSourceOrder(t *testing.T) {
	rel, _ := embeddedBTF(t)
	missing := filepath.Join(t.TempDir(), "vmlinux")
	var log logBuf
	res, err := Load(Options{
		Sources:     []string{SourceVmlinux, SourceEmbedded},
		VmlinuxPath: missing,
		Release:     rel,
		Logf:        log.logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != SourceEmbedded {
		t.Fatalf("got %s, want embedded", res.Source)
	}
	hasTaskStruct(t, res.Spec)
	if !strings.Contains(log.String(), missing+" not found") {
		t.Fatalf("log does not say why vmlinux was skipped:\n%s", log.String())
	}

	// the order is respected: embedded first wins even when vmlinux exists
	if _, err := os.Stat(sysVmlinux); err == nil {
		res, err := Load(Options{Sources: []string{SourceEmbedded, SourceVmlinux}, Release: rel})
		if err != nil || res.Source != SourceEmbedded {
			t.Fatalf("got %v %v", res, err)
		}
	}

	// everything fails: one line naming each source
	h := newHub(t, nil)
	const unknown = "5.4.0-x"
	_, err = Load(Options{
		VmlinuxPath:   missing,
		Release:       unknown,
		HubURL:        h.srv.URL,
		CacheDir:      t.TempDir(),
		OSReleasePath: fakeOSRelease(t),
		Arch:          "x86_64",
	})
	if err == nil {
		t.Fatal("expected an error")
	}
	want := "no BTF for kernel 5.4.0-x: vmlinux: " + missing + " not found; embedded: no entry for 5.4.0-x; btfhub: GET " +
		h.srv.URL + "/debian/12/x86_64/5.4.0-x.btf.tar.xz: 404"
	if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error\n%q\nwant prefix\n%q", err, want)
	}
}
