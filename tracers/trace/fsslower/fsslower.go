// Package fsslower is the trace fsslower gadget: reads, writes, opens and
// fsyncs on files of one filesystem type that take longer than a threshold.
package fsslower

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one slow operation. JSON names follow Inspektor Gadget's trace fsslower.
type Event struct {
	tracers.Event
	Op      string `json:"op" column:"t,width:1" desc:"the operation: R read, W write, O open, F fsync"`
	Bytes   uint64 `json:"bytes" column:"bytes,width:10,right" desc:"bytes read or written; 0 for opens, fsyncs and failed reads and writes" unit:"bytes"`
	Offset  int64  `json:"offset" column:"offset,width:10,right" desc:"the file offset the read or write started at; 0 for opens and fsyncs"`
	Latency uint64 `json:"latency" column:"lat,width:10,right" desc:"how long it took, in microseconds (the VFS call with the fentry variant, the whole system call with the tracepoint variant)" unit:"us"`
	File    string `json:"file" column:"file,width:24" desc:"the file's name (its last path component)"`
}

var schema = output.NewSchema[Event]()

// fsNameMax is FS_NAME_MAX in fsslower.bpf.c, with the NUL.
const fsNameMax = 32

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "fsslower",
		Description: "Trace reads, writes, opens and fsyncs slower than a threshold, on one filesystem type",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "filesystem", Aliases: []string{"f"}, Value: "ext4", Usage: "the filesystem TYPE to trace, as /proc/filesystems names it (ext4, xfs, btrfs, overlay, tmpfs, nfs, ...)"},
			&cli.IntFlag{Name: "min", Aliases: []string{"m"}, Value: 10, Usage: "show operations slower than this many MILLISECONDS (0: all)"},
		},
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "t", "bytes", "offset", "lat", "file"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	fs := env.Args.String("filesystem")
	if fs == "" || len(fs) >= fsNameMax || strings.ContainsAny(fs, " \t\n/") {
		return fmt.Errorf("--filesystem %q: want a filesystem type such as ext4 (at most %d characters)", fs, fsNameMax-1)
	}
	minMs := env.Args.Int("min")
	if minMs < 0 {
		return fmt.Errorf("--min %d: want 0 or more milliseconds", minMs)
	}
	if known, ok := knownFilesystems(); ok && !known[fs] {
		// A module not loaded yet may bring it later: say so, run anyway.
		env.Warnf("filesystem type %q is not in /proc/filesystems (yet): nothing to show until it is", fs)
	}
	spec, err := loadFsslower()
	if err != nil {
		return err
	}
	var fsType [fsNameMax]byte
	copy(fsType[:], fs)
	d := newDecoder()
	return tracers.RunStream[Event](ctx, env, spec,
		map[string]any{"min_lat_ns": uint64(minMs) * 1_000_000, "fs_type": fsType},
		tracers.StreamSpec[Event]{Decode: d.decode})
}

// knownFilesystems reads the filesystem types this kernel has now.
func knownFilesystems() (map[string]bool, bool) {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return nil, false
	}
	defer f.Close()
	known := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 0 {
			known[fields[len(fields)-1]] = true // "nodev\ttmpfs" or "\text4"
		}
	}
	return known, sc.Err() == nil
}

var ops = [...]string{"R", "W", "O", "F"}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
}

func newDecoder() *decoder { return &decoder{clock: tracers.NewClock()} }

var eventSize = unsafe.Sizeof(fsslowerFsEvent{})

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[fsslowerFsEvent](raw, eventSize)
	if !ok || int(e.Op) >= len(ops) || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) {
		return false
	}
	ev.Op = ops[e.Op]
	ev.Bytes = e.Bytes
	ev.Offset = e.Offset
	ev.Latency = e.LatencyNs / 1000
	ev.File = d.strings.String(tracers.CString(e.File[:]))
	return true
}
