package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// --tree prints the processes as Inspektor Gadget's `-o tree` does: per
// container, a line naming it, then its processes, each `|-comm(pid)`,
// indented by a tab per level under its parent. The host's processes come
// last, under the line "(host)" (no container name has parentheses). A
// process whose parent is not shown in its group (a container's first
// process, whose parent is the runtime's shim on the host; a process whose
// parent --comm left out) starts a tree of its own. With --threads, a
// process's other threads are its children, `|-{comm}(tid)` as pstree
// shows them. Siblings follow --sort (default: by pid).
//
// -o json and jsonpretty: one array of the trees' roots, in the same order,
// each the object `snapshot process -o json` prints plus "children": the
// array of its children, the same way (empty for a leaf). Every process
// carries its container fields, so no grouping object is added.

// checkTree refuses what --tree cannot honour, before anything is loaded.
func checkTree(env *tracers.Env) error {
	if env.Args.Int("max-rows") != 0 {
		return errors.New("--max-rows cuts rows and --tree prints whole trees: use one or the other")
	}
	switch env.Format.Mode {
	case output.ModeColumns:
		if env.Format.Columns != nil {
			return errors.New("--tree prints comm(pid) per process: -o columns=... does not apply (use -o json for every field)")
		}
	case output.ModeJSON, output.ModeJSONPretty, output.ModeYAML:
	default:
		return errors.New("--tree prints as columns, json, jsonpretty or yaml")
	}
	return nil
}

// node is one process (or, with --threads, a thread) of a tree.
type node struct {
	p        *Process
	children []*node
}

// group is one container's processes, or the host's.
type group struct {
	name  string
	roots []*node
}

// forest builds the trees of procs, already in sibling order, per container.
func forest(procs []Process) []group {
	type acc struct {
		name  string
		procs []*Process
	}
	byID := map[string]*acc{}
	var ids []string
	for i := range procs {
		p := &procs[i]
		id := p.Runtime.ContainerID
		a, ok := byID[id]
		if !ok {
			a = &acc{name: groupName(p)}
			byID[id] = a
			ids = append(ids, id)
		}
		a.procs = append(a.procs, p)
	}
	// Containers by name, then the host's.
	sort.SliceStable(ids, func(i, j int) bool {
		a, b := ids[i], ids[j]
		if (a == "") != (b == "") {
			return b == ""
		}
		if byID[a].name != byID[b].name {
			return byID[a].name < byID[b].name
		}
		return a < b
	})
	var out []group
	for _, id := range ids {
		a := byID[id]
		out = append(out, group{name: a.name, roots: trees(a.procs)})
	}
	return out
}

// groupName names a container as IG does (namespace/pod/container for a
// pod's), or the host.
func groupName(p *Process) string {
	if p.Runtime.ContainerID == "" {
		return "(host)"
	}
	name := p.Runtime.ContainerName
	if p.K8s.ContainerName != "" {
		name = p.K8s.ContainerName
	}
	var b strings.Builder
	if p.K8s.Namespace != "" {
		b.WriteString(p.K8s.Namespace + "/")
	}
	if p.K8s.PodName != "" && p.K8s.PodName != name {
		b.WriteString(p.K8s.PodName + "/")
	}
	b.WriteString(name)
	return b.String()
}

// trees links one group's processes to their parents, keeping their order.
func trees(procs []*Process) []*node {
	leaders := map[uint32]*node{} // by pid: the processes (with --threads, their main threads)
	nodes := make([]*node, len(procs))
	for i, p := range procs {
		nodes[i] = &node{p: p}
		if p.Tid == p.Pid || p.Tid == 0 {
			leaders[p.Pid] = nodes[i]
		}
	}
	var roots []*node
	for _, n := range nodes {
		parent := n.p.Ppid
		if n.p.Tid != n.p.Pid && n.p.Tid != 0 {
			parent = n.p.Pid // a thread: under its process
		}
		if pn, ok := leaders[parent]; ok && pn != n {
			pn.children = append(pn.children, n)
		} else {
			roots = append(roots, n)
		}
	}
	return roots
}

func printTree(env *tracers.Env, procs []Process) error {
	// -F, which the printer applies to flat rows: a process whose parent
	// it leaves out starts a tree of its own
	groups := forest(output.Keep(env.Format.Filter, procs))
	var b []byte
	if env.Format.Mode == output.ModeColumns {
		for _, g := range groups {
			b = output.AppendPrintable(b, g.name)
			b = append(b, '\n')
			for _, r := range g.roots {
				b = appendText(b, r, 0)
			}
		}
	} else {
		var err error
		if b, err = treeJSON(env, groups); err != nil {
			return err
		}
	}
	if _, err := env.Stdout.Write(b); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func appendText(b []byte, n *node, depth int) []byte {
	b = append(b, strings.Repeat("\t", depth)...)
	b = append(b, "|-"...)
	if n.p.Tid != n.p.Pid && n.p.Tid != 0 { // a thread
		b = append(b, '{')
		b = output.AppendPrintable(b, n.p.Comm)
		b = fmt.Appendf(b, "}(%d)\n", n.p.Tid)
	} else {
		b = output.AppendPrintable(b, n.p.Comm)
		b = fmt.Appendf(b, "(%d)\n", n.p.Pid)
	}
	for _, c := range n.children {
		b = appendText(b, c, depth+1)
	}
	return b
}

// treeJSON encodes each process with the gadget's own encoder (the object
// of a flat snapshot), then adds its children.
func treeJSON(env *tracers.Env, groups []group) ([]byte, error) {
	var one bytes.Buffer
	p, err := output.NewPrinter[Process](&one, schema, output.Format{Mode: output.ModeJSON}, nil)
	if err != nil {
		return nil, err
	}
	var appendNode func(b []byte, n *node) ([]byte, error)
	appendNode = func(b []byte, n *node) ([]byte, error) {
		one.Reset()
		p.Print(n.p)
		if err := p.Flush(); err != nil {
			return nil, err
		}
		obj := bytes.TrimSpace(one.Bytes())
		if len(obj) < 2 || obj[len(obj)-1] != '}' {
			return nil, fmt.Errorf("encode process %d: not a JSON object", n.p.Pid)
		}
		b = append(b, obj[:len(obj)-1]...)
		if len(obj) > 2 {
			b = append(b, ',')
		}
		b = append(b, `"children":[`...)
		for i, c := range n.children {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendNode(b, c); err != nil {
				return nil, err
			}
		}
		return append(b, "]}"...), nil
	}
	b := []byte{'['}
	first := true
	for _, g := range groups {
		for _, r := range g.roots {
			if !first {
				b = append(b, ',')
			}
			first = false
			if b, err = appendNode(b, r); err != nil {
				return nil, err
			}
		}
	}
	b = append(b, ']')
	switch env.Format.Mode {
	case output.ModeJSONPretty:
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			return nil, err
		}
		b = out.Bytes()
	case output.ModeYAML:
		// a snapshot, once: converted from the JSON rather than written
		// twice, its keys in the same order as the flat snapshot's
		return output.JSONToYAML(b)
	}
	return append(b, '\n'), nil
}
