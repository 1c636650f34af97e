// Package tracers is the gadget model: what a gadget is, the registry the CLI
// is built from, the requirements table and its checker, and the machinery
// every gadget shares (loading with BTF, attaching, reading the ring buffer,
// lost-event counting, clean detach). Each gadget is a package below it.
package tracers

import (
	"context"
	"fmt"
	igbtf "github.com/ig-tracer/ig/btf"
	"io"
	"runtime/debug"
	"slices"
	"sort"

	"github.com/cilium/ebpf/btf"
	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
)

// Gadget is one `ig <category> <name>` command.
type Gadget struct {
	Category    string // trace, top, profile, snapshot, audit, advise, or "" for top-level commands
	Name        string
	Description string
	Flags       []cli.Flag     // the gadget's own flags
	Schema      *output.Schema // its event type's fields and columns, checked against -o before anything loads
	// Columns are the columns `-o columns` shows, for this run's flags
	// (Fixed for a gadget whose columns no flag changes).
	Columns func(Args) []string
	// Outputs are the gadget's own -o formats beyond columns and JSON, as
	// output.ParseFormat takes them ("folded", "pprof=FILE").
	Outputs []string
	Run     func(ctx context.Context, env *Env) error
	// Unfit, if set, says why a variant cannot serve this run ("" when it
	// can): its flags (trace capabilities --audit-only needs what only the
	// kprobe variant sees) or what the running kernel's types say (trace
	// oomkill's tp_btf needs mark_victim to pass the task). The checker
	// then passes it over as it does a variant the host lacks; ig
	// requirements asks it with no flag set.
	Unfit func(args Args, variant string) string
}

// Fixed is Gadget.Columns for columns no flag changes.
func Fixed(columns ...string) func(Args) []string {
	return func(Args) []string { return columns }
}

// FullName is the name used on the command line and in the requirements table.
func (g *Gadget) FullName() string {
	if g.Category == "" {
		return g.Name
	}
	return g.Category + " " + g.Name
}

// Args gives a gadget its own flags' values (a *cli.Context satisfies it).
type Args interface {
	Bool(name string) bool
	String(name string) string
	Int(name string) int
	StringSlice(name string) []string
}

// SelectsContainers says whether a run's flags pick containers (-c,
// --containers): a gadget whose variants cannot tell containers apart
// refuses them in Unfit.
func SelectsContainers(args Args) bool {
	return args.Bool("containers") || len(args.StringSlice("containername")) > 0
}

// Filter says which processes a gadget reports. The zero value reports all.
// Everything is filtered in the kernel; a namespace the kernel has no
// verdict for yet (a container that just started) is decided by Env.Accept
// (Env.NetContainer for network namespaces).
type Filter struct {
	Pid       uint32
	Comm      string
	Uid       *uint32 // -F uid:N; nil for every user (uid 0 is root)
	MntNsMode MntNsMode
	Verdicts  NsUpdate        // the verdicts at start
	NsSets    <-chan NsUpdate // changes to them while the gadget runs (containers come and go); may be nil
}

// ByProcess says whether the filter picks processes (--pid, --comm, or
// -F pid/comm/uid pushed down to the kernel): a gadget whose events are
// not a process's refuses it.
func (f Filter) ByProcess() bool { return f.Pid != 0 || f.Comm != "" || f.Uid != nil }

// MntNsMode says whether namespaces are filtered (filter_mntns_mode in
// bpf/common.h): mount namespaces by mntns_filter, and network namespaces
// by netns_filter (bpf/sock.h) in the gadgets that attribute by them.
type MntNsMode uint8

const (
	MntNsAll      MntNsMode = iota // every namespace
	MntNsVerdicts                  // by the verdicts of Filter.Verdicts and its updates; Env.Accept decides the rest
)

// NsUpdate changes the kernel's namespace verdicts: mount namespaces
// (mntns_filter) and network namespaces (netns_filter).
type NsUpdate struct {
	Pass, Skip []uint64 // mount namespaces whose events pass, or are skipped
	Forget     []uint64 // mount namespaces gone: Env.Accept decides again if the number comes back
	// The same for network namespaces, for events attributed by them.
	NetPass, NetSkip, NetForget []uint64
}

// Allows says whether a process in mount namespace ns may pass the filter,
// for gadgets that read processes in user space (snapshot process from
// /proc); Env.Accept has the last word.
func (f *Filter) Allows(ns uint64) bool {
	return f.MntNsMode == MntNsAll || !slices.Contains(f.Verdicts.Skip, ns)
}

