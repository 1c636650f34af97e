// Package networkpolicy is the advise network-policy gadget: it records
// the connections of each selected container until stopped (direction,
// protocol, peer, port), then writes a Kubernetes NetworkPolicy for each
// CRI pod, and a summary of the connections for other containers.
package networkpolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/tracers"
)

// Report is one network namespace's connections: a container's, a pod's
// (its containers share one), or the host's.
type Report struct {
	Runtime     tracers.Runtime `json:"runtime" desc:"the container (by the sockets' network namespace: a pod's containers are named together, comma-separated; empty for the host's)"`
	K8s         tracers.K8s     `json:"k8s" desc:"its Kubernetes pod (CRI labels)"`
	NetNsID     uint64          `json:"netns" column:"netns,width:10,right" desc:"the network namespace's inode number"`
	PodLabels   json.RawMessage `json:"podLabels" desc:"a CRI pod's labels (its sandbox's, without kubelet's io.kubernetes.* ones), the policy's podSelector; null for a container of no CRI pod"`
	Connections []Connection    `json:"connections" desc:"what was recorded, sorted by direction, protocol, port and peer"`
	File        string          `json:"file" column:"file,width:40" desc:"where the policy was written (--output-dir); empty otherwise"`
	Policy      json.RawMessage `json:"policy" desc:"the Kubernetes NetworkPolicy (networking.k8s.io/v1) of a CRI pod, as JSON (the text output prints it as YAML); null for other containers and the host"`
}

// Connection is one recorded peer. JSON names are Inspektor Gadget's
// (proto, port, dst.addr) where it had them.
type Connection struct {
	Direction string   `json:"direction" desc:"egress (the container connected, or sent a datagram) or ingress (it accepted a connection)"`
	PktType   string   `json:"pktType" desc:"the direction as Inspektor Gadget named it: OUTGOING (egress) or HOST (ingress)"`
	Proto     string   `json:"proto" desc:"tcp or udp (udp: egress only)"`
	Dst       Endpoint `json:"dst" desc:"the peer"`
	Port      uint16   `json:"port" desc:"egress: the peer's port; ingress: the container's own (the port it listens on)"`
	Count     uint64   `json:"count" desc:"tcp: connections (egress: connect attempts, ingress: handshakes completed); udp: datagrams sent"`
}

// Endpoint is the peer of a connection: the destination of egress, the
// client of ingress.
type Endpoint struct {
	Addr    string `json:"addr" desc:"its IP address"`
	Version uint8  `json:"version" desc:"4 or 6"`
}

var schema = output.NewSchema[Report]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "advise",
		Name:        "network-policy",
		Description: "Record the connections of containers until stopped, then write a Kubernetes NetworkPolicy for each CRI pod (a summary for other containers)",
		Flags: append(tracers.SummaryFlags(),
			tracers.OutputDirFlag("write each pod's policy to `DIR`/POD.yaml (default: print them)"),
		),
		Schema:  schema,
		Columns: tracers.Fixed("container", "k8s.pod", "file"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	if env.Filter.ByProcess() {
		return errors.New("connections are attributed by network namespace, not by process: --pid, --comm and -F on pid, comm or uid cannot apply; select with -c")
	}
	dir, err := tracers.OutputDir(env.Args)
	if err != nil {
		return err
	}
	if env.Filter.MntNsMode != tracers.MntNsAll {
		env.WarnHostNetwork()
	}
	spec, err := loadNetworkpolicy()
	if err != nil {
		return err
	}
	// Containers may stop before the report: each one seen while
	// recording is remembered by its network namespace (the sandbox of a
	// pod too, which carries its labels).
	known := tracers.Remember(env, addContainers)
	return tracers.RunSummary[Report](ctx, env, spec, nil, tracers.SummarySpec[Report]{
		Collect:    func(p *tracers.Program) ([]Report, error) { return collect(p, known, env, dir) },
		Collecting: func(ctx context.Context, p *tracers.Program) { learn(ctx, known, env, p) },
		Text:       text,
	})
}

// addContainers adds each container to its network namespace's list.
func addContainers(s *tracers.Seen[[]runtimes.Container], cts []runtimes.Container) {
	for _, ct := range cts {
		if ct.NetNsID == 0 {
			continue
		}
		s.Update(ct.NetNsID, func(list []runtimes.Container, _ bool) []runtimes.Container {
			if slices.ContainsFunc(list, func(o runtimes.Container) bool { return o.ID == ct.ID && o.Runtime == ct.Runtime }) {
				return list
			}
			return append(list, ct)
		})
	}
}

