// Package exec is the trace exec gadget: every execve and execveat with its
// arguments, result, executable path and, with --cwd, working directory.
package exec

import (
	"bytes"
	"context"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one exec. JSON names follow Inspektor Gadget's trace exec.
type Event struct {
	tracers.Event
	Ret           int64    `json:"ret" column:"ret,width:4,right" desc:"0 on success, minus the errno on failure"`
	Err           int32    `json:"err" column:"errno,width:5,right" desc:"the errno, 0 on success"`
	Error         string   `json:"error" column:"err,width:7" desc:"the errno's name (ENOENT), empty on success"`
	Args          []string `json:"args" desc:"the argument list, args[0] included: on success read from the new program's memory, on failure from the caller's argv"`
	ArgsTruncated bool     `json:"argsTruncated" column:"truncated,width:5" desc:"true when the list was cut: ig keeps the whole arguments that fit in the first 8191 bytes (NULs included), on a failed exec at most 64 arguments of at most 1023 bytes each; an argument that does not fit is dropped, so args is always a prefix of the real list"`
	ArgsText      string   `json:"-" column:"args,width:32" desc:"args joined by spaces, … at the end when cut"`
	// ExePath, when cut: a path as passed (failed exec) keeps its first
	// 4095 bytes; a path from the kernel starts with "…/" (see
	// tracers.PathFromComponents). ExePathText adds "…" to the first.
	ExePath          string `json:"exepath" desc:"the executable: on success its full path from the kernel (mount points crossed, at most 32 components); on failure the path as passed (its first 4095 bytes at most); a path from the kernel that was cut is its end, after …/"`
	ExePathTruncated bool   `json:"exepathTruncated" desc:"true when exepath was cut"`
	ExePathText      string `json:"-" column:"exepath,width:24" desc:"exepath, … after a path as passed that was cut"`
	Cwd              string `json:"cwd" column:"cwd,width:24" desc:"with --cwd, the working directory (cut as exepath on success: its end, after …/); empty without it"` // starts with "…/" when cut
	CwdTruncated     bool   `json:"cwdTruncated" desc:"true when cwd was cut"`
	// IG's fields (v0.26: upperlayer, loginuid, sessionid; later: ptid,
	// pupperlayer, parent_exepath; pcomm is every event's).
	Ptid                   uint32 `json:"ptid" column:"ptid,width:7,right" desc:"the parent's thread id (the thread that forked the caller)"`
	UpperLayer             bool   `json:"upperlayer" column:"upperlayer,width:10" desc:"true when the executable is on the upper layer of an overlayfs (written or changed in the container, not from its image); false on a failed exec"`
	PupperLayer            bool   `json:"pupperlayer" column:"pupperlayer,width:11" desc:"true when the parent's executable is on the upper layer of an overlayfs"`
	LoginUid               uint32 `json:"loginuid" column:"loginuid,width:10,right" desc:"the audit login uid (who logged in, kept across su and sudo); 4294967295 when none is set or the kernel lacks CONFIG_AUDIT"`
	SessionId              uint32 `json:"sessionid" column:"sessionid,width:10,right" desc:"the audit session id; 4294967295 when none is set, 0 when the kernel lacks CONFIG_AUDIT"`
	ParentExePath          string `json:"parent_exepath" column:"parent_exepath,width:24" desc:"the parent's executable, full path from the kernel (cut as exepath: its end, after …/); empty for a kernel thread's child"`
	ParentExePathTruncated bool   `json:"parent_exepathTruncated" desc:"true when parent_exepath was cut"`
	// IG's (v0.41): the file the caller asked to run, which for a script
	// is the script, not exepath's interpreter.
	File          string `json:"file" column:"file,width:24" desc:"the file the caller asked to run: the executable, or for a script (or a binfmt_misc program) the script itself, not its interpreter. A full path from the kernel (cut as exepath: its end, after …/), except for a script without the kprobe variant, and on a failed exec: then the path as passed (its first 4095 bytes at most; execveat with a descriptor passes /dev/fd/N/...); empty, with the fields after it 0, for a successful exec whose sched_process_exec ig did not see"`
	FileTruncated bool   `json:"fileTruncated" desc:"true when file was cut"`
	FupperLayer   bool   `json:"fupper_layer" column:"fupper_layer,width:12" desc:"true when file is on the upper layer of an overlayfs (written or changed in the container); false when it is not, on a failed exec, and for a script without the kprobe variant (not known)"`
	DevMajor      uint32 `json:"dev_major" column:"dev_major,width:9,right" desc:"the major number of the device of file's filesystem (for overlayfs, the overlay's own, as stat shows it in the container); 0 when not known: on a failed exec, and for a script without the kprobe variant"`
	DevMinor      uint32 `json:"dev_minor" column:"dev_minor,width:9,right" desc:"the minor number of that device; 0 when dev_major is not known"`
	Inode         uint64 `json:"inode" column:"inode,width:10,right" desc:"file's inode number; 0 when not known, as dev_major"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "exec",
		Description: "Trace new programs being run (execve, execveat)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "cwd", Usage: "add the working directory of each exec"},
		},
		Schema:  schema,
		Columns: columns,
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadExec()
	if err != nil {
		return err
	}
	cpus, err := ebpf.PossibleCPU() // a scratch event per CPU (exec.bpf.c)
	if err != nil {
		return err
	}
	spec.Maps["scratch"].MaxEntries = uint32(cpus)
	if env.Variant != kprobe {
		spec.Maps["files"].MaxEntries = 1 // the kprobe's alone: 4 KiB a path
	}
	d := &decoder{clock: tracers.NewClock()}
	return tracers.RunStream[Event](ctx, env, spec, map[string]any{"want_cwd": env.Args.Bool("cwd")},
		tracers.StreamSpec[Event]{Decode: d.decode})
}

// kprobe is the variant that sees a script's own file (security_bprm_check).
const kprobe = "kprobe"

// columns: --cwd adds the working directory.
func columns(args tracers.Args) []string {
	cols := []string{"container", "pid", "ppid", "comm", "uid", "ret", "err", "args"}
	if args.Bool("cwd") {
		cols = append(cols, "cwd")
	}
	return cols
}

// Where exec_event's file is (file_source, exec.bpf.c's FILE_*).
const (
	fileNone = iota
	fileExe
	filePassed
	fileComponents
)

// dataAt is where args, exe and cwd start: exec_event's flexible array member.
var dataAt = unsafe.Offsetof(execExecEvent{}.Data)

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, data, ok := tracers.View[execExecEvent](raw, dataAt)
	if !ok || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) {
		return false
	}
	ev.Ret = e.Ret
	ev.Err, ev.Error = tracers.Errno(ev.Ret)
	argsSize, exeSize, cwdSize, pexeSize := int(e.ArgsSize), int(e.ExeSize), int(e.CwdSize), int(e.PexeSize)
	fileAt := argsSize + exeSize + cwdSize + pexeSize
	if fileAt+int(e.FileSize) > len(data) {
		return false
	}
	ev.Ptid = e.Ptid
	ev.UpperLayer, ev.PupperLayer = e.UpperLayer != 0, e.PupperLayer != 0
	ev.LoginUid, ev.SessionId = e.Loginuid, e.Sessionid
	if pexeSize > 0 {
		ev.ParentExePathTruncated = e.PexeTruncated != 0
		start := argsSize + exeSize + cwdSize
		ev.ParentExePath = tracers.PathFromComponents(data[start:start+pexeSize], ev.ParentExePathTruncated)
	}
	args := data[:argsSize]
	ev.ArgsTruncated = e.ArgsTruncated != 0
	if ev.ArgsTruncated {
		// The kernel cut the list at a byte count: drop the cut argument.
		args = args[:bytes.LastIndexByte(args, 0)+1]
	}
	ev.Args = tracers.SplitNul(args)
	ev.ArgsText = strings.Join(ev.Args, " ")
	if ev.ArgsTruncated {
		ev.ArgsText += " " + tracers.Ellipsis // a whole argument is missing
	}
	exe := data[argsSize : argsSize+exeSize]
	ev.ExePathTruncated = e.ExeTruncated != 0
	if e.ExeComponents != 0 {
		ev.ExePath = tracers.PathFromComponents(exe, ev.ExePathTruncated)
		ev.ExePathText = ev.ExePath // marked already, at its start
	} else {
		ev.ExePath = string(tracers.CString(exe))
		ev.ExePathText = tracers.CutText(ev.ExePath, ev.ExePathTruncated)
	}
	if cwdSize > 0 {
		ev.CwdTruncated = e.CwdTruncated != 0
		ev.Cwd = tracers.PathFromComponents(data[argsSize+exeSize:argsSize+exeSize+cwdSize], ev.CwdTruncated)
	}
	file := data[fileAt : fileAt+int(e.FileSize)]
	ev.File, ev.FileTruncated = "", e.FileTruncated != 0
	switch e.FileSource {
	case fileExe:
		ev.File, ev.FileTruncated = ev.ExePath, ev.ExePathTruncated
	case filePassed:
		ev.File = string(tracers.CString(file))
	case fileComponents:
		ev.File = tracers.PathFromComponents(file, ev.FileTruncated)
	}
	ev.FupperLayer = e.FupperLayer != 0
	ev.DevMajor, ev.DevMinor = tracers.DevMajorMinor(e.FileDev)
	ev.Inode = e.FileIno
	return true
}
