package podman

import (
	"context"
	_ "embed"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

// containersJSON is GET /v4.0.0/libpod/containers/json?filters={"status":["running"]}
// as podman 4.3.1 answered it (root service, two running containers, one
// carrying kubelet-style labels); see testdata/README.
//
//go:embed testdata/containers.json
var containersJSON []byte

// fakeService serves the libpod endpoints the client uses on a unix socket
// in a temporary directory and returns the socket's path.
func fakeService(t *testing.T, ping int) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v4.0.0/libpod/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(ping)
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("GET /v4.0.0/libpod/containers/json", func(w http.ResponseWriter, r *http.Request) {
		if f := r.URL.Query().Get("filters"); f != `{"status":["running"]}` {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"cause":"bad filter","message":"unexpected filters ` + f + `","response":400}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(containersJSON)
	})
	return runtimestest.ServeHTTP(t, "podman.sock", mux)
}

// TestNew: a missing socket, a file that is not a socket, a socket that
// never answers and a stale one (the service died).
func TestNew(t *testing.T) {
	runtimestest.CheckNew(t, runtimes.Podman, New)
}

// TestNewNotAnswering: a service that answers the ping with an error.
func TestNewNotAnswering(t *testing.T) {
	sock := fakeService(t, http.StatusInternalServerError)
	_, err := New(sock)
	if err == nil || errors.Is(err, runtimes.ErrNoSocket) || !strings.Contains(err.Error(), "podman: "+sock+": not answering") {
		t.Fatalf("New = %v, want a not-answering error", err)
	}
}

func TestContainers(t *testing.T) {
	sock := fakeService(t, http.StatusOK)
	c, err := New(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := runtimestest.List(t, c, runtimes.Podman)
	want := wantContainers(uint32(os.Getuid()))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Containers =\n%+v\nwant\n%+v", got, want)
	}
}

// TestOwnerUID: a rootless user's service runs that user's containers.
func TestOwnerUID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown the socket")
	}
	sock := fakeService(t, http.StatusOK)
	const uid = 4711
	if err := os.Chown(sock, uid, uid); err != nil {
		t.Fatal(err)
	}
	c, err := New(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Containers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.OwnerUID() != uid || len(got) == 0 {
		t.Fatalf("OwnerUID = %d, %d containers", c.OwnerUID(), len(got))
	}
	for _, ct := range got {
		if ct.OwnerUID != uid {
			t.Errorf("%s: OwnerUID = %d, want %d", ct.Name, ct.OwnerUID, uid)
		}
	}
}

func TestConvertSkipsStopped(t *testing.T) {
	c := &Client{ownerUID: 7}
	got := c.convert([]listEntry{
		{ID: "a", Names: []string{"a"}, Pid: 10, State: "running"},
		{ID: "b", Names: []string{"b"}, Pid: 0, State: "running"},
		{ID: "c", Names: []string{"c"}, Pid: 11, State: "exited"},
	})
	if len(got) != 1 || got[0].ID != "a" || got[0].OwnerUID != 7 || got[0].Labels == nil {
		t.Errorf("convert = %+v", got)
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for _, uid := range []string{"2000", "1000"} {
		d := filepath.Join(dir, uid, "podman")
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("unix", filepath.Join(d, "podman.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
	}
	want = []string{filepath.Join(dir, "1000/podman/podman.sock"), filepath.Join(dir, "2000/podman/podman.sock")}
	// not a socket, and a user without a service
	os.MkdirAll(filepath.Join(dir, "3000/podman"), 0o700)
	os.WriteFile(filepath.Join(dir, "3000/podman/podman.sock"), nil, 0o600)
	os.MkdirAll(filepath.Join(dir, "4000"), 0o700)
	if got := discover(filepath.Join(dir, "*/podman/podman.sock")); !reflect.DeepEqual(got, want) {
		t.Errorf("discover = %v, want %v", got, want)
	}
	if got := discover(filepath.Join(t.TempDir(), "*/podman/podman.sock")); got != nil {
		t.Errorf("discover(empty) = %v", got)
	}
}

// wantContainers is what testdata/containers.json decodes to, for a service
// whose socket belongs to uid.
func wantContainers(uid uint32) []runtimes.Container {
	return []runtimes.Container{
		{
			Runtime: runtimes.Podman,
			ID:      "d10229c4ec8cf99f004978e30d8288b0c397fec046fd577fc9b5d23523975dbc",
			Name:    "ig-rec-a",
			Image:   "localhost/pause:latest",
			Pid:     16490,
			Labels: map[string]string{
				runtimes.LabelContainerName: "a",
				runtimes.LabelPodName:       "web-0",
				runtimes.LabelPodNamespace:  "shop",
			},
			PodName:      "web-0",
			PodNamespace: "shop",
			OwnerUID:     uid,
		},
		{
			Runtime:  runtimes.Podman,
			ID:       "2d5622a9958d47a0584271dabc14d1bcb5ffd14747980ef101dbd9f45842b0d7",
			Name:     "ig-rec-b",
			Image:    "localhost/pause:latest",
			Pid:      16521,
			Labels:   map[string]string{},
			OwnerUID: uid,
		},
	}
}
