// Package containerd lists the running containers of a containerd daemon
// through its gRPC socket, in every namespace or in one.
package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ig-tracer/ig/runtimes"
)

// DefaultSocket is where containerd listens unless told otherwise.
const DefaultSocket = "/run/containerd/containerd.sock"

// LabelNamespace is the key under which each Container's Labels carry the
// containerd namespace it is in ("moby" for docker's, "k8s.io" for the CRI's).
const LabelNamespace = "containerd.namespace"

// DockerNamespace is where docker keeps its containers in containerd.
const DockerNamespace = "moby"

// LabelKind is the CRI plugin's label telling a pod sandbox ("sandbox") from
// a container ("container").
const LabelKind = "io.cri-containerd.kind"

// Client is a containerd daemon's API. It implements runtimes.Client.
type Client struct {
	socket    string
	namespace string // "" for every namespace
	api       *client.Client

	// digests are the image digests of containers listed, by container
	// id: a container's image never changes, so each costs one request.
	mu      sync.Mutex
	digests map[string]string
}

var _ runtimes.Client = (*Client)(nil)

// New connects to the containerd at socket ("" means DefaultSocket) and checks
// that it answers. Its Containers lists the containers of that namespace, or
// of every namespace when namespace is "". The error wraps
// runtimes.ErrNoSocket when the socket does not exist.
func New(socket, namespace string) (*Client, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	if err := runtimes.CheckSocket(runtimes.Containerd, socket); err != nil {
		return nil, err
	}
	// The client's timeout is also gRPC's connect timeout: at exactly
	// AnswerTimeout it would close a silent socket's connection a moment
	// before CheckAnswers' own deadline and hide "no answer within" behind
	// a transport error. Give it room so CheckAnswers decides.
	api, err := client.New(socket, client.WithTimeout(2*runtimes.AnswerTimeout))
	if err != nil {
		return nil, fmt.Errorf("containerd: %s: %w", socket, err)
	}
	if err := runtimes.CheckAnswers(runtimes.Containerd, socket, func(ctx context.Context) error {
		_, err := api.Version(ctx)
		return err
	}); err != nil {
		api.Close()
		return nil, err
	}
	return &Client{socket: socket, namespace: namespace, api: api}, nil
}

// Name is runtimes.Containerd.
func (c *Client) Name() string { return runtimes.Containerd }

// Socket is the API socket it talks to.
func (c *Client) Socket() string { return c.socket }

// Containers lists the containers that have a running (or paused) task, with
// the host pids of their init processes, and the CRI pod sandboxes.
func (c *Client) Containers(ctx context.Context) ([]runtimes.Container, error) {
	nss := []string{c.namespace}
	if c.namespace == "" {
		var err error
		nss, err = c.api.NamespaceService().List(ctx)
		if err != nil {
			return nil, fmt.Errorf("containerd: listing namespaces: %w", err)
		}
		sort.Strings(nss)
	}
	var out []runtimes.Container
	for _, ns := range nss {
		cs, err := c.namespaceContainers(namespaces.WithNamespace(ctx, ns), ns)
		if err != nil && c.namespace == "" && notFound(err) {
			continue // the namespace went away since the list
		}
		if err != nil {
			return nil, fmt.Errorf("containerd: namespace %s: %w", ns, err)
		}
		out = append(out, cs...)
	}
	return out, nil
}

