// Package runtimes finds the containers of this host's container runtimes
// (docker, containerd, CRI-O, podman), one small client each behind Client,
// and keeps a Collection that maps mount namespaces to containers while a
// gadget runs, so that every event can say which container it came from.
package runtimes
