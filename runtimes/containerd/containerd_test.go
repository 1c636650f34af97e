package containerd

import (
	"context"
	"reflect"
	"strings"
	"testing"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/runtimestest"
)

// TestNew: a missing socket, a file that is not a socket, a socket that
// never answers and a stale one.
func TestNew(t *testing.T) {
	runtimestest.CheckNew(t, runtimes.Containerd, func(socket string) (*Client, error) { return New(socket, "") })
}

// fakeContainerd serves the version, namespaces, tasks and containers APIs
// from fixed data, as a containerd 1.6 would (without ListStream).
type fakeContainerd struct {
	containers map[string][]*containersapi.Container // by namespace
	tasks      map[string][]*task.Process
}

func namespaceOf(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("containerd-namespace"); len(v) == 1 && v[0] != "" {
		return v[0], nil
	}
	return "", status.Error(codes.FailedPrecondition, "namespace is required")
}

type fakeVersion struct {
	versionapi.UnimplementedVersionServer
}

func (fakeVersion) Version(context.Context, *emptypb.Empty) (*versionapi.VersionResponse, error) {
	return &versionapi.VersionResponse{Version: "1.6.20~ds1", Revision: "fake"}, nil
}

type fakeNamespaces struct {
	namespacesapi.UnimplementedNamespacesServer
	*fakeContainerd
}

func (f fakeNamespaces) List(context.Context, *namespacesapi.ListNamespacesRequest) (*namespacesapi.ListNamespacesResponse, error) {
	var r namespacesapi.ListNamespacesResponse
	for ns := range f.containers {
		r.Namespaces = append(r.Namespaces, &namespacesapi.Namespace{Name: ns})
	}
	return &r, nil
}

type fakeTasks struct {
	tasksapi.UnimplementedTasksServer
	*fakeContainerd
}

func (f fakeTasks) List(ctx context.Context, _ *tasksapi.ListTasksRequest) (*tasksapi.ListTasksResponse, error) {
	ns, err := namespaceOf(ctx)
	if err != nil {
		return nil, err
	}
	return &tasksapi.ListTasksResponse{Tasks: f.tasks[ns]}, nil
}

type fakeContainers struct {
	containersapi.UnimplementedContainersServer
	*fakeContainerd
}

func (f fakeContainers) List(ctx context.Context, _ *containersapi.ListContainersRequest) (*containersapi.ListContainersResponse, error) {
	ns, err := namespaceOf(ctx)
	if err != nil {
		return nil, err
	}
	return &containersapi.ListContainersResponse{Containers: f.containers[ns]}, nil
}

func startFake(t *testing.T, f *fakeContainerd) string {
	t.Helper()
	return runtimestest.ServeGRPC(t, "containerd.sock", func(s *grpc.Server) {
		versionapi.RegisterVersionServer(s, fakeVersion{})
		namespacesapi.RegisterNamespacesServer(s, fakeNamespaces{fakeContainerd: f})
		tasksapi.RegisterTasksServer(s, fakeTasks{fakeContainerd: f})
		containersapi.RegisterContainersServer(s, fakeContainers{fakeContainerd: f})
	})
}

