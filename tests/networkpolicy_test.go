package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// networkPolicyRow is an advise network-policy row, as JSON.
type networkPolicyRow struct {
	Runtime struct {
		RuntimeName   string `json:"runtimeName"`
		ContainerName string `json:"containerName"`
	} `json:"runtime"`
	K8s struct {
		Namespace string `json:"namespace"`
		PodName   string `json:"podName"`
	} `json:"k8s"`
	NetNs       uint64            `json:"netns"`
	PodLabels   map[string]string `json:"podLabels"`
	Connections []struct {
		Direction string `json:"direction"`
		PktType   string `json:"pktType"`
		Proto     string `json:"proto"`
		Dst       struct {
			Addr    string `json:"addr"`
			Version uint8  `json:"version"`
		} `json:"dst"`
		Port  uint16 `json:"port"`
		Count uint64 `json:"count"`
	} `json:"connections"`
	File   string          `json:"file"`
	Policy json.RawMessage `json:"policy"`
}

func (r *networkPolicyRow) has(dir, proto, addr string, port uint16) bool {
	return slices.ContainsFunc(r.Connections, func(c struct {
		Direction string `json:"direction"`
		PktType   string `json:"pktType"`
		Proto     string `json:"proto"`
		Dst       struct {
			Addr    string `json:"addr"`
			Version uint8  `json:"version"`
		} `json:"dst"`
		Port  uint16 `json:"port"`
		Count uint64 `json:"count"`
	}) bool {
		return c.Direction == dir && c.Proto == proto && c.Dst.Addr == addr && c.Port == port && c.Count > 0 && c.Dst.Version == 4
	})
}

// bridgeGateway is the host's address on the CRI pods' CNI bridge
// (tests/runtimes/up.sh: igtest0, 10.99.0.0/24).
const bridgeGateway = "10.99.0.1"

// criPod starts a CRI pod of kind (containerd-cri, cri-o) with labels.
func criPod(t *testing.T, kind string, labels map[string]string) (string, int) {
	t.Helper()
	name := unique("igt-np" + strings.ReplaceAll(kind, "-", ""))
	b, _ := json.Marshal(labels)
	cmd := exec.Command("runtimes/run.sh", "start", kind, name)
	cmd.Env = append(os.Environ(), "POD_LABELS="+string(b))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start a %s pod: %v\n%s", kind, err, stderrOf(err))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		t.Fatalf("start a %s pod: no pid in %q", kind, out)
	}
	t.Cleanup(func() { _ = exec.Command("runtimes/run.sh", "stop", kind, name).Run() })
	return name, pid
}

