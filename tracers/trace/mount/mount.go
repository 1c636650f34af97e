// Package mount is the trace mount gadget: mount and umount, and the new
// mount API (fsopen, fsconfig, fsmount, move_mount, open_tree,
// mount_setattr) that util-linux 2.39 and later uses, each with its strings,
// flags by name, result and latency.
package mount

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one mount call. JSON names follow Inspektor Gadget's trace mount
// where it has them (operation, ret, latency, fs, source, target, data,
// flags, flagsRaw); the new API adds descriptors and mount attributes.
type Event struct {
	tracers.Event
	Operation string   `json:"operation" column:"op,width:13" desc:"the syscall: mount, umount, fsopen, fsconfig, fsmount, move_mount, open_tree or mount_setattr"`
	Ret       int64    `json:"ret" column:"ret,width:4,right" desc:"the syscall's result: 0 or a new descriptor (fsopen, fsmount, open_tree), or minus the errno"`
	Err       int32    `json:"err" column:"errno,width:5,right" desc:"the errno, 0 on success"`
	Error     string   `json:"error" column:"err,width:8" desc:"the errno's name (ENODEV), empty on success"`
	Latency   uint64   `json:"latency" column:"latency,width:10,right" desc:"nanoseconds from the syscall's entry to its exit" unit:"ns"`
	Fs        string   `json:"fs" column:"fs,width:8" desc:"the file system type: mount's fstype, fsopen's fsname; empty for the other calls"`
	Source    string   `json:"source" column:"src,width:16" desc:"mount's source; move_mount's from_path; open_tree's path; fsconfig's value when its key is source; else empty"`
	Target    string   `json:"target" column:"dst,width:16" desc:"mount's and umount's target; move_mount's to_path; mount_setattr's path; else empty"`
	Data      string   `json:"data" column:"data,width:16" desc:"mount's data (options); fsconfig's key, and =value for the commands with a string value (FSCONFIG_SET_STRING, SET_PATH, SET_PATH_EMPTY); else empty"`
	Flags     []string `json:"flags" column:"flags,width:24,join:|" desc:"the call's flags by name: MS_* (mount), MNT_* and UMOUNT_NOFOLLOW (umount), FSOPEN_CLOEXEC, FSMOUNT_CLOEXEC, MOVE_MOUNT_*, OPEN_TREE_* and AT_* (open_tree, mount_setattr); for fsconfig its command (FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE, ...); unnamed bits as hex"`
	FlagsRaw  uint64   `json:"flagsRaw" column:"flagsraw,width:10,right" desc:"the flags (for fsconfig, the command) as a number"`
	Fd        int32    `json:"fd" column:"fd,width:4,right" desc:"the descriptor the call works on: fsconfig's and fsmount's file system context, move_mount's from_dfd, open_tree's and mount_setattr's dfd (-100 is AT_FDCWD); -1 for mount, umount and fsopen"`
	ToFd      int32    `json:"toFd" column:"tofd,width:4,right" desc:"move_mount's to_dfd (-100 is AT_FDCWD); -1 for the other calls"`
	Aux       int32    `json:"aux" column:"aux,width:4,right" desc:"fsconfig's aux argument (the descriptor of FSCONFIG_SET_FD, the directory of FSCONFIG_SET_PATH); 0 for the other calls"`
	Attrs     []string `json:"attrs" column:"attrs,width:20,join:|" desc:"mount attributes set (MOUNT_ATTR_*): fsmount's attr_flags, mount_setattr's attr_set; else empty"`
	AttrsClr  []string `json:"attrsCleared" column:"attrsclr,width:20,join:|" desc:"mount_setattr's attr_clr: the attributes it clears (MOUNT_ATTR_*); else empty"`
	Propagate string   `json:"propagation" column:"propagation,width:12" desc:"mount_setattr's propagation (MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE); else empty"`
	// Truncated names the fields whose strings were longer than ig reads
	// (paths and values 4095 bytes, fs and keys 255): they hold their start.
	Truncated []string `json:"truncated" column:"truncated,width:10,join:|" desc:"the fields that were cut (source, target, fs, data): paths and values longer than 4095 bytes, types and keys longer than 255; each holds its start"`
	Call      string   `json:"-" column:"call,width:80" desc:"the call as strace would show it, e.g. mount(\"tmpfs\", \"/mnt\", \"tmpfs\", MS_NOSUID, \"size=1m\") = 0; … after a string that was cut"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "mount",
		Description: "Trace mounts and unmounts (mount, umount and the new mount API: fsopen, fsconfig, fsmount, move_mount, open_tree, mount_setattr)",
		Schema:      schema,
		Columns:     tracers.Fixed("container", "pid", "tid", "comm", "call"),
		Run:         run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadMount()
	if err != nil {
		return err
	}
	d := newDecoder()
	return tracers.RunStream[Event](ctx, env, spec, nil, tracers.StreamSpec[Event]{Decode: d.decode})
}

// The calls, numbered as enum call in mount.bpf.c.
var callNames = []string{"mount", "umount", "fsopen", "fsconfig", "fsmount", "move_mount", "open_tree", "mount_setattr"}

const (
	callMount = iota
	callUmount
	callFsopen
	callFsconfig
	callFsmount
	callMoveMount
	callOpenTree
	callMountSetattr
)

// dataAt is where the strings start: mount_event's flexible array member.
var dataAt = unsafe.Offsetof(mountMountEvent{}.Data)

// slotFields names the string slots of mount.bpf.c as Truncated does.
var slotFields = [4]string{"source", "target", "fs", "data"}

var none = []string{}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
	names   map[int]*tracers.BitNames // per call: its flags' names
	attrs   tracers.BitNames
}

func newDecoder() *decoder {
	return &decoder{clock: tracers.NewClock(), attrs: tracers.BitNames{Names: mountAttrs}, names: map[int]*tracers.BitNames{
		callMount:        {Names: msFlags},
		callUmount:       {Names: umountFlags},
		callFsopen:       {Names: []tracers.NamedBits{{Bits: 1, Name: "FSOPEN_CLOEXEC"}}},
		callFsmount:      {Names: []tracers.NamedBits{{Bits: 1, Name: "FSMOUNT_CLOEXEC"}}},
		callMoveMount:    {Names: moveMountFlags},
		callOpenTree:     {Names: openTreeFlags},
		callMountSetattr: {Names: atFlags},
	}}
}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, data, ok := tracers.View[mountMountEvent](raw, dataAt)
	if !ok || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) || int(e.Call) >= len(callNames) {
		return false
	}
	var slots [4]string
	for i, n := range e.Size {
		if int(n) > len(data) {
			return false
		}
		slots[i] = d.strings.String(tracers.CString(data[:n]))
		data = data[n:]
	}
	ev.Operation = callNames[e.Call]
	ev.Ret = e.Ret
	ev.Err, ev.Error = tracers.Errno(ev.Ret)
	ev.Latency = e.Latency
	ev.Source, ev.Target, ev.Fs, ev.Data = slots[0], slots[1], slots[2], slots[3]
	ev.FlagsRaw = e.Flags
	ev.Fd, ev.ToFd = -1, -1
	ev.Attrs, ev.AttrsClr, ev.Truncated = none, none, none
	if names := d.names[int(e.Call)]; names != nil {
		ev.Flags = names.Of(e.Flags)
	}
	switch e.Call {
	case callFsconfig:
		ev.Fd, ev.Aux = int32(e.Arg0), int32(e.Arg1)
		ev.FlagsRaw = uint64(e.Cmd)
		ev.Flags = []string{fsconfigCmd(e.Cmd)}
		key, value := slots[2], slots[3]
		ev.Fs, ev.Data = "", key
		if e.Size[3] > 0 {
			ev.Data = key + "=" + value
			if key == "source" {
				ev.Source = value
			}
		}
	case callFsmount:
		ev.Fd = int32(e.Arg0)
		ev.Attrs = d.attrs.Of(e.AttrSet)
	case callMoveMount:
		ev.Fd, ev.ToFd = int32(e.Arg0), int32(e.Arg1)
	case callOpenTree:
		ev.Fd = int32(e.Arg0)
	case callMountSetattr:
		ev.Fd = int32(e.Arg0)
		ev.Attrs = d.attrs.Of(e.AttrSet)
		ev.AttrsClr = d.attrs.Of(e.AttrClr)
		ev.Propagate = propagation(e.Propagation)
	}
	if e.Cut != 0 {
		ev.Truncated = nil
		for i, f := range slotFields {
			if e.Cut&(1<<i) != 0 {
				if e.Call == callFsconfig && i >= 2 {
					f = "data" // the key and the value both go there
				}
				ev.Truncated = append(ev.Truncated, f)
			}
		}
	}
	ev.Call = call(ev, e, slots)
	return true
}

// call shows the event as strace shows a syscall.
func call(ev *Event, e *mountMountEvent, slots [4]string) string {
	q := func(slot int) string {
		if e.Size[slot] == 0 {
			return "NULL"
		}
		s := strconv.Quote(slots[slot])
		if e.Cut&(1<<slot) != 0 {
			s += tracers.Ellipsis
		}
		return s
	}
	flags := func(names []string) string {
		if len(names) == 0 {
			return "0"
		}
		return strings.Join(names, "|")
	}
	var args string
	switch e.Call {
	case callMount:
		args = fmt.Sprintf("%s, %s, %s, %s, %s", q(0), q(1), q(2), flags(ev.Flags), q(3))
	case callUmount:
		args = fmt.Sprintf("%s, %s", q(1), flags(ev.Flags))
	case callFsopen:
		args = fmt.Sprintf("%s, %s", q(2), flags(ev.Flags))
	case callFsconfig:
		args = fmt.Sprintf("%d, %s, %s, %s, %d", ev.Fd, ev.Flags[0], q(2), q(3), ev.Aux)
	case callFsmount:
		args = fmt.Sprintf("%d, %s, %s", ev.Fd, flags(ev.Flags), flags(ev.Attrs))
	case callMoveMount:
		args = fmt.Sprintf("%s, %s, %s, %s, %s", dirFd(ev.Fd), q(0), dirFd(ev.ToFd), q(1), flags(ev.Flags))
	case callOpenTree:
		args = fmt.Sprintf("%s, %s, %s", dirFd(ev.Fd), q(0), flags(ev.Flags))
	case callMountSetattr:
		prop := ev.Propagate
		if prop == "" {
			prop = "0"
		}
		args = fmt.Sprintf("%s, %s, %s, {attr_set=%s, attr_clr=%s, propagation=%s}",
			dirFd(ev.Fd), q(1), flags(ev.Flags), flags(ev.Attrs), flags(ev.AttrsClr), prop)
	}
	result := strconv.FormatInt(ev.Ret, 10)
	if ev.Error != "" {
		result += " " + ev.Error
	}
	return ev.Operation + "(" + args + ") = " + result
}

func dirFd(fd int32) string {
	if fd == unix.AT_FDCWD {
		return "AT_FDCWD"
	}
	return strconv.Itoa(int(fd))
}

func fsconfigCmd(cmd uint32) string {
	names := []string{"FSCONFIG_SET_FLAG", "FSCONFIG_SET_STRING", "FSCONFIG_SET_BINARY", "FSCONFIG_SET_PATH",
		"FSCONFIG_SET_PATH_EMPTY", "FSCONFIG_SET_FD", "FSCONFIG_CMD_CREATE", "FSCONFIG_CMD_RECONFIGURE", "FSCONFIG_CMD_CREATE_EXCL"}
	if int(cmd) < len(names) {
		return names[cmd]
	}
	return strconv.FormatUint(uint64(cmd), 10)
}

func propagation(p uint64) string {
	switch p {
	case 0:
		return ""
	case unix.MS_SHARED:
		return "MS_SHARED"
	case unix.MS_SLAVE:
		return "MS_SLAVE"
	case unix.MS_PRIVATE:
		return "MS_PRIVATE"
	case unix.MS_UNBINDABLE:
		return "MS_UNBINDABLE"
	}
	return "0x" + strconv.FormatUint(p, 16)
}

// msFlags names mount(2)'s flags. Old callers put the magic 0xC0ED in the
// top 16 bits, which the kernel ignores.
var msFlags = []tracers.NamedBits{
	{Bits: unix.MS_MGC_VAL, Mask: unix.MS_MGC_MSK, Name: "MS_MGC_VAL"},
	{Bits: unix.MS_RDONLY, Name: "MS_RDONLY"},
	{Bits: unix.MS_NOSUID, Name: "MS_NOSUID"},
	{Bits: unix.MS_NODEV, Name: "MS_NODEV"},
	{Bits: unix.MS_NOEXEC, Name: "MS_NOEXEC"},
	{Bits: unix.MS_SYNCHRONOUS, Name: "MS_SYNCHRONOUS"},
	{Bits: unix.MS_REMOUNT, Name: "MS_REMOUNT"},
	{Bits: unix.MS_MANDLOCK, Name: "MS_MANDLOCK"},
	{Bits: unix.MS_DIRSYNC, Name: "MS_DIRSYNC"},
	{Bits: unix.MS_NOSYMFOLLOW, Name: "MS_NOSYMFOLLOW"},
	{Bits: unix.MS_NOATIME, Name: "MS_NOATIME"},
	{Bits: unix.MS_NODIRATIME, Name: "MS_NODIRATIME"},
	{Bits: unix.MS_BIND, Name: "MS_BIND"},
	{Bits: unix.MS_MOVE, Name: "MS_MOVE"},
	{Bits: unix.MS_REC, Name: "MS_REC"},
	{Bits: unix.MS_SILENT, Name: "MS_SILENT"},
	{Bits: unix.MS_POSIXACL, Name: "MS_POSIXACL"},
	{Bits: unix.MS_UNBINDABLE, Name: "MS_UNBINDABLE"},
	{Bits: unix.MS_PRIVATE, Name: "MS_PRIVATE"},
	{Bits: unix.MS_SLAVE, Name: "MS_SLAVE"},
	{Bits: unix.MS_SHARED, Name: "MS_SHARED"},
	{Bits: unix.MS_RELATIME, Name: "MS_RELATIME"},
	{Bits: unix.MS_KERNMOUNT, Name: "MS_KERNMOUNT"},
	{Bits: unix.MS_I_VERSION, Name: "MS_I_VERSION"},
	{Bits: unix.MS_STRICTATIME, Name: "MS_STRICTATIME"},
	{Bits: unix.MS_LAZYTIME, Name: "MS_LAZYTIME"},
	{Bits: unix.MS_ACTIVE, Name: "MS_ACTIVE"},
	{Bits: unix.MS_NOUSER, Name: "MS_NOUSER"},
}

var umountFlags = []tracers.NamedBits{
	{Bits: unix.MNT_FORCE, Name: "MNT_FORCE"},
	{Bits: unix.MNT_DETACH, Name: "MNT_DETACH"},
	{Bits: unix.MNT_EXPIRE, Name: "MNT_EXPIRE"},
	{Bits: unix.UMOUNT_NOFOLLOW, Name: "UMOUNT_NOFOLLOW"},
}

// mountAttrs names MOUNT_ATTR_*. The atime field is a value: relatime (0)
// is the default and goes unnamed.
var mountAttrs = []tracers.NamedBits{
	{Bits: unix.MOUNT_ATTR_RDONLY, Name: "MOUNT_ATTR_RDONLY"},
	{Bits: unix.MOUNT_ATTR_NOSUID, Name: "MOUNT_ATTR_NOSUID"},
	{Bits: unix.MOUNT_ATTR_NODEV, Name: "MOUNT_ATTR_NODEV"},
	{Bits: unix.MOUNT_ATTR_NOEXEC, Name: "MOUNT_ATTR_NOEXEC"},
	{Bits: unix.MOUNT_ATTR_NOATIME, Mask: unix.MOUNT_ATTR__ATIME, Name: "MOUNT_ATTR_NOATIME"},
	{Bits: unix.MOUNT_ATTR_STRICTATIME, Mask: unix.MOUNT_ATTR__ATIME, Name: "MOUNT_ATTR_STRICTATIME"},
	{Bits: unix.MOUNT_ATTR_NODIRATIME, Name: "MOUNT_ATTR_NODIRATIME"},
	{Bits: unix.MOUNT_ATTR_IDMAP, Name: "MOUNT_ATTR_IDMAP"},
	{Bits: unix.MOUNT_ATTR_NOSYMFOLLOW, Name: "MOUNT_ATTR_NOSYMFOLLOW"},
}

var moveMountFlags = []tracers.NamedBits{
	{Bits: unix.MOVE_MOUNT_F_SYMLINKS, Name: "MOVE_MOUNT_F_SYMLINKS"},
	{Bits: unix.MOVE_MOUNT_F_AUTOMOUNTS, Name: "MOVE_MOUNT_F_AUTOMOUNTS"},
	{Bits: unix.MOVE_MOUNT_F_EMPTY_PATH, Name: "MOVE_MOUNT_F_EMPTY_PATH"},
	{Bits: unix.MOVE_MOUNT_T_SYMLINKS, Name: "MOVE_MOUNT_T_SYMLINKS"},
	{Bits: unix.MOVE_MOUNT_T_AUTOMOUNTS, Name: "MOVE_MOUNT_T_AUTOMOUNTS"},
	{Bits: unix.MOVE_MOUNT_T_EMPTY_PATH, Name: "MOVE_MOUNT_T_EMPTY_PATH"},
	{Bits: 0x100, Name: "MOVE_MOUNT_SET_GROUP"},
	{Bits: 0x200, Name: "MOVE_MOUNT_BENEATH"},
}

// atFlags are the AT_* flags open_tree and mount_setattr take.
var atFlags = []tracers.NamedBits{
	{Bits: unix.AT_SYMLINK_NOFOLLOW, Name: "AT_SYMLINK_NOFOLLOW"},
	{Bits: unix.AT_NO_AUTOMOUNT, Name: "AT_NO_AUTOMOUNT"},
	{Bits: unix.AT_EMPTY_PATH, Name: "AT_EMPTY_PATH"},
	{Bits: unix.AT_RECURSIVE, Name: "AT_RECURSIVE"},
}

var openTreeFlags = append([]tracers.NamedBits{
	{Bits: unix.OPEN_TREE_CLONE, Name: "OPEN_TREE_CLONE"},
	{Bits: unix.OPEN_TREE_CLOEXEC, Name: "OPEN_TREE_CLOEXEC"},
}, atFlags...)
