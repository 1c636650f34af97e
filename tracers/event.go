package tracers

import (
	"bytes"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/output"
)

// Runtime says which container an event came from; filled by runtimes/.
// The JSON names are Inspektor Gadget's, so existing jq filters keep working.
type Runtime struct {
	RuntimeName          string `json:"runtimeName" column:"runtime,width:10" desc:"container runtime: docker, containerd, cri-o or podman; empty for host processes"`
	ContainerID          string `json:"containerId" column:"containerid,width:13" desc:"container id"`
	ContainerName        string `json:"containerName" column:"container,width:16" desc:"container name"`
	ContainerPid         uint32 `json:"containerPid" column:"containerpid,width:7,right" desc:"host pid of the container's first process; 0 for host processes"`
	ContainerImageName   string `json:"containerImageName" column:"image,width:20" desc:"container image"`
	ContainerImageDigest string `json:"containerImageDigest" column:"imagedigest,width:20" desc:"the digest of the container's image (sha256:...) in containerd's image store, or CRI-O's image reference by digest; empty for docker and podman, as IG leaves it"`
	ContainerStartedAt   int64  `json:"containerStartedAt" column:"startedat,width:15,walltime" desc:"when the container's first process started, nanoseconds since the epoch (10 ms resolution); 0 for host processes"`
}

// K8s is the Kubernetes identity of a container, from CRI labels.
type K8s struct {
	Node          string          `json:"node" column:"k8s.node,width:12" desc:"Kubernetes node name: always empty, as in IG's ig, which runs on one host outside of Kubernetes"`
	Namespace     string          `json:"namespace" column:"k8s.namespace,width:12" desc:"Kubernetes namespace of the pod (CRI labels)"`
	PodName       string          `json:"podName" column:"k8s.pod,width:16" desc:"Kubernetes pod name (CRI labels)"`
	PodLabels     output.JSONText `json:"podLabels" desc:"the pod's labels, as the CRI has them in its sandbox's config; null for a container of no CRI pod and for host processes"`
	ContainerName string          `json:"containerName" column:"k8s.container,width:16" desc:"Kubernetes container name (CRI labels)"`
	HostNetwork   bool            `json:"hostNetwork" column:"k8s.hostnetwork,width:5" desc:"true for a container on the host's network namespace"`
	Owner         K8sOwner        `json:"owner" desc:"the pod's controller: always empty, ig asks no Kubernetes API server"`
}

// K8sOwner is the controller of a pod (IG's k8s.owner, from the API server).
type K8sOwner struct {
	Kind string `json:"kind" desc:"its kind (Deployment, DaemonSet...): always empty"`
	Name string `json:"name" desc:"its name: always empty"`
}

// Event is what every event of every gadget carries. Gadget event types embed
// it first. Fields are never omitted because they are zero: uid 0 is root.
type Event struct {
	Runtime   Runtime   `json:"runtime"`
	K8s       K8s       `json:"k8s"`
	Timestamp int64     `json:"timestamp" column:"time,width:15,walltime" desc:"when it happened, nanoseconds since the epoch (the column shows the time of day)"` // ns since the epoch
	Type      EventType `json:"type" const:"normal" desc:"always normal, as IG's type of an event (IG's other types are messages: lost events are {\"type\":\"warn\",\"message\":\"lost N samples\"} lines of the JSON stream)"`
	MountNsID uint64    `json:"mountnsid" column:"mntns,width:10,right" desc:"mount namespace inode number (0 when it cannot be read)"`
	Pid       uint32    `json:"pid" column:"pid,width:7,right" desc:"process id (thread group id)"`
	Tid       uint32    `json:"tid" column:"tid,width:7,right" desc:"thread id"`
	Ppid      uint32    `json:"ppid" column:"ppid,width:7,right" desc:"parent's process id"`
	Uid       uint32    `json:"uid" column:"uid,width:6,right" desc:"user id"`
	Gid       uint32    `json:"gid" column:"gid,width:6,right" desc:"group id"`
	Comm      string    `json:"comm" column:"comm,width:16" desc:"command name (at most 15 characters, as the kernel keeps it)"`
	Pcomm     string    `json:"pcomm" column:"pcomm,width:16" desc:"the parent's command name: the comm of the thread that started the process (its real parent, whose pid is ppid), as IG's proc.parent.comm; read from /proc (snapshot process without BTF), the parent's main thread's, and empty for ppid 0; empty for an event with no process"`
	User      string    `json:"user" column:"user,width:10" desc:"uid's name in the host's /etc/passwd (read when ig starts); empty for an id it lacks and for an event with no process"`
	Group     string    `json:"group" column:"group,width:10" desc:"gid's name in the host's /etc/group; empty as user"`
	// MountNsSerial tells a namespace from an earlier one that had the
	// same number (the kernel reuses them); low 32 bits, 0 when unknown.
	MountNsSerial uint32 `json:"-"`
}

