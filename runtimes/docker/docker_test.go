package docker

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/runtimes"
)

func TestNewMissingSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nothing.sock")
	c, err := New(sock)
	if err == nil {
		c.Close()
		t.Fatal("New on a missing socket succeeded")
	}
	if !errors.Is(err, runtimes.ErrNoSocket) {
		t.Fatalf("error %q does not wrap ErrNoSocket", err)
	}
	if !strings.Contains(err.Error(), sock) {
		t.Errorf("error %q does not name the socket", err)
	}
}

func TestNewNotASocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, dir} {
		start := time.Now()
		c, err := New(path)
		if err == nil {
			c.Close()
			t.Fatalf("New(%s) succeeded", path)
		}
		if errors.Is(err, runtimes.ErrNoSocket) {
			t.Errorf("error %q wraps ErrNoSocket, but the file exists", err)
		}
		want := "docker: " + path + ": not answering: not a unix socket"
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q, want it to start with %q", err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("New took %s", d)
		}
	}
}

// TestNewSilentSocket: a socket that takes connections but never answers
// must fail after the ping timeout, not hang.
func TestNewSilentSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // hold it, say nothing
		}
	}()
	start := time.Now()
	c, err := New(sock)
	if err == nil {
		c.Close()
		t.Fatal("New on a silent socket succeeded")
	}
	if !strings.Contains(err.Error(), "not answering") {
		t.Errorf("error %q does not say the daemon is not answering", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("New took %s, want about %s", d, pingTimeout)
	}
}

// fakeDockerd answers like a docker 20.10 (API 1.41) with fixed containers.
type fakeDockerd struct {
	list    []map[string]any          // GET /containers/json
	inspect map[string]map[string]any // GET /containers/<id>/json; missing: 404
	query   string                    // the list request's query
}

var versioned = regexp.MustCompile(`^/v1\.[0-9]+(/.*)$`)

func (f *fakeDockerd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", "1.41")
	w.Header().Set("Ostype", "linux")
	p := r.URL.Path
	if m := versioned.FindStringSubmatch(p); m != nil {
		p = m[1]
	}
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case p == "/_ping":
		w.Write([]byte("OK"))
	case p == "/containers/json":
		f.query = r.URL.RawQuery
		reply(http.StatusOK, f.list)
	case strings.HasPrefix(p, "/containers/") && strings.HasSuffix(p, "/json"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/containers/"), "/json")
		if v, ok := f.inspect[id]; ok {
			reply(http.StatusOK, v)
			return
		}
		reply(http.StatusNotFound, map[string]string{"message": "No such container: " + id})
	default:
		reply(http.StatusNotFound, map[string]string{"message": "page not found"})
	}
}

func TestContainersFake(t *testing.T) {
	f := &fakeDockerd{
		list: []map[string]any{
			{"Id": "aaaa", "Names": []string{"/web"}, "Image": "nginx:1.25", "State": "running",
				"Labels": map[string]string{"x": "y"}},
			{"Id": "bbbb", "Names": []string{"/gone"}, "Image": "busybox", "State": "running"},
			{"Id": "cccc", "Names": []string{"/stopping"}, "Image": "busybox", "State": "running"},
			{"Id": "dddd", "Names": []string{"/k8s_nginx_web_prod"}, "Image": "sha256:1234", "State": "running",
				"Labels": map[string]string{runtimes.LabelPodName: "web", runtimes.LabelPodNamespace: "prod"}},
		},
		inspect: map[string]map[string]any{
			"aaaa": {"Id": "aaaa", "Name": "/web", "State": map[string]any{"Running": true, "Pid": 4242},
				"Config": map[string]any{"Image": "nginx:1.25", "Labels": map[string]string{"x": "y"}}},
			// bbbb was removed after the list: 404.
			"cccc": {"Id": "cccc", "Name": "/stopping", "State": map[string]any{"Running": false, "Pid": 0},
				"Config": map[string]any{"Image": "busybox"}},
			"dddd": {"Id": "dddd", "Name": "/k8s_nginx_web_prod", "State": map[string]any{"Running": true, "Pid": 77},
				"Config": map[string]any{"Image": "nginx:1.25",
					"Labels": map[string]string{runtimes.LabelPodName: "web", runtimes.LabelPodNamespace: "prod"}}},
		},
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(l)
	defer srv.Close()

	c, err := New(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Name() != runtimes.Docker {
		t.Errorf("Name() = %q", c.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(f.query, "all=") {
		t.Errorf("list query %q asks for stopped containers too", f.query)
	}
	want := []runtimes.Container{
		{Runtime: runtimes.Docker, ID: "aaaa", Name: "web", Image: "nginx:1.25", Pid: 4242,
			Labels: map[string]string{"x": "y"}},
		{Runtime: runtimes.Docker, ID: "dddd", Name: "k8s_nginx_web_prod", Image: "nginx:1.25", Pid: 77,
			Labels:  map[string]string{runtimes.LabelPodName: "web", runtimes.LabelPodNamespace: "prod"},
			PodName: "web", PodNamespace: "prod"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Containers() =\n%+v\nwant\n%+v", got, want)
	}
}
