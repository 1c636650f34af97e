package main

import (
	"context"
	"fmt"
	"slices"
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

// enricher fills an event's container fields from the collection. Settled
// answers are cached until the collection changes: most events come from a
// few mount namespaces, and this runs for every event.
func enricher(coll *runtimes.Collection) func(*tracers.Event) bool {
	type answer struct {
		ct     *runtimes.Container
		gen    uint64
		serial uint32
	}
	cache := map[uint64]answer{}
	return func(ev *tracers.Event) bool {
		gen := coll.Generation()
		a, ok := cache[ev.MountNsID]
		if !ok || a.gen != gen || a.serial != ev.MountNsSerial {
			ct, settled := coll.Lookup(ev.MountNsID, ev.MountNsSerial)
			if !settled {
				ev.Runtime, ev.K8s = tracers.Runtime{}, tracers.K8s{}
				return false
			}
			a = answer{ct: ct, gen: gen, serial: ev.MountNsSerial}
			if len(cache) > 4096 {
				clear(cache)
			}
			cache[ev.MountNsID] = a
		}
		ct := a.ct
		if ct == nil {
			ev.Runtime, ev.K8s = tracers.Runtime{}, tracers.K8s{}
			return true
		}
		ev.Runtime = tracers.Runtime{RuntimeName: ct.Runtime, ContainerID: ct.ID, ContainerName: ct.Name, ContainerImageName: ct.Image}
		ev.K8s = tracers.K8s{Namespace: ct.PodNamespace, PodName: ct.PodName}
		if ct.PodName != "" {
			ev.K8s.ContainerName = ct.Name
		}
		return true
	}
}

// containerFilter turns -c, --containers and --host into the kernel's
// mount-namespace verdicts and the user-space check (Env.Accept) for
// namespaces the kernel has no verdict for yet, and keeps the verdicts
// current as containers come and go.
func containerFilter(c *cli.Context, coll *runtimes.Collection, f *tracers.Filter, env *tracers.Env) error {
	names := flagValue(c, "containername", (*cli.Context).StringSlice)
	onlyContainers := flagBool(c, "containers")
	host := flagBool(c, "host")
	if len(names) == 0 && (!onlyContainers || host) {
		return nil // everything: host and containers
	}
	wanted := func(name string) bool { return len(names) == 0 || slices.Contains(names, name) }
	// Accept: the wanted containers, and with --host what is no container's.
	env.Accept = func(ev *tracers.Event) bool {
		if ev.Runtime.RuntimeName == "" {
			return host
		}
		return wanted(ev.Runtime.ContainerName)
	}
	verdicts := func(u *tracers.MntNsUpdate, cts []runtimes.Container) {
		for _, ct := range cts {
			switch {
			case ct.MountNsID == 0:
			case wanted(ct.Name):
				u.Pass = append(u.Pass, ct.MountNsID)
			default:
				u.Skip = append(u.Skip, ct.MountNsID)
			}
		}
	}
	f.MntNsMode = tracers.MntNsVerdicts
	current := coll.Containers()
	verdicts(&f.MntNs, current)
	for _, n := range names {
		if !slices.ContainsFunc(current, func(ct runtimes.Container) bool { return ct.Name == n }) {
			return fmt.Errorf("no running container named %q in %s (see 'ig list-containers'; -v names the runtimes skipped)", n, inUse(coll))
		}
	}
	if onlyContainers && len(current) == 0 {
		env.Warnf("no container is running: --containers shows nothing until one starts (without it, ig shows the host too)")
	}
	updates := make(chan tracers.MntNsUpdate, 64)
	f.MntNsSets = updates
	coll.OnChange(func(added, removed []runtimes.Container) {
		var u tracers.MntNsUpdate
		for _, ct := range removed {
			if ct.MountNsID != 0 {
				u.Forget = append(u.Forget, ct.MountNsID)
			}
		}
		verdicts(&u, added)
		select {
		case updates <- u:
		default:
			// Not fatal: Env.Accept still decides every event the
			// kernel lets through; only the kernel's share of the work
			// is behind.
			env.Warnf("container filter not updated: too many changes at once")
		}
	})
	return nil
}

// inUse names the runtimes a collection asks, for messages.
func inUse(coll *runtimes.Collection) string {
	names := slices.Compact(slices.Sorted(slices.Values(coll.Runtimes())))
	if len(names) == 0 {
		return "no runtime (none found)"
	}
	return strings.Join(names, ", ")
}
