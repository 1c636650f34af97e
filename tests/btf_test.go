package tests

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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

	// ig embeds BTF for distribution kernels, never for this machine kind's
	// own builds (they differ from machine to machine): here, embedded BTF
	// alone is a refusal that names the release. The kernel guests of
	// `make kernels` run the embedded path on the kernels ig carries.
	t.Run("embedded", func(t *testing.T) {
		if slices.Contains(btf.EmbeddedReleases(), release) {
			t.Fatalf("ig embeds BTF for this host's kernel %s, which scripts/btfgen.sh never adds", release)
		}
		r := runIG(t, "--btf-sources", "embedded", "trace", "open", "-t", "5")
		msg := checkFailure(t, r)
		if want := "ig: trace open: no kernel BTF (embedded: no entry for " + release + ")"; msg != want {
			t.Errorf("got %q, want %q", msg, want)
		}
	})

	// What `make btfgen` embeds, made for this kernel at test time and given
	// to ig as a user would: BTF minimized to the types of ig's objects
	// relocates every gadget that loads eBPF.
	t.Run("minimized", func(t *testing.T) {
		minimized := minimizedBTF(t)
		r := traceOpenWith(t, "--btf", minimized, "-v")
		checkLogLine(t, r, "ig: kernel BTF from file ("+minimized+")")

		// exec's CO-RE reads (the new program's args and exe path through
		// mm, file, path, dentry, mount) resolve with it too.
		trueExe, err := filepath.EvalSymlinks("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		ig := startIG(t, "--btf", minimized, "trace", "exec", "-o", "json")
		marker := unique("ig-minimized")
		ig.waitExecJSON(marker)
		r = ig.stop(sigINT)
		checkSuccess(t, r)
		// waitExecJSON ran it until ig showed it: one run or more.
		for _, got := range eventsOf[execEvent](t, r.Stdout) {
			if len(got.Args) == 2 && got.Args[1] == marker &&
				(got.ExePath != trueExe || got.Ret != 0 || got.Comm != "true" || got.Args[0] != "/bin/true") {
				t.Errorf("with minimized BTF, exec of /bin/true %s shows as %+v; want exepath %s, ret 0, comm true", marker, got, trueExe)
			}
		}
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

// minimizedBTF makes, as `make btfgen` does for the kernels ig embeds, this
// kernel's BTF minimized to the types ig's eBPF objects use.
func minimizedBTF(t *testing.T) string {
	t.Helper()
	objs, err := filepath.Glob("../tracers/*/*/*_bpfel.o")
	if err != nil || len(objs) == 0 {
		t.Fatalf("no eBPF objects found (%v)", err)
	}
	out := filepath.Join(t.TempDir(), kernelRelease(t)+".btf")
	argv := append([]string{"gen", "min_core_btf", vmlinuxBTF, out}, objs...)
	if b, err := exec.Command(requireTool(t, "bpftool"), argv...).CombinedOutput(); err != nil {
		t.Fatalf("bpftool %s: %v\n%s", strings.Join(argv, " "), err, b)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.Stat(vmlinuxBTF)
	if err != nil {
		t.Fatal(err)
	}
	// Minimized means small: a few KB, not the kernel's megabytes.
	if st.Size() == 0 || st.Size() > full.Size()/100 {
		t.Fatalf("minimized BTF is %d bytes (the kernel's: %d)", st.Size(), full.Size())
	}
	return out
}
