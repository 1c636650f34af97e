// Package runtimestest holds what the tests of the runtime clients
// (runtimes/docker, containerd, crio, podman) share: the checks every New
// must pass, fake servers on unix sockets, and the gate, settings and
// commands of the integration tests against the daemons that
// tests/runtimes/up.sh brings up. Only tests import it.
package runtimestest
