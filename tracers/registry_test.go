package tracers_test

import (
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
	_ "github.com/ig-tracer/ig/tracers/all"
)

// A row of the table is implemented exactly when its gadget is registered:
// the registry is the one place that says so.
func TestImplementedIsRegistered(t *testing.T) {
	if len(tracers.Gadgets()) == 0 {
		t.Fatal("no gadget registered through tracers/all")
	}
	for _, r := range tracers.Table {
		_, registered := tracers.Lookup(r.Gadget)
		if r.Implemented != registered {
			t.Errorf("%s: implemented %v, registered %v", r.Gadget, r.Implemented, registered)
		}
	}
}

// The program types of an implemented gadget are those of its compiled objects.
func TestProgramTypesAreTheObjects(t *testing.T) {
	for _, g := range tracers.Gadgets() {
		r, _ := tracers.RequirementsOf(g.FullName())
		if !slices.ContainsFunc(r.Variants, func(v tracers.Variant) bool { return !v.NoBPF }) {
			continue // loads nothing
		}
		dir := strings.ReplaceAll(r.Gadget, " ", "/")
		objs, _ := filepath.Glob(filepath.Join(dir, "*_bpfel.o"))
		if len(objs) == 0 {
			t.Errorf("%s: no %s/*_bpfel.o", r.Gadget, dir)
			continue
		}
		inObjects := map[string]bool{}
		for _, o := range objs {
			spec, err := ebpf.LoadCollectionSpec(o)
			if err != nil {
				t.Fatalf("%s: %v", o, err)
			}
			for _, p := range spec.Programs {
				inObjects[p.Type.String()] = true
			}
		}
		inTable := map[string]bool{}
		for _, v := range r.Variants {
			for _, name := range v.ProgramTypeNames() {
				inTable[name] = true
			}
		}
		if !reflect.DeepEqual(inObjects, inTable) {
			t.Errorf("%s: objects have program types %v, the table says %v", r.Gadget, sortedKeys(inObjects), sortedKeys(inTable))
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// flagArgs is a gadget's Args with the named bool flags set.
type flagArgs map[string]bool

func (a flagArgs) Bool(name string) bool       { return a[name] }
func (a flagArgs) String(name string) string   { return "" }
func (a flagArgs) Int(name string) int         { return 0 }
func (a flagArgs) StringSlice(string) []string { return nil }

// Each gadget's default columns, with no flag and with each of its bool
// flags, are columns of its schema: -o columns would otherwise fail at run
// time, after loading.
func TestDefaultColumnsAreInTheSchema(t *testing.T) {
	for _, g := range tracers.Gadgets() {
		runs := []flagArgs{{}}
		for _, f := range g.Flags {
			if _, ok := f.(*cli.BoolFlag); ok {
				runs = append(runs, flagArgs{f.Names()[0]: true})
			}
		}
		for _, args := range runs {
			cols := g.Columns(args)
			if len(cols) == 0 {
				t.Errorf("%s %v: no default columns", g.FullName(), args)
				continue
			}
			format, err := output.ParseFormat("columns=" + strings.Join(cols, ","))
			if err == nil {
				err = g.Schema.Check(format)
			}
			if err != nil {
				t.Errorf("%s %v: default columns %v: %v", g.FullName(), args, cols, err)
			}
		}
	}
}

// Every field of every gadget says what it means: docs/fields.md is made
// from these descriptions.
func TestEveryFieldIsDescribed(t *testing.T) {
	for _, g := range tracers.Gadgets() {
		for _, f := range g.Schema.Doc() {
			if strings.TrimSpace(f.Desc) == "" {
				t.Errorf("%s: field %q (column %q) has no desc tag", g.FullName(), f.JSON, f.Column)
			}
		}
	}
}

// The attach points of an implemented gadget's row (tracepoints, iterators,
// kernel functions) are those of its programs' sections, and its map types
// are among its objects' maps: the table cannot drift from the code.
func TestAttachPointsAreTheObjects(t *testing.T) {
	for _, g := range tracers.Gadgets() {
		r, _ := tracers.RequirementsOf(g.FullName())
		inTable, mapTypes := map[string]bool{}, map[string]bool{}
		for _, v := range r.Variants {
			for _, tp := range v.Tracepoints {
				inTable["tracepoint/"+tp] = true
			}
			for _, it := range append(slices.Clone(v.Iterators), v.SeedIterators...) {
				inTable["iter/"+it] = true
			}
			for _, tp := range v.BTFTracepoints {
				inTable["tp_btf/"+tp] = true
			}
			for _, fn := range v.KernelFuncs {
				inTable["kprobe "+fn] = true
			}
			for _, fn := range v.Fentry {
				inTable["fentry "+fn] = true
			}
			if len(v.PerfEvents) > 0 {
				inTable["perf_event"] = true
			}
			if slices.Contains(v.ProgramTypes, ebpf.SocketFilter) {
				inTable["socket"] = true
			}
			for _, m := range v.MapTypes {
				mapTypes[m.String()] = true
			}
		}
		if len(inTable) == 0 {
			continue // loads nothing
		}
		objs, _ := filepath.Glob(filepath.Join(strings.ReplaceAll(r.Gadget, " ", "/"), "*_bpfel.o"))
		inObjects, objMaps := map[string]bool{}, map[string]bool{}
		for _, o := range objs {
			spec, err := ebpf.LoadCollectionSpec(o)
			if err != nil {
				t.Fatalf("%s: %v", o, err)
			}
			for _, p := range spec.Programs {
				kind, target, _ := strings.Cut(p.SectionName, "/")
				switch kind {
				case "kprobe", "kretprobe":
					inObjects["kprobe "+target] = true
				case "fentry", "fexit":
					inObjects["fentry "+target] = true
				case "raw_tracepoint", "raw_tp":
					// named without its group: the table has it as the tracepoint it is
					key := p.SectionName
					for k := range inTable {
						if strings.HasPrefix(k, "tracepoint/") && strings.HasSuffix(k, "/"+target) {
							key = k
						}
					}
					inObjects[key] = true
				default:
					inObjects[p.SectionName] = true
				}
			}
			for _, m := range spec.Maps {
				objMaps[m.Type.String()] = true
			}
		}
		if !reflect.DeepEqual(inObjects, inTable) {
			t.Errorf("%s: programs attach to %v, the table says %v", r.Gadget, sortedKeys(inObjects), sortedKeys(inTable))
		}
		for m := range mapTypes {
			if !objMaps[m] {
				t.Errorf("%s: the table needs map type %s, which no object of it has (%v)", r.Gadget, m, sortedKeys(objMaps))
			}
		}
	}
}

// Every snapshot and top gadget takes --sort and -m/--max-rows, from the
// runner's flags (SnapshotFlags, IntervalFlags).
func TestSortAndMaxRowsEverywhere(t *testing.T) {
	for _, g := range tracers.Gadgets() {
		if g.Category != "snapshot" && g.Category != "top" {
			continue
		}
		for _, want := range []string{"sort", "max-rows", "m"} {
			if !slices.ContainsFunc(g.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), want) }) {
				t.Errorf("%s has no flag %s", g.FullName(), want)
			}
		}
	}
}
