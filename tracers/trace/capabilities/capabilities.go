// Package capabilities is the trace capabilities gadget: every capability
// check of a process, with its verdict, whether it is audited, and the
// system call it happened in.
package capabilities

import (
	"context"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one capability check. JSON names follow Inspektor Gadget's trace
// capabilities.
type Event struct {
	tracers.Event
	Syscall string `json:"syscall" column:"syscall,width:16" desc:"the system call the check happened in (x86_64 names); empty outside of one (a kernel thread)"`
	Cap     int32  `json:"cap" column:"cap,width:3,right" desc:"the capability's number"`
	CapName string `json:"capName" column:"capname,width:18" desc:"the capability's name without CAP_ (NET_BIND_SERVICE)"`
	Audit   int32  `json:"audit" column:"audit,width:5,right" desc:"1 when the check is audited, 0 when not (CAP_OPT_NOAUDIT); -1 when the variant cannot tell (tracepoint)"`
	Verdict string `json:"verdict" column:"verdict,width:7" desc:"Allow or Deny"`
	InsetID bool   `json:"insetid" desc:"the check was made with CAP_OPT_INSETID (for set*id); false too when the variant cannot tell (audit is -1)"`
	// InsetIDText is insetid for people: N/A when the variant cannot tell.
	InsetIDText   string   `json:"-" column:"insetid,width:7" desc:"insetid as true, false, or N/A when the variant cannot tell"`
	TargetUserNs  uint64   `json:"targetuserns" column:"targetuserns,width:10,right" desc:"the user namespace the capability is checked in (inode number)"`
	CurrentUserNs uint64   `json:"currentuserns" column:"currentuserns,width:10,right" desc:"the user namespace of the process's credentials (inode number)"`
	Caps          uint64   `json:"caps" column:"caps,width:16" desc:"the process's effective capabilities, a bit per capability number"`
	CapsNames     []string `json:"capsNames" column:"capsnames,width:30" desc:"caps by name, lower case without cap_ (as Inspektor Gadget names them: chown, net_bind_service)"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "capabilities",
		Description: "Trace capability checks (cap_capable) with their verdict and system call",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "unique", Usage: "show each capability once per container, or per process outside of containers"},
			&cli.BoolFlag{Name: "audit-only", Usage: "show only audited checks (not those made with CAP_OPT_NOAUDIT); needs the kprobe variant"},
		},
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "syscall", "cap", "capname", "audit", "verdict"),
		Run:     run,
		Unfit:   unfit,
	})
}

// unfit: the tracepoint carries no CAP_OPT_* options, so it cannot tell
// audited checks from the others; --audit-only needs the kprobe variant.
func unfit(args tracers.Args, variant string) string {
	if variant == "tracepoint" && args.Bool("audit-only") {
		return "--audit-only needs the check's options, which capability/cap_capable does not carry"
	}
	return ""
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadCapabilities()
	if err != nil {
		return err
	}
	// ig runs in the host's mount namespace: its own is the host's.
	hostNs, err := runtimes.MountNamespace(os.Getpid())
	if err != nil {
		return err
	}
	d := newDecoder()
	return tracers.RunStream[Event](ctx, env, spec,
		map[string]any{"unique": env.Args.Bool("unique"), "audit_only": env.Args.Bool("audit-only"), "host_mntns": hostNs},
		tracers.StreamSpec[Event]{Decode: d.decode})
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
	// capsNames memoizes capsNames: most processes share a few sets.
	capsNames map[uint64][]string
}

func newDecoder() *decoder { return &decoder{clock: tracers.NewClock()} }

var eventSize = unsafe.Sizeof(capabilitiesCapEvent{})

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[capabilitiesCapEvent](raw, eventSize)
	if !ok || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) {
		return false
	}
	ev.Syscall = tracers.SyscallName(e.Syscall)
	ev.Cap = e.Cap
	ev.CapName = capName(e.Cap)
	ev.Audit = int32(e.Audit)
	ev.TargetUserNs, ev.CurrentUserNs, ev.Caps = e.TargetUserns, e.CurrentUserns, e.Caps
	ev.CapsNames = d.names(e.Caps)
	ev.Verdict = "Deny"
	if e.Ret == 0 {
		ev.Verdict = "Allow"
	}
	switch e.Insetid {
	case -1:
		ev.InsetIDText = "N/A"
	case 0:
		ev.InsetIDText = "false"
	default:
		ev.InsetID, ev.InsetIDText = true, "true"
	}
	return true
}

// names is the lower-case names of the capabilities set in caps.
func (d *decoder) names(caps uint64) []string {
	if n, ok := d.capsNames[caps]; ok {
		return n
	}
	if d.capsNames == nil || len(d.capsNames) > 256 {
		d.capsNames = map[uint64][]string{}
	}
	n := []string{}
	for c := int32(0); c < 64; c++ {
		if caps&(1<<c) != 0 {
			n = append(n, strings.ToLower(capName(c)))
		}
	}
	d.capsNames[caps] = n
	return n
}

// capName names a capability; one newer than ig's table is "CAP_<n>".
func capName(c int32) string {
	if c >= 0 && int(c) < len(capNames) && capNames[c] != "" {
		return capNames[c]
	}
	return "CAP_" + strconv.Itoa(int(c))
}
