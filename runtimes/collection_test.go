package runtimes

import (
	"context"
	"errors"
	"os"
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
}

func (f *fakeClient) Name() string { return f.name }
func (f *fakeClient) Close() error { return nil }
func (f *fakeClient) Containers(context.Context) ([]Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits++
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
	if ct := c.Lookup(self); ct == nil {
		t.Error("Lookup of a known mount namespace failed")
	}
}

func TestCollectionChangesAndGrace(t *testing.T) {
	pid := os.Getpid()
	ns, _ := MountNamespace(pid)
	f := &fakeClient{name: Podman}
	c := NewCollection([]Client{f}, nil)
	var added, removed []Container
	c.OnChange(func(a, r []Container) { added, removed = append(added, a...), append(removed, r...) })
	c.Refresh(context.Background())

	// A container that appears after the start is found by Lookup at once.
	f.set(Container{Runtime: Podman, ID: "p1", Name: "late", Pid: pid})
	time.Sleep(missRefreshGap)
	if ct := c.Lookup(ns); ct == nil || ct.Name != "late" {
		t.Fatalf("late container not attributed: %+v", ct)
	}
	if len(added) != 1 || added[0].Name != "late" {
		t.Errorf("added %+v", added)
	}
	// Once gone, it still attributes late events for a while.
	f.set()
	c.Refresh(context.Background())
	if len(removed) != 1 || len(c.Containers()) != 0 {
		t.Errorf("removed %+v, containers %+v", removed, c.Containers())
	}
	if ct := c.Lookup(ns); ct == nil || ct.Name != "late" {
		t.Error("a container just gone should still attribute its events")
	}
}

func TestCollectionUnknownNamespaceRefreshesOnce(t *testing.T) {
	f := &fakeClient{name: Docker}
	c := NewCollection([]Client{f}, nil)
	c.Refresh(context.Background())
	time.Sleep(missRefreshGap)
	before := f.hits
	for i := 0; i < 100; i++ {
		if c.Lookup(12345) != nil {
			t.Fatal("unknown namespace attributed")
		}
	}
	if f.hits-before != 1 {
		t.Errorf("%d refreshes for one unknown namespace, want 1", f.hits-before)
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
