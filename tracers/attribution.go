package tracers

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/ig-tracer/ig/output"
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
	// LookupNet returns the containers in network namespace netns (pod
	// sandboxes too; none for the host's), as Lookup.
	LookupNet(netns uint64) (cts []*runtimes.Container, settled bool)
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
		rt     Runtime
		k8s    K8s
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
			a = answer{gen: gen, serial: ev.MountNsSerial}
			if ct != nil {
				a.rt, a.k8s = ContainerFields(ct)
			}
			if len(cache) > 4096 {
				clear(cache)
			}
			cache[ev.MountNsID] = a
		}
		ev.Runtime, ev.K8s = a.rt, a.k8s // zero for no container
		return true
	}
}

// ContainerFields are an event's container fields for ct.
func ContainerFields(ct *runtimes.Container) (Runtime, K8s) {
	r := Runtime{RuntimeName: ct.Runtime, ContainerID: ct.ID, ContainerName: ct.Name, ContainerPid: uint32(ct.Pid),
		ContainerImageName: ct.Image, ContainerImageDigest: ct.ImageDigest, ContainerStartedAt: ct.StartedAt}
	k := K8s{Namespace: ct.PodNamespace, PodName: ct.PodName}
	if ct.PodName != "" {
		k.ContainerName = ct.Name
	}
	k.PodLabels = podLabelsJSON(ct)
	k.HostNetwork = ct.NetNsID != 0 && ct.NetNsID == hostNetNs()
	return r, k
}

// podLabelsJSON is ct's pod labels as JSON (nil for none), encoded once
// per container: a CRI sandbox's labels never change.
func podLabelsJSON(ct *runtimes.Container) output.JSONText {
	if ct.PodLabels == nil {
		return ""
	}
	podLabels.Lock()
	defer podLabels.Unlock()
	if b, ok := podLabels.m[ct.ID]; ok {
		return b
	}
	if podLabels.m == nil || len(podLabels.m) > 4096 {
		podLabels.m = map[string]output.JSONText{}
	}
	b, _ := json.Marshal(ct.PodLabels) // sorted keys
	podLabels.m[ct.ID] = output.JSONText(b)
	return output.JSONText(b)
}

var podLabels struct {
	sync.Mutex
	m map[string]output.JSONText
}

// hostNetNs is the host's network namespace: ig's own.
var hostNetNs = sync.OnceValue(func() uint64 {
	ns, _ := runtimes.NetworkNamespace(os.Getpid())
	return ns
})

// Selection is which processes -c, --containers and --host ask for.
type Selection struct {
	Names          []string // -c: only these containers
	OnlyContainers bool     // --containers: no host process
	Host           bool     // --host: the host's processes too
	// Lenient: Names need not run now (a -F on the container, pushed
	// down to the kernel, rather than -c).
	Lenient bool
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
	verdicts := func(u *NsUpdate, cts []runtimes.Container) {
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
	verdicts(&f.Verdicts, current)
	// ig's own namespace is the host's (unless it is a container's): the
	// kernel skips it from the start, rather than after ig has seen one of
	// its events. Other namespaces of no container are learned so.
	if own, err := runtimes.MountNamespace(os.Getpid()); err == nil && !s.Host &&
		!slices.ContainsFunc(current, func(ct runtimes.Container) bool { return ct.MountNsID == own }) {
		f.Verdicts.Skip = append(f.Verdicts.Skip, own)
	}
	nets := newNetVerdicts(s, wanted)
	nets.change(&f.Verdicts, current, nil)
	if nets.host != 0 && !s.Host {
		f.Verdicts.NetSkip = append(f.Verdicts.NetSkip, nets.host)
	}
	env.acceptNet = nets.accept
	for _, ct := range current {
		if ct.NetNsID != 0 && ct.NetNsID == nets.host && wanted(ct.Name) {
			env.hostNetwork = append(env.hostNetwork, ct.Name)
		}
	}
	for _, n := range s.Names {
		if !s.Lenient && !slices.ContainsFunc(current, func(ct runtimes.Container) bool { return ct.Name == n }) {
			return fmt.Errorf("no running container named %q in %s (see 'ig list-containers'; -v names the runtimes skipped)", n, RuntimesInUse(cs))
		}
	}
	if s.OnlyContainers && len(current) == 0 {
		env.Warnf("no container is running: --containers shows nothing until one starts (without it, ig shows the host too)")
	}
	updates := make(chan NsUpdate, 64)
	f.NsSets = updates
	cs.OnChange(func(added, removed []runtimes.Container) {
		var u NsUpdate
		for _, ct := range removed {
			if ct.MountNsID != 0 {
				u.Forget = append(u.Forget, ct.MountNsID)
			}
		}
		verdicts(&u, added)
		nets.change(&u, added, removed)
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

// netVerdicts keeps the kernel's network-namespace verdicts of a
// selection: a network namespace passes when a wanted container is in it
// (the containers of a pod share one), the host's only with --host
// (host-network containers' traffic is the host's: nothing tells it
// apart), and one no container is known in is decided by Env.NetContainer.
type netVerdicts struct {
	wanted func(name string) bool
	host   uint64
	hostOK bool
	mu     sync.Mutex
	in     map[uint64]map[string]bool // netns -> container id -> wanted
}

func newNetVerdicts(s Selection, wanted func(string) bool) *netVerdicts {
	n := &netVerdicts{wanted: wanted, hostOK: s.Host, in: map[uint64]map[string]bool{}}
	n.host, _ = runtimes.NetworkNamespace(os.Getpid())
	return n
}

// change adds to u the verdicts that added and removed containers change.
func (n *netVerdicts) change(u *NsUpdate, added, removed []runtimes.Container) {
	n.mu.Lock()
	defer n.mu.Unlock()
	touched := map[uint64]bool{}
	for _, ct := range removed {
		if ids := n.in[ct.NetNsID]; ids != nil {
			delete(ids, ct.ID)
			touched[ct.NetNsID] = true
		}
	}
	for _, ct := range added {
		if ct.NetNsID == 0 || ct.NetNsID == n.host {
			continue
		}
		if n.in[ct.NetNsID] == nil {
			n.in[ct.NetNsID] = map[string]bool{}
		}
		n.in[ct.NetNsID][ct.ID] = n.wanted(ct.Name)
		touched[ct.NetNsID] = true
	}
	for _, ns := range slices.Sorted(maps.Keys(touched)) {
		ids := n.in[ns]
		switch {
		case len(ids) == 0:
			delete(n.in, ns)
			u.NetForget = append(u.NetForget, ns)
		case slices.Contains(slices.Collect(maps.Values(ids)), true):
			u.NetPass = append(u.NetPass, ns)
		default:
			u.NetSkip = append(u.NetSkip, ns)
		}
	}
}

// accept says whether the selection takes an event of the network
// namespace that cts (LookupNet's answer) are in.
func (n *netVerdicts) accept(cts []*runtimes.Container) bool {
	if len(cts) == 0 {
		return n.hostOK
	}
	return slices.ContainsFunc(cts, func(ct *runtimes.Container) bool { return !ct.Sandbox && n.wanted(ct.Name) })
}

// RuntimesInUse names the runtimes cs asks, for messages.
func RuntimesInUse(cs Containers) string {
	names := slices.Compact(slices.Sorted(slices.Values(cs.Runtimes())))
	if len(names) == 0 {
		return "no runtime (none found)"
	}
	return strings.Join(names, ", ")
}
