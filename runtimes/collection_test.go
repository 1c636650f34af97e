package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClient is a runtime whose containers the test sets.
type fakeClient struct {
	name string
	mu   sync.Mutex
	list []Container
	err  error
	hits int
	hang bool // answer only when the context ends
}

func (f *fakeClient) Name() string   { return f.name }
func (f *fakeClient) Socket() string { return "/run/" + f.name + ".sock" }
func (f *fakeClient) Close() error   { return nil }
func (f *fakeClient) Containers(ctx context.Context) ([]Container, error) {
	f.mu.Lock()
	hang := f.hang
	f.hits++
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Container(nil), f.list...), f.err
}
func (f *fakeClient) set(list ...Container) {
	f.mu.Lock()
	f.list = list
	f.mu.Unlock()
}

func TestCollectionDedupAndMountNamespace(t *testing.T) {
	self, err := MountNamespace(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	dock := &fakeClient{name: Docker, list: []Container{{Runtime: Docker, ID: "abc", Name: "web", Pid: pid}}}
	ctrd := &fakeClient{name: Containerd, list: []Container{
		{Runtime: Containerd, ID: "abc", Name: "abc", Pid: pid}, // docker's, seen in the moby namespace
		{Runtime: Containerd, ID: "def", Name: "ctr1", Pid: pid},
	}}
	c := NewCollection([]Client{ctrd, dock}, nil)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.Containers()
	if len(got) != 2 || got[0].Runtime != Containerd || got[0].ID != "def" || got[1].Runtime != Docker || got[1].Name != "web" {
		t.Fatalf("containers %+v", got)
	}
	if got[0].MountNsID != self {
		t.Errorf("mntns %d, want %d", got[0].MountNsID, self)
	}
	if ct, settled := c.Lookup(self, 0); ct == nil || !settled {
		t.Error("Lookup of a known mount namespace failed")
	}
}

// A docker container seen in containerd's moby namespace before docker
// reports it (docker says "running" a moment after its process starts) is
// left to docker when docker is in use, and listed under containerd when not.
func TestCollectionLeavesAContainerToItsOwner(t *testing.T) {
	pid := os.Getpid()
	moby := Container{Runtime: Containerd, ID: "abc", Name: "abc", Pid: pid, Owner: Docker}
	ctrd := &fakeClient{name: Containerd, list: []Container{moby}}
	dock := &fakeClient{name: Docker}
	c := NewCollection([]Client{dock, ctrd}, nil)
	c.Refresh(context.Background())
	if got := c.Containers(); len(got) != 0 {
		t.Errorf("with docker in use, containerd's view of a starting docker container is listed: %+v", got)
	}
	c = NewCollection([]Client{ctrd}, nil)
	c.Refresh(context.Background())
	if got := c.Containers(); len(got) != 1 || got[0].Runtime != Containerd {
		t.Errorf("without docker: %+v", got)
	}
}

func TestCollectionChangesAndGrace(t *testing.T) {
	pid := os.Getpid()
	ns, _ := MountNamespace(pid)
	f := &fakeClient{name: Podman}
	c := NewCollection([]Client{f}, nil)
	defer c.Close()
	var added, removed []Container
	c.OnChange(func(a, r []Container) { added, removed = append(added, a...), append(removed, r...) })
	c.Refresh(context.Background())

	f.set(Container{Runtime: Podman, ID: "p1", Name: "late", Pid: pid})
	c.Refresh(context.Background())
	if ct, _ := c.Lookup(ns, 0); ct == nil || ct.Name != "late" {
		t.Fatalf("late container not attributed: %+v", ct)
	}
	if len(added) != 1 || added[0].Name != "late" {
		t.Errorf("added %+v", added)
	}
	if len(c.pins) != 1 {
		t.Errorf("%d mount namespaces held, want the container's", len(c.pins))
	}
	// Once gone, it still attributes late events for a while, and its
	// namespace stays held so that its number names nothing else.
	f.set()
	c.Refresh(context.Background())
	if len(removed) != 1 || len(c.Containers()) != 0 {
		t.Errorf("removed %+v, containers %+v", removed, c.Containers())
	}
	if ct, _ := c.Lookup(ns, 0); ct == nil || ct.Name != "late" {
		t.Error("a container just gone should still attribute its events")
	}
	if len(c.pins) != 1 {
		t.Errorf("%d mount namespaces held after the container went, want 1 for %s", len(c.pins), Keep)
	}
	c.gone[ns] = goneContainer{c: c.gone[ns].c, since: time.Now().Add(-Keep - time.Second)}
	c.Refresh(context.Background())
	if ct, _ := c.Lookup(ns, 0); ct != nil || len(c.pins) != 0 {
		t.Errorf("after %s: attributed to %+v, %d namespaces held", Keep, ct, len(c.pins))
	}
}

// An event from a namespace the collection does not know is held (not
// settled) until a refresh that started settleAfter later has answered; a
// container the runtime reports meanwhile is found.
func TestCollectionSettlesUnknownNamespaces(t *testing.T) {
	f := &fakeClient{name: Docker}
	c := NewCollection([]Client{f}, nil)
	defer c.Close()
	c.hostNs = 0 // so that this process's namespace can play a new container's
	c.Refresh(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx, time.Hour)

	before := f.hits
	start := time.Now()
	if _, settled := c.Lookup(12345, 0); settled {
		t.Fatal("an unknown namespace is settled before the runtimes were asked")
	}
	for {
		ct, settled := c.Lookup(12345, 0)
		if settled {
			if ct != nil {
				t.Fatal("unknown namespace attributed")
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("an unknown namespace never settled")
		}
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(start); d < settleAfter {
		t.Errorf("settled after %s, before settleAfter (%s)", d, settleAfter)
	}
	if n := f.hits - before; n < 1 || n > 3 {
		t.Errorf("%d refreshes for one unknown namespace, want 1 to 3", n)
	}
	if _, settled := c.Lookup(12345, 0); !settled {
		t.Error("a namespace found to be no container's is asked about again at once")
	}
	// The same number with another serial is a new namespace (the kernel
	// reuses numbers): it may be a container's, so it is asked about.
	if _, settled := c.Lookup(12345, 7); settled {
		t.Error("a new namespace under a number known as no container's is taken for the old one")
	}

	// A container whose runtime reports it a moment after its first event.
	ns, _ := MountNamespace(os.Getpid())
	if _, settled := c.Lookup(ns, 0); settled {
		t.Fatal("a new namespace is settled before the runtimes were asked")
	}
	f.set(Container{Runtime: Docker, ID: "d1", Name: "new", Pid: os.Getpid()})
	for {
		ct, settled := c.Lookup(ns, 0)
		if settled {
			if ct == nil || ct.Name != "new" {
				t.Fatalf("attributed to %+v, want the container reported meanwhile", ct)
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a new container's namespace never settled")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCollectionKeepsContainersOfAFailingRuntime(t *testing.T) {
	f := &fakeClient{name: Docker, list: []Container{{Runtime: Docker, ID: "a", Name: "a", Pid: os.Getpid()}}}
	c := NewCollection([]Client{f}, nil)
	c.Refresh(context.Background())
	f.err = errors.New("daemon restarting")
	if err := c.Refresh(context.Background()); err == nil {
		t.Error("the failure was not reported")
	}
	if len(c.Containers()) != 1 {
		t.Error("a failing runtime's containers were forgotten")
	}
}

// A pod sandbox attributes its events but is neither listed nor announced.
func TestCollectionSandboxes(t *testing.T) {
	pid := os.Getpid()
	ns, _ := MountNamespace(pid)
	f := &fakeClient{name: Containerd, list: []Container{{Runtime: Containerd, ID: "s1", Pid: pid, Sandbox: true, PodName: "web"}}}
	c := NewCollection([]Client{f}, nil)
	defer c.Close()
	var changes int
	c.OnChange(func(a, r []Container) { changes += len(a) + len(r) })
	c.Refresh(context.Background())
	if ct, settled := c.Lookup(ns, 0); ct == nil || !settled || ct.PodName != "web" {
		t.Errorf("sandbox's namespace attributed to %+v", ct)
	}
	if len(c.Containers()) != 0 || changes != 0 {
		t.Errorf("a sandbox is listed (%+v) or announced (%d changes)", c.Containers(), changes)
	}
}

// A runtime that hangs holds up neither the others nor the refresh, and is
// said once when it starts failing and once when it answers again.
func TestCollectionHangingRuntime(t *testing.T) {
	defer func(d time.Duration) { listTimeout = d }(listTimeout)
	listTimeout = 100 * time.Millisecond
	pid := os.Getpid()
	stuck := &fakeClient{name: Podman, hang: true}
	dock := &fakeClient{name: Docker, list: []Container{{Runtime: Docker, ID: "d", Name: "web", Pid: pid}}}
	c := NewCollection([]Client{dock, stuck}, nil)
	defer c.Close()
	var warned []string
	c.Warnf = func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }
	for i := 0; i < 3; i++ {
		start := time.Now()
		err := c.Refresh(context.Background())
		if err == nil || !strings.Contains(err.Error(), "podman: /run/podman.sock: no answer within 100ms") {
			t.Errorf("refresh error %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refresh took %s with a hanging runtime", d)
		}
	}
	if got := c.Containers(); len(got) != 1 || got[0].Name != "web" {
		t.Errorf("containers %+v", got)
	}
	stuck.mu.Lock()
	stuck.hang = false
	stuck.mu.Unlock()
	// The question still out ends; the next one is answered.
	var err error
	for i := 0; i < 5; i++ {
		if err = c.Refresh(context.Background()); err == nil {
			break
		}
		time.Sleep(listTimeout)
	}
	if err != nil {
		t.Error(err)
	}
	if n := stuck.hits; n > 5 {
		t.Errorf("the hanging runtime was asked %d times, not once per answer", n)
	}
	if len(warned) != 2 || !strings.Contains(warned[0], "podman: /run/podman.sock: no answer within") || warned[1] != "podman: /run/podman.sock answers again" {
		t.Errorf("warnings %q", warned)
	}
}

// A renamed container is removed under its old name and added under the new.
func TestCollectionRename(t *testing.T) {
	pid := os.Getpid()
	f := &fakeClient{name: Docker, list: []Container{{Runtime: Docker, ID: "d", Name: "old", Pid: pid}}}
	c := NewCollection([]Client{f}, nil)
	defer c.Close()
	c.Refresh(context.Background())
	var added, removed []Container
	c.OnChange(func(a, r []Container) { added, removed = a, r })
	f.set(Container{Runtime: Docker, ID: "d", Name: "new", Pid: pid})
	c.Refresh(context.Background())
	if len(removed) != 1 || removed[0].Name != "old" || len(added) != 1 || added[0].Name != "new" {
		t.Errorf("removed %+v, added %+v", removed, added)
	}
	if ct, _ := c.Lookup(added[0].MountNsID, 0); ct == nil || ct.Name != "new" {
		t.Errorf("attributed to %+v", ct)
	}
}

// TestCollectionByNetworkNamespace: LookupNet finds the containers that
// share a network namespace (a pod's sandbox among them), never the host's
// (host-network containers), and settles an unknown one as no container's
// after asking the runtimes, as Lookup does.
func TestCollectionByNetworkNamespace(t *testing.T) {
	// A process in a network namespace of its own: with a user namespace
	// too, so that this runs as any user.
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--net", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	self, err := NetworkNamespace(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var netns uint64
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if netns, err = NetworkNamespace(cmd.Process.Pid); err == nil && netns != self {
			break // unshare has made it and become sleep
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("unshare --net: no network namespace of its own (%v)", err)
		}
	}
	pid := cmd.Process.Pid
	f := &fakeClient{name: Containerd, list: []Container{
		{Runtime: Containerd, ID: "s", Pid: pid, Sandbox: true, PodName: "p"},
		{Runtime: Containerd, ID: "b", Name: "proxy", Pid: pid, PodName: "p"},
		{Runtime: Containerd, ID: "a", Name: "app", Pid: pid, PodName: "p"},
		{Runtime: Containerd, ID: "h", Name: "hostnet", Pid: os.Getpid()},
	}}
	c := NewCollection([]Client{f}, nil)
	defer c.Close()
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	cts, settled := c.LookupNet(netns)
	var names []string
	for _, ct := range cts {
		names = append(names, ct.Name)
	}
	if !settled || strings.Join(names, ",") != ",app,proxy" {
		t.Errorf("LookupNet of the pod's namespace: %q settled %v, want the sandbox, app and proxy", names, settled)
	}
	for _, ct := range c.Containers() {
		if want := map[string]uint64{"app": netns, "proxy": netns, "hostnet": self}[ct.Name]; ct.NetNsID != want {
			t.Errorf("%s: netns %d, want %d", ct.Name, ct.NetNsID, want)
		}
	}
	if cts, settled := c.LookupNet(self); cts != nil || !settled {
		t.Errorf("the host's network namespace is %d containers' (settled %v): host-network traffic is the host's", len(cts), settled)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx, time.Hour)
	if _, settled := c.LookupNet(12345); settled {
		t.Fatal("an unknown network namespace is settled before the runtimes were asked")
	}
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		cts, settled := c.LookupNet(12345)
		if settled {
			if cts != nil {
				t.Fatal("an unknown network namespace attributed")
			}
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("an unknown network namespace never settled")
		}
	}

	// The proxy and the sandbox go: the namespace is app's alone. Then app
	// goes: its namespace is still attributed to it, for late events, and
	// held so that its number names nothing else meanwhile.
	f.set(Container{Runtime: Containerd, ID: "a", Name: "app", Pid: pid, PodName: "p"})
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cts, _ := c.LookupNet(netns); len(cts) != 1 || cts[0].Name != "app" {
		t.Errorf("after the proxy went: %d containers in the namespace, want app alone", len(cts))
	}
	f.set()
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cts, _ := c.LookupNet(netns); len(cts) != 1 || cts[0].Name != "app" {
		t.Errorf("just after app went: %d containers in its namespace, want app for late events", len(cts))
	}
	c.refreshMu.Lock()
	_, held := c.netPins[netns]
	c.refreshMu.Unlock()
	if !held {
		t.Error("a gone container's network namespace is not held while it is remembered")
	}
}
