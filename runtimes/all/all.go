// Package all connects to the container runtimes ig was asked to use. It is
// the one place that knows every client package.
package all

import (
	"errors"
	"fmt"

	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/runtimes/containerd"
	"github.com/ig-tracer/ig/runtimes/crio"
	"github.com/ig-tracer/ig/runtimes/docker"
	"github.com/ig-tracer/ig/runtimes/podman"
)

// Default API sockets.
const (
	DockerSocket     = "/var/run/docker.sock"
	ContainerdSocket = "/run/containerd/containerd.sock"
	CrioSocket       = "/run/crio/crio.sock"
	PodmanSocket     = "/run/podman/podman.sock"
)

// Config says which runtimes to use and where their sockets are.
type Config struct {
	Runtimes            []string // nil: all
	Explicit            bool     // -r was given: a runtime that cannot be reached is an error
	DockerSocket        string
	ContainerdSocket    string
	ContainerdNamespace string // "": every namespace
	CrioSocket          string
	PodmanSockets       []string // nil: root's, and every rootless user's that exists
	Logf                func(string, ...any)
	Warnf               func(string, ...any)
}

// Connect returns a client for every runtime of cfg that answers. A runtime
// whose socket does not exist is skipped (said with Logf) unless asked for
// with -r; one that exists but does not answer is a warning, or an error
// when asked for.
func Connect(cfg Config) ([]runtimes.Client, error) {
	names := cfg.Runtimes
	if names == nil {
		names = runtimes.All
	}
	var clients []runtimes.Client
	fail := func(err error) error {
		for _, c := range clients {
			c.Close()
		}
		return err
	}
	for _, name := range names {
		var (
			got []runtimes.Client
			err error
		)
		switch name {
		case runtimes.Docker:
			got, err = one(docker.New(or(cfg.DockerSocket, DockerSocket)))
		case runtimes.Containerd:
			got, err = one(containerd.New(or(cfg.ContainerdSocket, ContainerdSocket), cfg.ContainerdNamespace))
		case runtimes.CRIO:
			got, err = one(crio.New(or(cfg.CrioSocket, CrioSocket)))
		case runtimes.Podman:
			got, err = podmanClients(cfg)
		default:
			return nil, fail(fmt.Errorf("unknown runtime %q (runtimes: docker, containerd, cri-o, podman)", name))
		}
		switch {
		case err == nil:
			clients = append(clients, got...)
		case cfg.Explicit:
			return nil, fail(err) // the client's error names the runtime and socket
		case errors.Is(err, runtimes.ErrNoSocket):
			cfg.logf("skipped %v", err)
		default:
			cfg.warnf("skipped %v", err)
		}
	}
	return clients, nil
}

// podmanClients connects to every podman socket: the ones given, or root's
// and each rootless user's.
func podmanClients(cfg Config) ([]runtimes.Client, error) {
	sockets, given := cfg.PodmanSockets, cfg.PodmanSockets != nil
	if !given {
		sockets = append([]string{PodmanSocket}, podman.DiscoverRootless()...)
	}
	var clients []runtimes.Client
	var errs []error
	for _, s := range sockets {
		c, err := podman.New(s)
		if err != nil {
			if given {
				for _, c := range clients {
					c.Close()
				}
				return nil, err
			}
			errs = append(errs, err)
			continue
		}
		clients = append(clients, c)
	}
	if len(clients) == 0 {
		return nil, errs[0] // Connect says it
	}
	for _, err := range errs { // no one else will
		if errors.Is(err, runtimes.ErrNoSocket) {
			cfg.logf("skipped %v", err)
		} else {
			cfg.warnf("skipped %v", err)
		}
	}
	return clients, nil
}

func one[C runtimes.Client](c C, err error) ([]runtimes.Client, error) {
	if err != nil {
		return nil, err
	}
	return []runtimes.Client{c}, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (c Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func (c Config) warnf(format string, args ...any) {
	if c.Warnf != nil {
		c.Warnf(format, args...)
	}
}
