package runtimes

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Collection is the live set of this host's containers, keyed by mount
// namespace, so an event's mount namespace says which container it came
// from. It is refreshed on a timer (Run) and soon after an event comes from
// a mount namespace it does not know yet (Lookup), so a container started
// after ig attributes correctly from its first event. A container that is
// gone stays known for a while, so its last events still carry its name.
//
// The kernel reuses a freed namespace's number for the next namespace made,
// so the collection holds each container's mount namespace open (an fd on
// /proc/PID/ns/mnt) until it forgets the container: while ig holds it, its
// number cannot name another namespace, and a late event from it is the
// container's.
type Collection struct {
	clients []Client
	logf    func(string, ...any)
	// Warnf, when set, is told (once each time) when a runtime stops
	// answering and when it answers again; the error Refresh returns
	// says it every time.
	Warnf   func(string, ...any)
	failing map[int]bool // by index in clients, guarded by refreshMu
	listers []*lister    // one per client, guarded by refreshMu
	hostNs  uint64       // ig's own mount namespace: the host's, never a container's

	refreshMu sync.Mutex // one refresh at a time; guards the fields below
	current   map[string]Container
	gone      map[uint64]goneContainer // by mount namespace
	pins      map[uint64]*os.File      // open mount namespaces of current and gone containers
	listeners []func(added, removed []Container)

	snapshot   atomic.Pointer[map[uint64]*Container] // mntns -> container, read lock-free
	generation atomic.Uint64                         // counts refreshes, so callers can cache Lookup's answers

	nsMu         sync.Mutex
	pending      map[uint64]pendingNs // unknown namespaces, until a refresh settles them
	notContainer map[uint64]uint32    // namespaces that are no container's -> their serial
	kick         chan struct{}        // asks Run for a refresh now
}

// pendingNs is a namespace Lookup did not know: since when, and its serial.
type pendingNs struct {
	first  time.Time
	serial uint32
}

type goneContainer struct {
	c     Container
	since time.Time
}

// Keep is how long a removed container still attributes late events.
const Keep = 5 * time.Second

// settleAfter is how long a runtime may take to report a container whose
// process already runs (docker says "running" a moment after its first
// exec): an unknown namespace is no container's once a refresh that
// started this long after its first event did not list it.
const settleAfter = 150 * time.Millisecond

// listTimeout bounds each runtime's answer to a refresh: one that hangs
// must not hold up the others, nor attribution.
var listTimeout = 3 * time.Second

// failingBudget is how long a refresh waits for a runtime that did not
// answer the last one.
const failingBudget = 50 * time.Millisecond

// notContainerMax bounds the namespaces remembered as no container's.
const notContainerMax = 1 << 14

// NewCollection makes an empty collection over clients; call Refresh to fill it.
func NewCollection(clients []Client, logf func(string, ...any)) *Collection {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := &Collection{
		clients: clients, logf: logf,
		current: map[string]Container{}, gone: map[uint64]goneContainer{}, pins: map[uint64]*os.File{},
		pending: map[uint64]pendingNs{}, notContainer: map[uint64]uint32{},
		kick: make(chan struct{}, 1), failing: map[int]bool{},
	}
	for _, cl := range clients {
		c.listers = append(c.listers, &lister{cl: cl, answers: make(chan listAnswer, 1)})
	}
	c.hostNs, _ = MountNamespace(os.Getpid())
	empty := map[uint64]*Container{}
	c.snapshot.Store(&empty)
	return c
}

// OnChange registers f to be told of containers (not pod sandboxes) added
// and removed by each refresh (f runs on the refreshing goroutine). A container restarted under
// the same id with a new mount namespace, or renamed, is removed and added.
func (c *Collection) OnChange(f func(added, removed []Container)) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.listeners = append(c.listeners, f)
}

// Containers is the current list, in a stable order, without pod
// sandboxes (only Lookup knows them).
func (c *Collection) Containers() []Container {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	return withoutSandboxes(sorted(c.current))
}

func withoutSandboxes(cts []Container) []Container {
	return slices.DeleteFunc(cts, func(ct Container) bool { return ct.Sandbox })
}

