package docker

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

// TestNew: a missing socket, a file that is not a socket, a socket that
// never answers and a stale one.
func TestNew(t *testing.T) {
	runtimestest.CheckNew(t, runtimes.Docker, New)
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
	c, err := New(runtimestest.ServeHTTP(t, "docker.sock", f))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := runtimestest.List(t, c, runtimes.Docker)
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
