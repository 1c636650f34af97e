package tests

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/btf"
	"github.com/ig-tracer/ig/btf/btftest"
)

const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// traceOpenWith runs `ig <global args> trace open -o json --pid <test>`,
// waits until it reports an open of a unique file, stops it and returns how
// it ended.
func traceOpenWith(t *testing.T, global ...string) result {
	t.Helper()
	args := append(append([]string{}, global...), "trace", "open", "-o", "json", "--pid", strconv.Itoa(os.Getpid()))
	ig := startIG(t, args...)
	marker := newMarkerFile(t)
	ig.waitOpenJSON(marker)
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[openEvent](t, r.Stdout)
	if countOf(evs, func(e *openEvent) bool { return e.Path == marker && e.Pid == int64(os.Getpid()) }) == 0 {
		t.Fatalf("no open of %s in the output: %s", marker, r)
	}
	return r
}

// checkLogLine requires a stderr line equal to want.
func checkLogLine(t *testing.T, r result, want string) {
	t.Helper()
	for _, l := range strings.Split(string(r.Stderr), "\n") {
		if l == want {
			return
		}
	}
	t.Errorf("stderr lacks the line %q: %s", want, r)
}

func kernelRelease(t *testing.T) string {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

// osReleaseIDs reads ID and VERSION_ID from /etc/os-release.
func osReleaseIDs(t *testing.T) (id, version string) {
	t.Helper()
	id, version, err := btf.OSRelease("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	return id, version
}

// btfHubArchive builds a BTFHub-style <release>.btf.tar.xz holding the running
// kernel's BTF as <release>.btf.
func btfHubArchive(t *testing.T, release string) []byte {
	t.Helper()
	data, err := os.ReadFile(vmlinuxBTF)
	if err != nil {
		t.Fatalf("this test needs the kernel's own BTF: %v", err)
	}
	archive, err := btftest.Archive(release+".btf", data)
	if err != nil {
		t.Fatal(err)
	}
	return archive
}

func TestBTFSources(t *testing.T) {
	igBinary(t)
	release := kernelRelease(t)

	t.Run("embedded", func(t *testing.T) {
		r := traceOpenWith(t, "--btf-sources", "embedded", "-v")
		checkLogLine(t, r, "ig: btf: using embedded BTF from embedded:"+release)
		checkLogLine(t, r, "ig: kernel BTF from embedded (embedded:"+release+")")
	})

	t.Run("file", func(t *testing.T) {
		r := traceOpenWith(t, "--btf", vmlinuxBTF, "-v")
		checkLogLine(t, r, "ig: btf: using "+vmlinuxBTF+" (--btf)")
		checkLogLine(t, r, "ig: kernel BTF from file ("+vmlinuxBTF+")")
	})

	t.Run("btfhub", func(t *testing.T) {
		if runtime.GOARCH != "amd64" {
			t.Fatalf("the BTFHub path below assumes x86_64, not %s", runtime.GOARCH)
		}
		id, version := osReleaseIDs(t)
		archive := btfHubArchive(t, release)
		wantPath := "/" + strings.Join([]string{id, version, "x86_64", release + ".btf.tar.xz"}, "/")
		var (
			mu   sync.Mutex
			reqs []string
		)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			reqs = append(reqs, r.Method+" "+r.URL.Path)
			mu.Unlock()
			if r.Method != http.MethodGet || r.URL.Path != wantPath {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/x-xz")
			_, _ = w.Write(archive)
		}))
		defer srv.Close()
		if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
			t.Fatalf("test server is not on 127.0.0.1: %s", srv.URL)
		}
		cache := t.TempDir()
		r := traceOpenWith(t, "--btf-sources", "btfhub", "--btfhub-url", srv.URL, "--btf-cache-dir", cache, "-v")

		url := srv.URL + wantPath
		cached := filepath.Join(cache, release+".btf")
		checkLogLine(t, r, "ig: btf: btfhub: GET "+url)
		checkLogLine(t, r, "ig: btf: btfhub: cached as "+cached)
		checkLogLine(t, r, "ig: btf: using btfhub BTF from "+url)
		checkLogLine(t, r, "ig: kernel BTF from btfhub ("+url+")")

		mu.Lock()
		got := append([]string(nil), reqs...)
		mu.Unlock()
		if len(got) != 1 || got[0] != "GET "+wantPath {
			t.Errorf("server requests: got %q, want exactly [GET %s]", got, wantPath)
		}

		b, err := os.ReadFile(cached)
		if err != nil {
			t.Fatalf("BTF not cached: %v", err)
		}
		want, err := os.ReadFile(vmlinuxBTF)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("cached %s (%d bytes) differs from %s (%d bytes)", cached, len(b), vmlinuxBTF, len(want))
		}
		ents, _ := os.ReadDir(cache)
		if len(ents) != 1 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("cache dir holds %q, want only %s.btf", names, release)
		}
	})
}
