// Package file is the top file gadget: reads and writes per process and
// file, with the bytes actually done, every interval.
package file

import (
	"context"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Stats is one process's I/O on one file during an interval. JSON names
// follow Inspektor Gadget's top file; the header fields (tid, uid, comm,
// timestamp) are those of the thread that first did I/O on the file in the
// interval.
type Stats struct {
	tracers.Event
	Reads      uint64 `json:"reads" column:"reads,width:7,right" desc:"read system calls (or vfs_read calls, fexit variant) that succeeded"`
	Writes     uint64 `json:"writes" column:"writes,width:7,right" desc:"write system calls (or vfs_write calls) that succeeded"`
	ReadBytes  uint64 `json:"rbytes" column:"rbytes,width:10,right" desc:"bytes read: what the calls returned, not what they asked for" unit:"bytes"`
	WriteBytes uint64 `json:"wbytes" column:"wbytes,width:10,right" desc:"bytes written: what the calls returned" unit:"bytes"`
	FileType   uint8  `json:"fileType" desc:"the file's type as a character code, as IG has it: 82 (R) regular file, 83 (S) socket, 79 (O) other"`
	Type       string `json:"-" column:"t,width:1" desc:"the file's type: R regular file, S socket, O other (with --all-files)"`
	Filename   string `json:"filename" column:"file,width:32" desc:"the file's full path, as seen from the process's root (IG shows only its last component); starts with … when it was too deep to walk"`
	Dev        uint32 `json:"dev" column:"dev,width:8,right" desc:"the device of the file's filesystem (the kernel's encoding: major << 20 | minor)"`
	Inode      uint64 `json:"ino" column:"ino,width:10,right" desc:"the file's inode number"`
}

var schema = output.NewSchema[Stats]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "top",
		Name:        "file",
		Description: "Show reads and writes per process and file, every interval",
		Flags: append(tracers.IntervalFlags("-reads,-writes,-rbytes,-wbytes"),
			&cli.BoolFlag{Name: "all-files", Aliases: []string{"a"}, Usage: "include sockets, pipes and devices, not only regular files"}),
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "reads", "writes", "rbytes", "wbytes", "t", "file"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadFile()
	if err != nil {
		return err
	}
	d := decoder{clock: tracers.NewClock()}
	return tracers.RunInterval[Stats](ctx, env, spec,
		map[string]any{"all_files": env.Args.Bool("all-files")},
		tracers.IntervalSpec[Stats, fileFileKey, fileFileStats]{Map: "stats", Row: d.row})
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
}

func (d *decoder) row(k *fileFileKey, v *fileFileStats, row *Stats) bool {
	d.clock.FromHeader((*tracers.RawHeader)(unsafe.Pointer(&v.Hdr)), &row.Event, &d.strings)
	row.Reads, row.Writes = v.Reads, v.Writes
	row.ReadBytes, row.WriteBytes = v.Rbytes, v.Wbytes
	row.FileType = v.Type
	row.Type = string(rune(v.Type))
	end := min(int(v.Cursor), len(v.Path))
	row.Filename = tracers.PathFromComponents(v.Path[:end], v.PathCut != 0)
	row.Dev, row.Inode = k.Dev, k.Ino
	return true
}