// namespaceContainers lists one namespace's containers that have a live
// task, and the CRI pod sandboxes (Sandbox set).
func (c *Client) namespaceContainers(ctx context.Context, ns string) ([]runtimes.Container, error) {
	resp, err := c.api.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	pids := make(map[string]uint32, len(resp.Tasks))
	for _, t := range resp.Tasks {
		switch t.Status {
		case task.Status_RUNNING, task.Status_PAUSED, task.Status_PAUSING:
			if t.Pid > 0 {
				pids[t.ID] = t.Pid
			}
		}
	}
	if len(pids) == 0 {
		return nil, nil
	}
	list, err := c.api.ContainerService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	// CRI pods: kubelet puts the pod and container names in labels; pods
	// made otherwise (crictl) have them only in the CRI plugin's metadata.
	pods := map[string]criMetadata{} // sandbox id -> its metadata
	for _, ci := range list {
		if ci.Labels[LabelKind] == "sandbox" {
			if md, ok := criMeta(ci, extSandbox); ok {
				pods[ci.ID] = md
			}
		}
	}
	var out []runtimes.Container
	for _, ci := range list {
		pid, ok := pids[ci.ID]
		if !ok {
			continue // no task, or it has exited
		}
		labels := make(map[string]string, len(ci.Labels)+1)
		for k, v := range ci.Labels {
			labels[k] = v
		}
		labels[LabelNamespace] = ns
		ct := runtimes.Container{
			Runtime:      runtimes.Containerd,
			ID:           ci.ID,
			Name:         labels[runtimes.LabelContainerName],
			Image:        ci.Image,
			Pid:          int(pid),
			Labels:       labels,
			PodName:      labels[runtimes.LabelPodName],
			PodNamespace: labels[runtimes.LabelPodNamespace],
		}
		if ci.Labels[LabelKind] == "sandbox" {
			// The pod's own process (pause): its events are the pod's,
			// not the host's, though it is no container of the pod.
			ct.Sandbox, ct.Name = true, ""
			if md, ok := pods[ci.ID]; ok {
				ct.PodLabels = md.Metadata.Config.Labels
				if ct.PodName == "" {
					ct.PodName = md.Metadata.Config.Metadata.Name
					ct.PodNamespace = md.Metadata.Config.Metadata.Namespace
				}
			}
			out = append(out, ct)
			continue
		}
		if ci.Labels[LabelKind] == "container" {
			if md, ok := criMeta(ci, extContainer); ok {
				if pod, ok := pods[md.Metadata.SandboxID]; ok {
					ct.PodLabels = pod.Metadata.Config.Labels
				}
				if ct.Name == "" {
					ct.Name = md.Metadata.Config.Metadata.Name
				}
				if pod, ok := pods[md.Metadata.SandboxID]; ok && ct.PodName == "" {
					ct.PodName = pod.Metadata.Config.Metadata.Name
					ct.PodNamespace = pod.Metadata.Config.Metadata.Namespace
				}
			}
		}
		if ct.Name == "" {
			ct.Name = ci.ID
		}
		if ns == DockerNamespace {
			ct.Owner = runtimes.Docker
		}
		ct.ImageDigest = c.imageDigest(ctx, ci)
		out = append(out, ct)
	}
	return out, nil
}

// imageDigest is the digest of ci's image (its manifest's, or its index's),
// as the image store has it when ci is first listed; "" when the image is
// gone from the store.
func (c *Client) imageDigest(ctx context.Context, ci containers.Container) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.digests[ci.ID]; ok {
		return d
	}
	if c.digests == nil || len(c.digests) > 4096 {
		c.digests = map[string]string{} // forget gone containers now and then
	}
	d := ""
	if img, err := c.api.ImageService().Get(ctx, ci.Image); err == nil {
		d = img.Target.Digest.String()
	}
	c.digests[ci.ID] = d
	return d
}

// The CRI plugin's container extensions, JSON since containerd 1.x.
const (
	extContainer = "io.cri-containerd.container.metadata"
	extSandbox   = "io.cri-containerd.sandbox.metadata"
)

// criMetadata is the part of the CRI plugin's container and sandbox metadata
// that names them ({"Version":"v1","Metadata":{...}}).
type criMetadata struct {
	Version  string
	Metadata struct {
		SandboxID string // containers only
		Config    struct {
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"` // sandboxes only
			} `json:"metadata"`
			Labels map[string]string `json:"labels"` // a sandbox's: the pod's labels
		}
	}
}

// criMeta decodes the CRI metadata extension ext of a container.
func criMeta(ci containers.Container, ext string) (criMetadata, bool) {
	var md criMetadata
	a, ok := ci.Extensions[ext]
	if !ok || a == nil || json.Unmarshal(a.GetValue(), &md) != nil || md.Version != "v1" {
		return criMetadata{}, false
	}
	return md, true
}

func notFound(err error) bool {
	return errdefs.IsNotFound(err) || status.Code(err) == codes.NotFound
}

// Close closes the connection to the daemon.
func (c *Client) Close() error { return c.api.Close() }
