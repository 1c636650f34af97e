package tracers

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ig-tracer/ig/runtimes"
)

// Containers is what attribution needs of the container runtimes: the live
// set of containers by mount namespace, kept current. runtimes.Collection
// satisfies it, and so do the tests' fakes.
type Containers interface {
	// Containers lists the running containers (not pod sandboxes).
	Containers() []runtimes.Container
	// Lookup returns the container of mount namespace mntns (nil for none);
	// settled is false while the runtimes have not told yet.
	Lookup(mntns uint64, serial uint32) (ct *runtimes.Container, settled bool)
	// Generation changes whenever the set does.
	Generation() uint64
	// OnChange registers f to be told of containers added and removed.
	OnChange(f func(added, removed []runtimes.Container))
	// Runtimes names the runtimes asked, for messages.
	Runtimes() []string
}

// Enricher fills an event's container fields from cs (Env.Enrich). Settled
// answers are cached until cs changes: most events come from a few mount
// namespaces, and this runs for every event.
func Enricher(cs Containers) func(*Event) bool {
	type answer struct {
		ct     *runtimes.Container
		gen    uint64
		serial uint32
	}
	cache := map[uint64]answer{}
	return func(ev *Event) bool {
		gen := cs.Generation()
		a, ok := cache[ev.MountNsID]
		if !ok || a.gen != gen || a.serial != ev.MountNsSerial {
			ct, settled := cs.Lookup(ev.MountNsID, ev.MountNsSerial)
			if !settled {
				ev.Runtime, ev.K8s = Runtime{}, K8s{}
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
			ev.Runtime, ev.K8s = Runtime{}, K8s{}
			return true
		}
		ev.Runtime = Runtime{RuntimeName: ct.Runtime, ContainerID: ct.ID, ContainerName: ct.Name, ContainerImageName: ct.Image}
		ev.K8s = K8s{Namespace: ct.PodNamespace, PodName: ct.PodName}
		if ct.PodName != "" {
			ev.K8s.ContainerName = ct.Name
		}
		return true
	}
}

// Selection is which processes -c, --containers and --host ask for.
type Selection struct {
	Names          []string // -c: only these containers
	OnlyContainers bool     // --containers: no host process
	Host           bool     // --host: the host's processes too
}

// All says whether the selection is everything, host and containers alike.
func (s Selection) All() bool { return len(s.Names) == 0 && (!s.OnlyContainers || s.Host) }

// SelectContainers turns a selection into the kernel's mount-namespace
// verdicts (f) and the user-space check (env.Accept) for namespaces the
// kernel has no verdict for yet, and keeps the verdicts current as
// containers come and go. A name no running container has is an error.
func SelectContainers(cs Containers, s Selection, f *Filter, env *Env) error {
	if s.All() {
		return nil
	}
	wanted := func(name string) bool { return len(s.Names) == 0 || slices.Contains(s.Names, name) }
	// Accept: the wanted containers, and with --host what is no container's.
	env.Accept = func(ev *Event) bool {
		if ev.Runtime.RuntimeName == "" {
			return s.Host
		}
		return wanted(ev.Runtime.ContainerName)
	}
	verdicts := func(u *MntNsUpdate, cts []runtimes.Container) {
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
	f.MntNsMode = MntNsVerdicts
	current := cs.Containers()
	verdicts(&f.MntNs, current)
	// ig's own namespace is the host's (unless it is a container's): the
	// kernel skips it from the start, rather than after ig has seen one of
	// its events. Other namespaces of no container are learned so.
	if own, err := runtimes.MountNamespace(os.Getpid()); err == nil && !s.Host &&
		!slices.ContainsFunc(current, func(ct runtimes.Container) bool { return ct.MountNsID == own }) {
		f.MntNs.Skip = append(f.MntNs.Skip, own)
	}
	for _, n := range s.Names {
		if !slices.ContainsFunc(current, func(ct runtimes.Container) bool { return ct.Name == n }) {
			return fmt.Errorf("no running container named %q in %s (see 'ig list-containers'; -v names the runtimes skipped)", n, RuntimesInUse(cs))
		}
	}
	if s.OnlyContainers && len(current) == 0 {
		env.Warnf("no container is running: --containers shows nothing until one starts (without it, ig shows the host too)")
	}
	updates := make(chan MntNsUpdate, 64)
	f.MntNsSets = updates
	cs.OnChange(func(added, removed []runtimes.Container) {
		var u MntNsUpdate
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

// RuntimesInUse names the runtimes cs asks, for messages.
func RuntimesInUse(cs Containers) string {
	names := slices.Compact(slices.Sorted(slices.Values(cs.Runtimes())))
	if len(names) == 0 {
		return "no runtime (none found)"
	}
	return strings.Join(names, ", ")
}