// learn names the containers of the network namespaces the kernel has
// recorded while the runtimes know them.
func learn(ctx context.Context, known *tracers.Seen[[]runtimes.Container], env *tracers.Env, p *tracers.Program) {
	if env.LookupNet == nil {
		return
	}
	recorded := func(yield func(uint64)) {
		var key networkpolicyConnKey
		var n uint64
		for it := p.Coll.Maps["conns"].Iterate(); it.Next(&key, &n); {
			yield(key.Netns)
		}
	}
	known.Learn(ctx, recorded, func(netns uint64) {
		if cts, settled := env.LookupNet(netns); settled && len(cts) > 0 {
			list := make([]runtimes.Container, len(cts))
			for i, ct := range cts {
				list[i] = *ct
			}
			addContainers(known, list)
		}
	})
}

// Kernel values of struct conn_key.
const (
	egress     = 0
	ingress    = 1
	protoTCP   = 6
	protoUDP   = 17
	dnsPort    = 53
	lookupWait = time.Second // for the runtimes' answers about namespaces new to them, all told
)

// collect reads (and clears) what the kernel recorded, a report per
// network namespace the filters take, and writes the pods' policies to
// dir.
func collect(p *tracers.Program, known *tracers.Seen[[]runtimes.Container], env *tracers.Env, dir string) ([]Report, error) {
	m, ok := p.Coll.Maps["conns"]
	if !ok {
		return nil, fmt.Errorf("eBPF object has no map conns")
	}
	byNs := map[uint64][]Connection{}
	err := tracers.DrainMap(m, func(k *networkpolicyConnKey, n *uint64) {
		byNs[k.Netns] = append(byNs[k.Netns], connection(k, *n))
	})
	if err != nil {
		return nil, fmt.Errorf("read the recorded connections: %w", err)
	}
	deadline := time.Now().Add(lookupWait)
	var rows []Report
	for ns, conns := range byNs {
		list, ok := known.Get(ns)
		cts := make([]*runtimes.Container, len(list))
		for i := range list {
			cts[i] = &list[i]
		}
		if !ok && env.LookupNet != nil {
			// New to the collection: ask the runtimes, for a while.
			for {
				var settled bool
				cts, settled = env.LookupNet(ns)
				if settled || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		if !env.AcceptNet(cts) {
			continue
		}
		r := Report{NetNsID: ns, Connections: merge(conns)}
		r.Runtime, r.K8s = tracers.NetAttribution(cts)
		if labels, ok := podLabels(cts); ok && r.K8s.PodName != "" {
			r.PodLabels, _ = json.Marshal(labels)
			pol := policy(r.K8s.PodName, r.K8s.Namespace, labels, r.Connections)
			if len(labels) == 0 {
				env.Warnf("pod %s/%s has no labels: its policy's podSelector selects every pod of its namespace", r.K8s.Namespace, r.K8s.PodName)
			}
			if r.Policy, err = json.Marshal(pol); err != nil {
				return nil, fmt.Errorf("policy of pod %s: %w", r.K8s.PodName, err)
			}
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b Report) int {
		if c := strings.Compare(a.K8s.Namespace+"/"+a.K8s.PodName, b.K8s.Namespace+"/"+b.K8s.PodName); c != 0 {
			return c
		}
		return strings.Compare(a.Runtime.ContainerName, b.Runtime.ContainerName)
	})
	if dir != "" {
		for i := range rows {
			if rows[i].Policy == nil {
				continue
			}
			y, err := policyYAML(rows[i].Policy)
			if err != nil {
				return nil, err
			}
			path := filepath.Join(dir, fileName(rows[i].K8s.Namespace, rows[i].K8s.PodName)+".yaml")
			if err := os.WriteFile(path, y, 0o644); err != nil {
				return nil, fmt.Errorf("write the policy of pod %s: %w", rows[i].K8s.PodName, err)
			}
			rows[i].File = path
		}
	}
	return rows, nil
}

func connection(k *networkpolicyConnKey, n uint64) Connection {
	c := Connection{Direction: "egress", PktType: "OUTGOING", Proto: "tcp", Port: k.Port, Count: n}
	if k.Direction == ingress {
		c.Direction, c.PktType = "ingress", "HOST"
	}
	if k.Proto == protoUDP {
		c.Proto = "udp"
	}
	c.Dst.Addr = tracers.SockAddr(k.Family, k.Addr)
	c.Dst.Version = 4
	if k.Family == tracers.AFInet6 {
		c.Dst.Version = 6
	}
	return c
}

// merge sorts conns (egress first, then by protocol, port and peer) and
// adds up the counts of equal ones (an IPv4-mapped IPv6 peer is its IPv4
// address).
func merge(conns []Connection) []Connection {
	for i := range conns {
		if a, err := netip.ParseAddr(conns[i].Dst.Addr); err == nil && a.Is4In6() {
			conns[i].Dst.Addr, conns[i].Dst.Version = a.Unmap().String(), 4
		}
	}
	slices.SortFunc(conns, compareConn)
	out := conns[:0]
	for _, c := range conns {
		if n := len(out); n > 0 && compareConn(out[n-1], c) == 0 {
			out[n-1].Count += c.Count
			continue
		}
		out = append(out, c)
	}
	return out
}

func compareConn(a, b Connection) int {
	if a.Direction != b.Direction {
		return strings.Compare(a.Direction, b.Direction) // egress < ingress
	}
	if a.Proto != b.Proto {
		return strings.Compare(a.Proto, b.Proto)
	}
	if a.Port != b.Port {
		return int(a.Port) - int(b.Port)
	}
	return comparePeer(a.Dst.Addr, b.Dst.Addr)
}

func comparePeer(a, b string) int {
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	if errx != nil || erry != nil {
		return strings.Compare(a, b)
	}
	return x.Compare(y)
}

// podLabels are the labels of the pod of cts, from the first that has
// them (a container or the sandbox); false when none is a CRI pod's.
func podLabels(cts []*runtimes.Container) (map[string]string, bool) {
	for _, ct := range cts {
		if ct.PodLabels != nil {
			return selectorLabels(ct.PodLabels), true
		}
	}
	for _, ct := range cts {
		if ct.PodName != "" {
			return map[string]string{}, true // a CRI pod whose runtime gave no labels
		}
	}
	return nil, false
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// fileName is a pod's policy file name: NAMESPACE_POD, made safe.
func fileName(namespace, pod string) string {
	return unsafeName.ReplaceAllString(namespace+"_"+pod, "_")
}

// text prints, for people, each pod's policy (or where it was written)
// and each other container's connections. Every line but the policies'
// is a YAML comment: the output of a run is a YAML stream kubectl takes.
func text(w io.Writer, rows []Report) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "# no container made or accepted a connection while recorded")
		return err
	}
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "# %s\n", who(&r))
		writeConnections(&b, r.Connections)
		switch {
		case r.File != "":
			fmt.Fprintf(&b, "# policy written to %s\n", r.File)
		case r.Policy != nil:
			y, err := policyYAML(r.Policy)
			if err != nil {
				return err
			}
			b.WriteString("---\n")
			b.Write(y)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// who names a report's namespace: the pod, the container, or the host.
func who(r *Report) string {
	n := len(r.Connections)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	switch {
	case r.K8s.PodName != "":
		return fmt.Sprintf("pod %s/%s (%s: %s): %d peer%s", r.K8s.Namespace, r.K8s.PodName, r.Runtime.RuntimeName, r.Runtime.ContainerName, n, plural)
	case r.Runtime.RuntimeName != "":
		return fmt.Sprintf("container %s (%s): %d peer%s", r.Runtime.ContainerName, r.Runtime.RuntimeName, n, plural)
	}
	return fmt.Sprintf("host (network namespace %d): %d peer%s", r.NetNsID, n, plural)
}

// writeConnections writes conns as an aligned table of YAML comments.
func writeConnections(b *strings.Builder, conns []Connection) {
	if len(conns) == 0 {
		return
	}
	width := len("PEER")
	for _, c := range conns {
		width = max(width, len(c.Dst.Addr))
	}
	fmt.Fprintf(b, "#   %-9s %-5s %-*s %5s %8s\n", "DIRECTION", "PROTO", width, "PEER", "PORT", "COUNT")
	for _, c := range conns {
		fmt.Fprintf(b, "#   %-9s %-5s %-*s %5d %8d\n", c.Direction, c.Proto, width, c.Dst.Addr, c.Port, c.Count)
	}
}