// acceptAll accepts and closes connections until l is closed.
func acceptAll(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// TestAdviseNetworkPolicyCRI: a CRI pod (containerd's CRI plugin, CRI-O)
// with labels connects to a TCP server of the host on the pod bridge's
// gateway, sends a datagram to port 53 there (DNS), and accepts a
// connection from the host on a port of its own. Its policy, written to
// --output-dir and parsed back into networking/v1's NetworkPolicy,
// selects the pod by its labels (without the rollout's pod-template-hash
// or kubelet's io.kubernetes.*), allows egress to that server's address
// and port over TCP, DNS to the cluster's DNS pods over UDP and TCP 53
// (not to the address asked), and ingress from the host to its port.
func TestAdviseNetworkPolicyCRI(t *testing.T) {
	runtimesUp(t)
	for _, kind := range []string{"containerd-cri", "cri-o"} {
		t.Run(kind, func(t *testing.T) {
			app := unique("np")
			name, pid := criPod(t, kind, map[string]string{"app": app, "tier": "web", "pod-template-hash": "5d8f9c"})
			server, err := net.Listen("tcp", bridgeGateway+":0")
			if err != nil {
				t.Fatalf("listen on the pod bridge's gateway: %v", err)
			}
			defer server.Close()
			go acceptAll(server)
			serverPort := uint16(server.Addr().(*net.TCPAddr).Port)

			dir := t.TempDir()
			ig := startIG(t, "advise", "network-policy", "-c", name, "--output-dir", dir, "-o", "json", "-v")
			ig.waitVerboseAttached()

			var podIP string
			var inPod net.Listener
			inNetns(t, pid, func() {
				addrs, _ := net.InterfaceAddrs()
				for _, a := range addrs {
					if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && strings.HasPrefix(n.IP.String(), "10.99.0.") {
						podIP = n.IP.String()
					}
				}
				if inPod, err = net.Listen("tcp", ":0"); err != nil {
					t.Fatalf("listen in the pod: %v", err)
				}
				for range 2 {
					c, err := net.Dial("tcp", server.Addr().String())
					if err != nil {
						t.Fatalf("connect from the pod: %v", err)
					}
					c.Close()
				}
				u, err := net.Dial("udp", bridgeGateway+":53")
				if err != nil {
					t.Fatal(err)
				}
				u.Write([]byte("not really a query"))
				u.Close()
			})
			defer inPod.Close()
			go acceptAll(inPod)
			if podIP == "" {
				t.Fatal("the pod has no address on the bridge")
			}
			podPort := uint16(inPod.Addr().(*net.TCPAddr).Port)
			c, err := net.Dial("tcp", net.JoinHostPort(podIP, strconv.Itoa(int(podPort))))
			if err != nil {
				t.Fatalf("connect to the pod: %v", err)
			}
			c.Close()

			r := ig.stop(sigINT)
			checkSuccess(t, r)
			rows := eventsOf[networkPolicyRow](t, r.Stdout)
			if len(rows) != 1 {
				t.Fatalf("-c %s: %d rows, want 1:\n%s", name, len(rows), r.Stdout)
			}
			row := rows[0]
			wantLabels := map[string]string{"app": app, "tier": "web"}
			wantFile := filepath.Join(dir, "default_"+name+"-pod.yaml")
			if row.Runtime.ContainerName != name || row.K8s.PodName != name+"-pod" || row.K8s.Namespace != "default" ||
				row.NetNs != netNsOf(t, pid) || !maps.Equal(row.PodLabels, wantLabels) || row.File != wantFile {
				t.Errorf("row: %+v, want container %s, pod default/%s-pod, labels %v, file %s", row, name, name, wantLabels, wantFile)
			}
			if !row.has("egress", "tcp", bridgeGateway, serverPort) || !row.has("egress", "udp", bridgeGateway, 53) ||
				!row.has("ingress", "tcp", bridgeGateway, podPort) {
				t.Errorf("connections %+v: want egress tcp %s:%d, egress udp %s:53, ingress tcp from %s to port %d",
					row.Connections, bridgeGateway, serverPort, bridgeGateway, bridgeGateway, podPort)
			}

			b, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			var pol networkingv1.NetworkPolicy
			if err := yaml.UnmarshalStrict(b, &pol); err != nil {
				t.Fatalf("the policy does not parse as a NetworkPolicy: %v\n%s", err, b)
			}
			checkPolicy(t, &pol, name+"-pod", wantLabels, serverPort, podPort, b)
			var fromJSON networkingv1.NetworkPolicy
			if err := json.Unmarshal(row.Policy, &fromJSON); err != nil || fromJSON.Name != pol.Name || len(fromJSON.Spec.Egress) != len(pol.Spec.Egress) {
				t.Errorf("-o json's policy is not the file's: %v\n%s", err, row.Policy)
			}
		})
	}
}

// checkPolicy asserts what TestAdviseNetworkPolicyCRI's pod must be
// allowed, and nothing more.
func checkPolicy(t *testing.T, pol *networkingv1.NetworkPolicy, pod string, labels map[string]string, serverPort, podPort uint16, text []byte) {
	t.Helper()
	fail := func(format string, args ...any) { t.Errorf(format+"\n%s", append(args, text)...) }
	if pol.APIVersion != "networking.k8s.io/v1" || pol.Kind != "NetworkPolicy" || pol.Name != pod+"-network" || pol.Namespace != "default" {
		fail("policy %s %s %s/%s", pol.APIVersion, pol.Kind, pol.Namespace, pol.Name)
	}
	if !maps.Equal(pol.Spec.PodSelector.MatchLabels, labels) || len(pol.Spec.PodSelector.MatchExpressions) != 0 {
		fail("podSelector %v, want %v", pol.Spec.PodSelector.MatchLabels, labels)
	}
	if !slices.Equal(pol.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		fail("policyTypes %v", pol.Spec.PolicyTypes)
	}
	var dns, server int
	for _, e := range pol.Spec.Egress {
		var ports []string
		for _, p := range e.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s", *p.Protocol, p.Port.String()))
		}
		switch strings.Join(ports, ",") {
		case "UDP/53,TCP/53":
			dns++
			if len(e.To) != 1 || e.To[0].IPBlock != nil || e.To[0].PodSelector == nil || e.To[0].NamespaceSelector == nil ||
				!maps.Equal(e.To[0].PodSelector.MatchLabels, map[string]string{"k8s-app": "kube-dns"}) ||
				!maps.Equal(e.To[0].NamespaceSelector.MatchLabels, map[string]string{"kubernetes.io/metadata.name": "kube-system"}) {
				fail("the DNS rule's peers: %+v, want the kube-dns pods of kube-system", e.To)
			}
		case fmt.Sprintf("TCP/%d", serverPort):
			server++
			if len(e.To) != 1 || e.To[0].IPBlock == nil || e.To[0].IPBlock.CIDR != bridgeGateway+"/32" {
				fail("the server's rule's peers: %+v, want ipBlock %s/32", e.To, bridgeGateway)
			}
		default:
			fail("an egress rule for %v: the pod made no such connection", ports)
		}
	}
	if dns != 1 || server != 1 {
		fail("egress: %d DNS rules, %d rules to the server; want one each", dns, server)
	}
	if len(pol.Spec.Ingress) != 1 {
		fail("ingress: %d rules, want 1", len(pol.Spec.Ingress))
		return
	}
	in := pol.Spec.Ingress[0]
	if len(in.Ports) != 1 || *in.Ports[0].Protocol != "TCP" || in.Ports[0].Port.IntValue() != int(podPort) ||
		len(in.From) != 1 || in.From[0].IPBlock == nil || in.From[0].IPBlock.CIDR != bridgeGateway+"/32" {
		fail("ingress rule %+v, want TCP %d from %s/32", in, podPort, bridgeGateway)
	}
}

