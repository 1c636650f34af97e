// Package cpu is the profile cpu gadget: on every CPU, the stacks (user and
// kernel) of whatever runs there, sampled -F times a second, counted per
// process and container, reported when stopped: as text (hottest first),
// JSON, folded stacks (flamegraph.pl, speedscope), pprof or an SVG flame
// graph.
package cpu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Report is one stack of one process and how often it was sampled. JSON
// names follow Inspektor Gadget's profile cpu.
type Report struct {
	Runtime     tracers.Runtime `json:"runtime"`
	K8s         tracers.K8s     `json:"k8s"`
	MountNsID   uint64          `json:"mountnsid" column:"mntns,width:10,right" desc:"mount namespace inode number"`
	Pid         uint32          `json:"pid" column:"pid,width:7,right" desc:"process id (thread group id)"`
	Comm        string          `json:"comm" column:"comm,width:16" desc:"command name when sampled"`
	UserStack   []string        `json:"userStack" desc:"user-space functions, innermost first; empty with -K and for kernel threads; [unknown] where nothing maps the address, FILE+0xOFFSET where the file has no symbol there"`
	KernelStack []string        `json:"kernelStack" desc:"kernel functions (from /proc/kallsyms), innermost first; empty with -U"`
	Count       uint64          `json:"count" column:"count,width:8,right" desc:"samples of this stack"`
}

var schema = output.NewSchema[Report]()

// defaultStacks is how many stacks the text report shows.
const defaultStacks = 10

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "profile",
		Name:        "cpu",
		Description: "Sample the stacks running on every CPU; report the hottest when stopped (also -o folded, pprof=FILE, svg=FILE)",
		Flags: append(tracers.SummaryFlags(),
			&cli.IntFlag{Name: "frequency", Value: 49, Usage: "sample each CPU `HZ` times a second (-F is the filter of every gadget)"},
			&cli.BoolFlag{Name: "user-stack", Aliases: []string{"U"}, Usage: "user stacks only (no kernel frames)"},
			&cli.BoolFlag{Name: "kernel-stack", Aliases: []string{"K"}, Usage: "kernel stacks only (no user frames)"},
			&cli.IntFlag{Name: "max-stacks", Aliases: []string{"m"}, Value: defaultStacks, Usage: "the text report shows the `N` hottest stacks (0: all); JSON, folded, pprof and svg have them all"},
		),
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "count"),
		Outputs: []string{"folded", "pprof=FILE", "svg=FILE"},
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	hz := env.Args.Int("frequency")
	if hz < 1 || hz > 10000 {
		return fmt.Errorf("--frequency %d: want 1 to 10000 samples a second", hz)
	}
	user, kernel := env.Args.Bool("user-stack"), env.Args.Bool("kernel-stack")
	if user && kernel {
		return errors.New("-U (user stacks only) and -K (kernel stacks only) exclude each other")
	}
	maxStacks := env.Args.Int("max-stacks")
	if maxStacks < 0 {
		return fmt.Errorf("--max-stacks %d: want 0 (all) or more", maxStacks)
	}
	if f := env.Format; f.Arg != "" {
		// The file is written at the end: say now if it cannot be.
		if st, err := os.Stat(filepath.Dir(f.Arg)); err != nil || !st.IsDir() {
			return fmt.Errorf("-o %s=%s: no directory %s", f.Name, f.Arg, filepath.Dir(f.Arg))
		}
	}
	spec, err := loadProfile()
	if err != nil {
		return err
	}
	c := &collector{env: env, procs: tracers.NewProcesses(), period: time.Second / time.Duration(hz)}
	defer c.procs.Close()
	return tracers.RunSummary(ctx, env, spec,
		map[string]any{"user_stacks": !kernel, "kernel_stacks": !user},
		tracers.SummarySpec[Report]{
			Collect:    c.collect,
			Text:       func(w io.Writer, rows []Report) error { return writeText(w, rows, maxStacks) },
			Own:        c.own,
			PerfEvent:  tracers.CPUClock(uint64(hz)),
			Collecting: c.notePids,
		})
}

type collector struct {
	env    *tracers.Env
	procs  *tracers.Processes
	period time.Duration // between two samples of a CPU
}

// notePids reads the mappings of each process as soon as it shows in the
// counts, while it lives: one that exits before the report still resolves.
func (c *collector) notePids(ctx context.Context, p *tracers.Program) {
	counts := p.Coll.Maps["counts"]
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	seen := map[uint32]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var key, next profileSampleKey
		var at any // nil: start from the first key
		for counts.NextKey(at, &next) == nil {
			if next.UserStackId >= 0 && !seen[next.Pid] {
				seen[next.Pid] = true
				c.procs.Note(next.Pid)
			}
			key = next
			at = &key
		}
		if len(seen) > 1<<16 {
			clear(seen)
		}
	}
}

