// Package runtimes will hold ig's container runtimes (docker, containerd,
// CRI-O, podman) behind one small interface, and the collection that maps
// mount namespaces to containers while a gadget runs, filling the Runtime
// and K8s fields of tracers.Event and the kernel's mount-namespace filter.
//
// Nothing is here yet: until it lands every process is a host process, and
// the container fields of every event are empty (see README.md).
package runtimes
