package runtimes

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Collection is the live set of this host's containers, keyed by mount
// namespace, so an event's mount namespace says which container it came
// from. It is refreshed on a timer (Run) and soon after an event comes from
// a mount namespace it does not know yet (Lookup), so a container started
// after ig attributes correctly from its first event. A container that is
// gone stays known for a while, so its last events still carry its name.
//
// Events born in softirq (packets, TCP state changes) have no process to
// go by: LookupNet finds the containers by network namespace instead.
//
// The kernel reuses a freed namespace's number for the next namespace made,
// so the collection holds each container's mount and network namespaces
// open (an fd on /proc/PID/ns/mnt and ns/net) until it forgets the
// container: while ig holds them, their numbers cannot name other
// namespaces, and a late event from one is the container's.
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
	hostNet uint64       // ig's own network namespace: the host's, shared by host-network containers

	refreshMu sync.Mutex // one refresh at a time; guards the fields below
	current   map[string]Container
	gone      map[uint64]goneContainer // by mount namespace
	pins      map[uint64]*os.File      // open mount namespaces of current and gone containers
	netPins   map[uint64]*os.File      // and their open network namespaces
	listeners []func(added, removed []Container)

	snapshot   atomic.Pointer[map[uint64]*Container]   // mntns -> container, read lock-free
	netSnap    atomic.Pointer[map[uint64][]*Container] // netns -> containers (pod sandboxes too), not the host's
	generation atomic.Uint64                           // counts refreshes, so callers can cache Lookup's answers

	nsMu         sync.Mutex
	pending      map[uint64]pendingNs // unknown namespaces, until a refresh settles them
	notContainer map[uint64]uint32    // namespaces that are no container's -> their serial
	pendingNet   map[uint64]time.Time // unknown network namespaces, since when
	notNet       map[uint64]bool      // network namespaces that are no container's
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
		netPins: map[uint64]*os.File{},
		pending: map[uint64]pendingNs{}, notContainer: map[uint64]uint32{},
		pendingNet: map[uint64]time.Time{}, notNet: map[uint64]bool{},
		kick: make(chan struct{}, 1), failing: map[int]bool{},
	}
	for _, cl := range clients {
		c.listers = append(c.listers, &lister{cl: cl, answers: make(chan listAnswer, 1)})
	}
	c.hostNs, _ = MountNamespace(os.Getpid())
	c.hostNet, _ = NetworkNamespace(os.Getpid())
	empty := map[uint64]*Container{}
	c.snapshot.Store(&empty)
	emptyNet := map[uint64][]*Container{}
	c.netSnap.Store(&emptyNet)
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
				ct.MountNsID, ct.NetNsID, ct.StartedAt = old.MountNsID, old.NetNsID, old.StartedAt
			} else {
				var err error
				if ct.MountNsID, err = pin(c.pins, ct.Pid, "mnt"); err != nil {
					c.logf("%s container %s: %v", ct.Runtime, ct.Name, err)
				}
				if ct.NetNsID, err = pin(c.netPins, ct.Pid, "net"); err != nil {
					c.logf("%s container %s: %v", ct.Runtime, ct.Name, err)
				}
				ct.StartedAt, _ = ProcessStart(ct.Pid) // 0 when it is gone already
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
	// By network namespace: the live containers, and gone ones only where
	// none lives (a pod's restarted container is not named twice).
	netSnap := map[uint64][]*Container{}
	for _, ct := range next {
		ct := ct
		if ct.NetNsID != 0 && ct.NetNsID != c.hostNet {
			netSnap[ct.NetNsID] = append(netSnap[ct.NetNsID], &ct)
		}
	}
	liveNets := maps.Clone(netSnap)
	for _, g := range c.gone {
		g := g
		if ns := g.c.NetNsID; ns != 0 && ns != c.hostNet && liveNets[ns] == nil {
			netSnap[ns] = append(netSnap[ns], &g.c)
		}
	}
	for ns, f := range c.netPins { // as for mount namespaces
		if netSnap[ns] == nil {
			f.Close()
			delete(c.netPins, ns)
		}
	}
	for _, cts := range netSnap {
		sortContainerPtrs(cts)
	}
	c.snapshot.Store(&snap)
	c.netSnap.Store(&netSnap)
	c.settle(start, snap, netSnap)
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

// pin opens namespace kind ("mnt", "net") of pid, holds it in pins until
// no container needs it, and returns its number.
func pin(pins map[uint64]*os.File, pid int, kind string) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/" + kind)
	if err != nil {
		return 0, fmt.Errorf("%s namespace of pid %d: %w", kind, pid, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("%s namespace of pid %d: %w", kind, pid, err)
	}
	ns := fi.Sys().(*syscall.Stat_t).Ino
	if _, held := pins[ns]; held {
		f.Close()
	} else {
		pins[ns] = f
	}
	return ns, nil
}

// settle decides, after a refresh that started at start, which unknown
// namespaces are no container's.
func (c *Collection) settle(start time.Time, snap map[uint64]*Container, netSnap map[uint64][]*Container) {
	c.nsMu.Lock()
	defer c.nsMu.Unlock()
	now := time.Now()
	var wait time.Duration
	for ns, first := range c.pendingNet {
		switch {
		case netSnap[ns] != nil:
			delete(c.pendingNet, ns)
		case !start.Before(first.Add(settleAfter)):
			delete(c.pendingNet, ns)
			if len(c.notNet) >= notContainerMax {
				clear(c.notNet)
			}
			c.notNet[ns] = true
		default:
			if d := first.Add(settleAfter).Sub(now); wait == 0 || d < wait {
				wait = d
			}
		}
	}
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
	if len(c.pending)+len(c.pendingNet) > 0 {
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

// LookupNet returns the containers in network namespace netns: one, or
// several that share it (a pod's containers and its sandbox, a container
// run on another's network), in a stable order; none for the host's
// network namespace (host-network containers included) and other
// namespaces that are no container's. settled is as for Lookup. A network
// namespace has no serial that ig can read from every kernel: a number
// found to be no container's stays so until a refresh lists a container
// in it, which only a namespace made after that finding can have.
func (c *Collection) LookupNet(netns uint64) (cts []*Container, settled bool) {
	if cts := (*c.netSnap.Load())[netns]; cts != nil {
		return cts, true
	}
	if netns == 0 || netns == c.hostNet || len(c.clients) == 0 {
		return nil, true
	}
	c.nsMu.Lock()
	defer c.nsMu.Unlock()
	if c.notNet[netns] {
		return nil, true
	}
	if _, ok := c.pendingNet[netns]; !ok {
		c.pendingNet[netns] = time.Now()
		c.askRefresh()
	}
	return nil, false
}

// HostNetNs is ig's own network namespace: the host's.
func (c *Collection) HostNetNs() uint64 { return c.hostNet }

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
	for _, pins := range []map[uint64]*os.File{c.pins, c.netPins} {
		for ns, f := range pins {
			f.Close()
			delete(pins, ns)
		}
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
func MountNamespace(pid int) (uint64, error) { return namespace(pid, "mnt") }

// NetworkNamespace reads the network namespace inode of a process.
func NetworkNamespace(pid int) (uint64, error) { return namespace(pid, "net") }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture ig runs on.
const clockTicks = 100

// ProcessStart is when process pid started, in nanoseconds since the epoch:
// its start time since boot (/proc/<pid>/stat's 22nd field, in clock ticks)
// moved onto the wall clock.
func ProcessStart(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The fields after comm, which may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22, starttime
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: starttime %q", pid, f[19])
	}
	var boot, real unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	return real.Nano() - boot.Nano() + ticks*(int64(time.Second)/clockTicks), nil
}

func namespace(pid int, kind string) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + kind)
	if err != nil {
		return 0, fmt.Errorf("%s namespace of pid %d: %w", kind, pid, err)
	}
	// "mnt:[4026531841]"
	v, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, kind+":["), "]"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s namespace of pid %d: %q", kind, pid, link)
	}
	return v, nil
}
