package networkpolicy

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Labels a pod's selector leaves out: kubelet's own (io.kubernetes.pod.name,
// .namespace, .uid: the CRI's, no pod label), and those its controller
// changes with every rollout.
var rolloutLabels = []string{"pod-template-hash", "controller-revision-hash", "pod-template-generation"}

// selectorLabels are the pod labels that select it, from the CRI's.
func selectorLabels(cri map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range cri {
		if strings.HasPrefix(k, "io.kubernetes.") || slices.Contains(rolloutLabels, k) {
			continue
		}
		out[k] = v
	}
	return out
}

// DNS: the cluster's DNS server pods, whatever the address the pod asked
// (the kube-dns Service's, which a policy cannot name: it is matched after
// the Service's translation to a pod). k8s-app=kube-dns is the one label
// both kube-dns and CoreDNS deployments put on their pods (IG#5338: the
// Service's other labels are not on them); kube-system's name label is set
// by Kubernetes on every namespace (1.22). Both protocols: DNS falls back
// to TCP for long answers.
var (
	dnsNamespace = map[string]string{"kubernetes.io/metadata.name": "kube-system"}
	dnsPods      = map[string]string{"k8s-app": "kube-dns"}
)

func dnsRule() EgressRule {
	return EgressRule{
		Ports: []Port{port("udp", dnsPort), port("tcp", dnsPort)},
		To: []Peer{{
			NamespaceSelector: &LabelSelector{MatchLabels: dnsNamespace},
			PodSelector:       &LabelSelector{MatchLabels: dnsPods},
		}},
	}
}

func port(proto string, n uint16) Port {
	if proto == "udp" {
		return Port{Protocol: "UDP", Port: n}
	}
	return Port{Protocol: "TCP", Port: n}
}

// ipBlock is a peer of one address.
func ipBlock(addr string) (Peer, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.IsLoopback() || a.IsUnspecified() {
		return Peer{}, false // a pod's own traffic needs no policy
	}
	return Peer{IPBlock: &IPBlock{CIDR: netip.PrefixFrom(a, a.BitLen()).String()}}, true
}

// policy is the NetworkPolicy of pod that allows what conns recorded,
// nothing else: one rule per protocol and port, with its peers (ipBlocks
// of one address), and the DNS rule when the pod asked a DNS server.
func policy(pod, namespace string, labels map[string]string, conns []Connection) NetworkPolicy {
	type group struct {
		proto string
		port  uint16
	}
	var (
		egress, ingress []EgressRule
		dns             bool
	)
	for dir := range 2 {
		want := "egress"
		if dir == 1 {
			want = "ingress"
		}
		var order []group
		peers := map[group][]Peer{}
		for _, c := range conns {
			if c.Direction != want {
				continue
			}
			if want == "egress" && c.Port == dnsPort {
				dns = true
				continue
			}
			peer, ok := ipBlock(c.Dst.Addr)
			if !ok {
				continue
			}
			g := group{c.Proto, c.Port}
			if _, seen := peers[g]; !seen {
				order = append(order, g)
			}
			if !slices.ContainsFunc(peers[g], func(p Peer) bool { return p.IPBlock.CIDR == peer.IPBlock.CIDR }) {
				peers[g] = append(peers[g], peer)
			}
		}
		for _, g := range order { // conns are sorted by protocol and port
			r := EgressRule{Ports: []Port{port(g.proto, g.port)}, To: peers[g]}
			if dir == 0 {
				egress = append(egress, r)
			} else {
				ingress = append(ingress, r)
			}
		}
	}
	if dns {
		egress = append([]EgressRule{dnsRule()}, egress...)
	}
	spec := NetworkPolicySpec{
		PodSelector: LabelSelector{MatchLabels: labels},
		PolicyTypes: []string{"Ingress", "Egress"},
		Egress:      egress,
	}
	for _, r := range ingress {
		spec.Ingress = append(spec.Ingress, IngressRule{Ports: r.Ports, From: r.To})
	}
	return NetworkPolicy{
		Kind:       "NetworkPolicy",
		APIVersion: "networking.k8s.io/v1",
		Metadata:   ObjectMeta{Name: pod + "-network", Namespace: namespace},
		Spec:       spec,
	}
}

// policyYAML turns a policy's JSON into YAML, as kubectl takes it.
func policyYAML(js json.RawMessage) ([]byte, error) {
	return yaml.JSONToYAML(js)
}
