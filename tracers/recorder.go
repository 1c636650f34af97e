package tracers

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
)

// RecorderSpec is what a recorder gadget (traceloop) hands to RunRecorder.
// Its eBPF program writes into one overwritable perf buffer per recorded
// mount namespace, found in a hash of maps; each record starts with the
// shared event header.
type RecorderSpec[T any] struct {
	// Buffers is the hash of maps: mount namespace → its perf event array.
	Buffers string
	// Failures is a perf event array on which the program tells of a
	// recorded namespace whose first process failed: struct { u64 mntns;
	// u32 pid; s32 exit_code }. "" for none.
	Failures string
	// BufferBytes is the size of each namespace's buffer, per CPU.
	BufferBytes int
	// Decode turns one namespace's records, oldest first, into rows.
	Decode func(records [][]byte) []T
}

// recorded is one mount namespace's buffer.
type recorded struct {
	mntns  uint64
	name   string // its container's, or "the host"
	fields Event  // only its container fields
	m      *ebpf.Map
	rd     *perf.Reader
}

// recorder is RunRecorder's state: the buffers, and the dumps.
type recorder[T any, PT eventPtr[T]] struct {
	env     *Env
	p       *Program
	s       RecorderSpec[T]
	printer *output.Printer[T]
	mu      sync.Mutex // one dump at a time; guards byMntNs
	byMntNs map[uint64]*recorded
}

// RunRecorder is the whole life of a recorder gadget (a flight recorder):
// load and attach, give every selected mount namespace (each selected
// container's, and the host's when the host is selected) its buffer, and
// keep recording until ctx ends (Ctrl-C, SIGTERM, --timeout). It dumps the
// buffers then, on SIGUSR1 while it runs, and a container's own when its
// first process exits with a failure.
func RunRecorder[T any, PT eventPtr[T]](ctx context.Context, env *Env, spec *ebpf.CollectionSpec, consts map[string]any, s RecorderSpec[T]) error {
	printer, err := output.NewPrinter[T](env.Stdout, env.Schema, env.Format, env.Columns)
	if err != nil {
		return err
	}
	// SIGUSR1 before loading: from here on it dumps rather than kills.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)

	p, following, done, err := start(ctx, env, spec, consts, nil)
	if err != nil {
		return err
	}
	defer done()
	r := &recorder[T, PT]{env: env, p: p, s: s, printer: printer, byMntNs: map[uint64]*recorded{}}
	defer r.closeAll()
	if err := r.recordSelected(); err != nil {
		return err
	}
	if env.OnContainers != nil {
		env.OnContainers(r.follow)
	}
	failed := make(chan failure, 16)
	if s.Failures != "" {
		rd, err := perf.NewReader(p.Coll.Maps[s.Failures], os.Getpagesize())
		if err != nil {
			return fmt.Errorf("open the failures buffer: %w", err)
		}
		defer rd.Close()
		go readFailures(rd, failed)
	}
	if _, terminal := output.TerminalRows(env.Stderr); terminal {
		fmt.Fprintf(env.Stderr, "Recording; kill -USR1 %d dumps, Ctrl-C dumps and ends.\n", os.Getpid())
	}
	for {
		select {
		case <-usr1:
			if err := r.dumpAll("SIGUSR1"); err != nil {
				return err
			}
		case f := <-failed:
			if err := r.dumpFailed(f); err != nil {
				return err
			}
		case <-following.Done():
			p.Detach()
			return r.dumpAll("the end")
		}
	}
}

// recordSelected gives a buffer to the host, when selected, and to every
// selected running container.
func (r *recorder[T, PT]) recordSelected() error {
	if own, err := runtimes.MountNamespace(os.Getpid()); err == nil {
		if _, _, accepted := r.env.Container(own); accepted {
			if err := r.add(own, "the host", Event{}); err != nil {
				return err
			}
		}
	}
	if r.env.Containers == nil {
		return nil
	}
	for _, ct := range r.env.Containers() {
		if err := r.addContainer(ct); err != nil {
			return err
		}
	}
	return nil
}

func (r *recorder[T, PT]) addContainer(ct runtimes.Container) error {
	if ct.MountNsID == 0 {
		return nil
	}
	rt, k8s, accepted := r.env.Container(ct.MountNsID)
	if !accepted || rt.ContainerName == "" {
		return nil
	}
	return r.add(ct.MountNsID, rt.ContainerName, Event{Runtime: rt, K8s: k8s})
}

// add makes a namespace's buffer and hands it to the kernel.
func (r *recorder[T, PT]) add(mntns uint64, name string, fields Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byMntNs[mntns]; ok {
		return nil // two containers of a pod may share it
	}
	outer := r.p.Coll.Maps[r.s.Buffers]
	inner := r.p.spec.Maps[r.s.Buffers].InnerMap.Copy()
	m, err := ebpf.NewMap(inner)
	if err != nil {
		return fmt.Errorf("make the buffer of %s: %w", name, err)
	}
	rd, err := perf.NewReaderWithOptions(m, r.s.BufferBytes, perf.ReaderOptions{Overwritable: true})
	if err != nil {
		m.Close()
		return fmt.Errorf("make the buffer of %s: %w", name, err)
	}
	if err := outer.Put(mntns, m); err != nil {
		rd.Close()
		m.Close()
		return fmt.Errorf("hand the buffer of %s to the kernel: %w", name, err)
	}
	r.byMntNs[mntns] = &recorded{mntns: mntns, name: name, fields: fields, m: m, rd: rd}
	r.env.Logf("recording %s (mount namespace %d)", name, mntns)
	return nil
}

