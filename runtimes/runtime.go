package runtimes

import (
	"context"
	"errors"
)

// Runtime names, as -r/--runtimes takes them and events show them.
const (
	Docker     = "docker"
	Containerd = "containerd"
	CRIO       = "cri-o"
	Podman     = "podman"
)

// All is every runtime, in the order their claims on a container win: a
// docker container is also in containerd's "moby" namespace, and belongs to
// docker.
var All = []string{Docker, CRIO, Podman, Containerd}

// Container is one running container as its runtime describes it.
type Container struct {
	Runtime string            // one of the names above
	ID      string            // full id
	Name    string            // the runtime's name for it (the CRI container name for pods)
	Image   string            // image reference
	Pid     int               // host pid of its first process
	Labels  map[string]string // runtime labels (CRI ones carry the pod)
	// PodName and PodNamespace come from the CRI labels, for Kubernetes pods.
	PodName      string
	PodNamespace string
	// PodLabels are the labels of a CRI container's pod, as the CRI has
	// them in its sandbox's config (kubelet's io.kubernetes.* among them);
	// nil for a container that is no CRI pod's.
	PodLabels map[string]string
	// OwnerUID is the user whose runtime runs it: 0 for root, the user's uid
	// for rootless podman.
	OwnerUID uint32
	// Sandbox marks a CRI pod's sandbox (its pause process): it has no
	// name, is not listed, and attributes its events to the pod.
	Sandbox bool
	// Owner is the runtime that made the container when a lower layer
	// lists it: docker for the containers of containerd's "moby"
	// namespace. The collection leaves such a container to its owner's
	// client when that is in use.
	Owner string

	// MountNsID is filled by the Collection from /proc/<Pid>/ns/mnt.
	MountNsID uint64
	// NetNsID is filled by the Collection from /proc/<Pid>/ns/net. A
	// container on the host's network has the host's; the containers of
	// a pod share the pod's.
	NetNsID uint64
	// StartedAt is when its first process (Pid) started, in nanoseconds
	// since the epoch (10 ms resolution), filled by the Collection from
	// /proc/<Pid>/stat; 0 when unknown. The same for every runtime, where
	// their own start times differ in what they count.
	StartedAt int64
	// ImageDigest is the image's digest (sha256:...): containerd's image
	// store's (one request per container), CRI-O's image reference by
	// digest; empty for docker and podman (as Inspektor Gadget).
	ImageDigest string
}

// CRI labels, set by containerd's CRI plugin and by CRI-O.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelContainerName = "io.kubernetes.container.name"
)

// Client is one runtime's API.
type Client interface {
	// Name is the runtime's name (Docker, Containerd, ...).
	Name() string
	// Socket is the API socket it talks to, for messages.
	Socket() string
	// Containers lists the running containers, with their host pids (and
	// CRI pod sandboxes, marked).
	Containers(ctx context.Context) ([]Container, error)
	Close() error
}

// ErrNoSocket says a runtime's API socket does not exist: the runtime is not
// installed or not running. ig skips such a runtime unless it was asked for.
var ErrNoSocket = errors.New("socket not found")
