// Package process is the snapshot process gadget: every process (or, with
// --threads, every thread) with its ids, command and mount namespace. It
// reads them with a task iterator, or from /proc where there is none.
package process

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Process is one process or thread.
type Process struct {
	tracers.Event
}

var schema = output.NewSchema[Process]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "snapshot",
		Name:        "process",
		Description: "List running processes (or threads)",
		Flags: append(tracers.SnapshotFlags(),
			&cli.BoolFlag{Name: "threads", Usage: "list every thread, not only processes"},
			&cli.BoolFlag{Name: "tree", Usage: "print the process tree, each container's under a line naming it, then the host's (-o json: nested \"children\" arrays)"},
		),
		Schema:  schema,
		Columns: columns,
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	threads := env.Args.Bool("threads")
	tree := env.Args.Bool("tree")
	if tree {
		if err := checkTree(env); err != nil {
			return err
		}
	}
	// A bad --sort is said before anything is loaded.
	sorter, err := tracers.SnapshotSorter(env)
	if err != nil {
		return err
	}
	var procs []Process
	if env.Variant == "/proc" {
		env.Logf("snapshot process: reading /proc")
		procs, err = fromProc(threads, env.Filter)
	} else {
		procs, err = fromIterator(env, threads)
		if err == nil {
			procs = addUnreported(env, procs, threads)
		}
	}
	if err != nil {
		return err
	}
	sort.Slice(procs, func(i, j int) bool {
		if procs[i].Pid != procs[j].Pid {
			return procs[i].Pid < procs[j].Pid
		}
		return procs[i].Tid < procs[j].Tid
	})
	if tree {
		procs = tracers.FilterSnapshot(env, procs, nil)
		output.SortRows(procs, sorter) // the order of siblings
		return printTree(env, procs)
	}
	return tracers.PrintSnapshot(env, procs)
}

// columns: --threads adds the thread id.
func columns(args tracers.Args) []string {
	if args.Bool("threads") {
		return []string{"container", "comm", "pid", "tid", "ppid", "uid", "gid", "mntns"}
	}
	return []string{"container", "comm", "pid", "ppid", "uid", "gid", "mntns"}
}

func fromIterator(env *tracers.Env, threads bool) ([]Process, error) {
	spec, err := loadProcess()
	if err != nil {
		return nil, err
	}
	p, err := tracers.Load(spec, env, map[string]any{"show_threads": threads})
	env.LoadedAll()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	data, err := p.RunIterator("snapshot_process")
	if err != nil {
		return nil, err
	}
	if len(data)%tracers.HeaderSize != 0 {
		return nil, fmt.Errorf("task iterator wrote %d bytes, not a whole number of %d-byte records", len(data), tracers.HeaderSize)
	}
	clock := tracers.NewClock()
	var names tracers.Interner
	procs := make([]Process, len(data)/tracers.HeaderSize)
	for i := range procs {
		if !clock.DecodeHeader(data[i*tracers.HeaderSize:], &procs[i].Event, &names) {
			return nil, fmt.Errorf("task iterator record %d cannot be decoded", i)
		}
	}
	return procs, nil
}

// addUnreported adds the processes that are in /proc but that the task
// iterator did not report. On some sandboxed kernels (this project's CI
// host among them) the iterator never shows PID 1.
func addUnreported(env *tracers.Env, procs []Process, threads bool) []Process {
	seen := make(map[uint32]bool, len(procs))
	for i := range procs {
		seen[procs[i].Pid] = true
	}
	var missing []int
	for _, pid := range tracers.ProcPIDs() {
		if !seen[uint32(pid)] {
			missing = append(missing, pid)
		}
	}
	extra := readProcs(missing, threads, env.Filter)
	if len(extra) > 0 {
		env.Logf("snapshot process: %d processes the task iterator did not report were read from /proc", len(extra))
	}
	return append(procs, extra...)
}

// fromProc is the fallback for kernels without task iterators. A process
// whose namespace cannot be read (PID 1 in some sandboxes) has mntns 0.
func fromProc(threads bool, f tracers.Filter) ([]Process, error) {
	if _, err := os.Stat("/proc/self"); err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	return readProcs(tracers.ProcPIDs(), threads, f), nil
}

// readProcs reads the tasks of pids from /proc. Their timestamp is now: the
// moment of the snapshot, as the iterator's rows have theirs.
func readProcs(pids []int, threads bool, f tracers.Filter) []Process {
	now := time.Now().UnixNano()
	var procs []Process
	for _, pid := range pids {
		tids := []int{pid}
		if threads {
			tids = taskIDs(pid)
		}
		for _, tid := range tids {
			var p Process
			if !tracers.ReadProcTask(fmt.Sprintf("/proc/%d/task/%d", pid, tid), &p.Event) { // gone meanwhile
				continue
			}
			p.Pid, p.Tid, p.Timestamp = uint32(pid), uint32(tid), now
			if keep(&p, f) {
				procs = append(procs, p)
			}
		}
	}
	return procs
}

func keep(p *Process, f tracers.Filter) bool {
	if f.Pid != 0 && p.Pid != f.Pid {
		return false
	}
	if f.Comm != "" && p.Comm != f.Comm {
		return false
	}
	return f.Allows(p.MountNsID)
}

func taskIDs(pid int) []int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, tid)
		}
	}
	return out
}
