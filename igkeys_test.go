package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/tracers"
)

// IG's JSON keys, per gadget, written out by hand from the JSON tags of
// Inspektor Gadget v0.26.0's built-in gadgets (pkg/gadgets/<category>/<name>/
// types/types.go; trace dns: types/dns.go, trace sni: types/snisnoop.go,
// snapshot process and socket: types/*-collector.go; the common ones:
// pkg/types/types.go's CommonData, Event, WithMountNsID, WithNetNsID and
// L4Endpoint), plus the common keys v0.41.0's pkg/types/types.go adds and
// the stacks of v0.41.0's image-based gadgets (trace_tcpdrop's
// kernel_stack, audit_seccomp's ustack, as its ustack operator fills it).
// Most of those gadgets need kprobes, which this host and CI lack, so they
// cannot be run beside ig (tests/parity_test.go does, where they can); the
// source is not here either: hence the lists. Nested keys are paths.
var (
	// igRuntimeK8s is IG's runtime.* and k8s.* (CommonData).
	igRuntimeK8s = []string{
		"runtime.runtimeName", "runtime.containerId", "runtime.containerName", "runtime.containerImageName",
		"runtime.containerImageDigest",
		"runtime.containerPid", "runtime.containerStartedAt", // v0.41
		"k8s.node", "k8s.namespace", "k8s.podName", "k8s.podLabels", "k8s.containerName", "k8s.hostNetwork",
		"k8s.owner.kind", "k8s.owner.name", // v0.41
	}
	// igEvent is IG's eventtypes.Event: CommonData, timestamp and type.
	igEvent = append([]string{"timestamp", "type"}, igRuntimeK8s...)
	// igEndpoint is IG's L4Endpoint (L3Endpoint's fields and port, proto).
	igEndpoint = []string{"addr", "version", "namespace", "podname", "kind", "podlabels", "port", "proto"}
)

func endpoints(names ...string) []string {
	var keys []string
	for _, n := range names {
		for _, k := range igEndpoint {
			keys = append(keys, n+"."+k)
		}
	}
	return keys
}

var igKeys = map[string][][]string{
	"trace bind":         {igEvent, {"mountnsid", "pid", "comm", "proto", "addr", "port", "opts", "if", "uid", "gid"}},
	"trace capabilities": {igEvent, {"mountnsid", "pid", "comm", "syscall", "uid", "gid", "cap", "capName", "audit", "verdict", "insetid", "targetuserns", "currentuserns", "caps", "capsNames"}},
	"trace dns": {igEvent, {"mountnsid", "netnsid", "pid", "tid", "comm", "uid", "gid", "srcIP", "dstIP", "srcPort", "dstPort", "protocol",
		"id", "qr", "nameserver", "pktType", "qtype", "name", "rcode", "latency", "numAnswers", "addresses",
		"cwd", "exepath"}}, // cwd, exepath: v0.41
	"trace exec":       {igEvent, {"mountnsid", "pid", "ppid", "comm", "ret", "args", "uid", "gid", "upperlayer", "loginuid", "sessionid", "cwd"}},
	"trace fsslower":   {igEvent, {"mountnsid", "pid", "comm", "op", "bytes", "offset", "latency", "file"}},
	"trace mount":      {igEvent, {"mountnsid", "comm", "pid", "tid", "operation", "ret", "latency", "fs", "source", "target", "data", "flags", "flagsRaw"}},
	"trace oomkill":    {igEvent, {"mountnsid", "kpid", "kcomm", "pages", "tpid", "tuid", "tgid", "tcomm"}},
	"trace open":       {igEvent, {"mountnsid", "pid", "uid", "gid", "comm", "fd", "ret", "err", "flags", "flagsRaw", "mode", "modeRaw", "path", "fullPath"}},
	"trace signal":     {igEvent, {"mountnsid", "pid", "comm", "signal", "tpid", "ret", "uid", "gid"}},
	"trace sni":        {igEvent, {"mountnsid", "netnsid", "pid", "tid", "comm", "uid", "gid", "name"}},
	"trace tcp":        {igEvent, {"mountnsid", "operation", "pid", "uid", "gid", "comm", "ipversion", "fd", "accept_fd"}, endpoints("src", "dst")}, // fd, accept_fd: v0.41
	"trace tcpconnect": {igEvent, {"mountnsid", "pid", "uid", "gid", "comm", "ipversion", "latency"}, endpoints("src", "dst")},
	"trace tcpdrop": {igEvent, {"mountnsid", "netnsid", "pid", "comm", "uid", "gid", "ipversion", "state", "tcpflags", "reason",
		"kernel_stack", "kernel_stack_raw"}, // v0.41
		endpoints("src", "dst")},
	"trace tcpretrans": {igEvent, {"mountnsid", "netnsid", "pid", "comm", "uid", "gid", "ipversion", "state", "tcpflags"}, endpoints("src", "dst")},
	"snapshot process": {igEvent, {"mountnsid", "comm", "pid", "tid", "uid", "gid", "ppid"}},
	"snapshot socket":  {igEvent, {"netnsid", "protocol", "status", "inodeNumber"}, endpoints("src", "dst")},
	// top and profile cpu: CommonData without timestamp and type.
	"top block-io": {igRuntimeK8s, {"mountnsid", "pid", "comm", "write", "major", "minor", "bytes", "us", "ops"}},
	"top file":     {igRuntimeK8s, {"mountnsid", "pid", "tid", "comm", "reads", "writes", "rbytes", "wbytes", "fileType", "filename"}},
	"top tcp":      {igRuntimeK8s, {"mountnsid", "pid", "comm", "ipversion", "sent", "received"}, endpoints("src", "dst")},
	"profile cpu":  {igRuntimeK8s, {"comm", "pid", "userStack", "kernelStack", "count"}},
	// profile block-io and tcprtt: pkg/histogram's Histogram; tcprtt's
	// Report wraps its histograms in {"histograms": [...]}, where ig
	// prints one object per histogram.
	"profile block-io": {{"unit", "intervals", "intervals[].count", "intervals[].start", "intervals[].end"}},
	"profile tcprtt": {{"unit", "intervals", "intervals[].count", "intervals[].start", "intervals[].end",
		"address", "addressType", "average", "localPort", "remotePort"}},
	"audit seccomp": {igEvent, {"mountnsid", "pid", "comm", "syscall", "code",
		"ustack.addresses", "ustack.symbols", // v0.41's ustack operator, and the struct it reads (JSON shows all)
		"ustack.exe_inode", "ustack.mtime_sec", "ustack.mtime_nsec", "ustack.stack_id",
		"ustack.pid_level0", "ustack.pidns_level0", "ustack.pid_level1", "ustack.pidns_level1"}},
	"traceloop": {igEvent, {"mountnsid", "cpu", "pid", "comm", "syscall", "parameters", "parameters[].name",
		"parameters[].value", "parameters[].content", "ret"}},
}

// TestIGKeys: every key of IG's event is in the JSON of ig's gadget of the
// same name (its schema, which writes every field, zeros included).
func TestIGKeys(t *testing.T) {
	for name, lists := range igKeys {
		g, ok := tracers.Lookup(name)
		if !ok {
			t.Errorf("%s: no such gadget", name)
			continue
		}
		var have []string
		for _, f := range g.Schema.Doc() {
			have = append(have, f.JSON)
		}
		var missing []string
		for _, keys := range lists {
			for _, k := range keys {
				if !slices.Contains(have, k) {
					missing = append(missing, k)
				}
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s lacks IG's %s", name, strings.Join(missing, ", "))
		}
	}
}
