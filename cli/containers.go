package cli

import (
	"context"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/runtimes"
	runtimesall "github.com/ig-tracer/ig/runtimes/all"
	"github.com/ig-tracer/ig/tracers"
)

// refreshInterval is how often the container list is asked for while a
// gadget runs; events from an unknown mount namespace also ask at once.
const refreshInterval = time.Second

// runtimeFlags choose the container runtimes and their sockets.
func runtimeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "runtimes", Aliases: []string{"r"}, Usage: "container runtimes to use, comma-separated: docker, containerd, cri-o, podman (default: all found)"},
		&cli.StringFlag{Name: "docker-socketpath", Value: runtimesall.DockerSocket, Usage: "docker's API `SOCKET`"},
		&cli.StringFlag{Name: "containerd-socketpath", Value: runtimesall.ContainerdSocket, Usage: "containerd's API `SOCKET`"},
		&cli.StringFlag{Name: "containerd-namespace", Usage: "only this containerd `NAMESPACE` (default: every namespace)"},
		&cli.StringFlag{Name: "crio-socketpath", Value: runtimesall.CrioSocket, Usage: "CRI-O's API `SOCKET`"},
		&cli.StringSliceFlag{Name: "podman-socketpath", Usage: "a podman API `SOCKET`; may be repeated (default: " + runtimesall.PodmanSocket + " and every /run/user/UID/podman/podman.sock)"},
	}
}

// containerFlags pick containers; accepted with the common flags.
func containerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "containername", Aliases: []string{"c"}, Usage: "only the container(s) with this `NAME` (filtered in the kernel); with --host, the host too"},
		&cli.BoolFlag{Name: "containers", Usage: "only processes in containers, not the host's"},
	}
}

// connectRuntimes builds the container collection from the runtime flags
// and fills it once.
func connectRuntimes(c *cli.Context, env *tracers.Env) (*runtimes.Collection, error) {
	cfg := runtimesall.Config{
		DockerSocket:        flagString(c, "docker-socketpath"),
		ContainerdSocket:    flagString(c, "containerd-socketpath"),
		ContainerdNamespace: flagString(c, "containerd-namespace"),
		CrioSocket:          flagString(c, "crio-socketpath"),
		Logf:                env.Logf,
		Warnf:               env.Warnf,
	}
	if names := flagString(c, "runtimes"); names != "" {
		for _, n := range strings.Split(names, ",") {
			cfg.Runtimes = append(cfg.Runtimes, strings.ToLower(strings.TrimSpace(n)))
		}
		cfg.Explicit = true
	}
	if socks := flagValue(c, "podman-socketpath", (*cli.Context).StringSlice); len(socks) > 0 {
		cfg.PodmanSockets = socks
	}
	clients, err := runtimesall.Connect(cfg)
	if err != nil {
		return nil, err
	}
	coll := runtimes.NewCollection(clients, env.Logf)
	coll.Warnf = env.Warnf // a runtime that fails or hangs, said once
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := coll.Refresh(ctx); err != nil {
		env.Logf("refresh containers: %v", err)
	}
	return coll, nil
}

// selection reads -c, --containers and --host, wherever they were given.
func selection(c *cli.Context) tracers.Selection {
	return tracers.Selection{
		Names:          flagValue(c, "containername", (*cli.Context).StringSlice),
		OnlyContainers: flagBool(c, "containers"),
		Host:           flagBool(c, "host"),
	}
}