// Env is everything a gadget's Run gets from the CLI.
type Env struct {
	Args        Args
	Format      output.Format
	Schema      *output.Schema // the gadget's
	Columns     []string       // the gadget's default columns for this run
	Filter      Filter
	KernelTypes *btf.Spec // for CO-RE relocation; nil means the running kernel's
	Variant     string    // the requirements variant the checker chose
	VariantReq  *Variant  // its row: Load loads only the programs that attach where it says
	Skipped     []string  // its optional tracepoints this kernel lacks: their programs are not loaded
	Stdout      io.Writer
	Stderr      io.Writer
	Verbose     bool
	Phases      *Phases // start-up timing, shown with -v; may be nil
	// Enrich fills an event's container fields from its mount namespace;
	// nil when no container runtime is in use. It returns false while the
	// namespace is new and the runtimes have not told yet whether it is a
	// container's: a streaming gadget holds such an event a moment and
	// asks again (see heldEvents).
	Enrich func(*Event) bool
	// Accept says whether an enriched event passes the container filter;
	// nil when there is none. It decides for mount namespaces the kernel
	// has no verdict for.
	Accept func(*Event) bool
	// LookupNet finds the containers of a network namespace
	// (Containers.LookupNet); nil when no runtime is in use. Gadgets ask
	// NetContainer.
	LookupNet func(netns uint64) ([]*runtimes.Container, bool)
	// Containers lists the running containers (Containers.Containers);
	// nil when no runtime is in use. Snapshots of network namespaces
	// visit theirs.
	Containers func() []runtimes.Container
	// OnContainers registers f to be told of containers that start and
	// stop (Containers.OnChange); nil when no runtime is in use.
	OnContainers func(f func(added, removed []runtimes.Container))

	acceptNet   func([]*runtimes.Container) bool // Accept for network namespaces (SelectContainers)
	hostNetwork []string                         // selected containers on the host's network
}

// LoadedAll says that the gadget loads nothing more in this run: the kernel
// types (the raw BTF, megabytes) can go. A gadget that loads one object
// (the stream and snapshot runners) says so after loading it.
func (e *Env) LoadedAll() {
	e.KernelTypes = nil
	igbtf.DropKernelCache()
	debug.FreeOSMemory()
}

// Container is what a summary gadget needs of a row that is per mount
// namespace rather than per event (a histogram per container, a stack of
// a process): its container fields (empty for the host's and when no
// runtime is in use), and whether the container filters (-c,
// --containers) take it. The kernel lets through namespaces it has no
// verdict for yet; this is the last word, as Env.Accept is for events.
func (e *Env) Container(mntns uint64) (Runtime, K8s, bool) {
	ev := Event{MountNsID: mntns}
	if e.Enrich != nil && mntns != 0 {
		e.Enrich(&ev)
	}
	accepted := e.Accept == nil || e.Accept(&ev)
	return ev.Runtime, ev.K8s, accepted
}

// Logf prints a -v message on stderr.
func (e *Env) Logf(format string, args ...any) {
	if e.Verbose {
		fmt.Fprintf(e.Stderr, "ig: "+format+"\n", args...)
	}
}

// Warnf prints a message on stderr whatever -v says.
func (e *Env) Warnf(format string, args ...any) {
	fmt.Fprintf(e.Stderr, "ig: "+format+"\n", args...)
}

var registry = map[string]*Gadget{}

// Register adds a gadget; each gadget package calls it from init.
func Register(g *Gadget) {
	if _, dup := registry[g.FullName()]; dup {
		panic("tracers: gadget registered twice: " + g.FullName())
	}
	if g.Schema == nil || g.Columns == nil || g.Run == nil {
		panic("tracers: gadget without schema, columns or Run: " + g.FullName())
	}
	row, ok := requirementsByName[g.FullName()]
	if !ok {
		panic("tracers: gadget has no row in the requirements table: " + g.FullName())
	}
	row.Implemented = true // the table says so because the gadget is here, never by hand
	registry[g.FullName()] = g
}

// Gadgets lists the registered gadgets by category, then name.
func Gadgets() []*Gadget {
	out := make([]*Gadget, 0, len(registry))
	for _, g := range registry {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName() < out[j].FullName() })
	return out
}

// Lookup finds a registered gadget by its full name.
func Lookup(fullName string) (*Gadget, bool) {
	g, ok := registry[fullName]
	return g, ok
}
