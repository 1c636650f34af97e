package networkpolicy

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

func conn(dir, proto, addr string, port uint16) Connection {
	c := Connection{Direction: dir, Proto: proto, Port: port, Count: 1}
	c.Dst.Addr = addr
	return c
}

// TestPolicy: the selector is the pod's own labels; peers of one protocol
// and port share a rule; port 53 is the one DNS rule (not an ipBlock of the
// server asked); loopback needs no rule.
func TestPolicy(t *testing.T) {
	labels := selectorLabels(map[string]string{
		"app": "web", "io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.uid": "u", "pod-template-hash": "abc",
	})
	if !maps.Equal(labels, map[string]string{"app": "web"}) {
		t.Fatalf("selector labels %v", labels)
	}
	conns := merge([]Connection{
		conn("ingress", "tcp", "10.0.0.9", 8080),
		conn("egress", "tcp", "10.0.0.2", 443),
		conn("egress", "udp", "10.96.0.10", 53),
		conn("egress", "tcp", "10.0.0.1", 443),
		conn("egress", "tcp", "127.0.0.1", 9000),
		conn("egress", "tcp", "::ffff:10.0.0.1", 443),
	})
	pol := policy("web-0", "shop", labels, conns)
	y, _ := yaml.Marshal(pol)
	e := pol.Spec.Egress
	if len(e) != 2 || len(e[0].Ports) != 2 || e[0].Ports[0].Port != 53 || e[0].Ports[0].Protocol != "UDP" ||
		e[0].Ports[1].Protocol != "TCP" || e[0].To[0].IPBlock != nil || e[0].To[0].PodSelector.MatchLabels["k8s-app"] != "kube-dns" {
		t.Fatalf("want the DNS rule first, then one for TCP 443:\n%s", y)
	}
	if len(e[1].To) != 2 || e[1].To[0].IPBlock.CIDR != "10.0.0.1/32" || e[1].To[1].IPBlock.CIDR != "10.0.0.2/32" || e[1].Ports[0].Port != 443 {
		t.Errorf("want TCP 443 to 10.0.0.1/32 and 10.0.0.2/32 (the mapped address merged):\n%s", y)
	}
	in := pol.Spec.Ingress
	if len(in) != 1 || in[0].From[0].IPBlock.CIDR != "10.0.0.9/32" || in[0].Ports[0].Port != 8080 {
		t.Errorf("want ingress TCP 8080 from 10.0.0.9/32:\n%s", y)
	}
	if pol.Metadata.Name != "web-0-network" || pol.Metadata.Namespace != "shop" || !maps.Equal(pol.Spec.PodSelector.MatchLabels, labels) {
		t.Errorf("metadata or selector:\n%s", y)
	}
}

// TestPolicyIsKubernetes: our NetworkPolicy types write what Kubernetes'
// own (k8s.io/api, a test dependency only) would: the JSON decodes into
// them with no unknown field, and they marshal it back to the same bytes.
// Each case is one shape: every kind of rule, and a pod with no labels
// and no traffic (an empty selector, no rules).
func TestPolicyIsKubernetes(t *testing.T) {
	for name, pol := range map[string]NetworkPolicy{
		"rules": policy("web-0", "shop", map[string]string{"app": "web", "tier": "front"}, merge([]Connection{
			conn("ingress", "tcp", "10.0.0.9", 8080),
			conn("ingress", "udp", "fd00::9", 5000),
			conn("egress", "tcp", "10.0.0.2", 443),
			conn("egress", "udp", "10.96.0.10", 53),
		})),
		"empty": policy("idle-0", "default", map[string]string{}, nil),
	} {
		ours, err := json.Marshal(pol)
		if err != nil {
			t.Fatal(err)
		}
		var k8s networkingv1.NetworkPolicy
		dec := json.NewDecoder(bytes.NewReader(ours))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&k8s); err != nil {
			t.Fatalf("%s: our policy is not a k8s.io/api NetworkPolicy: %v\n%s", name, err, ours)
		}
		back, err := json.Marshal(k8s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, back) {
			t.Errorf("%s: k8s.io/api writes the policy differently:\nours: %s\nk8s:  %s", name, ours, back)
		}
	}
}
