package btf

import (
	"path/filepath"
	"strings"
	"testing"
)

// noHub is a BTFHub that must not be asked anything: Find never downloads.
func noHub(t *testing.T) *hub {
	h := newHub(t, nil)
	t.Cleanup(func() {
		if n := h.hits.Load(); n != 0 {
			t.Errorf("Find made %d requests to BTFHub", n)
		}
	})
	return h
}

func TestFindSources(t *testing.T) {
	dir := t.TempDir()
	rel, _ := embeddedBTF(t)
	vmlinux := writeFile(t, dir, "vmlinux", someBTF(t))
	missing := filepath.Join(dir, "missing")
	h := noHub(t)
	base := Options{
		VmlinuxPath:   vmlinux,
		Release:       rel,
		HubURL:        h.srv.URL,
		CacheDir:      t.TempDir(),
		OSReleasePath: fakeOSRelease(t),
		Arch:          "x86_64",
	}
	url := h.srv.URL + "/debian/12/x86_64/"
	for _, tc := range []struct {
		name    string
		edit    func(o *Options)
		want    Availability
		missing []string // for want.Source "": what Missing must say
	}{
		{"vmlinux first", func(o *Options) {}, Availability{Source: SourceVmlinux, Path: vmlinux}, nil},
		{"no vmlinux: embedded", func(o *Options) { o.VmlinuxPath = missing },
			Availability{Source: SourceEmbedded, Path: "embedded:" + rel}, nil},
		{"order respected", func(o *Options) { o.Sources = []string{SourceEmbedded, SourceVmlinux} },
			Availability{Source: SourceEmbedded, Path: "embedded:" + rel}, nil},
		{"btfhub not cached: a download", func(o *Options) { o.Sources = []string{SourceBTFHub} },
			Availability{Source: SourceBTFHub, Path: url + rel + ".btf.tar.xz", Download: true}, nil},
		{"unknown kernel: a download", func(o *Options) { o.VmlinuxPath, o.Release = missing, "5.4.0-x" },
			Availability{Source: SourceBTFHub, Path: url + "5.4.0-x.btf.tar.xz", Download: true}, nil},
		{"nothing", func(o *Options) {
			o.VmlinuxPath, o.Release, o.OSReleasePath = missing, "5.4.0-x", missing
		}, Availability{}, []string{"vmlinux: " + missing + " not found, embedded: no entry for 5.4.0-x, btfhub: " + missing + " not found"}},
		{"vmlinux not BTF", func(o *Options) {
			o.Sources, o.VmlinuxPath = []string{SourceVmlinux}, writeFile(t, dir, "passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"))
		}, Availability{}, []string{"vmlinux: parse BTF " + filepath.Join(dir, "passwd") + ": neither BTF nor an ELF file"}},
		{"vmlinux empty", func(o *Options) { o.Sources, o.VmlinuxPath = []string{SourceVmlinux}, writeFile(t, dir, "empty", nil) },
			Availability{}, []string{"empty file"}},
		{"vmlinux is a directory", func(o *Options) { o.Sources, o.VmlinuxPath = []string{SourceVmlinux}, dir },
			Availability{}, []string{"vmlinux: read " + dir}},
		{"embedded only, unknown kernel", func(o *Options) { o.Sources, o.Release = []string{SourceEmbedded}, "5.4.0-x" },
			Availability{}, []string{"embedded: no entry for 5.4.0-x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			got, err := Find(o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Source == "" {
				if got.Source != "" {
					t.Fatalf("found %+v, want none", got)
				}
				for _, m := range tc.missing {
					if !strings.Contains(got.Missing, m) {
						t.Errorf("Missing %q lacks %q", got.Missing, m)
					}
				}
				if strings.Contains(got.Missing, "\n") {
					t.Errorf("Missing is not one line: %q", got.Missing)
				}
				return
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Where Load needs no download, Find names the source Load takes.
func TestFindAgreesWithLoad(t *testing.T) {
	dir := t.TempDir()
	rel, _ := embeddedBTF(t)
	raw := someBTF(t)
	vmlinux := writeFile(t, dir, "vmlinux", raw)
	cache := t.TempDir()
	writeFile(t, cache, "5.4.0-x.btf", raw)
	h := noHub(t)
	for _, o := range []Options{
		{VmlinuxPath: vmlinux, Release: rel},
		{VmlinuxPath: filepath.Join(dir, "missing"), Release: rel},
		{Sources: []string{SourceEmbedded, SourceVmlinux}, VmlinuxPath: vmlinux, Release: rel},
		{Sources: []string{SourceEmbedded, SourceBTFHub}, Release: "5.4.0-x", CacheDir: cache, HubURL: h.srv.URL},
		{File: vmlinux, Sources: []string{SourceEmbedded}},
		{File: writeFile(t, dir, "k.btf.tar.xz", tarXz(t, "5.99.btf", raw))},
	} {
		a, err := Find(o)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Load(o)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if a.Source != res.Source || a.Path != res.Path || a.Download {
			t.Errorf("%+v: Find says %+v, Load took %s %s", o, a, res.Source, res.Path)
		}
	}
}

func TestFindCache(t *testing.T) {
	const rel = "5.99.0-1-test-amd64"
	h := noHub(t)
	cache := t.TempDir()
	o := Options{Sources: []string{SourceBTFHub}, Release: rel, HubURL: h.srv.URL, CacheDir: cache,
		OSReleasePath: fakeOSRelease(t), Arch: "x86_64"}
	want := Availability{Source: SourceBTFHub, Path: h.srv.URL + "/debian/12/x86_64/" + rel + ".btf.tar.xz", Download: true}
	if a, err := Find(o); err != nil || a != want {
		t.Fatalf("empty cache: %+v %v, want %+v", a, err, want)
	}
	// A damaged cache file is downloaded again by Load: still a download.
	cached := writeFile(t, cache, rel+".btf", []byte("junk"))
	if a, err := Find(o); err != nil || a != want {
		t.Fatalf("junk in the cache: %+v %v, want %+v", a, err, want)
	}
	writeFile(t, cache, rel+".btf", someBTF(t))
	if a, err := Find(o); err != nil || a != (Availability{Source: SourceBTFHub, Path: cached}) {
		t.Fatalf("cached: %+v %v", a, err)
	}
	// Cached, the download URL is not needed.
	o.OSReleasePath = filepath.Join(t.TempDir(), "missing")
	if a, err := Find(o); err != nil || a.Path != cached {
		t.Fatalf("cached, no os-release: %+v %v", a, err)
	}
	o.Release = "../x"
	if a, err := Find(o); err != nil || a.Source != "" || !strings.Contains(a.Missing, "cannot name a file") {
		t.Fatalf("bad release: %+v %v", a, err)
	}
}

// --btf FILE: only that file, which must be readable BTF; nothing else is tried.
func TestFindFile(t *testing.T) {
	dir := t.TempDir()
	files := corruptBTFFiles(t)
	files["passwd"] = []byte("root:x:0:0:root:/root:/bin/sh\n")
	files["missing"] = nil // not written
	for name, data := range files {
		p := filepath.Join(dir, name)
		if name != "missing" {
			writeFile(t, dir, name, data)
		}
		a, err := Find(Options{File: p, VmlinuxPath: sysVmlinux})
		if err != nil {
			t.Fatal(err)
		}
		if a.Source != "" || !strings.HasPrefix(a.Missing, "--btf: ") || !strings.Contains(a.Missing, p) {
			t.Errorf("%s: got %+v, want none, naming --btf and the file", name, a)
		}
	}
	a, err := Find(Options{File: dir})
	if err != nil || a.Source != "" || !strings.Contains(a.Missing, "directory") {
		t.Errorf("directory: %+v %v", a, err)
	}
}

func TestFindBadOptions(t *testing.T) {
	if _, err := Find(Options{Sources: []string{"vmlinux", "nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := Find(Options{Sources: []string{"vmlinux", "vmlinux"}}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a source twice: %v", err)
	}
}
