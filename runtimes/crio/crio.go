// Package crio lists the running containers of CRI-O through its CRI v1
// gRPC API socket.
package crio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/ig-tracer/ig/runtimes"
)

// DefaultSocket is where CRI-O listens unless told otherwise.
const DefaultSocket = "/var/run/crio/crio.sock"

// maxMsgSize is the largest answer taken (a verbose status carries the whole
// OCI spec); the kubelet allows the same.
const maxMsgSize = 16 << 20

// Client is CRI-O's CRI API. It implements runtimes.Client.
type Client struct {
	socket  string
	conn    *grpc.ClientConn
	api     cri.RuntimeServiceClient
	details runtimes.Details // status answers, asked once per container
}

var _ runtimes.Client = (*Client)(nil)

// New connects to CRI-O at socket ("" means DefaultSocket) and checks that it
// answers. The error wraps runtimes.ErrNoSocket when the socket does not
// exist.
func New(socket string) (*Client, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	if err := runtimes.CheckSocket(runtimes.CRIO, socket); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(socket)
	if err != nil {
		return nil, fmt.Errorf("cri-o: %s: %w", socket, err)
	}
	conn, err := grpc.NewClient("unix://"+abs,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("cri-o: %s: %w", socket, err)
	}
	c := &Client{socket: socket, conn: conn, api: cri.NewRuntimeServiceClient(conn)}
	if err := runtimes.CheckAnswers(runtimes.CRIO, socket, func(ctx context.Context) error {
		_, err := c.api.Version(ctx, &cri.VersionRequest{})
		return err
	}); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Name is runtimes.CRIO.
func (c *Client) Name() string { return runtimes.CRIO }

// Socket is the API socket it talks to.
func (c *Client) Socket() string { return c.socket }

// Containers lists the running containers with the host pids of their main
// processes. A container that stops while it is being listed is left out.
// PodName and PodNamespace come from the kubelet's labels, or, for a
// container made without them (crictl), from its pod sandbox's metadata;
// PodLabels from its pod sandbox.
func (c *Client) Containers(ctx context.Context) ([]runtimes.Container, error) {
	list, err := c.api.ListContainers(ctx, &cri.ListContainersRequest{
		Filter: &cri.ContainerFilter{State: &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING}},
	})
	if err != nil {
		return nil, fmt.Errorf("cri-o: listing containers: %w", err)
	}
	out := make([]runtimes.Container, 0, len(list.Containers))
	var pods map[string]*cri.PodSandbox // read once, when first needed
	listed := make(map[string]bool, len(list.Containers))
	defer func() { c.details.Prune(listed) }()
	for _, lc := range list.Containers {
		if lc.State != cri.ContainerState_CONTAINER_RUNNING {
			continue
		}
		listed[lc.Id] = true
		if ct, ok := c.details.Get(lc.Id); ok { // a CRI container keeps its process
			out = append(out, ct)
			continue
		}
		st, err := c.api.ContainerStatus(ctx, &cri.ContainerStatusRequest{ContainerId: lc.Id, Verbose: true})
		if err != nil {
			if status.Code(err) == codes.NotFound {
				continue // removed since the list
			}
			return nil, fmt.Errorf("cri-o: status of container %s: %w", runtimes.ShortID(lc.Id), err)
		}
		if st.Status == nil || st.Status.State != cri.ContainerState_CONTAINER_RUNNING {
			continue // stopped since the list
		}
		pid, err := verbosePid(st.Info)
		if err != nil {
			return nil, fmt.Errorf("cri-o: status of container %s: %w", runtimes.ShortID(lc.Id), err)
		}
		ct := fromCRI(lc, st.Status, pid)
		if lc.PodSandboxId != "" {
			if pods == nil {
				if pods, err = c.sandboxes(ctx); err != nil {
					return nil, err
				}
			}
			if pod := pods[lc.PodSandboxId]; pod != nil {
				ct.PodLabels = pod.Labels
				if md := pod.Metadata; md != nil && ct.PodName == "" {
					ct.PodName = md.Name
				}
				if md := pod.Metadata; md != nil && ct.PodNamespace == "" {
					ct.PodNamespace = md.Namespace
				}
			}
		}
		c.details.Put(ct)
		out = append(out, ct)
	}
	return out, nil
}

// sandboxes maps pod sandbox ids to them (their metadata and labels).
func (c *Client) sandboxes(ctx context.Context) (map[string]*cri.PodSandbox, error) {
	resp, err := c.api.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		return nil, fmt.Errorf("cri-o: listing pod sandboxes: %w", err)
	}
	m := make(map[string]*cri.PodSandbox, len(resp.Items))
	for _, p := range resp.Items {
		m[p.Id] = p
	}
	return m, nil
}

// verbosePid reads the host pid from a verbose ContainerStatus answer: CRI-O
// (like containerd's CRI plugin) puts a JSON object with a "pid" field under
// the "info" key.
func verbosePid(info map[string]string) (int, error) {
	raw, ok := info["info"]
	if !ok {
		return 0, errors.New(`no "info" in the verbose status`)
	}
	var v struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return 0, fmt.Errorf(`decoding the verbose status "info": %w`, err)
	}
	if v.Pid <= 0 {
		return 0, errors.New(`no pid in the verbose status "info"`)
	}
	return v.Pid, nil
}

// fromCRI builds a runtimes.Container from a list entry, its status and its
// pid.
func fromCRI(lc *cri.Container, st *cri.ContainerStatus, pid int) runtimes.Container {
	c := runtimes.Container{
		Runtime: runtimes.CRIO,
		ID:      lc.Id,
		Pid:     pid,
		Labels:  lc.Labels,
	}
	if st.Metadata != nil {
		c.Name = st.Metadata.Name
	}
	if c.Name == "" && lc.Metadata != nil {
		c.Name = lc.Metadata.Name
	}
	c.Image = imageName(lc, st)
	c.ImageDigest = imageDigest(st.ImageRef, lc.ImageRef)
	if c.Labels == nil {
		c.Labels = st.Labels
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.PodName = c.Labels[runtimes.LabelPodName]
	c.PodNamespace = c.Labels[runtimes.LabelPodNamespace]
	return c
}

// imageDigest is the digest of the first reference by digest (name@sha256:...).
func imageDigest(refs ...string) string {
	for _, r := range refs {
		if _, d, ok := strings.Cut(r, "@"); ok && strings.HasPrefix(d, "sha256:") {
			return d
		}
	}
	return ""
}

// imageName picks the most readable image reference CRI-O gave: the name the
// user asked for, else a name, else whatever id or digest there is.
func imageName(lc *cri.Container, st *cri.ContainerStatus) string {
	var cands []string
	for _, spec := range []*cri.ImageSpec{st.Image, lc.Image} {
		if spec != nil {
			cands = append(cands, spec.UserSpecifiedImage, spec.Image)
		}
	}
	cands = append(cands, st.ImageRef, lc.ImageRef)
	for _, s := range cands {
		if s != "" && !isImageID(s) {
			return s
		}
	}
	for _, s := range cands {
		if s != "" {
			return s
		}
	}
	return ""
}

// isImageID says s is a bare image id ("sha256:<hex>" or 64 hex digits),
// not a name.
func isImageID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// Close closes the connection to CRI-O.
func (c *Client) Close() error { return c.conn.Close() }
