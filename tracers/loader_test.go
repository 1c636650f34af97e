package tracers

import (
	"maps"
	"slices"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ig-tracer/ig/btf"
	"github.com/ig-tracer/ig/internal/integration"
)

// A gadget that loads a second object in one run (per namespace, per
// container) relocates it against the same kernel types as the first,
// whatever their source: Load keeps them; LoadedAll lets them go.
func TestSecondLoadHasTheKernelTypes(t *testing.T) {
	integration.Require(t, "to load eBPF programs")
	for _, o := range []btf.Options{{}, {File: "/sys/kernel/btf/vmlinux"}} {
		res, err := btf.Load(o)
		if err != nil {
			t.Fatal(err)
		}
		env := &Env{KernelTypes: res.Spec}
		for i := 1; i <= 2; i++ {
			spec, err := ebpf.LoadCollectionSpec("trace/open/open_bpfel.o")
			if err != nil {
				t.Fatal(err)
			}
			if env.KernelTypes != res.Spec {
				t.Fatalf("%s: load %d: the kernel types are gone", res.Source, i)
			}
			p, err := Load(spec, env, nil)
			if err != nil {
				t.Fatalf("%s: load %d: %v", res.Source, i, err)
			}
			p.Close()
		}
		env.LoadedAll()
		if env.KernelTypes != nil {
			t.Errorf("%s: LoadedAll kept the kernel types", res.Source)
		}
	}
}

// Only the chosen variant's programs are loaded, less those of optional
// tracepoints this kernel lacks.
func TestKeepVariantPrograms(t *testing.T) {
	spec := func() *ebpf.CollectionSpec {
		return &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
			"enter_open":   {SectionName: "tracepoint/syscalls/sys_enter_open"},
			"enter_openat": {SectionName: "tracepoint/syscalls/sys_enter_openat"},
			"kp_open":      {SectionName: "kprobe/do_sys_openat2"},
			"fx_open":      {SectionName: "fexit/do_sys_openat2"},
			"tasks":        {SectionName: "iter/task"},
		}}
	}
	tracepoint := &Variant{Tracepoints: []string{"syscalls/sys_enter_open", "syscalls/sys_enter_openat"}}
	for _, tc := range []struct {
		v       *Variant
		skipped []string
		want    []string
	}{
		{tracepoint, nil, []string{"enter_open", "enter_openat"}},
		{tracepoint, []string{"syscalls/sys_enter_open"}, []string{"enter_openat"}},
		{&Variant{KernelFuncs: []string{"do_sys_openat2"}}, nil, []string{"kp_open"}},
		{&Variant{Fentry: []string{"do_sys_openat2"}}, nil, []string{"fx_open"}},
		{&Variant{Iterators: []string{"task"}}, nil, []string{"tasks"}},
		{nil, nil, []string{"enter_open", "enter_openat", "fx_open", "kp_open", "tasks"}},
	} {
		s := spec()
		keepVariantPrograms(s, &Env{VariantReq: tc.v, Skipped: tc.skipped})
		got := slices.Sorted(maps.Keys(s.Programs))
		if !slices.Equal(got, tc.want) {
			t.Errorf("variant %+v, skipped %v: kept %v, want %v", tc.v, tc.skipped, got, tc.want)
		}
	}
}
