package tracers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
)

// Attaches says whether a program of the given ELF section belongs to the
// variant: its tracepoint, iterator or kernel function is one of the
// variant's. A gadget object may hold the programs of several variants;
// only the chosen one's are loaded.
func (v *Variant) Attaches(section string) bool {
	kind, target, _ := strings.Cut(section, "/")
	switch kind {
	case "tracepoint", "tp":
		return slices.Contains(v.Tracepoints, target)
	case "iter":
		return slices.Contains(v.Iterators, target) || slices.Contains(v.SeedIterators, target)
	case "raw_tracepoint", "raw_tp":
		// A raw tracepoint is named without its group: the variant
		// lists it as the tracepoint it is (raw_syscalls/sys_enter).
		return slices.ContainsFunc(v.Tracepoints, func(tp string) bool { return strings.HasSuffix(tp, "/"+target) })
	case "tp_btf":
		return slices.Contains(v.BTFTracepoints, target)
	case "kprobe", "kretprobe":
		return slices.Contains(v.KernelFuncs, target)
	case "fentry", "fexit":
		return slices.Contains(v.Fentry, target)
	case "perf_event":
		return len(v.PerfEvents) > 0
	case "socket":
		// A socket filter: attached to the gadget's own sockets.
		return slices.Contains(v.ProgramTypes, ebpf.SocketFilter)
	}
	return false
}

// Hooks lists what a variant attaches to, for people.
func (v *Variant) Hooks() string {
	var h []string
	if slices.Contains(v.ProgramTypes, ebpf.SocketFilter) {
		h = append(h, "socket filter on a packet socket per network namespace")
	}
	if len(v.Tracepoints) > 0 {
		h = append(h, "tracepoints "+compactTracepoints(v.Tracepoints))
	}
	if len(v.Optional) > 0 {
		h = append(h, "optional where the kernel lacks them: "+compactTracepoints(v.Optional))
	}
	for _, fn := range v.KernelFuncs {
		h = append(h, "kprobe "+fn)
	}
	for _, fn := range v.Fentry {
		h = append(h, "fentry "+fn)
	}
	for _, tp := range v.BTFTracepoints {
		h = append(h, "tp_btf/"+tp)
	}
	for _, it := range v.Iterators {
		h = append(h, "iter/"+it)
	}
	for _, it := range v.SeedIterators {
		h = append(h, "iter/"+it+" once at start, where the kernel has BTF")
	}
	for _, pe := range v.PerfEvents {
		h = append(h, "perf event "+pe+" on every CPU")
	}
	if v.NoBPF {
		h = append(h, "reads "+v.Name)
	}
	if len(h) == 0 {
		for _, t := range v.ProgramTypes {
			h = append(h, strings.ToLower(t.String()))
		}
	}
	return strings.Join(h, ", ")
}

// compactTracepoints writes syscalls/sys_enter_x and sys_exit_x as one item.
func compactTracepoints(tps []string) string {
	var out []string
	seen := map[string]bool{}
	for _, tp := range tps {
		if rest, ok := strings.CutPrefix(tp, "syscalls/sys_enter_"); ok {
			out = append(out, "syscalls/sys_{enter,exit}_"+rest)
			seen["syscalls/sys_exit_"+rest] = true
			continue
		}
		if !seen[tp] {
			out = append(out, tp)
		}
	}
	return strings.Join(out, " ")
}

// ConfigsShort lists a variant's CONFIG_* without the prefix, as the README does.
func (v *Variant) ConfigsShort() string {
	var c []string
	for _, name := range v.Configs {
		c = append(c, "`"+strings.TrimPrefix(name, "CONFIG_")+"`")
	}
	return strings.Join(c, ", ")
}

// ProgramTypesShort lists a variant's program types for people; "none" when it loads nothing.
func (v *Variant) ProgramTypesShort() string {
	if v.NoBPF {
		return "none"
	}
	return strings.Join(v.ProgramTypeNames(), ", ")
}

// MarkdownTable renders the requirements table for README.md.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Gadget | Variant | Minimum kernel | Additional `CONFIG_*` | Program types | Attaches to | Status |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for i := range Table {
		r := &Table[i]
		status := "planned"
		if r.Implemented {
			status = "✔ implemented"
		}
		for _, v := range r.Variants {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", r.Gadget, v.Name, v.MinKernelOrAny(),
				v.ConfigsShort(), v.ProgramTypesShort(), v.Hooks(), status)
		}
	}
	return b.String()
}
