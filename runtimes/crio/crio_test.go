package crio

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

// TestNew: a missing socket, a file that is not a socket, a socket that
// accepts and never speaks HTTP/2, and a stale one (CRI-O stopped
// uncleanly).
func TestNew(t *testing.T) {
	runtimestest.CheckNew(t, runtimes.CRIO, New)
}

// fakeCRI answers ListContainers, ContainerStatus and ListPodSandbox from
// canned data shaped as CRI-O 1.34 answers.
type fakeCRI struct {
	cri.UnimplementedRuntimeServiceServer
	containers []*cri.Container
	statuses   map[string]*cri.ContainerStatusResponse
	pods       []*cri.PodSandbox
	podLists   int
}

func (f *fakeCRI) Version(context.Context, *cri.VersionRequest) (*cri.VersionResponse, error) {
	return &cri.VersionResponse{Version: "0.1.0", RuntimeName: "cri-o", RuntimeVersion: "1.34.0", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeCRI) ListContainers(_ context.Context, r *cri.ListContainersRequest) (*cri.ListContainersResponse, error) {
	var out []*cri.Container
	for _, c := range f.containers {
		if r.Filter != nil && r.Filter.State != nil && r.Filter.State.State != c.State {
			continue
		}
		out = append(out, c)
	}
	return &cri.ListContainersResponse{Containers: out}, nil
}

func (f *fakeCRI) ContainerStatus(_ context.Context, r *cri.ContainerStatusRequest) (*cri.ContainerStatusResponse, error) {
	s, ok := f.statuses[r.ContainerId]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "could not find container %q", r.ContainerId)
	}
	if !r.Verbose {
		return &cri.ContainerStatusResponse{Status: s.Status}, nil
	}
	return s, nil
}

func (f *fakeCRI) ListPodSandbox(context.Context, *cri.ListPodSandboxRequest) (*cri.ListPodSandboxResponse, error) {
	f.podLists++
	return &cri.ListPodSandboxResponse{Items: f.pods}, nil
}

func serve(t *testing.T, f *fakeCRI) string {
	t.Helper()
	return runtimestest.ServeGRPC(t, "crio.sock", func(s *grpc.Server) { cri.RegisterRuntimeServiceServer(s, f) })
}

