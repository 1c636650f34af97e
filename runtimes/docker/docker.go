// Package docker lists the running containers of a docker daemon through its
// API socket.
package docker

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/ig-tracer/ig/runtimes"
)

// DefaultSocket is where dockerd listens unless told otherwise.
const DefaultSocket = "/var/run/docker.sock"

// Client is a docker daemon's API. It implements runtimes.Client.
type Client struct {
	socket  string
	api     *client.Client
	details runtimes.Details // inspect answers, asked once per container
}

var _ runtimes.Client = (*Client)(nil)

// New connects to the docker daemon at socket ("" means DefaultSocket) and
// checks that it answers. The error wraps runtimes.ErrNoSocket when the
// socket does not exist.
func New(socket string) (*Client, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	if err := runtimes.CheckSocket(runtimes.Docker, socket); err != nil {
		return nil, err
	}
	api, err := client.NewClientWithOpts(
		client.WithHost("unix://"+socket),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("docker: %s: %w", socket, err)
	}
	if err := runtimes.CheckAnswers(runtimes.Docker, socket, func(ctx context.Context) error {
		_, err := api.Ping(ctx)
		return err
	}); err != nil {
		api.Close()
		return nil, err
	}
	return &Client{socket: socket, api: api}, nil
}

// Name is runtimes.Docker.
func (c *Client) Name() string { return runtimes.Docker }

// Socket is the API socket it talks to.
func (c *Client) Socket() string { return c.socket }

// Containers lists the running containers with the host pids of their main
// processes. A container that stops while it is being listed is left out.
func (c *Client) Containers(ctx context.Context) ([]runtimes.Container, error) {
	list, err := c.api.ContainerList(ctx, container.ListOptions{}) // running only
	if err != nil {
		return nil, fmt.Errorf("docker: listing containers: %w", err)
	}
	out := make([]runtimes.Container, 0, len(list))
	listed := make(map[string]bool, len(list))
	defer func() { c.details.Prune(listed) }()
	for _, s := range list {
		listed[s.ID] = true
		if ct, ok := c.details.Get(s.ID); ok {
			if len(s.Names) > 0 {
				ct.Name = strings.TrimPrefix(s.Names[0], "/") // docker rename
			}
			out = append(out, ct)
			continue
		}
		info, err := c.api.ContainerInspect(ctx, s.ID)
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				continue // removed since the list
			}
			return nil, fmt.Errorf("docker: inspecting container %s: %w", runtimes.ShortID(s.ID), err)
		}
		if info.State == nil || !info.State.Running || info.State.Pid <= 0 {
			continue // stopped since the list
		}
		ct := fromInspect(s, info)
		c.details.Put(ct)
		out = append(out, ct)
	}
	return out, nil
}

// fromInspect builds a runtimes.Container from a list entry and its inspect
// answer.
func fromInspect(s container.Summary, info container.InspectResponse) runtimes.Container {
	c := runtimes.Container{
		Runtime: runtimes.Docker,
		ID:      s.ID,
		Image:   s.Image,
		Labels:  s.Labels,
	}
	if info.ContainerJSONBase != nil {
		c.Name = strings.TrimPrefix(info.Name, "/")
		if info.State != nil {
			c.Pid = info.State.Pid
		}
	}
	if c.Name == "" && len(s.Names) > 0 {
		c.Name = strings.TrimPrefix(s.Names[0], "/")
	}
	if info.Config != nil {
		if info.Config.Image != "" {
			c.Image = info.Config.Image
		}
		if info.Config.Labels != nil {
			c.Labels = info.Config.Labels
		}
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.PodName = c.Labels[runtimes.LabelPodName]
	c.PodNamespace = c.Labels[runtimes.LabelPodNamespace]
	return c
}

// Close closes the connection to the daemon.
func (c *Client) Close() error { return c.api.Close() }