func (c *collector) collect(p *tracers.Program) ([]Report, error) {
	type sample struct {
		key   profileSampleKey
		count uint64
	}
	var samples []sample
	if err := tracers.DrainMap(p.Coll.Maps["counts"], func(k *profileSampleKey, n *uint64) {
		samples = append(samples, sample{*k, *n})
	}); err != nil {
		return nil, fmt.Errorf("read the samples: %w", err)
	}
	stacks := p.Coll.Maps[tracers.StackMapName]
	ips := map[int32][]uint64{}
	stack := func(id int32) []uint64 {
		if id < 0 {
			return nil
		}
		if s, ok := ips[id]; ok {
			return s
		}
		s, _ := tracers.ReadStack(stacks, id)
		ips[id] = s
		return s
	}
	var ksyms *tracers.KernelSymbols
	for _, s := range samples {
		if s.key.KernelStackId >= 0 {
			var err error
			if ksyms, err = tracers.ReadKallsyms(); err != nil {
				c.env.Warnf("kernel frames stay unknown: %v", err)
			}
			break
		}
	}

	// The rows, then their user frames named all at once (one binary
	// at a time), then rows whose frames read the same merged.
	var all []Report
	var refs [][]tracers.FrameRef
	kernelNames := map[string]string{}
	for _, s := range samples {
		r := Report{MountNsID: s.key.MntnsId, Pid: s.key.Pid, Comm: string(tracers.CString(s.key.Comm[:])), Count: s.count}
		var accepted bool
		if r.Runtime, r.K8s, accepted = c.env.Container(r.MountNsID); !accepted {
			continue
		}
		var ref []tracers.FrameRef
		if u := stack(s.key.UserStackId); u != nil {
			ref = c.procs.UserRefs(r.Pid, u)
		}
		refs = append(refs, ref)
		r.KernelStack = make([]string, 0, 8)
		for _, ip := range stack(s.key.KernelStackId) {
			r.KernelStack = append(r.KernelStack, ksyms.Name(ip, kernelNames))
		}
		all = append(all, r)
	}
	ksyms = nil
	userNames := c.procs.Resolve(refs)
	byStack := map[string]int{}
	var rows []Report
	for i, r := range all {
		r.UserStack = userNames[i]
		// Two stack ids can name the same functions (different offsets in them).
		id := fmt.Sprint(r.Pid, r.MountNsID, r.Comm, r.UserStack, r.KernelStack)
		if i, ok := byStack[id]; ok {
			rows[i].Count += r.Count
			continue
		}
		byStack[id] = len(rows)
		rows = append(rows, r)
	}
	// The stacks read go: the table has room for new ones (--interval).
	for id := range ips {
		_ = stacks.Delete(uint32(id))
	}
	c.procs.Forget()
	slices.SortStableFunc(rows, func(a, b Report) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return int(a.Pid) - int(b.Pid)
	})
	return rows, nil
}

// writeText prints the max hottest stacks, innermost frame first, kernel
// then user, as bcc's profile does.
func writeText(w io.Writer, rows []Report, max int) error {
	var total uint64
	for _, r := range rows {
		total += r.Count
	}
	shown := rows
	if max > 0 && len(shown) > max {
		shown = shown[:max]
	}
	fmt.Fprintf(w, "%d samples, %d stacks; the %d hottest:\n", total, len(rows), len(shown))
	for _, r := range shown {
		who := fmt.Sprintf("%s [%d]", r.Comm, r.Pid)
		if r.Runtime.ContainerName != "" {
			who += " in container " + r.Runtime.ContainerName
		}
		fmt.Fprintf(w, "\n%s: %d samples (%.1f%%)\n", who, r.Count, 100*float64(r.Count)/float64(total))
		for _, f := range r.KernelStack {
			fmt.Fprintf(w, "    [k] %s\n", f)
		}
		if len(r.KernelStack) > 0 && len(r.UserStack) > 0 {
			fmt.Fprintln(w, "    --")
		}
		for _, f := range r.UserStack {
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

func (c *collector) own(w io.Writer, f output.Format, rows []Report) error {
	switch f.Name {
	case "folded":
		return writeFolded(w, rows)
	case "pprof":
		return writeFile(f.Arg, func(w io.Writer) error { return writePprof(w, rows, c.period) })
	case "svg":
		return writeFile(f.Arg, func(w io.Writer) error { return writeFlameGraph(w, rows) })
	}
	return fmt.Errorf("output %s: not a format of profile cpu", f.Name)
}

// writeFile writes a report file whole or not at all.
func writeFile(name string, write func(io.Writer) error) error {
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, name)
}

// folded is a stack as flamegraph.pl takes it: the command, then frames
// outermost first (user, then kernel frames marked _[k]).
func folded(r *Report) []string {
	frames := make([]string, 0, 1+len(r.UserStack)+len(r.KernelStack))
	frames = append(frames, r.Comm)
	for i := len(r.UserStack) - 1; i >= 0; i-- {
		frames = append(frames, r.UserStack[i])
	}
	for i := len(r.KernelStack) - 1; i >= 0; i-- {
		frames = append(frames, r.KernelStack[i]+"_[k]")
	}
	for i, f := range frames {
		// ';' separates frames, and the count follows the last space.
		frames[i] = strings.NewReplacer(";", ":", " ", "_").Replace(f)
	}
	return frames
}

// writeFolded prints a line per distinct stack: "comm;outer;...;inner N".
func writeFolded(w io.Writer, rows []Report) error {
	counts := map[string]uint64{}
	var order []string
	for i := range rows {
		line := strings.Join(folded(&rows[i]), ";")
		if _, ok := counts[line]; !ok {
			order = append(order, line)
		}
		counts[line] += rows[i].Count
	}
	for _, line := range order {
		if _, err := fmt.Fprintf(w, "%s %d\n", line, counts[line]); err != nil {
			return err
		}
	}
	return nil
}