const (
	idA     = "3f1a0c1e4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
	idB     = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
	idGone  = "00000000000000000000000000000000000000000000000000000000000000aa"
	idExit  = "00000000000000000000000000000000000000000000000000000000000000bb"
	podID   = "c0ffee0000000000000000000000000000000000000000000000000000000001"
	imageID = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

func running(id, name string, labels map[string]string) *cri.Container {
	return &cri.Container{
		Id: id, PodSandboxId: podID, Metadata: &cri.ContainerMetadata{Name: name},
		Image: &cri.ImageSpec{Image: imageID}, ImageRef: "localhost/rtbox@sha256:2222222222222222222222222222222222222222222222222222222222222222",
		State: cri.ContainerState_CONTAINER_RUNNING, Labels: labels,
	}
}

func verbose(name string, state cri.ContainerState, info string) *cri.ContainerStatusResponse {
	return &cri.ContainerStatusResponse{
		Status: &cri.ContainerStatus{
			Metadata: &cri.ContainerMetadata{Name: name}, State: state,
			Image:    &cri.ImageSpec{Image: "localhost/rtbox:latest", UserSpecifiedImage: "localhost/rtbox:latest"},
			ImageRef: "localhost/rtbox@sha256:2222222222222222222222222222222222222222222222222222222222222222",
		},
		Info: map[string]string{"info": info},
	}
}

func TestContainers(t *testing.T) {
	kubelet := map[string]string{
		runtimes.LabelPodName: "web-0", runtimes.LabelPodNamespace: "shop", runtimes.LabelContainerName: "a",
	}
	f := &fakeCRI{
		containers: []*cri.Container{
			running(idA, "a", kubelet),
			running(idB, "b", nil), // made by crictl: no kubelet labels
			running(idGone, "gone", nil),
			running(idExit, "exited", nil),
			{Id: "stopped", State: cri.ContainerState_CONTAINER_EXITED},
		},
		statuses: map[string]*cri.ContainerStatusResponse{
			idA:    verbose("a", cri.ContainerState_CONTAINER_RUNNING, `{"sandboxID":"`+podID+`","pid":4242,"runtimeSpec":{"ociVersion":"1.0.2"}}`),
			idB:    verbose("b", cri.ContainerState_CONTAINER_RUNNING, `{"sandboxID":"`+podID+`","pid":4343}`),
			idExit: verbose("exited", cri.ContainerState_CONTAINER_EXITED, `{"pid":0}`),
		},
		pods: []*cri.PodSandbox{{Id: podID, Metadata: &cri.PodSandboxMetadata{Name: "s-crio-pod", Namespace: "default"}}},
	}
	c, err := New(serve(t, f))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := runtimestest.List(t, c, runtimes.CRIO)
	if len(got) != 2 {
		t.Fatalf("got %d containers, want 2: %+v", len(got), got)
	}
	a, b := got[0], got[1]
	if a.ID != idA || a.Name != "a" || a.Pid != 4242 || a.Runtime != runtimes.CRIO || a.Image != "localhost/rtbox:latest" ||
		a.PodName != "web-0" || a.PodNamespace != "shop" || a.Labels[runtimes.LabelContainerName] != "a" || a.OwnerUID != 0 || a.MountNsID != 0 {
		t.Errorf("a = %+v", a)
	}
	if b.ID != idB || b.Name != "b" || b.Pid != 4343 || b.PodName != "s-crio-pod" || b.PodNamespace != "default" || b.Labels == nil {
		t.Errorf("b = %+v", b)
	}
	if f.podLists != 1 {
		t.Errorf("ListPodSandbox called %d times, want 1", f.podLists)
	}
}

func TestContainersNoPid(t *testing.T) {
	f := &fakeCRI{
		containers: []*cri.Container{running(idA, "a", nil)},
		statuses:   map[string]*cri.ContainerStatusResponse{idA: verbose("a", cri.ContainerState_CONTAINER_RUNNING, `{"sandboxID":"x"}`)},
	}
	c, err := New(serve(t, f))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Containers(context.Background()); err == nil || !strings.Contains(err.Error(), "no pid") {
		t.Fatalf("Containers = %v, want a no-pid error", err)
	}
}

func TestVerbosePid(t *testing.T) {
	for _, tc := range []struct {
		info map[string]string
		pid  int
		ok   bool
	}{
		{map[string]string{"info": `{"pid":1234,"sandboxID":"x"}`}, 1234, true},
		{map[string]string{"info": `{"pid":0}`}, 0, false},
		{map[string]string{"info": `not json`}, 0, false},
		{map[string]string{}, 0, false},
		{nil, 0, false},
	} {
		pid, err := verbosePid(tc.info)
		if pid != tc.pid || (err == nil) != tc.ok {
			t.Errorf("verbosePid(%v) = %d, %v", tc.info, pid, err)
		}
	}
}

func TestImageName(t *testing.T) {
	lc := &cri.Container{Image: &cri.ImageSpec{Image: imageID}, ImageRef: imageID}
	st := &cri.ContainerStatus{ImageRef: imageID}
	if got := imageName(lc, st); got != imageID {
		t.Errorf("ids only: %q", got)
	}
	st.ImageRef = "localhost/rtbox@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	if got := imageName(lc, st); got != st.ImageRef {
		t.Errorf("digest ref: %q", got)
	}
	st.Image = &cri.ImageSpec{Image: "localhost/rtbox:latest"}
	if got := imageName(lc, st); got != "localhost/rtbox:latest" {
		t.Errorf("name: %q", got)
	}
	st.Image.UserSpecifiedImage = "rtbox"
	if got := imageName(lc, st); got != "rtbox" {
		t.Errorf("user specified: %q", got)
	}
}

// The digest is that of the first reference by digest; an image id or a
// name by tag has none.
func TestImageDigest(t *testing.T) {
	for _, c := range []struct {
		refs []string
		want string
	}{
		{[]string{"quay.io/x/y@sha256:abc", "sha256:def"}, "sha256:abc"},
		{[]string{"sha256:def", "localhost/pause:latest"}, ""},
		{[]string{"", "docker.io/library/busybox@sha256:123"}, "sha256:123"},
		{nil, ""},
	} {
		if got := imageDigest(c.refs...); got != c.want {
			t.Errorf("imageDigest(%q) = %q, want %q", c.refs, got, c.want)
		}
	}
}