// Refresh asks every runtime for its containers. A runtime that fails is
// reported and its containers are kept as they were.
func (c *Collection) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *Collection) refreshLocked(ctx context.Context) error {
	start := time.Now()
	next := map[string]Container{}
	var errs []string
	clientOf := map[string]bool{}
	for _, cl := range c.clients {
		clientOf[cl.Name()] = true
	}
	// Every runtime at once, each within listTimeout; one that did not
	// answer last time is waited for only briefly, and its question is
	// not asked again while it is still out.
	answers := make([]listAnswer, len(c.clients))
	for i := range c.clients {
		c.listers[i].ask(ctx)
	}
	for i, l := range c.listers {
		budget := listTimeout
		if c.failing[i] {
			budget = failingBudget
		}
		answers[i] = l.answer(start.Add(budget))
	}
	if err := ctx.Err(); err != nil {
		return err // ig is stopping: the answers say nothing about the runtimes
	}
	for i, cl := range c.clients {
		list, err := answers[i].list, answers[i].err
		c.reportHealth(i, cl, err)
		if err != nil {
			errs = append(errs, named(cl, err))
			for id, old := range c.current { // keep what we knew
				if old.Runtime == cl.Name() {
					next[id] = old
				}
			}
			continue
		}
		for _, ct := range list {
			if ct.Owner != "" && ct.Owner != ct.Runtime && clientOf[ct.Owner] {
				continue // its owner reports it (or will, once it has started it)
			}
			if prev, seen := next[ct.ID]; seen && rank(prev.Runtime) <= rank(ct.Runtime) {
				continue // the same container through a lower layer
			}
			if old, ok := c.current[ct.ID]; ok && old.Pid == ct.Pid {
				ct.MountNsID = old.MountNsID
			} else if ns, err := c.pin(ct.Pid); err == nil {
				ct.MountNsID = ns
			} else {
				c.logf("%s container %s: %v", ct.Runtime, ct.Name, err)
			}
			next[ct.ID] = ct
		}
	}

	var added, removed []Container
	now := time.Now()
	for id, old := range c.current {
		if ct, ok := next[id]; !ok || !sameInstance(ct, old) {
			removed = append(removed, old) // gone, restarted in a new namespace, or renamed
			if old.MountNsID != 0 {
				c.gone[old.MountNsID] = goneContainer{c: old, since: now}
			}
		}
	}
	live := map[uint64]bool{}
	for id, ct := range next {
		if old, ok := c.current[id]; !ok || !sameInstance(ct, old) {
			added = append(added, ct)
		}
		live[ct.MountNsID] = true
		delete(c.gone, ct.MountNsID)
	}
	for ns, g := range c.gone {
		if now.Sub(g.since) > Keep {
			delete(c.gone, ns)
		}
	}
	for ns, f := range c.pins { // forget what no container needs any more
		if _, kept := c.gone[ns]; !live[ns] && !kept {
			f.Close()
			delete(c.pins, ns)
		}
	}
	c.current = next

	snap := make(map[uint64]*Container, len(next)+len(c.gone))
	for ns, g := range c.gone {
		g := g
		snap[ns] = &g.c
	}
	for _, ct := range next {
		ct := ct
		if ct.MountNsID != 0 {
			snap[ct.MountNsID] = &ct
		}
	}
	c.snapshot.Store(&snap)
	c.settle(start, snap)
	c.generation.Add(1)
	added, removed = withoutSandboxes(added), withoutSandboxes(removed)
	if len(added)+len(removed) > 0 {
		sortContainers(added)
		sortContainers(removed)
		for _, f := range c.listeners {
			f(added, removed)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// sameInstance says whether a and b, with the same id, are the container as
// it was: not restarted (a new namespace) nor renamed (-c follows names).
func sameInstance(a, b Container) bool {
	return a.MountNsID == b.MountNsID && a.Name == b.Name
}

// lister asks one runtime for its containers, one question at a time.
type lister struct {
	cl       Client
	answers  chan listAnswer // the answer to the question out, when it comes
	inFlight bool
}

type listAnswer struct {
	list []Container
	err  error
}

// ask asks the runtime, unless a question is still out.
func (l *lister) ask(ctx context.Context) {
	if l.inFlight {
		return
	}
	l.inFlight = true
	go func() {
		lctx, cancel := context.WithTimeout(ctx, listTimeout)
		defer cancel()
		list, err := l.cl.Containers(lctx)
		if err != nil && lctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s", listTimeout)
		}
		l.answers <- listAnswer{list, err}
	}()
}

// answer waits for the answer until deadline; past it, the question stays
// out and the runtime counts as not answering.
func (l *lister) answer(deadline time.Time) listAnswer {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case a := <-l.answers:
		l.inFlight = false
		return a
	case <-t.C:
		return listAnswer{err: fmt.Errorf("no answer within %s", listTimeout)}
	}
}

// reportHealth tells Warnf when client i starts or stops failing.
func (c *Collection) reportHealth(i int, cl Client, err error) {
	if c.Warnf == nil || (err != nil) == c.failing[i] {
		return
	}
	c.failing[i] = err != nil
	if err != nil {
		c.Warnf("%s; its containers are kept as they were until it answers", named(cl, err))
	} else {
		c.Warnf("%s: %s answers again", cl.Name(), cl.Socket())
	}
}

// named is err, said as the runtime's, with its socket (there may be
// several podman ones); clients' errors mostly name their runtime already.
func named(cl Client, err error) string {
	msg := strings.TrimPrefix(err.Error(), cl.Name()+": ")
	msg = strings.TrimPrefix(msg, cl.Socket()+": ")
	return cl.Name() + ": " + cl.Socket() + ": " + msg
}

// pin opens the mount namespace of pid and holds it until no container
// needs it, and returns its number.
func (c *Collection) pin(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	if err != nil {
		return 0, fmt.Errorf("mount namespace of pid %d: %w", pid, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("mount namespace of pid %d: %w", pid, err)
	}
	ns := fi.Sys().(*syscall.Stat_t).Ino
	if _, held := c.pins[ns]; held {
		f.Close()
	} else {
		c.pins[ns] = f
	}
	return ns, nil
}

// settle decides, after a refresh that started at start, which unknown
// namespaces are no container's.
func (c *Collection) settle(start time.Time, snap map[uint64]*Container) {
	c.nsMu.Lock()
	defer c.nsMu.Unlock()
	now := time.Now()
	var wait time.Duration
	for ns, p := range c.pending {
		switch {
		case snap[ns] != nil:
			delete(c.pending, ns)
		case !start.Before(p.first.Add(settleAfter)):
			delete(c.pending, ns)
			if len(c.notContainer) >= notContainerMax {
				clear(c.notContainer) // at worst, one more short wait each
			}
			c.notContainer[ns] = p.serial
		default:
			if d := p.first.Add(settleAfter).Sub(now); wait == 0 || d < wait {
				wait = d
			}
		}
	}
	if len(c.pending) > 0 {
		time.AfterFunc(max(wait, time.Millisecond), c.askRefresh)
	}
}

func (c *Collection) askRefresh() {
	select {
	case c.kick <- struct{}{}:
	default: // one is asked for already
	}
}

// Run refreshes every interval, and when Lookup asks, until ctx ends.
func (c *Collection) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.logf("refresh containers: %v", err)
		}
	}
}

