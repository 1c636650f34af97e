package tracers

import (
	"slices"
	"strings"
	"time"

	"github.com/ig-tracer/ig/runtimes"
)

// Attribution by network namespace, for what the kernel does in softirq
// (packets received, TCP state changes): the current task there is
// whoever was interrupted, so the socket's network namespace says whose
// it is. Containers that share one (a pod's, or one run on another's
// network) cannot be told apart by it; a host-network container's traffic
// is the host's.

// NetContainer is Env.Container for a network namespace: the container
// fields of an event or row of netns, whether the container filters take
// it, and settled false while the runtimes have not told yet whether it
// is a container's (ask again a moment later).
func (e *Env) NetContainer(netns uint64) (rt Runtime, k8s K8s, accepted, settled bool) {
	var cts []*runtimes.Container
	settled = true
	if e.LookupNet != nil && netns != 0 {
		cts, settled = e.LookupNet(netns)
	}
	rt, k8s = NetAttribution(cts)
	accepted = e.acceptNet == nil || e.acceptNet(cts)
	return rt, k8s, accepted, settled
}

// NetOwner is NetContainer's answer for one network namespace.
type NetOwner struct {
	Runtime  Runtime
	K8s      K8s
	Accepted bool
}

// NetContainers answers NetContainer for every namespace of nss, waiting
// up to a second for the runtimes to tell about new ones (a container that
// started a moment ago): for rows drained from the kernel, which have no
// later event to wait for. Those still unsettled count as no container's.
func (e *Env) NetContainers(nss []uint64) map[uint64]NetOwner {
	out := make(map[uint64]NetOwner, len(nss))
	deadline := time.Now().Add(time.Second)
	for {
		unsettled := 0
		for _, ns := range nss {
			if _, done := out[ns]; done {
				continue
			}
			rt, k8s, accepted, settled := e.NetContainer(ns)
			if !settled && time.Now().Before(deadline) {
				unsettled++
				continue
			}
			out[ns] = NetOwner{rt, k8s, accepted}
		}
		if unsettled == 0 {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NetAttribution is the container fields for traffic of a network
// namespace that cts are in: the container's when one is (a pod's sandbox
// aside); for several, their names joined by commas, with the pod when
// they are one pod's (as Inspektor Gadget, which names no container
// then); the pod alone for a sandbox with no container yet; nothing for
// the host's.
func NetAttribution(cts []*runtimes.Container) (Runtime, K8s) {
	if len(cts) == 0 {
		return Runtime{}, K8s{}
	}
	named := slices.DeleteFunc(slices.Clone(cts), func(ct *runtimes.Container) bool { return ct.Sandbox })
	if len(named) == 1 {
		return ContainerFields(named[0])
	}
	first := cts[0]
	rt := Runtime{RuntimeName: first.Runtime}
	k8s := K8s{Namespace: first.PodNamespace, PodName: first.PodName, PodLabels: podLabelsJSON(first)}
	var names []string
	for _, ct := range named {
		names = append(names, ct.Name)
		if ct.Runtime != rt.RuntimeName {
			rt.RuntimeName = "" // never the case in practice: one runtime makes a namespace
		}
		if ct.PodName != k8s.PodName || ct.PodNamespace != k8s.Namespace {
			k8s = K8s{}
		}
	}
	slices.Sort(names)
	rt.ContainerName = strings.Join(slices.Compact(names), ",")
	if rt.RuntimeName == "" {
		rt.RuntimeName = first.Runtime
	}
	return rt, k8s
}

// WarnHostNetwork tells, once, that the selected containers on the host's
// network cannot be told from the host by a gadget that attributes by
// network namespace.
func (e *Env) WarnHostNetwork() {
	if len(e.hostNetwork) > 0 {
		e.Warnf("%s on the host's network: its traffic is the host's, which network gadgets cannot tell apart (--host shows it)", strings.Join(e.hostNetwork, ", "))
	}
}

// AcceptNet says whether the container filters (-c, --containers, --host)
// take the traffic of a network namespace that cts are in (no container:
// the host's): for a gadget that remembers containers gone since
// (NetContainer asks the live collection).
func (e *Env) AcceptNet(cts []*runtimes.Container) bool {
	return e.acceptNet == nil || e.acceptNet(cts)
}