func TestContainersFake(t *testing.T) {
	f := &fakeContainerd{
		containers: map[string][]*containersapi.Container{
			"default": {
				{ID: "plain", Image: "localhost/rtbox:latest", Labels: map[string]string{"a": "b"}},
				{ID: "stopped", Image: "localhost/rtbox:latest"},
				{ID: "created-only", Image: "localhost/rtbox:latest"},
				{ID: "paused", Image: "localhost/rtbox:latest"},
			},
			"k8s.io": {
				{ID: "sandbox1", Image: "registry.k8s.io/pause:3.9", Labels: map[string]string{
					LabelKind: "sandbox", runtimes.LabelPodName: "web", runtimes.LabelPodNamespace: "prod",
				}},
				{ID: "ctr1", Image: "docker.io/library/nginx:1.25", Labels: map[string]string{
					LabelKind: "container", runtimes.LabelContainerName: "nginx",
					runtimes.LabelPodName: "web", runtimes.LabelPodNamespace: "prod",
				}},
				// A pod made with crictl: names only in the CRI metadata.
				{ID: "sandbox2", Image: "localhost/pause:latest", Labels: map[string]string{LabelKind: "sandbox"},
					Extensions: map[string]*anypb.Any{extSandbox: {
						TypeUrl: "github.com/containerd/cri/pkg/store/sandbox/Metadata",
						Value: []byte(`{"Version":"v1","Metadata":{"ID":"sandbox2","Name":"db-pod_test_uid_0",` +
							`"Config":{"metadata":{"name":"db-pod","uid":"uid","namespace":"test"}}}}`),
					}}},
				{ID: "ctr2", Image: "localhost/pause:latest", Labels: map[string]string{LabelKind: "container"},
					Extensions: map[string]*anypb.Any{extContainer: {
						TypeUrl: "github.com/containerd/cri/pkg/store/container/Metadata",
						Value: []byte(`{"Version":"v1","Metadata":{"ID":"ctr2","Name":"db_db-pod_test_uid_0",` +
							`"SandboxID":"sandbox2","Config":{"metadata":{"name":"db"},"image":{"image":"localhost/pause:latest"}}}}`),
					}}},
				// Metadata that does not decode: the id is the name.
				{ID: "ctr3", Image: "localhost/pause:latest", Labels: map[string]string{LabelKind: "container"},
					Extensions: map[string]*anypb.Any{extContainer: {Value: []byte("not json")}}},
			},
			"empty": nil,
		},
		tasks: map[string][]*task.Process{
			"default": {
				{ID: "plain", Pid: 100, Status: task.Status_RUNNING},
				{ID: "stopped", Pid: 101, Status: task.Status_STOPPED},
				{ID: "created-only", Pid: 102, Status: task.Status_CREATED},
				{ID: "paused", Pid: 103, Status: task.Status_PAUSED},
				{ID: "task-without-container", Pid: 104, Status: task.Status_RUNNING},
			},
			"k8s.io": {
				{ID: "sandbox1", Pid: 200, Status: task.Status_RUNNING},
				{ID: "ctr1", Pid: 201, Status: task.Status_RUNNING},
				{ID: "sandbox2", Pid: 300, Status: task.Status_RUNNING},
				{ID: "ctr2", Pid: 301, Status: task.Status_RUNNING},
				{ID: "ctr3", Pid: 302, Status: task.Status_RUNNING},
			},
		},
	}
	sock := startFake(t, f)

	c, err := New(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := runtimestest.List(t, c, runtimes.Containerd)
	want := []runtimes.Container{
		{
			Runtime: runtimes.Containerd, ID: "plain", Name: "plain", Image: "localhost/rtbox:latest", Pid: 100,
			Labels: map[string]string{"a": "b", LabelNamespace: "default"},
		},
		{
			Runtime: runtimes.Containerd, ID: "paused", Name: "paused", Image: "localhost/rtbox:latest", Pid: 103,
			Labels: map[string]string{LabelNamespace: "default"},
		},
		{ // a pod's sandbox: no name, its pod's fields from kubelet's labels
			Runtime: runtimes.Containerd, ID: "sandbox1", Image: "registry.k8s.io/pause:3.9", Pid: 200, Sandbox: true,
			Labels: map[string]string{
				LabelKind: "sandbox", runtimes.LabelPodName: "web", runtimes.LabelPodNamespace: "prod", LabelNamespace: "k8s.io",
			},
			PodName: "web", PodNamespace: "prod",
		},
		{
			Runtime: runtimes.Containerd, ID: "ctr1", Name: "nginx", Image: "docker.io/library/nginx:1.25", Pid: 201,
			Labels: map[string]string{
				LabelKind: "container", runtimes.LabelContainerName: "nginx",
				runtimes.LabelPodName: "web", runtimes.LabelPodNamespace: "prod", LabelNamespace: "k8s.io",
			},
			PodName: "web", PodNamespace: "prod",
		},
		{ // made with crictl: its pod's fields from the CRI metadata
			Runtime: runtimes.Containerd, ID: "sandbox2", Image: "localhost/pause:latest", Pid: 300, Sandbox: true,
			Labels:  map[string]string{LabelKind: "sandbox", LabelNamespace: "k8s.io"},
			PodName: "db-pod", PodNamespace: "test",
		},
		{
			Runtime: runtimes.Containerd, ID: "ctr2", Name: "db", Image: "localhost/pause:latest", Pid: 301,
			Labels:  map[string]string{LabelKind: "container", LabelNamespace: "k8s.io"},
			PodName: "db-pod", PodNamespace: "test",
		},
		{
			Runtime: runtimes.Containerd, ID: "ctr3", Name: "ctr3", Image: "localhost/pause:latest", Pid: 302,
			Labels: map[string]string{LabelKind: "container", LabelNamespace: "k8s.io"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Containers() =\n%+v\nwant\n%+v", got, want)
	}

	// One namespace only.
	c2, err := New(sock, "k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	got = runtimestest.List(t, c2, runtimes.Containerd)
	var ids []string
	for _, ct := range got {
		ids = append(ids, ct.ID)
	}
	if strings.Join(ids, " ") != "sandbox1 ctr1 sandbox2 ctr2 ctr3" {
		t.Errorf("Containers() in k8s.io = %q, want sandbox1 ctr1 sandbox2 ctr2 ctr3", ids)
	}
}