// follow records containers that start, and lets go of those that stop,
// a moment after: their failure, if they failed, is dumped first.
func (r *recorder[T, PT]) follow(added, removed []runtimes.Container) {
	for _, ct := range added {
		if err := r.addContainer(ct); err != nil {
			r.env.Warnf("%v", err)
		}
	}
	for _, ct := range removed {
		mntns := ct.MountNsID
		time.AfterFunc(removeAfter, func() { r.remove(mntns) })
	}
}

// removeAfter is how long a stopped container's buffer is kept: its
// failure, reported by the kernel as its first process exits, comes
// before the runtime tells that it stopped, and is dumped in that time.
const removeAfter = 2 * time.Second

func (r *recorder[T, PT]) remove(mntns uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.byMntNs[mntns]; ok {
		_ = r.p.Coll.Maps[r.s.Buffers].Delete(mntns)
		b.close()
		delete(r.byMntNs, mntns)
		r.env.Logf("stopped recording %s (mount namespace %d)", b.name, mntns)
	}
}

func (b *recorded) close() {
	b.rd.Close()
	b.m.Close()
}

func (r *recorder[T, PT]) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for mntns, b := range r.byMntNs {
		b.close()
		delete(r.byMntNs, mntns)
	}
}

// failure is struct tl_failure: a recorded namespace's first process
// exited with a non-zero code.
type failure struct {
	MntNs    uint64
	Pid      uint32
	ExitCode int32
}

func readFailures(rd *perf.Reader, failed chan<- failure) {
	var rec perf.Record
	for {
		if err := rd.ReadInto(&rec); err != nil {
			if errors.Is(err, perf.ErrClosed) {
				return
			}
			continue
		}
		if len(rec.RawSample) < 16 {
			continue
		}
		failed <- failure{
			MntNs:    binary.LittleEndian.Uint64(rec.RawSample),
			Pid:      binary.LittleEndian.Uint32(rec.RawSample[8:]),
			ExitCode: int32(binary.LittleEndian.Uint32(rec.RawSample[12:])),
		}
	}
}

// dumpFailed dumps the buffer of a container whose first process failed.
func (r *recorder[T, PT]) dumpFailed(f failure) error {
	why := fmt.Sprintf("exited with status %d", f.ExitCode>>8)
	if sig := f.ExitCode & 0x7f; sig != 0 {
		why = "was killed by " + SignalName(sig)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.byMntNs[f.MntNs]
	if !ok {
		return nil
	}
	return r.dump(b, fmt.Sprintf("%s: its process %d %s", b.name, f.Pid, why))
}

// dumpAll dumps every buffer, the host's first, then the containers' by name.
func (r *recorder[T, PT]) dumpAll(why string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := make([]*recorded, 0, len(r.byMntNs))
	for _, b := range r.byMntNs {
		all = append(all, b)
	}
	slices.SortFunc(all, func(a, b *recorded) int {
		if (a.fields.Runtime.ContainerName == "") != (b.fields.Runtime.ContainerName == "") {
			if a.fields.Runtime.ContainerName == "" {
				return -1
			}
			return 1
		}
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	if len(all) == 0 {
		r.env.Warnf("nothing is recorded: no selected container runs")
	}
	for _, b := range all {
		if err := r.dump(b, fmt.Sprintf("%s (%s)", b.name, why)); err != nil {
			return err
		}
	}
	return nil
}

// dump prints one buffer's records, oldest first, under title (columns
// mode), and keeps recording into it.
func (r *recorder[T, PT]) dump(b *recorded, title string) error {
	records, err := readOverwritable(b.rd)
	if err != nil {
		return fmt.Errorf("read the buffer of %s: %w", b.name, err)
	}
	rows := r.s.Decode(records)
	for i := range rows {
		ev := PT(&rows[i]).Common()
		ev.Runtime, ev.K8s = b.fields.Runtime, b.fields.K8s
		fillNames(ev)
	}
	rows = output.Keep(r.env.Format.Filter, rows) // -F, before the title counts them
	title = fmt.Sprintf("%s: %d system calls, oldest first", title, len(rows))
	if r.env.Format.Mode == output.ModeColumns {
		err = r.printer.PrintInterval(rows, title, false)
	} else {
		// JSON has no titles: say on stderr what the rows are
		r.env.Logf("dump of %s", title)
		for i := range rows {
			r.printer.Print(&rows[i])
		}
		err = r.printer.Flush()
	}
	if err != nil {
		return outputError(err)
	}
	return nil
}

// readOverwritable reads every record an overwritable perf buffer holds,
// oldest first. The kernel writes each CPU's ring backwards, so a CPU's
// records come newest first; records of different CPUs are put in order by
// their header's timestamp, and records with the same timestamp (a system
// call's entry and its strings) keep their order.
func readOverwritable(rd *perf.Reader) ([][]byte, error) {
	if err := rd.Pause(); err != nil {
		return nil, err
	}
	defer rd.Resume()
	rd.SetDeadline(time.Now())
	defer rd.SetDeadline(time.Time{})
	byCPU := map[int][][]byte{}
	var rec perf.Record
	for {
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec.RawSample) < HeaderSize {
			continue // a record cut by the ring's wrap-around
		}
		byCPU[rec.CPU] = append(byCPU[rec.CPU], slices.Clone(rec.RawSample))
	}
	var all [][]byte
	for _, recs := range byCPU {
		slices.Reverse(recs)
		all = append(all, recs...)
	}
	slices.SortStableFunc(all, func(a, b []byte) int {
		ta, tb := binary.LittleEndian.Uint64(a), binary.LittleEndian.Uint64(b)
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	return all, nil
}
