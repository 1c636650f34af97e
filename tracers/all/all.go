// Package all registers every gadget: importing it is how the command line (cli/) sees them.
// A new gadget is a new folder and one line here.
package all

import (
	_ "github.com/ig-tracer/ig/tracers/advise/network-policy"
	_ "github.com/ig-tracer/ig/tracers/advise/seccomp-profile"
	_ "github.com/ig-tracer/ig/tracers/audit/seccomp"
	_ "github.com/ig-tracer/ig/tracers/profile/block-io"
	_ "github.com/ig-tracer/ig/tracers/profile/cpu"
	_ "github.com/ig-tracer/ig/tracers/profile/tcprtt"
	_ "github.com/ig-tracer/ig/tracers/script"
	_ "github.com/ig-tracer/ig/tracers/snapshot/process"
	_ "github.com/ig-tracer/ig/tracers/snapshot/socket"
	_ "github.com/ig-tracer/ig/tracers/top/block-io"
	_ "github.com/ig-tracer/ig/tracers/top/file"
	_ "github.com/ig-tracer/ig/tracers/top/tcp"
	_ "github.com/ig-tracer/ig/tracers/trace/bind"
	_ "github.com/ig-tracer/ig/tracers/trace/capabilities"
	_ "github.com/ig-tracer/ig/tracers/trace/dns"
	_ "github.com/ig-tracer/ig/tracers/trace/exec"
	_ "github.com/ig-tracer/ig/tracers/trace/fsslower"
	_ "github.com/ig-tracer/ig/tracers/trace/mount"
	_ "github.com/ig-tracer/ig/tracers/trace/oomkill"
	_ "github.com/ig-tracer/ig/tracers/trace/open"
	_ "github.com/ig-tracer/ig/tracers/trace/signal"
	_ "github.com/ig-tracer/ig/tracers/trace/sni"
	_ "github.com/ig-tracer/ig/tracers/trace/tcp"
	_ "github.com/ig-tracer/ig/tracers/trace/tcpconnect"
	_ "github.com/ig-tracer/ig/tracers/trace/tcpdrop"
	_ "github.com/ig-tracer/ig/tracers/trace/tcpretrans"
	_ "github.com/ig-tracer/ig/tracers/traceloop"
)
