package tracers

import (
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ig-tracer/ig/btf"
)

// A gadget that loads a second object in one run (per namespace, per
// container) relocates it against the same kernel types as the first,
// whatever their source: Load keeps them; LoadedAll lets them go.
func TestSecondLoadHasTheKernelTypes(t *testing.T) {
	if os.Getenv("IG_INTEGRATION") == "" {
		t.Skip("loads eBPF programs: runs under IG_INTEGRATION=1, as root (make test)")
	}
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