// TestAdviseNetworkPolicyDocker: a plain container (docker, no network
// but its loopback) gets a readable summary, no policy: its connections
// to itself with their direction, protocol, peer, port and count.
func TestAdviseNetworkPolicyDocker(t *testing.T) {
	runtimesUp(t)
	name, pid := container(t, "docker")
	ig := startIG(t, "advise", "network-policy", "-c", name, "-v")
	ig.waitVerboseAttached()
	var port uint16
	inNetns(t, pid, func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go acceptAll(l)
		port = uint16(l.Addr().(*net.TCPAddr).Port)
		for range 3 {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		// Unconnected (sendto): the first datagram's ICMP error does not
		// stop the second.
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
		u.WriteTo([]byte("x"), to)
		u.WriteTo([]byte("y"), to)
		u.Close()
	})
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	out := string(r.Stdout)
	if !strings.Contains(out, fmt.Sprintf("# container %s (docker): 3 peers\n", name)) || strings.Contains(out, "NetworkPolicy") {
		t.Fatalf("want a summary of container %s's 3 peers and no policy:\n%s", name, out)
	}
	want := [][]string{
		{"#", "egress", "tcp", "127.0.0.1", strconv.Itoa(int(port)), "3"},
		{"#", "egress", "udp", "127.0.0.1", "5353", "2"},
		{"#", "ingress", "tcp", "127.0.0.1", strconv.Itoa(int(port)), "3"},
	}
	var got [][]string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 6 && (f[1] == "egress" || f[1] == "ingress") {
			got = append(got, f)
		}
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("connections %v, want %v:\n%s", got, want, out)
	}
}

// TestAdviseNetworkPolicyErrors: an output directory that does not exist
// or cannot be written, a container that does not exist: one line, and
// a failure, before anything is recorded.
func TestAdviseNetworkPolicyErrors(t *testing.T) {
	runtimesUp(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--output-dir", "/nonexistent/np"}, "ig: --output-dir /nonexistent/np: no such directory\n"},
		{[]string{"--output-dir", file}, "ig: --output-dir " + file + ": not a directory\n"},
		{[]string{"--output-dir", "/proc/1"}, "ig: --output-dir /proc/1: cannot write in it: "},
		{[]string{"-c", "igt-no-such-container"}, `ig: no running container named "igt-no-such-container"`},
	} {
		r := runIG(t, append([]string{"advise", "network-policy", "--timeout", "5"}, c.args...)...)
		if r.Code == 0 || !strings.HasPrefix(string(r.Stderr), c.want) || strings.Count(string(r.Stderr), "\n") != 1 || len(r.Stdout) != 0 {
			t.Errorf("%v: want one line %q and a failure: %s", c.args, c.want, r)
		}
	}
}