// EventType is IG's "type" of an event, "normal" for every event ig prints:
// IG's other types (warn, err) are messages, which ig writes as messages (a
// JSON stream's lost events: {"type":"warn","message":"lost N samples"}).
// It takes no room and is never set: the output schema prints the value of
// the field's const tag, and encoding/json uses the methods below.
type EventType struct{}

// MarshalJSON writes "normal".
func (EventType) MarshalJSON() ([]byte, error) { return []byte(`"normal"`), nil }

// UnmarshalJSON accepts any type: an event decoded back keeps no type.
func (*EventType) UnmarshalJSON([]byte) error { return nil }

// RawHeader is struct event_header of bpf/common.h, byte for byte.
type RawHeader struct {
	Timestamp   uint64
	MntnsID     uint64
	Pid         uint32
	Tid         uint32
	Ppid        uint32
	Uid         uint32
	Gid         uint32
	Comm        [16]byte
	Pcomm       [16]byte
	MntNsSerial uint32
}

// HeaderSize is the size of struct event_header.
const HeaderSize = int(unsafe.Sizeof(RawHeader{}))

// Clock turns the kernel's boot-time timestamps into wall-clock time.
type Clock struct{ offset int64 }

// BootTime is now on CLOCK_BOOTTIME, the kernel's clock of event
// timestamps (bpf_ktime_get_boot_ns), in nanoseconds.
func BootTime() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// NewClock measures the distance between CLOCK_REALTIME and CLOCK_BOOTTIME once.
func NewClock() Clock {
	var boot, real unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	return Clock{offset: real.Nano() - boot.Nano()}
}

// Wall converts nanoseconds since boot to nanoseconds since the epoch.
func (c Clock) Wall(bootNs uint64) int64 { return int64(bootNs) + c.offset }

// View returns the fixed part of an event record as T, the bpf2go type of
// its C struct, without copying, and the record's variable tail from offset
// tail on: the offset of T's flexible array member (unsafe.Offsetof), or
// the size of T for a struct without one. ok is false for a record shorter
// than tail. T's fields before tail are valid while raw is; T is never to
// be copied whole (Go may pad past a flexible array's offset).
func View[T any](raw []byte, tail uintptr) (v *T, rest []byte, ok bool) {
	if uintptr(len(raw)) < tail || len(raw) == 0 {
		return nil, nil, false
	}
	p := unsafe.Pointer(unsafe.SliceData(raw))
	if uintptr(p)%unsafe.Alignof(*v) != 0 {
		return nil, nil, false // ring-buffer records are 8-byte aligned
	}
	return (*T)(p), raw[tail:], true
}

// DecodeHeader fills ev from the event header at the start of raw; false
// when raw cannot hold one. comm is interned: most events repeat a few names.
func (c Clock) DecodeHeader(raw []byte, ev *Event, names *Interner) bool {
	h, _, ok := View[RawHeader](raw, uintptr(HeaderSize))
	if !ok {
		return false
	}
	c.FromHeader(h, ev, names)
	return true
}

// FromHeader fills ev from an event header that is not a ring-buffer
// record: a top gadget's row in a kernel map.
func (c Clock) FromHeader(h *RawHeader, ev *Event, names *Interner) {
	ev.Timestamp = c.Wall(h.Timestamp)
	ev.MountNsID = h.MntnsID
	ev.Pid, ev.Tid, ev.Ppid = h.Pid, h.Tid, h.Ppid
	ev.Uid, ev.Gid = h.Uid, h.Gid
	ev.Comm = names.String(CString(h.Comm[:]))
	ev.Pcomm = names.String(CString(h.Pcomm[:]))
	ev.MountNsSerial = h.MntNsSerial
}

// CString returns b up to its first NUL.
func CString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// Interner returns one shared string per distinct byte sequence, so that
// repeated values (comm, paths of hot files) cost no allocation per event.
// It forgets everything when it grows large, bounding its memory.
type Interner struct{ m map[string]string }

const internerMax = 4096

// String returns b as a string, shared with earlier equal values.
func (in *Interner) String(b []byte) string {
	if s, ok := in.m[string(b)]; ok { // no allocation: the compiler optimizes this lookup
		return s
	}
	if in.m == nil || len(in.m) >= internerMax {
		in.m = make(map[string]string, 256)
	}
	s := string(b)
	in.m[s] = s
	return s
}
