package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// igContainerEvent is an event's container fields that Inspektor Gadget
// has beside those of commonEvent (pkg/types/types.go, v0.26.0 and v0.41.0).
type igContainerEvent struct {
	Args    []string `json:"args"`
	Runtime struct {
		ContainerName        string  `json:"containerName"`
		ContainerPid         *int    `json:"containerPid"`
		ContainerImageDigest *string `json:"containerImageDigest"`
		ContainerStartedAt   *int64  `json:"containerStartedAt"`
	} `json:"runtime"`
	K8s struct {
		Node        *string         `json:"node"`
		PodLabels   json.RawMessage `json:"podLabels"`
		HostNetwork *bool           `json:"hostNetwork"`
		Owner       *struct {
			Kind *string `json:"kind"`
			Name *string `json:"name"`
		} `json:"owner"`
	} `json:"k8s"`
}

// TestIGContainerFields: the container fields IG has beside ig's first ones,
// for a docker container (its own network), a docker container on the
// host's network, and a containerd CRI pod with labels: containerPid and
// containerStartedAt of the container's first process, hostNetwork,
// podLabels; node, owner and containerImageDigest present and empty.
func TestIGContainerFields(t *testing.T) {
	env := runtimesUp(t)
	before := time.Now()
	ownNet, ownPid := container(t, "docker")
	hostNet := unique("igt-hostnet")
	if out, err := exec.Command("docker", "run", "-d", "--name", hostNet, "--network", "host", env["IMG_PAUSE"], "sleep", "1000").CombinedOutput(); err != nil {
		t.Fatalf("docker run --network host: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", hostNet).Run() })
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", hostNet).Output()
	hostPid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || hostPid <= 0 {
		t.Fatalf("docker inspect %s: %v %q", hostNet, err, out)
	}
	pod, podPid := criPod(t, "containerd-cri", map[string]string{"app": "igt-fields"})
	after := time.Now()

	ig := startIG(t, "trace", "exec", "-o", "json")
	ready, marker := unique("igfields-ready"), unique("igfields")
	ig.waitUntil("an exec in "+ownNet, func() { inContainer(t, "docker", ownNet, "/bin/true", ready) },
		streamMatcher(func(ev *igContainerEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == ready }))
	inContainer(t, "docker", ownNet, "/bin/true", marker)
	if out, err := exec.Command("docker", "exec", hostNet, "/bin/true", marker).CombinedOutput(); err != nil {
		t.Fatalf("docker exec %s: %v\n%s", hostNet, err, out)
	}
	inContainer(t, "containerd-cri", pod, "/bin/true", marker)
	ig.waitUntil("the exec in "+pod, nil, streamMatcher(func(ev *igContainerEvent) bool {
		return len(ev.Args) == 2 && ev.Args[1] == marker && ev.Runtime.ContainerName == pod
	}))
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	var evs []igContainerEvent
	for _, raw := range jsonLines(t, r.Stdout) {
		var ev igContainerEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	for _, c := range []struct {
		name        string
		pid         int
		hostNetwork bool
		labels      map[string]string // nil: no pod, podLabels null
		digest      string            // docker: none, as IG
	}{
		{ownNet, ownPid, false, nil, ""},
		{hostNet, hostPid, true, nil, ""},
		{pod, podPid, false, map[string]string{"app": "igt-fields"}, containerdDigest(t, env["IMG_PAUSE"])},
	} {
		ev := findOne(t, evs, "the exec in "+c.name, func(ev *igContainerEvent) bool {
			return len(ev.Args) == 2 && ev.Args[1] == marker && ev.Runtime.ContainerName == c.name
		})
		rt, k := ev.Runtime, ev.K8s
		if rt.ContainerPid == nil || *rt.ContainerPid != c.pid {
			t.Errorf("%s: containerPid %v, want %d", c.name, val(rt.ContainerPid), c.pid)
		}
		// The first process's start, at the 10 ms of /proc's clock ticks.
		if rt.ContainerStartedAt == nil || *rt.ContainerStartedAt < before.Add(-time.Second).UnixNano() || *rt.ContainerStartedAt > after.UnixNano() {
			t.Errorf("%s: containerStartedAt %v, want between %d and %d", c.name, val(rt.ContainerStartedAt), before.UnixNano(), after.UnixNano())
		}
		if k.HostNetwork == nil || *k.HostNetwork != c.hostNetwork {
			t.Errorf("%s: hostNetwork %v, want %v", c.name, val(k.HostNetwork), c.hostNetwork)
		}
		var labels map[string]string
		if err := json.Unmarshal(k.PodLabels, &labels); err != nil || (labels == nil) != (c.labels == nil) || labels["app"] != c.labels["app"] {
			t.Errorf("%s: podLabels %s, want %v", c.name, k.PodLabels, c.labels)
		}
		if k.Node == nil || *k.Node != "" || k.Owner == nil || k.Owner.Kind == nil || *k.Owner.Kind != "" || k.Owner.Name == nil || *k.Owner.Name != "" {
			t.Errorf("%s: node %v owner %+v, want both present and empty", c.name, val(k.Node), k.Owner)
		}
		if rt.ContainerImageDigest == nil || *rt.ContainerImageDigest != c.digest {
			t.Errorf("%s: containerImageDigest %v, want %q", c.name, val(rt.ContainerImageDigest), c.digest)
		}
	}
}

// containerdDigest is the digest of image in the CRI plugin's image store,
// as ctr lists it.
func containerdDigest(t *testing.T, image string) string {
	t.Helper()
	out, err := exec.Command("ctr", "--address", "/run/containerd/containerd.sock", "-n", "k8s.io", "images", "ls", "name=="+image).Output()
	if err != nil {
		t.Fatalf("ctr images ls: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(lines) == 2 && len(f) > 2 && strings.HasPrefix(f[2], "sha256:") {
		return f[2]
	}
	t.Fatalf("ctr images ls name==%s: %q", image, out)
	return ""
}

// val is *p, or "absent" for a key the JSON lacked.
func val[T any](p *T) any {
	if p == nil {
		return "absent"
	}
	return *p
}
