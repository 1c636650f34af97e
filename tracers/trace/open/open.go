// Package open is the trace open gadget: every open, openat and openat2 with
// its flags, mode, path as passed, and the resulting fd or error.
package open

import (
	"context"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one open. JSON names follow Inspektor Gadget's trace open.
type Event struct {
	tracers.Event
	Ret      int64    `json:"ret" column:"ret,width:4,right" desc:"the syscall's result: the fd, or minus the errno"`
	Fd       uint32   `json:"fd" column:"fd,width:3,right" desc:"the file descriptor; 0 when the open failed"`
	Err      int32    `json:"err" column:"errno,width:5,right" desc:"the errno, 0 on success"`               // errno, 0 on success
	Error    string   `json:"error" column:"err,width:7" desc:"the errno's name (ENOENT), empty on success"` // errno's name, "" on success
	Flags    []string `json:"flags" column:"flags,width:20,join:|" desc:"open flags as names (O_RDONLY, O_CLOEXEC, ...); unnamed bits as hex"`
	FlagsRaw int32    `json:"flagsRaw" column:"flagsraw,width:8,right" desc:"open flags as a number"`
	Mode     string   `json:"mode" column:"mode,width:10" desc:"creation mode as ls -l shows it (-rw-r-----; setuid, setgid, sticky as s, s, t, or S, S, T without the execute bit); only with O_CREAT or O_TMPFILE, else ----------"`
	ModeRaw  uint32   `json:"modeRaw" column:"moderaw,width:7,right" desc:"creation mode as a number"`
	Path     string   `json:"path" desc:"the path exactly as passed (relative stays relative), whole up to 4095 bytes, the most the kernel accepts; of a longer one (the open fails with ENAMETOOLONG) its first 4095 bytes"` // as read: the path's start when it was cut
	// PathTruncated: the path was longer than ig reads (4095 bytes, more
	// than the kernel accepts); Path holds its first 4095 bytes.
	PathTruncated bool   `json:"pathTruncated" column:"truncated,width:5" desc:"true when the path was longer than 4095 bytes and path is its start"`
	PathText      string `json:"-" column:"path,width:32" desc:"path, with … after it when it was cut"`
	FullPath      string `json:"fullPath" column:"fullpath,width:32" desc:"with --full-path, the opened file's full path from the kernel (mount points crossed, at most 32 components; starts with …/ when cut); empty without it and for failed opens"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "open",
		Description: "Trace files being opened (open, openat, openat2)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "failed", Usage: "show only failed opens"},
			&cli.BoolFlag{Name: "full-path", Usage: "show the opened file's full path (fullPath), read from the kernel"},
		},
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "tid", "comm", "uid", "fd", "err", "flags", "path"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadOpen()
	if err != nil {
		return err
	}
	d := newDecoder()
	return tracers.RunStream[Event](ctx, env, spec,
		map[string]any{"failed_only": env.Args.Bool("failed"), "full_path": env.Args.Bool("full-path")},
		tracers.StreamSpec[Event]{Decode: d.decode})
}

// pathAt is where the path starts: open_event's flexible array member.
var pathAt = unsafe.Offsetof(openOpenEvent{}.Path)

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
	flags   tracers.BitNames
	modes   map[uint32]string
}

func newDecoder() *decoder {
	return &decoder{clock: tracers.NewClock(), flags: tracers.BitNames{Names: tracers.OpenFlags}, modes: map[uint32]string{}}
}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, path, ok := tracers.View[openOpenEvent](raw, pathAt)
	if !ok || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) {
		return false
	}
	ev.Ret = e.Ret
	if ev.Ret >= 0 {
		ev.Fd = uint32(ev.Ret)
	}
	ev.Err, ev.Error = tracers.Errno(ev.Ret)
	ev.FlagsRaw = int32(e.Flags)
	ev.Flags = d.flags.Of(uint64(e.Flags))
	ev.ModeRaw = e.Mode
	ev.Mode = d.mode(ev.ModeRaw)
	n, end := int(e.PathLen), int(e.Cursor)
	if n > end || end > len(path) {
		return false
	}
	ev.Path = d.strings.String(tracers.CString(path[:n]))
	ev.PathTruncated = e.PathTruncated != 0
	ev.PathText = tracers.CutText(ev.Path, ev.PathTruncated)
	ev.FullPath = ""
	if e.Full != 0 {
		ev.FullPath = tracers.PathFromComponents(path[n:end], e.FullTruncated != 0)
	}
	return true
}

func (d *decoder) mode(m uint32) string {
	s, ok := d.modes[m]
	if !ok {
		s = tracers.ModeString(m)
		d.modes[m] = s
	}
	return s
}