// Generation changes whenever the collection does: an answer of Lookup
// stays true until it changes.
func (c *Collection) Generation() uint64 { return c.generation.Load() }

// Lookup returns the container of mount namespace mntns (serial tells it
// from an earlier namespace with the number: see tracers.Event), nil for the
// host and other namespaces that are no container's. settled is false while
// the namespace is new and the runtimes have not been asked about it yet (a
// container that started a moment ago): Lookup asks Run for a refresh, and
// the caller may hold the event and ask again. It never blocks on a refresh.
//
// A namespace found to be no container's stays so for as long as it lives
// (ig's -c and --host rely on that); a container's namespace is held open
// by the collection, so its number names nothing else meanwhile.
func (c *Collection) Lookup(mntns uint64, serial uint32) (ct *Container, settled bool) {
	if ct := (*c.snapshot.Load())[mntns]; ct != nil {
		return ct, true
	}
	if mntns == c.hostNs || len(c.clients) == 0 {
		return nil, true
	}
	c.nsMu.Lock()
	defer c.nsMu.Unlock()
	if s, ok := c.notContainer[mntns]; ok {
		if s == serial {
			return nil, true
		}
		delete(c.notContainer, mntns) // the number names a new namespace
	}
	if p, ok := c.pending[mntns]; !ok || p.serial != serial {
		c.pending[mntns] = pendingNs{first: time.Now(), serial: serial}
		c.askRefresh()
	}
	return nil, false
}

// Runtimes names the runtimes in use, one per client (podman may repeat).
func (c *Collection) Runtimes() []string {
	var names []string
	for _, cl := range c.clients {
		names = append(names, cl.Name())
	}
	return names
}

// Close closes every client and lets go of the namespaces it holds.
func (c *Collection) Close() {
	for _, cl := range c.clients {
		cl.Close()
	}
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	for ns, f := range c.pins {
		f.Close()
		delete(c.pins, ns)
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
