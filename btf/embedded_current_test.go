package btf

import (
	"encoding/binary"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// The embedded BTF of this host's kernel relocates every eBPF object of ig
// exactly as the kernel's own BTF does: a stale file (an object changed
// without `make btfgen`) would drop the fields the new C reads, and
// bpf_core_field_exists would quietly say "absent" (ig would still load,
// degraded). This host kind's kernel has embedded BTF, so CI checks it.
func TestEmbeddedBTFCurrent(t *testing.T) {
	release, err := kernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	full, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF to compare with: %v", err) // not this host kind: nothing to check against
	}
	res, err := loadEmbedded(release)
	if err != nil {
		t.Fatalf("no embedded BTF for this kernel (%s), which CI's host kind runs: %v", release, err)
	}
	objs, err := filepath.Glob("../tracers/*/*/*_bpfel.o")
	if err != nil || len(objs) == 0 {
		t.Fatalf("no eBPF objects found (%v)", err)
	}
	for _, obj := range objs {
		spec, err := ebpf.LoadCollectionSpec(obj)
		if err != nil {
			t.Fatal(err)
		}
		for name, prog := range spec.Programs {
			var relos []*btf.CORERelocation
			for i := range prog.Instructions {
				if r := btf.CORERelocationMetadata(&prog.Instructions[i]); r != nil {
					relos = append(relos, r)
				}
			}
			if len(relos) == 0 {
				continue
			}
			localID := func(typ btf.Type) (btf.TypeID, error) { return spec.Types.TypeID(typ) }
			want, err := btf.CORERelocate(relos, []*btf.Spec{full}, binary.LittleEndian, localID)
			if err != nil {
				t.Fatalf("%s %s against the kernel's BTF: %v", obj, name, err)
			}
			got, err := btf.CORERelocate(relos, []*btf.Spec{res.Spec}, binary.LittleEndian, localID)
			if err != nil {
				t.Fatalf("%s %s against the embedded BTF: %v", obj, name, err)
			}
			if !reflect.DeepEqual(got, want) {
				for i := range want {
					if i < len(got) && !reflect.DeepEqual(got[i], want[i]) {
						t.Errorf("%s %s: relocation %v: embedded BTF gives %+v, the kernel's %+v", obj, name, relos[i], got[i], want[i])
					}
				}
				t.Errorf("%s %s: the embedded BTF of %s is stale: run make btfgen", obj, name, release)
			}
		}
	}
}
