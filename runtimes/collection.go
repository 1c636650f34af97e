package runtimes

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Collection is the live set of this host's containers, keyed by mount
// namespace, so an event's mount namespace says which container it came
// from. It is refreshed on a timer (Run) and whenever an event comes from a
// mount namespace it does not know yet (Lookup), so a container started
// after ig attributes correctly. A container that is gone stays known for
// a while, so its last events still carry its name.
type Collection struct {
	clients []Client
	logf    func(string, ...any)

	refreshMu   sync.Mutex // one refresh at a time
	current     map[string]Container
	gone        map[string]goneContainer
	snapshot    atomic.Pointer[map[uint64]*Container] // mntns -> container, read lock-free
	unknown     map[uint64]bool                       // mntns seen and not a container, until the next refresh
	lastRefresh time.Time
	generation  atomic.Uint64 // counts refreshes, so callers can cache Lookup's answers
	listeners   []func(added, removed []Container)
}

type goneContainer struct {
	c     Container
	since time.Time
}

// Keep is how long a removed container still attributes late events.
const Keep = 5 * time.Second

// missRefreshGap bounds how often an unknown mount namespace may trigger
// a refresh on the event path.
const missRefreshGap = 100 * time.Millisecond

// NewCollection makes an empty collection over clients; call Refresh to fill it.
func NewCollection(clients []Client, logf func(string, ...any)) *Collection {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := &Collection{clients: clients, logf: logf, current: map[string]Container{}, gone: map[string]goneContainer{}, unknown: map[uint64]bool{}}
	empty := map[uint64]*Container{}
	c.snapshot.Store(&empty)
	return c
}

// OnChange registers f to be told of containers added and removed by each
// refresh (f runs on the refreshing goroutine).
func (c *Collection) OnChange(f func(added, removed []Container)) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.listeners = append(c.listeners, f)
}

// Containers is the current list, in a stable order.
func (c *Collection) Containers() []Container {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	return sorted(c.current)
}

// Refresh asks every runtime for its containers. A runtime that fails is
// reported and its containers are kept as they were.
func (c *Collection) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *Collection) refreshLocked(ctx context.Context) error {
	next := map[string]Container{}
	var errs []string
	for _, cl := range c.clients {
		list, err := cl.Containers(ctx)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", cl.Name(), err))
			for id, old := range c.current { // keep what we knew
				if old.Runtime == cl.Name() {
					next[id] = old
				}
			}
			continue
		}
		for _, ct := range list {
			if prev, seen := next[ct.ID]; seen && rank(prev.Runtime) <= rank(ct.Runtime) {
				continue // the same container through a lower layer (docker's in containerd)
			}
			if old, ok := c.current[ct.ID]; ok && old.Pid == ct.Pid {
				ct.MountNsID = old.MountNsID
			} else if ns, err := MountNamespace(ct.Pid); err == nil {
				ct.MountNsID = ns
			} else {
				c.logf("%s container %s: %v", ct.Runtime, ct.Name, err)
			}
			next[ct.ID] = ct
		}
	}
	var added, removed []Container
	now := time.Now()
	for id, ct := range next {
		if _, ok := c.current[id]; !ok {
			added = append(added, ct)
		}
		delete(c.gone, id)
	}
	for id, ct := range c.current {
		if _, ok := next[id]; !ok {
			removed = append(removed, ct)
			c.gone[id] = goneContainer{c: ct, since: now}
		}
	}
	for id, g := range c.gone {
		if now.Sub(g.since) > Keep {
			delete(c.gone, id)
		}
	}
	c.current = next
	c.unknown = map[uint64]bool{}
	c.lastRefresh = now

	snap := make(map[uint64]*Container, len(next)+len(c.gone))
	for _, g := range c.gone {
		g := g
		if g.c.MountNsID != 0 {
			snap[g.c.MountNsID] = &g.c
		}
	}
	for _, ct := range next {
		ct := ct
		if ct.MountNsID != 0 {
			snap[ct.MountNsID] = &ct
		}
	}
	c.snapshot.Store(&snap)
	c.generation.Add(1)
	if len(added)+len(removed) > 0 {
		for _, f := range c.listeners {
			f(added, removed)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Run refreshes every interval until ctx ends.
func (c *Collection) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
				c.logf("refresh containers: %v", err)
			}
		}
	}
}

// Generation changes whenever the collection does: an answer of Lookup
// stays true until it changes.
func (c *Collection) Generation() uint64 { return c.generation.Load() }

// Lookup returns the container of a mount namespace. An unknown namespace
// triggers one refresh (at most every missRefreshGap), since it may be a
// container that started since the last one. It never waits for a refresh
// already running: that one will tell (see Generation).
func (c *Collection) Lookup(mntns uint64) *Container {
	if ct := (*c.snapshot.Load())[mntns]; ct != nil {
		return ct
	}
	if !c.refreshMu.TryLock() {
		return nil
	}
	defer c.refreshMu.Unlock()
	if ct := (*c.snapshot.Load())[mntns]; ct != nil {
		return ct // another caller refreshed meanwhile
	}
	if c.unknown[mntns] || time.Since(c.lastRefresh) < missRefreshGap {
		c.unknown[mntns] = true
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.refreshLocked(ctx); err != nil {
		c.logf("refresh containers: %v", err)
	}
	ct := (*c.snapshot.Load())[mntns]
	if ct == nil {
		c.unknown[mntns] = true
	}
	return ct
}

// Runtimes names the runtimes in use, one per client (podman may repeat).
func (c *Collection) Runtimes() []string {
	var names []string
	for _, cl := range c.clients {
		names = append(names, cl.Name())
	}
	return names
}

// Close closes every client.
func (c *Collection) Close() {
	for _, cl := range c.clients {
		cl.Close()
	}
}

func rank(runtime string) int {
	for i, r := range All {
		if r == runtime {
			return i
		}
	}
	return len(All)
}

func sorted(m map[string]Container) []Container {
	out := make([]Container, 0, len(m))
	for _, ct := range m {
		out = append(out, ct)
	}
	sortContainers(out)
	return out
}

// MountNamespace reads the mount namespace inode of a process.
func MountNamespace(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	if err != nil {
		return 0, fmt.Errorf("mount namespace of pid %d: %w", pid, err)
	}
	// "mnt:[4026531841]"
	v, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "mnt:["), "]"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("mount namespace of pid %d: %q", pid, link)
	}
	return v, nil
}
